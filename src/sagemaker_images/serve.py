"""Running the application under uvicorn (uvloop + httptools)."""

from __future__ import annotations

import dataclasses
import logging
import os
import secrets
from typing import Any

import uvicorn

from sagemaker_images import access_log
from sagemaker_images.config import Settings
from sagemaker_images.images.resolution import parse_route
from sagemaker_images.protocol import http_limits
from sagemaker_images.protocol.http_limits import LimitedHttpToolsProtocol
from sagemaker_images.server import Application
from sagemaker_images.services import PAGE_TOKEN_SECRET, build_authenticator
from sagemaker_images.store import open_database
from sagemaker_images.store.secrets import shared_secret

log = logging.getLogger("sagemaker_images")


def create_app() -> Application:
    """Factory for uvicorn workers: each process opens its own database connections."""
    settings = Settings.from_environment()
    access_log.configure(settings.log_level, settings.log_format)
    http_limits.configure(head_timeout=settings.request_timeout)
    return Application(settings, freeze_heap=True)


def serve(settings: Settings) -> int:
    # Migrate once, before any worker starts, so workers never race on the schema.
    try:
        database = open_database(settings.database_url())
        # The first write: a database that cannot be written (a read-only file, a standby) stops
        # start-up here, with the reason, rather than failing every write later.
        shared_secret(database, PAGE_TOKEN_SECRET)
    except Exception as error:  # any reason the state cannot be opened ends start-up the same way
        log.error("cannot start: %s", start_up_failure(error))
        return 2
    where = database.describe()
    database.dispose()
    log.info(
        "sagemaker-images listening on http://%s:%d, state in %s%s",
        settings.host,
        settings.port,
        where,
        "" if settings.workers == 1 else f" ({settings.workers} worker processes)",
    )
    try:
        authenticator = build_authenticator(settings)
        for route in settings.registry:
            parse_route(route)
        if settings.upstream:
            from sagemaker_images.upstream import check_url

            check_url(settings.upstream)
        if settings.admin and settings.workers > 1:
            raise ValueError("--admin needs --workers 1: the clock and faults it sets belong to one process")
    except (ValueError, OSError) as error:
        log.error("cannot start: %s", error)
        return 2
    if settings.upstream:
        log.info("forwarding every request not implemented here to %s", settings.upstream)
    if settings.admin:
        log.info("the admin API for tests is on at /_admin/")
    if authenticator is None:
        log.info("authentication is off: any credentials are accepted (local testing mode)")
    else:
        log.info(
            "authentication: AWS Signature Version 4, %d access key(s) from %s",
            len(authenticator.principals),
            settings.credentials,
        )
    if settings.registry or settings.ecr_endpoint or settings.iam_endpoint:
        log.info(
            "resolving BaseImages%s%s%s (docs/registry.md)",
            "".join(f" [{route}]" for route in settings.registry),
            f" [ECR at {settings.ecr_endpoint}]" if settings.ecr_endpoint else "",
            f"; CreateImage roles checked in IAM at {settings.iam_endpoint}" if settings.iam_endpoint else "",
        )
    http_limits.configure(head_timeout=settings.request_timeout)
    if not settings.console_secret:
        # One key for every worker process, so a console session is valid whichever one answers.
        settings = dataclasses.replace(settings, console_secret=secrets.token_urlsafe(32))
    common: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "log_level": settings.log_level,
        "access_log": False,
        "lifespan": "on",
        # httptools, plus limits on the request head (size, time): protocol/http_limits.py.
        "http": LimitedHttpToolsProtocol,
        # No WebSocket endpoint: an Upgrade header is ignored and the request answered as plain HTTP.
        "ws": "none",
        # AWS answers name no server; one header less for uvicorn to check and write on every answer.
        "server_header": False,
        "loop": "uvloop",
        "timeout_graceful_shutdown": 10,
        # JSON logs: leave logging as access_log.configure set it (uvicorn's records become JSON too).
        **({"log_config": None} if settings.log_format == "json" else {}),
    }
    if settings.workers > 1:
        _export(settings)
        uvicorn.run("sagemaker_images.serve:create_app", factory=True, workers=settings.workers, **common)
    else:
        uvicorn.run(Application(settings, authenticator=authenticator, freeze_heap=True), **common)
    return 0


def start_up_failure(error: BaseException) -> str:
    """One line saying why the database could not be opened (the driver's first line, no traceback)."""
    cause: BaseException = error
    # The driver's own error: under SQLAlchemy's wrapper (.orig), or under our ServiceUnavailable.
    while (inner := getattr(cause, "orig", None) or cause.__cause__ or cause.__context__) is not None:
        cause = inner
    text = str(cause).strip().splitlines()
    reason = text[0] if text else type(cause).__name__
    return f"{type(cause).__name__}: {reason}"


def _export(settings: Settings) -> None:
    """Hand the effective settings to worker processes through their environment."""
    for field in dataclasses.fields(settings):
        value = getattr(settings, field.name)
        if field.name == "db":
            value = settings.database_url()
        if isinstance(value, tuple):
            value = " ".join(value)
        os.environ[Settings.env_name(field.name)] = str(value)
