"""The server's settings, each declared once: name, type, default and help.

A setting is a field of ``Settings`` made with ``option(...)``. From that one declaration come the
``serve`` flag (``--max-images``), its environment variable (``SAGEMAKER_IMAGES_MAX_IMAGES``), the
``--help`` text and the README's configuration table (``python -m sagemaker_images.config`` prints it;
tests/unit/test_settings.py keeps the README in step). Adding a setting is adding a field here.

Precedence: command-line flags > environment variables > defaults.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import Field, dataclass, field, fields
from pathlib import Path
from typing import Any

import platformdirs

ENV_PREFIX = "SAGEMAKER_IMAGES_"


def default_database_url() -> str:
    return f"sqlite:///{Path(platformdirs.user_data_dir('sagemaker-images')) / 'state.db'}"


def option(
    default: Any,
    help: str,
    *,
    metavar: str | None = None,
    choices: Sequence[str] | None = None,
    shown: str | None = None,
) -> Any:
    """A setting: its default, what it does (one line, for --help and the README) and how it reads.

    ``shown`` is the default as the README states it, where the value itself would not say it.
    """
    metadata = {"help": help, "metavar": metavar, "choices": choices, "shown": shown}
    return field(default=default, metadata=metadata)


@dataclass(frozen=True)
class Settings:
    host: str = option("127.0.0.1", "address to listen on")
    port: int = option(8750, "port to listen on")
    db: str = option(
        "",
        "`sqlite:///PATH` or `postgresql://USER@HOST/DB`",
        metavar="URL",
        shown="sqlite:///<user data dir>/sagemaker-images/state.db",
    )
    default_account: str = option(
        "000000000000", "account of callers whose access key is not a 12-digit account id", metavar="ID"
    )
    transition_delay: float = option(
        0.0,
        "seconds CREATING / UPDATING / DELETING last (0: settled before the first poll)",
        metavar="SECONDS",
    )
    fail_images: str = option(
        "", "regex: images whose name matches end every transition in `*_FAILED`", metavar="REGEX"
    )
    fail_base_images: str = option(
        "",
        "regex: versions whose BaseImage matches end in `CREATE_FAILED` / `DELETE_FAILED`",
        metavar="REGEX",
    )
    archive_after: float = option(
        7776000.0,
        "seconds after which a version set `VendorGuidance=TO_BE_ARCHIVED` reads `ARCHIVED` "
        "(three months, as AWS documents)",
        metavar="SECONDS",
    )
    reject_concurrent_version_creates: bool = option(
        False,
        "answer a CreateImageVersion that overlaps another CreateImageVersion call on the same image "
        "with `ResourceInUse: Resource was modified concurrently`, as AWS does (off: each gets its own "
        "number; calls made one after another are accepted either way)",
    )
    max_images: int = option(
        0, "images per account and region before `ResourceLimitExceeded` (0: no limit)", metavar="N"
    )
    max_versions_per_image: int = option(
        0, "versions per image before `ResourceLimitExceeded` (0: no limit)", metavar="N"
    )
    max_body_bytes: int = option(1024 * 1024, "larger request bodies get 413", metavar="N")
    auth: str = option(
        "none",
        "`none`: any credentials are accepted, for local testing; `sigv4`: verify every request's "
        "signature against `--credentials` (see docs/security.md)",
        choices=("none", "sigv4"),
    )
    credentials: str = option(
        "",
        "TOML or JSON file of access keys (secret, account, optional allowed actions), for `--auth sigv4`",
        metavar="FILE",
    )
    request_timeout: float = option(
        60.0,
        "seconds a client has for a request's line and headers, and again for its body",
        metavar="SECONDS",
    )
    registry: tuple[str, ...] = option(
        (),
        "`PATTERN=URL`, repeatable: resolve BaseImages whose registry host matches the glob `PATTERN` "
        "in the OCI registry at `URL`: digest-pinned ContainerImage or `CREATE_FAILED` (docs/registry.md)",
        metavar="PATTERN=URL",
    )
    ecr_endpoint: str = option(
        "",
        "resolve ECR URIs through the ECR API at `URL` (moto, LocalStack; `aws`: AWS itself)",
        metavar="URL",
    )
    iam_endpoint: str = option(
        "",
        "check CreateImage's RoleArn with IAM GetRole at `URL` (`aws`: AWS itself); a missing role "
        "ends the image `CREATE_FAILED`",
        metavar="URL",
    )
    registry_attempts: int = option(
        5, "tries of an unreachable registry, ECR or IAM before `CREATE_FAILED`", metavar="N"
    )
    registry_timeout: float = option(10.0, "seconds per call to a registry, ECR or IAM", metavar="SECONDS")
    threads: int = option(8, "threads running database work per process", metavar="N")
    workers: int = option(1, "server processes sharing the port", metavar="N")
    log_level: str = option(
        "info", "`debug`, `info`, `warning` or `error`", choices=("debug", "info", "warning", "error")
    )
    log_format: str = option(
        "text",
        "`text`: human-readable lines; `json`: one JSON object per line and an access record per API "
        "call (request id, API, operation, account, region, status, error code, duration)",
        choices=("text", "json"),
    )
    upstream: str = option(
        "",
        "forward every request not implemented here (other services, other SageMaker operations, other "
        "Cloud Control types) unchanged to this URL, e.g. a moto server or LocalStack: one endpoint",
        metavar="URL",
    )
    admin: bool = option(
        False,
        "serve the admin API for tests at `/_admin/` (reset, clock, fault injection, export/load); "
        "under `--auth sigv4` only keys allowed `sagemaker-images:Admin` may use it",
    )
    console_secret: str = option(
        "",
        "key of the console's session cookies and CSRF tokens (prefer the environment variable); "
        "give every replica behind one load balancer the same",
        metavar="SECRET",
        shown="random per start",
    )

    def database_url(self) -> str:
        return self.db or default_database_url()

    @classmethod
    def env_name(cls, field: str) -> str:
        return ENV_PREFIX + field.upper()

    @classmethod
    def from_environment(cls, environ: dict[str, str] | None = None, **overrides: object) -> Settings:
        """Defaults, replaced by ``SAGEMAKER_IMAGES_*`` variables, replaced by non-None overrides."""
        environ = dict(os.environ) if environ is None else environ
        values: dict[str, Any] = {}
        for setting in fields(cls):
            raw = environ.get(cls.env_name(setting.name))
            if raw is not None and raw != "":
                values[setting.name] = _parse(setting.type, raw, cls.env_name(setting.name))
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)


def settings() -> tuple[Field[Any], ...]:
    """Every setting, in the order ``--help`` and the README list them."""
    return fields(Settings)


def flag(setting: Field[Any]) -> str:
    return "--" + setting.name.replace("_", "-")


def kind(setting: Field[Any]) -> type:
    """The setting's Python type (annotations are strings here: ``from __future__ import annotations``)."""
    return {"int": int, "float": float, "bool": bool, "tuple[str, ...]": tuple}.get(str(setting.type), str)


