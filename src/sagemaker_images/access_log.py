"""Logs as operators' tools read them: ``serve --log-format json`` writes one JSON object per line.

In JSON form every record is an object with ``time``, ``level``, ``logger`` and ``message``; an API
call's access record (logger ``sagemaker_images.access``) adds the request id, API, operation,
account, region, HTTP status, AWS error code and duration. The default text form stays as it was:
human-readable lines and no per-call record.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import orjson

ACCESS_LOGGER = "sagemaker_images.access"
FORMATS = ("text", "json")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

access = logging.getLogger(ACCESS_LOGGER)
# Whether calls are logged: only in JSON form (the text form keeps today's quiet default).
_enabled = False


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            entry.update(fields)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


def configure(level: str, log_format: str) -> None:
    """The root handler for the chosen format (uvicorn's loggers propagate to it in JSON form)."""
    if log_format not in FORMATS:
        raise SystemExit(f"unknown log format {log_format!r} (expected text or json)")
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("alembic").setLevel(logging.WARNING)
    global _enabled
    _enabled = log_format == "json"


def enabled() -> bool:
    """Whether calls are logged at all (callers skip gathering the fields otherwise)."""
    return _enabled


def log_call(
    *,
    request_id: str,
    api: str,
    operation: str,
    account: str,
    region: str,
    status: int,
    error_code: str,
    seconds: float,
    method: str,
    path: str,
    client: str,
) -> None:
    if not _enabled or not access.isEnabledFor(logging.INFO):
        return
    fields = {
        "request_id": request_id,
        "api": api,
        "operation": operation,
        "account": account,
        "region": region,
        "status": status,
        "error_code": error_code or None,
        "duration_ms": round(seconds * 1000, 3),
        "method": method,
        "path": path,
        "client": client,
    }
    access.info("%s %s %d", api, operation, status, extra={"fields": fields})
