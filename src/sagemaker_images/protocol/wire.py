"""The AWS JSON protocol (1.0 and 1.1): targets, bodies and errors as AWS writes them.

``POST /`` with ``X-Amz-Target: <Prefix>.<Operation>``; errors are ``{"__type": Code, "message": ...}``
with the status the code carries, plus ``x-amzn-ErrorType`` and ``x-amzn-RequestId`` headers.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import orjson

from sagemaker_images.errors import SerializationException, ServiceError


class UnknownOperationException(ServiceError):
    code = "UnknownOperationException"


class UnsupportedOperation(ServiceError):
    """An operation of the AWS API that this server does not implement (outside its scope)."""

    code = "UnsupportedOperation"


class RequestEntityTooLarge(ServiceError):
    code = "RequestEntityTooLargeException"
    status = 413


class RequestTimeoutException(ServiceError):
    code = "RequestTimeoutException"
    status = 408


@dataclass(frozen=True, slots=True)
class Target:
    prefix: str
    operation: str


def parse_target(header: str | None) -> Target:
    if not header or "." not in header:
        raise UnknownOperationException("Missing or malformed X-Amz-Target header.")
    prefix, _, operation = header.rpartition(".")
    return Target(prefix, operation)


def parse_body(body: bytes) -> dict[str, Any]:
    if not body.strip():
        return {}
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise SerializationException("The request body is not valid JSON.") from None
    if not isinstance(parsed, dict):
        raise SerializationException("Expected a JSON object as the request body.")
    return parsed


def new_request_id() -> str:
    return str(uuid.uuid4())


def content_type(json_version: str) -> bytes:
    return f"application/x-amz-json-{json_version}".encode()


def success_body(result: dict[str, Any]) -> bytes:
    return orjson.dumps(result)


def error_body(error: ServiceError) -> bytes:
    return orjson.dumps({"__type": error.code, "message": error.message})