def shown_default(setting: Field[Any]) -> str:
    """The default as the README states it."""
    if setting.metadata["shown"] is not None:
        return str(setting.metadata["shown"])
    value = setting.default
    if value is False:
        return "off"
    if value in ("", ()):
        return "unset"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value)


def readme_table() -> str:
    """The README's configuration table, from the declarations above."""
    lines = ["| flag | environment | default | meaning |", "|---|---|---|---|"]
    for setting in settings():
        default = shown_default(setting)
        if default not in ("unset", "off"):
            default = f"`{default}`"
        env = Settings.env_name(setting.name)
        lines.append(f"| `{flag(setting)}` | `{env}` | {default} | {setting.metadata['help']} |")
    return "\n".join(lines) + "\n"


def _parse(kind_name: object, raw: str, name: str) -> object:
    try:
        if kind_name in ("tuple[str, ...]", tuple):
            # A repeatable setting: entries separated by whitespace or commas.
            return tuple(part for part in raw.replace(",", " ").split() if part)
        if kind_name in ("int", int):
            return int(raw)
        if kind_name in ("float", float):
            return float(raw)
        if kind_name in ("bool", bool):
            if raw.lower() in ("1", "true", "yes", "on"):
                return True
            if raw.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError(raw)
    except ValueError:
        raise SystemExit(f"{name}: invalid value {raw!r}") from None
    return raw


if __name__ == "__main__":
    print(readme_table(), end="")
