"""The request worker on a real SQLite database, with the tracker's clock in the test's hands.

A resource type is just a handler and a schema; these tests register types whose handlers misbehave
on purpose (always fail, never finish) to hold the tracker to its promises: every request ends in
bounded steps, a failure is logged once, and no tenant's flood delays another's requests.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import pytest

from sagemaker_images.cloudcontrol.handlers import Context, Handler, Operation, Phase, Progress, Step
from sagemaker_images.cloudcontrol.progress import MAX_FAILED_STEPS, UNFINISHED, RequestTracker
from sagemaker_images.cloudcontrol.schema import ResourceSchema
from sagemaker_images.store import open_database
from sagemaker_images.tenancy import Tenant

SCHEMA = {"properties": {"Name": {"type": "string"}}, "primaryIdentifier": ["/properties/Name"]}
OWNER, OTHER = Tenant("111111111111", "us-east-1"), Tenant("222222222222", "us-east-1")


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


class Broken(Handler):
    """Every step raises something no handler expects."""

    def steps(self, operation: Operation) -> Mapping[Phase, Step]:
        return {Phase.START: self._explode}

    def _explode(self, ctx: Context) -> Phase:
        raise RuntimeError("a step that can never succeed")


class Slow(Handler):
    """Never finishes by itself: waits half a second, every step."""

    def steps(self, operation: Operation) -> Mapping[Phase, Step]:
        return {Phase.START: lambda ctx: Progress.wait()}


class Quick(Handler):
    def steps(self, operation: Operation) -> Mapping[Phase, Step]:
        return {Phase.START: lambda ctx: Phase.READ, Phase.READ: lambda ctx: Progress.success({"Name": "x"})}


class Lost(Handler):
    """Leaves its request in a phase its operation does not have."""

    def steps(self, operation: Operation) -> Mapping[Phase, Step]:
        return {Phase.START: lambda ctx: Phase.TAGS}


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def tracker(tmp_path, clock) -> RequestTracker:
    database = open_database(f"sqlite:///{tmp_path / 'state.db'}")
    handlers: dict[str, Handler] = {
        f"Test::{kind.__name__}::Thing": kind(ResourceSchema(f"Test::{kind.__name__}::Thing", SCHEMA), None)  # type: ignore[arg-type]
        for kind in (Broken, Slow, Quick, Lost)
    }
    yield RequestTracker(database, handlers, clock=clock)
    database.dispose()


def submit(tracker: RequestTracker, tenant: Tenant, kind: str, n: int = 0) -> str:
    event = tracker.submit(
        tenant,
        type_name=f"Test::{kind}::Thing",
        operation="CREATE",
        client_token=None,
        fingerprint=f"{kind}-{n}",
        desired={"Name": f"{kind}-{n}"},
    )
    return str(event["RequestToken"])


def run_until_settled(tracker: RequestTracker, clock: Clock, tenant: Tenant, token: str, rounds: int) -> dict:
    for _ in range(rounds):
        event = tracker.status(tenant, token)
        if event["OperationStatus"] not in ("IN_PROGRESS", "PENDING", "CANCEL_IN_PROGRESS"):
            return event
        clock.now += 31  # past any back-off and lease
        tracker.advance_due()
    return tracker.status(tenant, token)


def test_a_step_that_keeps_failing_ends_the_request_and_is_logged_once(tracker, clock, caplog):
    token = submit(tracker, OWNER, "Broken")
    caplog.set_level(logging.DEBUG, logger="sagemaker_images")
    steps = 0
    while tracker.status(OWNER, token)["OperationStatus"] == "IN_PROGRESS":
        assert tracker.advance_due() == 1
        steps += 1
        assert steps <= MAX_FAILED_STEPS
        clock.now += 31
    event = tracker.status(OWNER, token)
    assert (event["OperationStatus"], event["ErrorCode"], event["StatusMessage"]) == (
        "FAILED",
        "InternalFailure",
        "Internal Failure",
    )
    assert steps == MAX_FAILED_STEPS
    tracebacks = [r for r in caplog.records if r.exc_info and r.levelno >= logging.WARNING]
    assert len(tracebacks) == 1
    assert tracker.advance_due() == 0  # nothing left to retry


def test_the_back_off_grows_between_failed_steps(tracker, clock):
    token = submit(tracker, OWNER, "Broken")
    waits = []
    for _ in range(MAX_FAILED_STEPS - 1):
        started = clock.now
        tracker.advance_due()
        waits.append(tracker.status(OWNER, token)["RetryAfter"] - started)
        clock.now = tracker.status(OWNER, token)["RetryAfter"]
    assert waits == sorted(waits) and waits[0] >= 1 and waits[-1] > waits[0]


def test_an_unknown_phase_ends_the_request_instead_of_falling_through(tracker, clock):
    token = submit(tracker, OWNER, "Lost")
    event = run_until_settled(tracker, clock, OWNER, token, MAX_FAILED_STEPS + 2)
    assert (event["OperationStatus"], event["ErrorCode"]) == ("FAILED", "InternalFailure")


def test_reading_a_status_never_advances_a_request(tracker, clock):
    token = submit(tracker, OWNER, "Quick")
    for _ in range(3):
        assert tracker.status(OWNER, token)["OperationStatus"] == "IN_PROGRESS"
        tracker.list(OWNER, operations=None, statuses=None, next_token=None, limit=None)
    tracker.advance_due()
    assert tracker.status(OWNER, token)["OperationStatus"] == "SUCCESS"


def test_a_tenant_with_a_flood_of_due_requests_delays_another_by_one_turn_at_most(tracker, clock):
    for n in range(300):
        submit(tracker, OWNER, "Slow", n)
    for n in range(40):
        submit(tracker, OWNER, "Broken", n)
    victim = submit(tracker, OTHER, "Quick")
    # The victim's request is one of the first taken, however many the flooding tenant has due.
    with tracker.database.read() as q:
        from sagemaker_images.store.resource_requests import ResourceRequests

        due = ResourceRequests(q.conn, postgres=False).due(clock(), 4, 50, unfinished=UNFINISHED)
    assert victim in due[:2]
    tracker.advance_due()
    assert tracker.status(OTHER, victim)["OperationStatus"] == "SUCCESS"


def test_the_worker_is_started_and_stopped_explicitly(tracker, clock):
    token = submit(tracker, OWNER, "Quick")
    clock.now += 1
    tracker.start()
    try:
        for _ in range(200):
            if tracker.status(OWNER, token)["OperationStatus"] == "SUCCESS":
                break
            import time

            time.sleep(0.01)
        assert tracker.status(OWNER, token)["OperationStatus"] == "SUCCESS"
    finally:
        tracker.stop()
    assert tracker._worker is None or not tracker._worker.is_alive()
