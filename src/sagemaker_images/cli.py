"""The ``sagemaker-images`` command."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from sagemaker_images import __version__
from sagemaker_images.config import Settings, default_database_url

_SERVE_OPTIONS: list[tuple[str, dict]] = [
    ("host", {"help": "address to listen on (default 127.0.0.1)"}),
    ("port", {"type": int, "help": "port to listen on (default 8750)"}),
    (
        "db",
        {
            "metavar": "URL",
            "help": "sqlite:///PATH or postgresql://USER@HOST/DB (default: an SQLite file "
            "in the user data directory)",
        },
    ),
    (
        "default-account",
        {
            "metavar": "ID",
            "help": "account of callers whose access key is not a 12-digit account id (default 000000000000)",
        },
    ),
    (
        "transition-delay",
        {
            "type": float,
            "metavar": "SECONDS",
            "help": "how long CREATING, UPDATING and "
            "DELETING last (default 0: settled before the first poll)",
        },
    ),
    (
        "fail-images",
        {
            "metavar": "REGEX",
            "help": "images whose name matches end every transition in *_FAILED (to test failure handling)",
        },
    ),
    (
        "fail-base-images",
        {
            "metavar": "REGEX",
            "help": "image versions whose BaseImage matches end in CREATE_FAILED / DELETE_FAILED",
        },
    ),
    (
        "archive-after",
        {
            "type": float,
            "metavar": "SECONDS",
            "help": "how long an image version set TO_BE_ARCHIVED waits before it reads ARCHIVED "
            "(default 7776000: three months, as AWS)",
        },
    ),
    (
        "reject-concurrent-version-creates",
        {
            "action": "store_const",
            "const": True,
            "help": "answer a CreateImageVersion while another version of the image is CREATING "
            "with ResourceInUse, as AWS does (default: serialise them, each gets its own number)",
        },
    ),
    (
        "max-images",
        {
            "type": int,
            "metavar": "N",
            "help": "images per account and region before ResourceLimitExceeded (default 0: no limit)",
        },
    ),
    (
        "max-versions-per-image",
        {
            "type": int,
            "metavar": "N",
            "help": "versions per image before ResourceLimitExceeded (default 0: no limit)",
        },
    ),
    (
        "max-body-bytes",
        {"type": int, "metavar": "N", "help": "largest accepted request body (default 1048576)"},
    ),
    (
        "request-timeout",
        {
            "type": float,
            "metavar": "SECONDS",
            "help": "time a client has to send a request's headers, and again its body (default 60)",
        },
    ),
    (
        "auth",
        {
            "choices": ["none", "sigv4"],
            "help": "none (default): any credentials are accepted, for local testing; sigv4: verify "
            "every request's AWS Signature Version 4 against --credentials (see docs/security.md)",
        },
    ),
    (
        "credentials",
        {
            "metavar": "FILE",
            "help": "TOML (.toml) or JSON file of access keys: secret, account, optional allowed actions",
        },
    ),
    (
        "threads",
        {"type": int, "metavar": "N", "help": "threads running database work per process (default 8)"},
    ),
    ("workers", {"type": int, "metavar": "N", "help": "server processes sharing the port (default 1)"}),
    ("log-level", {"choices": ["debug", "info", "warning", "error"], "help": "log level (default info)"}),
]


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
    for name, options in _SERVE_OPTIONS:
        env = Settings.env_name(name.replace("-", "_"))
        serve.add_argument(
            f"--{name}",
            dest=name.replace("-", "_"),
            default=None,
            **{**options, "help": f"{options['help']} [env {env}]"},
        )

    db = commands.add_parser("db", help="manage the database schema")
    db_commands = db.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    upgrade = db_commands.add_parser("upgrade", help="create or migrate the schema to the newest revision")
    upgrade.add_argument(
        "--db", metavar="URL", default=None, help=f"database URL (default {default_database_url()})"
    )
    _add_transfer_commands(commands)
    return parser


def _add_transfer_commands(commands: argparse._SubParsersAction) -> None:
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
    overrides = {k: v for k, v in vars(args).items() if k not in ("command", "db_command")}
    settings = Settings.from_environment(**overrides)
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)
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
