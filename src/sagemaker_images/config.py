"""One settings object for the whole server: command-line flags > environment variables > defaults."""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from pathlib import Path

import platformdirs

ENV_PREFIX = "SAGEMAKER_IMAGES_"


def default_database_url() -> str:
    return f"sqlite:///{Path(platformdirs.user_data_dir('sagemaker-images')) / 'state.db'}"


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8750
    db: str = ""
    default_account: str = "000000000000"
    # Seconds every status transition (CREATING -> CREATED, ...) takes; 0 settles before the first poll.
    transition_delay: float = 0.0
    # Regular expressions that make transitions fail, for testing failure handling.
    fail_images: str = ""
    fail_base_images: str = ""
    # Seconds after which a version set TO_BE_ARCHIVED reads ARCHIVED (AWS: "after three months").
    archive_after: float = 7776000.0
    # AWS's own answer to concurrent CreateImageVersion calls on one image: ResourceInUse.
    reject_concurrent_version_creates: bool = False
    max_images: int = 0
    max_versions_per_image: int = 0
    max_body_bytes: int = 1024 * 1024
    # "none" (default: any credentials accepted, for local testing) or "sigv4" (verify signatures
    # against the keys of the ``credentials`` file; see docs/security.md).
    auth: str = "none"
    # Seconds a client has for a request's line and headers, and again for its body.
    request_timeout: float = 60.0
    credentials: str = ""
    threads: int = 8
    workers: int = 1
    log_level: str = "info"

    def database_url(self) -> str:
        return self.db or default_database_url()

    @classmethod
    def env_name(cls, field: str) -> str:
        return ENV_PREFIX + field.upper()

    @classmethod
    def from_environment(cls, environ: dict[str, str] | None = None, **overrides: object) -> Settings:
        """Defaults, replaced by ``SAGEMAKER_IMAGES_*`` variables, replaced by non-None overrides."""
        environ = dict(os.environ) if environ is None else environ
        values: dict[str, object] = {}
        for field in fields(cls):
            raw = environ.get(cls.env_name(field.name))
            if raw is not None and raw != "":
                values[field.name] = _parse(field.type, raw, cls.env_name(field.name))
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)


def _parse(kind: object, raw: str, name: str) -> object:
    try:
        if kind in ("int", int):
            return int(raw)
        if kind in ("float", float):
            return float(raw)
        if kind in ("bool", bool):
            if raw.lower() in ("1", "true", "yes", "on"):
                return True
            if raw.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError(raw)
    except ValueError:
        raise SystemExit(f"{name}: invalid value {raw!r}") from None
    return raw
