"""The AWS JSON protocol (1.0 and 1.1): targets, bodies and errors as AWS writes them.

``POST /`` with ``X-Amz-Target: <Prefix>.<Operation>``; errors are ``{"__type": Code, "message": ...}``
with the status the code carries, plus ``x-amzn-ErrorType`` and ``x-amzn-RequestId`` headers.

A ``Call`` follows one request through the server: once its target names a served API it records the
API's JSON version, and both the answer and any error are written by ``answer``/``error_answer`` from
it, so an API speaking 1.0 (Cloud Control) answers errors in 1.0 as it answers successes.
"""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass
from typing import Any

import orjson

from sagemaker_images.errors import SerializationException, ServiceError
from sagemaker_images.protocol.asgi import Response


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
    closes_connection = True


# What an endpoint answers before the target names an API: AWS JSON 1.1, as SageMaker speaks.
DEFAULT_JSON_VERSION = "1.1"


@dataclass(slots=True)
class Call:
    """What is known of one API call, filled in as it is answered."""

    request_id: str
    service: str = ""  # the served API's name, once the target names one
    operation: str = ""
    json_version: str = DEFAULT_JSON_VERSION
    # Who called, once known (for the access log).
    account: str = ""
    region: str = ""


@dataclass(frozen=True, slots=True)
class Target:
    prefix: str
    operation: str


def require_target(target: Target | None) -> Target:
    """The target ``peek_target`` found, or the error a request without one gets."""
    if target is None:
        raise UnknownOperationException("Missing or malformed X-Amz-Target header.")
    return target


def peek_target(header: str | None) -> Target | None:
    """The target a request names, or None; no error, so the API is known before anything is refused."""
    if not header or "." not in header:
        return None
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


# Request ids are UUID-shaped, as AWS's are, and unique: a random prefix per process and a counter.
# (A uuid4 per request cost a system call for randomness and two object constructions.)
_REQUEST_ID_PREFIX = str(uuid.uuid4())[:24]
_request_numbers = itertools.count(1)


def new_request_id() -> str:
    return f"{_REQUEST_ID_PREFIX}{next(_request_numbers):012x}"


def content_type(json_version: str) -> bytes:
    return _CONTENT_TYPES.get(json_version) or f"application/x-amz-json-{json_version}".encode()


_CONTENT_TYPES = {version: f"application/x-amz-json-{version}".encode() for version in ("1.0", "1.1")}


def answer(call: Call, result: dict[str, Any]) -> Response:
    headers = {b"x-amzn-requestid": call.request_id.encode()}
    return Response(200, success_body(result), content_type(call.json_version), headers)


def error_answer(call: Call, error: ServiceError) -> Response:
    headers = {b"x-amzn-errortype": error.code.encode(), b"x-amzn-requestid": call.request_id.encode()}
    if error.closes_connection:
        headers[b"connection"] = b"close"
    return Response(error.status, error_body(error), content_type(call.json_version), headers)


def success_body(result: dict[str, Any]) -> bytes:
    return orjson.dumps(result)


def error_body(error: ServiceError) -> bytes:
    """The JSON error document; always valid UTF-8 JSON, whatever the message echoes of the request.

    Both spellings of the message member: the error shapes of the models name it ``Message`` and
    aws-sdk-go-v2 before late 2024 reads only that key for modelled errors, while AWS's framework
    errors and most readers use ``message`` (botocore, aws-sdk-go v1, the JS SDKs read either).
    """
    message = printable(error.message)
    return orjson.dumps({"__type": error.code, "message": message, "Message": message})


def printable(text: str) -> str:
    """``text`` with every lone surrogate (which UTF-8 cannot carry) written as its ``\\uXXXX`` escape.

    Messages echo request values, and a value parsed from JSON carried inside a string member may
    hold half a surrogate pair; the client then reads back the escape it sent.
    """
    try:
        text.encode()
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode()
    return text
