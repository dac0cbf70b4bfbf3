"""The ``sagemaker-images`` command."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import Field
from typing import Any

from sagemaker_images import __version__, access_log, config
from sagemaker_images.config import Settings, default_database_url


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sagemaker-images",
        description="A self-hosted, wire-compatible Amazon SageMaker image registry "
        "(Images, ImageVersions, aliases, tags) for any AWS client.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    serve = commands.add_parser(
        "serve",
        help="run the server",
        description="Run the server. Every option can also be set with an environment variable "
        "SAGEMAKER_IMAGES_<OPTION> (for example SAGEMAKER_IMAGES_PORT=9000); flags win.",
    )
    for setting in config.settings():
        _add_setting(serve, setting)

    db = commands.add_parser("db", help="manage the database schema")
    db_commands = db.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    upgrade = db_commands.add_parser("upgrade", help="create or migrate the schema to the newest revision")
    upgrade.add_argument(
        "--db", metavar="URL", default=None, help=f"database URL (default {default_database_url()})"
    )
    _add_transfer_commands(commands)
    return parser


def _add_setting(parser: argparse.ArgumentParser, setting: Field[Any]) -> None:
    """A ``serve`` flag from a setting's declaration in config.py (default None: unset, not overriding)."""
    meta = setting.metadata
    text = meta["help"].replace("`", "").replace("%", "%%")
    default = config.shown_default(setting).replace("%", "%%")
    help_text = f"{text} (default {default}) [env {Settings.env_name(setting.name)}]"
    options: dict[str, Any] = {"dest": setting.name, "default": None, "help": help_text}
    kind = config.kind(setting)
    if kind is bool:
        options.update(action="store_const", const=True)
    elif kind is tuple:
        options.update(action="append", metavar=meta["metavar"])
    else:
        options.update(type=kind, metavar=meta["metavar"], choices=meta["choices"])
    parser.add_argument(config.flag(setting), **options)


def _add_transfer_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``export`` / ``import``: move all state between databases (SQLite and PostgreSQL alike)."""
    export = commands.add_parser(
        "export",
        help="write all state (images, versions, aliases, tags, ...) to standard output",
        description="Write every row of the database to standard output as JSON Lines, from one "
        "consistent snapshot (servers may keep running). Load it with `sagemaker-images import`, "
        "for example: sagemaker-images export --db sqlite:///state.db | "
        "sagemaker-images import --db postgresql://USER@HOST/DB",
    )
    load = commands.add_parser(
        "import",
        help="load the output of export from standard input into an empty database",
        description="Create or migrate the schema, then load an export from standard input in one "
        "transaction, keeping ids and version counters. The database must hold no state yet.",
    )
    for parser in (export, load):
        parser.add_argument(
            "--db", metavar="URL", default=None, help=f"database URL (default {default_database_url()})"
        )


def _transfer(command: str, url: str) -> int:
    from sagemaker_images.store import open_database
    from sagemaker_images.store.transfer import TransferError, export_state, import_state

    database = open_database(url, upgrade=command == "import")
    try:
        if command == "export":
            counts = export_state(database, sys.stdout.buffer)
            sys.stdout.buffer.flush()
        else:
            counts = import_state(database, sys.stdin.buffer)
    except TransferError as error:
        print(f"sagemaker-images {command}: {error}", file=sys.stderr)
        return 1
    finally:
        database.dispose()
    rows = ", ".join(f"{name} {count}" for name, count in counts.items())
    verb = "exported from" if command == "export" else "imported into"
    print(f"{verb} {database.describe()}: {rows}", file=sys.stderr)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    overrides: dict[str, Any] = {
        k: tuple(v) if isinstance(v, list) else v
        for k, v in vars(args).items()
        if k not in ("command", "db_command")
    }
    settings = Settings.from_environment(**overrides)
    access_log.configure(settings.log_level, settings.log_format)
    if args.command == "serve":
        from sagemaker_images.serve import serve

        return serve(settings)
    if args.command in ("export", "import"):
        return _transfer(args.command, settings.database_url())
    if args.command == "db":
        from sagemaker_images.store import open_database

        database = open_database(settings.database_url())
        print(f"schema is up to date in {database.describe()}")
        database.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
