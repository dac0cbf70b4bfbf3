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
    return parser


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
    if args.command == "db":
        from sagemaker_images.store import open_database

        database = open_database(settings.database_url())
        print(f"schema is up to date in {database.describe()}")
        database.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
