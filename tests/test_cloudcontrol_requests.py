"""Cloud Control requests whatever they hold: every one ends, none costs another tenant its turn,
identifiers that name nothing are NotFound, and a resource is busy from the moment a request on it is
accepted. End to end, on SQLite and PostgreSQL, through boto3 and raw HTTP."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from tests.calls import advance_clock, error_of, raw_call, wait_until
from tests.conftest import client_for, new_account
from tests.servers import ServerProcess

IMAGE = "AWS::SageMaker::Image"
VERSION = "AWS::SageMaker::ImageVersion"
UNFINISHED = ("PENDING", "IN_PROGRESS", "CANCEL_IN_PROGRESS")


def call(server: ServerProcess, operation: str, body: dict, account: str) -> tuple[int, dict]:
    """A Cloud Control call as raw HTTP: JSON that boto3 would refuse to send is sent as it is."""
    return raw_call(server, operation, body, service="cloudcontrol", account=account)


def final_event(
    server: ServerProcess, account: str, token: str, timeout: float = 60.0, advance: float = 0.0
) -> dict:
    """Poll (raw HTTP, so a 5xx is seen as one) until the request has ended; with ``advance``, move the
    clock of the ``--admin`` server that far before each look (whatever step the request is at)."""
    seen: dict = {}

    def ended() -> bool:
        if advance:
            advance_clock(server, advance)
        status, body = call(server, "GetResourceRequestStatus", {"RequestToken": token}, account)
        assert status == 200, body
        seen.update(body["ProgressEvent"])
        return seen["OperationStatus"] not in UNFINISHED

    wait_until(ended, timeout, f"request {token} to end")
    return seen


def log_size(server: ServerProcess) -> int:
    assert server.log_path is not None
    return server.log_path.stat().st_size


def tracebacks(server: ServerProcess, since: int = 0) -> int:
    assert server.log_path is not None
    return server.log_path.read_bytes()[since:].count(b"Traceback")


def problems(server: ServerProcess, since: int = 0) -> int:
    """Log records at WARNING or above written since ``since``."""
    assert server.log_path is not None
    text = server.log_path.read_bytes()[since:].decode("utf-8", "replace")
    return len(re.findall(r"^\d{4}-\d\d-\d\d [\d:,]+ (?:WARNING|ERROR|CRITICAL) ", text, re.MULTILINE))


def report(line: str) -> None:
    where = os.environ.get("SAGEMAKER_IMAGES_REPORT_DIR")
    if where:
        with open(Path(where) / "cloudcontrol.txt", "a") as out:
            out.write(line + "\n")


# -- requests that cannot be stored as they are ------------------------------------------------------


POISON = [
    pytest.param({"ImageName": "\ud800"}, id="lone-surrogate-name"),
    pytest.param(
        {"ImageName": "ok-name", "Tags": [{"Key": "\ud800", "Value": "v"}]}, id="lone-surrogate-tag"
    ),
    pytest.param(
        {"ImageName": "ok-name", "Tags": [{"Key": "k", "Value": "\udfff"}]}, id="lone-surrogate-value"
    ),
    pytest.param({"ImageName": "nul\x00name"}, id="nul-name"),
    pytest.param({"ImageName": "ok-name", "ImageDescription": "a\x00b"}, id="nul-description"),
    pytest.param({"ImageName": "ok-name", "Tags": [{"Key": "k\x00", "Value": "v"}]}, id="nul-tag"),
]


@pytest.mark.parametrize("desired", POISON)
def test_a_desired_state_no_column_can_hold_still_ends(server, desired):
    account = new_account()
    role = f"arn:aws:iam::{account}:role/R"
    # json.dumps escapes the surrogate and NUL: the body is valid JSON, the member holds them.
    state = json.dumps({"ImageRoleArn": role, **desired})
    logged = log_size(server)
    status, body = call(server, "CreateResource", {"TypeName": IMAGE, "DesiredState": state}, account)
    if "\\ud800" in state or "\\udfff" in state:
        # A lone surrogate is not JSON a UTF-8 document can hold: refused before anything is stored.
        assert (status, body["__type"]) == (400, "InvalidRequestException"), body
        return
    assert status == 200, body
    event = final_event(server, account, body["ProgressEvent"]["RequestToken"])
    assert event["OperationStatus"] in ("FAILED", "SUCCESS")
    if event["OperationStatus"] == "FAILED":
        assert event["ErrorCode"] in ("InvalidRequest", "InternalFailure")
        assert event["StatusMessage"]
    # Whatever happened, it is listed and read without a 5xx, and logged without a traceback.
    status, listed = call(server, "ListResourceRequests", {}, account)
    assert status == 200
    assert [e["OperationStatus"] for e in listed["ResourceRequestStatusSummaries"]] == [
        event["OperationStatus"]
    ]
    status, _ = call(server, "ListResources", {"TypeName": IMAGE}, account)
    assert status == 200
    # A request the store refuses (NUL on PostgreSQL, until the SageMaker API refuses or keeps it) ends
    # InternalFailure, logged once; anything else ends on its merits, logged not at all.
    if event.get("ErrorCode") == "InternalFailure":
        assert problems(server, logged) <= 1
    else:
        assert tracebacks(server, logged) == 0


def test_a_nul_in_a_name_ends_as_the_schema_says(server):
    account = new_account()
    state = json.dumps({"ImageName": "a\x00b", "ImageRoleArn": f"arn:aws:iam::{account}:role/R"})
    _, body = call(server, "CreateResource", {"TypeName": IMAGE, "DesiredState": state}, account)
    event = final_event(server, account, body["ProgressEvent"]["RequestToken"])
    assert (event["OperationStatus"], event["ErrorCode"]) == ("FAILED", "InvalidRequest")
    assert event["StatusMessage"].startswith("Model validation failed (#/ImageName: string [a\x00b]")


# -- identifiers that name nothing ---------------------------------------------------------------------


def malformed(account: str) -> list[tuple[str, str]]:
    arn = f"arn:aws:sagemaker:us-east-1:{account}"
    return [
        (IMAGE, "bad name!"),
        (IMAGE, "a" * 64),
        (IMAGE, f"{arn}:image/bad_name"),
        (IMAGE, f"{arn}:image/" + "a" * 64),
        (IMAGE, '{"ImageName": "bad_name"}'),
        (IMAGE, '{"ImageName": "a\\nb"}'),
        (IMAGE, '{"ImageName": "ok\\n"}'),
        (VERSION, f"{arn}:image-version/bad_name/1"),
        (VERSION, f"{arn}:image-version/ok/{2**31}"),
        (VERSION, f"{arn}:image-version/ok/{2**63}"),
        (VERSION, f"{arn}:image-version/ok/{10**40}"),
        (VERSION, f"{arn}:image-version/ok/0"),
        (VERSION, '{"ImageVersionArn": "' + arn + ':image-version/a\\nb/1"}'),
    ]


def test_delete_get_and_update_of_an_identifier_that_names_nothing_are_not_found(server):
    account = new_account()
    logged = log_size(server)
    patch = json.dumps([{"op": "add", "path": "/ImageDescription", "value": "x"}])
    for type_name, identifier in malformed(account):
        status, body = call(
            server, "DeleteResource", {"TypeName": type_name, "Identifier": identifier}, account
        )
        assert status == 200, (identifier, body)
        event = final_event(server, account, body["ProgressEvent"]["RequestToken"])
        assert (event["OperationStatus"], event["ErrorCode"]) == ("FAILED", "NotFound"), (identifier, event)
        assert event["StatusMessage"].endswith("was not found."), identifier
        assert event["Identifier"]
        for operation, extra in (("GetResource", {}), ("UpdateResource", {"PatchDocument": patch})):
            status, body = call(
                server, operation, {"TypeName": type_name, "Identifier": identifier, **extra}, account
            )
            assert (status, body["__type"]) == (400, "ResourceNotFoundException"), (
                operation,
                identifier,
                body,
            )
    # JSON that no UTF-8 document can hold (a lone surrogate) is not an identifier at all.
    for operation in ("DeleteResource", "GetResource"):
        status, body = call(
            server, operation, {"TypeName": IMAGE, "Identifier": '{"ImageName": "\\ud800"}'}, account
        )
        assert (status, body["__type"]) == (400, "InvalidRequestException")
    # A raw identifier with a line break breaks the model's own pattern for Identifier (``.+``, whole
    # value, as Java matches it): that is a ValidationException before any handler is involved.
    # So does a NUL character, which no member may hold.
    for operation in ("DeleteResource", "GetResource"):
        for identifier in ("a\nb", "a\x00b"):
            status, body = call(server, operation, {"TypeName": IMAGE, "Identifier": identifier}, account)
            assert (status, body["__type"]) == (400, "ValidationException")
    assert tracebacks(server, logged) == 0


# -- busy from acceptance ------------------------------------------------------------------------------


# Transitions of five minutes, ended by moving the server's clock: nothing finishes before the test has
# looked, on a loaded machine too, and nothing waits in real time.
DELAY = 300
SLOW = ("--transition-delay", str(DELAY), "--admin")


def test_a_resource_is_busy_from_the_moment_its_request_is_accepted(shared_servers):
    server = shared_servers(*SLOW)
    account = new_account()
    cc = client_for(server.endpoint, account, "cloudcontrol")
    desired = json.dumps({"ImageName": "busy-now", "ImageRoleArn": f"arn:aws:iam::{account}:role/R"})
    created = cc.create_resource(TypeName=IMAGE, DesiredState=desired)["ProgressEvent"]
    arn = f"arn:aws:sagemaker:us-east-1:{account}:image/busy-now"
    patch = json.dumps([{"op": "add", "path": "/ImageDescription", "value": "x"}])
    for identifier in (arn, '{"ImageName": "busy-now"}', '{"ImageName": "BUSY-NOW"}'):
        assert error_of(lambda i=identifier: cc.delete_resource(TypeName=IMAGE, Identifier=i))[0] == (
            "ConcurrentOperationException"
        )
        assert error_of(
            lambda i=identifier: cc.update_resource(TypeName=IMAGE, Identifier=i, PatchDocument=patch)
        )[0] == ("ConcurrentOperationException")
    # A second create of the same name is the same resource, busy too.
    assert error_of(lambda: cc.create_resource(TypeName=IMAGE, DesiredState=desired))[0] == (
        "ConcurrentOperationException"
    )
    assert (
        final_event(server, account, created["RequestToken"], advance=DELAY)["OperationStatus"] == "SUCCESS"
    )
    # Once it has ended, the resource is free again.
    deleted = cc.delete_resource(TypeName=IMAGE, Identifier=arn)["ProgressEvent"]
    assert (
        final_event(server, account, deleted["RequestToken"], advance=DELAY)["OperationStatus"] == "SUCCESS"
    )


# -- fairness ------------------------------------------------------------------------------------------


def completion_seconds(server: ServerProcess, account: str, names: list[str]) -> float:
    """Submit creates, and how long (by the server's EventTimes) the slowest took to succeed."""
    tokens = []
    for name in names:
        state = json.dumps({"ImageName": name, "ImageRoleArn": f"arn:aws:iam::{account}:role/R"})
        status, body = call(server, "CreateResource", {"TypeName": IMAGE, "DesiredState": state}, account)
        assert status == 200
        tokens.append((body["ProgressEvent"]["RequestToken"], body["ProgressEvent"]["EventTime"]))
    slowest = 0.0
    for token, accepted in tokens:
        event = final_event(server, account, token, timeout=120)
        assert event["OperationStatus"] == "SUCCESS", event
        slowest = max(slowest, event["EventTime"] - accepted)
    return slowest


@pytest.mark.long
def test_one_tenants_flood_does_not_hold_up_another(start_server, backend):
    delay = 1.0
    server = start_server("--transition-delay", str(delay))
    victim = new_account()
    baseline = completion_seconds(server, victim, [f"calm-{i}" for i in range(3)])

    flooder = new_account()
    role = f"arn:aws:iam::{flooder}:role/R"
    logged = log_size(server)
    poison = 0
    flood = []
    for i in range(120):  # slow requests: each polls its transition every half second
        state = json.dumps({"ImageName": f"slow-{i}", "ImageRoleArn": role})
        flood.append(call(server, "CreateResource", {"TypeName": IMAGE, "DesiredState": state}, flooder))
    for i in range(30):  # poison and nonsense, accepted (a lone surrogate would be refused at once)
        for desired in (
            {"ImageName": f"n{i}\x00"},
            {"ImageName": f"t{i}", "Tags": [{"Key": "k", "Value": "\x00"}]},
        ):
            state = json.dumps({**desired, "ImageRoleArn": role})
            flood.append(call(server, "CreateResource", {"TypeName": IMAGE, "DesiredState": state}, flooder))
            poison += 1
        identifier = f"bad name-{i}"
        flood.append(call(server, "DeleteResource", {"TypeName": IMAGE, "Identifier": identifier}, flooder))
        poison += 1
    assert all(status == 200 for status, _ in flood), [b for status, b in flood if status != 200][:3]

    loaded = completion_seconds(server, victim, [f"busy-{i}" for i in range(3)])
    # Every flood request ends too.
    for _, body in flood:
        final_event(server, flooder, body["ProgressEvent"]["RequestToken"], timeout=300)
    log_bytes = log_size(server) - logged
    report(
        f"fairness [{backend}]: another tenant's create took {baseline:.2f} s unloaded, {loaded:.2f} s "
        f"during a flood of {len(flood)} requests ({poison} poison); log grew {log_bytes} bytes"
    )
    print(f"baseline {baseline:.2f}s loaded {loaded:.2f}s log {log_bytes}B for {poison} poison")
    # Generous: the flood may cost the other tenant a few turns, never a wait behind the whole flood
    # (120 requests of at least one second each).
    assert loaded <= max(4 * baseline, baseline + 3.0)
    assert tracebacks(server, logged) == 0
    assert log_bytes <= 200 * poison


# -- the worker's life ---------------------------------------------------------------------------------


def test_the_worker_stops_with_the_server_and_its_requests_finish_after_a_restart(start_server):
    server = start_server(*SLOW)
    account = new_account()
    cc = client_for(server.endpoint, account, "cloudcontrol")
    role = f"arn:aws:iam::{account}:role/R"
    tokens = [
        cc.create_resource(
            TypeName=IMAGE, DesiredState=json.dumps({"ImageName": f"life-{i}", "ImageRoleArn": role})
        )["ProgressEvent"]["RequestToken"]
        for i in range(5)
    ]
    logged = log_size(server)
    server.stop()  # SIGTERM while the worker is polling their transitions
    assert server.process is not None and server.process.returncode is not None
    # The worker ended before the database was closed under it: nothing went wrong on the way out.
    assert problems(server, logged) == 0
    assert tracebacks(server, logged) == 0
    again = start_server(*SLOW, db_url=server.db_url)
    for token in tokens:
        assert final_event(again, account, token, advance=DELAY)["OperationStatus"] == "SUCCESS"
