"""How tests call the server and read its answers: raw AWS JSON calls, AWS errors, waiting.

One of each, shared by every test module (and by benchmarks/ for raw calls):
- ``raw_call``: one AWS JSON request over plain HTTP, signed in the shape ``--auth none`` reads the
  account from (the access key id), for wire-level assertions;
- ``error_of``: the AWS error a boto3 call failed with;
- ``wait_until``: poll a condition with a deadline (a test never waits forever);
- ``FAST_WAITER``: boto3 waiter settings for servers whose transitions take a fraction of a second;
- ``advance_clock``: move the clock of a server started with ``--admin`` (transitions of minutes end
  at once, and a test sees every status in between without sleeping).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import orjson
import pytest
from botocore.exceptions import ClientError

# service -> (X-Amz-Target prefix, content type, SigV4 signing name)
APIS = {
    "sagemaker": ("SageMaker", "application/x-amz-json-1.1", "sagemaker"),
    "cloudcontrol": ("CloudApiService", "application/x-amz-json-1.0", "cloudcontrolapi"),
}

# Waiters poll twenty times a second (for at most 30 s): transitions in tests last a second or less, and
# most waits end at the first or second look.
FAST_WAITER = {"Delay": 0.05, "MaxAttempts": 600}


def authorization(account: str, signing_name: str = "sagemaker", region: str = "us-east-1") -> str:
    return (
        f"AWS4-HMAC-SHA256 Credential={account}/20261123/{region}/{signing_name}/aws4_request, "
        "SignedHeaders=host, Signature=" + "0" * 64
    )


def raw_call(
    server: Any,
    operation: str,
    body: Any,
    *,
    service: str = "sagemaker",
    account: str | None = None,
    region: str = "us-east-1",
    target_prefix: str | None = None,
) -> tuple[int, dict]:
    """POST one AWS JSON call; ``body`` is a dict (sent as JSON) or raw bytes. Status and parsed body."""
    prefix, content_type, signing_name = APIS[service]
    headers = {"Content-Type": content_type, "X-Amz-Target": f"{target_prefix or prefix}.{operation}"}
    if account:
        headers["Authorization"] = authorization(account, signing_name, region)
    raw = body if isinstance(body, bytes) else orjson.dumps(body)
    return server.request("POST", "/", raw, headers)


def error_of(
    failure: pytest.ExceptionInfo[ClientError] | ClientError | Callable[[], object], *, status: bool = False
) -> tuple[Any, ...]:
    """(code, message) of an AWS error, or (code, message, HTTP status) with ``status=True``.

    ``failure`` is what ``pytest.raises`` caught, the ClientError itself, or a call that must raise one.
    """
    if callable(failure) and not isinstance(failure, ClientError | pytest.ExceptionInfo):
        with pytest.raises(ClientError) as caught:
            failure()
        failure = caught
    error = failure.value if isinstance(failure, pytest.ExceptionInfo) else failure
    details = error.response["Error"]
    if status:
        return details["Code"], details["Message"], error.response["ResponseMetadata"]["HTTPStatusCode"]
    return details["Code"], details["Message"]


def wait_until(condition: Callable[[], object], timeout: float = 15.0, what: str = "the condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.02)


def advance_clock(server: Any, seconds: float) -> None:
    """Move the clock of a server started with ``--admin`` forward by ``seconds``."""
    status, body = server.request(
        "POST", "/_admin/clock", orjson.dumps({"advance": seconds}), {"Content-Type": "application/json"}
    )
    assert status == 200, body
