"""Resource requests: tokens, ProgressEvents, idempotency, one-at-a-time per resource, persistence.

A request is a row (``store.resource_requests``). Requests are advanced only by the request worker
(``RequestTracker.start``/``stop``, owned by the application's lifespan) — reading a request's
status never runs it. The worker of any server process picks due requests fairly (a few per
account and region per round, so one tenant's flood never delays another's), claims each for one
step with a short lease (a conditional UPDATE), runs the handler step outside any transaction (the
handler writes through the images domain), and writes the outcome back only while it still holds
the lease. A process killed mid-step leaves a lease that expires; the request is then finished by
whoever comes next.

Every request ends in bounded steps whatever it holds: a step that fails unexpectedly (or whose
outcome cannot be written) is tried again with growing back-off, and after ``MAX_FAILED_STEPS`` in a
row the request ends ``FAILED`` with ``InternalFailure`` — logged once, with its traceback.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from sagemaker_images.cloudcontrol.errors import (
    ClientTokenConflictException,
    ConcurrentOperationException,
    HandlerFailure,
    InvalidRequestException,
    RequestTokenNotFoundException,
)
from sagemaker_images.cloudcontrol.handlers import Context, Handler, Operation, Progress, UnknownPhase
from sagemaker_images.page_tokens import InvalidToken, PageTokens
from sagemaker_images.store import Database
from sagemaker_images.store.keyset import Keyset, Sort
from sagemaker_images.store.resource_requests import DuplicateRequest, ResourceRequests
from sagemaker_images.tenancy import Tenant

log = logging.getLogger(__name__)

# A request's OperationStatus, as Cloud Control names them. The store is given UNFINISHED, the
# statuses of a request that still has steps to take (to find due ones, and to keep them from purges).
PENDING, IN_PROGRESS, SUCCESS, FAILED = "PENDING", "IN_PROGRESS", "SUCCESS", "FAILED"
CANCEL_IN_PROGRESS, CANCEL_COMPLETE = "CANCEL_IN_PROGRESS", "CANCEL_COMPLETE"
UNFINISHED = (PENDING, IN_PROGRESS, CANCEL_IN_PROGRESS)

CLIENT_TOKEN_SECONDS = 36 * 3600  # "valid for 36 hours once used"
KEEP_SECONDS = 7 * 24 * 3600  # AWS keeps resource requests 7 days
LEASE_SECONDS = 5.0
DEFAULT_LIST_PAGE = 20
# The worker: how often it looks for due requests when idle, how many it takes per round in all and
# per account and region (the fairness), and how failing steps back off until the request ends.
IDLE_SECONDS = 0.25
BATCH = 50
PER_TENANT = 4
MAX_FAILED_STEPS = 5
MAX_BACKOFF = 30.0
INTERNAL_FAILURE = "InternalFailure"


def request_hash(operation: str, members: dict[str, Any]) -> str:
    """What makes two requests "the same request" for a client token: everything but the token."""
    canonical = json.dumps([operation, members], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


class RequestTracker:
    def __init__(
        self,
        database: Database,
        handlers: dict[str, Handler],
        clock: Callable[[], float] = time.time,
        tokens: PageTokens | None = None,
    ) -> None:
        self.database = database
        self.tokens = tokens or PageTokens.ephemeral()
        self.handlers = handlers
        self.clock = clock
        self.owner = str(uuid.uuid4())
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._worker: threading.Thread | None = None

    # -- submitting -------------------------------------------------------------------------------

    def submit(
        self,
        tenant: Tenant,
        *,
        type_name: str,
        operation: str,
        client_token: str | None,
        fingerprint: str,
        identifier: str | None = None,
        active_key: str | None = None,
        desired: dict[str, Any] | None = None,
        previous: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        now = self.clock()
        values = {
            "request_token": str(uuid.uuid4()),
            "account": tenant.account,
            "region": tenant.region,
            "type_name": type_name,
            "operation": operation,
            "status": IN_PROGRESS,
            "identifier": identifier,
            "active_key": active_key,
            "client_token": client_token,
            "request_hash": fingerprint,
            "desired_state": json.dumps(desired) if desired is not None else None,
            "previous_state": json.dumps(previous) if previous is not None else None,
            "handler_state": "{}",
            "created_at": now,
            "event_time": now,
            "retry_after": now,
        }
        with self.database.write() as q:
            store = ResourceRequests(q.conn, postgres=q.postgres)
            if random.random() < 0.01:
                store.purge(now - KEEP_SECONDS, unfinished=UNFINISHED)
            earlier = self._replay(store, tenant, client_token, fingerprint, now)
            if earlier is not None:
                return self.event(earlier)
            busy = store.by_active_key(tenant.account, tenant.region, active_key) if active_key else None
            if busy is not None:
                # A retry of the very request that holds the resource (committed since the replay check
                # above, by another replica) is that request; anything else waits its turn.
                earlier = self._replay(store, tenant, client_token, fingerprint, now)
                if earlier is not None:
                    return self.event(earlier)
                raise _concurrent()
            try:
                store.insert(values)
            except DuplicateRequest:
                # Another replica won a race on the same token or the same resource.
                earlier = self._replay(store, tenant, client_token, fingerprint, now)
                if earlier is not None:
                    return self.event(earlier)
                raise _concurrent() from None
            row = store.get(str(values["request_token"]))
        self.database.after_commit(self._wake.set)  # the worker reads the request: once it is there
        assert row is not None
        return self.event(row)

    def refuse_if_busy(self, tenant: Tenant, active_key: str, client_token: str | None) -> None:
        """ConcurrentOperationException while another request on the resource is unfinished (``submit``
        decides it again, atomically; this answers before anything else is read). A retry of the
        request that holds it (same client token) is let through, to be answered as that request."""
        with self.database.read() as q:
            busy = ResourceRequests(q.conn, postgres=q.postgres).by_active_key(
                tenant.account, tenant.region, active_key
            )
        if busy is not None and (client_token is None or busy["client_token"] != client_token):
            raise _concurrent()

    def _replay(
        self, store: ResourceRequests, tenant: Tenant, client_token: str | None, fingerprint: str, now: float
    ) -> Mapping[str, Any] | None:
        if client_token is None:
            return None
        earlier = store.by_client_token(tenant.account, tenant.region, client_token)
        if earlier is None:
            return None
        if earlier["created_at"] < now - CLIENT_TOKEN_SECONDS:
            store.update(earlier["request_token"], {"client_token": None})  # expired: free to reuse
            return None
        if earlier["request_hash"] != fingerprint:
            raise ClientTokenConflictException(
                f"The client token {client_token} has already been used in another resource request."
            )
        return earlier

    # -- advancing --------------------------------------------------------------------------------

    def advance_due(self, limit: int = BATCH) -> int:
        """Take one step of each due request, fairly across tenants; how many were due."""
        with self.database.read() as q:
            due = ResourceRequests(q.conn, postgres=q.postgres).due(
                self.clock(), PER_TENANT, limit, unfinished=UNFINISHED
            )
        for token in due:
            if self._stop.is_set():
                break
            self.advance(token)
        return len(due)

    def advance(self, token: str) -> None:
        """Take the next step of an unfinished request, unless another process is taking it."""
        now = self.clock()
        with self.database.write() as q:
            store = ResourceRequests(q.conn, postgres=q.postgres)
            if not store.claim(token, self.owner, now, LEASE_SECONDS, unfinished=UNFINISHED):
                return
            row = store.get(token)
        assert row is not None
        try:
            self._step(token, row, now)
        except Exception:
            # Even the outcome could not be written: the lease runs out, and the next claim counts this
            # step as failed. Said once, when it is the step that ends the request.
            if row["failed_steps"] >= MAX_FAILED_STEPS:
                log.exception("resource request %s: its outcome could not be recorded", token)

    def _step(self, token: str, row: Mapping[str, Any], now: float) -> None:
        if row["status"] == CANCEL_IN_PROGRESS:
            self._write_back(token, {}, cancelled_only=True)
            return
        # The claim counted this step; the count goes back to 0 whenever a step's outcome is recorded.
        failed_steps = row["failed_steps"]
        if failed_steps > MAX_FAILED_STEPS:
            # Earlier steps kept failing to record anything: end it, in words that can be recorded.
            self._write_back(token, self._ended(INTERNAL_FAILURE, "Internal Failure", row["handler_state"]))
            return
        handler = self.handlers[row["type_name"]]
        state = json.loads(row["handler_state"])
        ctx = Context(
            tenant=Tenant(row["account"], row["region"]),
            request_token=token,
            operation=Operation(row["operation"]),
            identifier=row["identifier"],
            desired=json.loads(row["desired_state"]) if row["desired_state"] else None,
            previous=json.loads(row["previous_state"]) if row["previous_state"] else None,
            state=state,
        )
        ctx.resumed = ctx.phase if "phase" in state else None
        ctx.checkpoint = lambda: self._checkpoint(token, ctx)
        try:
            progress = handler.step(ctx)
        except HandlerFailure as failure:
            outcome = self._ended(failure.error_code, failure.message, json.dumps(ctx.state), ctx.identifier)
            self._write_back(token, outcome)
            return
        except LeaseLost:
            return
        except UnknownPhase:
            # Deterministic: trying again would find the same phase.
            log.exception("resource request %s is in a phase its handler does not have", token)
            self._write_back(token, self._ended(INTERNAL_FAILURE, "Internal Failure", json.dumps(ctx.state)))
            return
        except Exception as error:
            retry = self._retry(failed_steps, now)
            if retry is not None:
                log.debug("resource request %s: step failed (%s), to be tried again", token, error)
                self._write_back(token, retry)
                return
            log.exception(
                "resource request %s failed %d steps in a row; it ends FAILED", token, MAX_FAILED_STEPS
            )
            self._write_back(token, self._ended(INTERNAL_FAILURE, "Internal Failure", json.dumps(ctx.state)))
            return
        self._write_back(token, self._progressed(handler, ctx, progress), identifier=ctx.identifier)

    def _retry(self, failed_steps: int, now: float) -> dict[str, Any] | None:
        """The request's row for another try of a failed step, or None when it has had enough."""
        if failed_steps >= MAX_FAILED_STEPS:
            return None
        return {"retry_after": now + min(2.0 ** (failed_steps - 1), MAX_BACKOFF)}

    def _checkpoint(self, token: str, ctx: Context) -> None:
        with self.database.write() as q:
            saved = ResourceRequests(q.conn, postgres=q.postgres).update(
                token,
                {"handler_state": json.dumps(ctx.state), "identifier": ctx.identifier},
                lease_owner=self.owner,
            )
        if not saved:
            raise LeaseLost(token)

    def _ended(
        self, code: str, message: str, handler_state: str, identifier: str | None = None
    ) -> dict[str, Any]:
        values = {
            "status": FAILED,
            "error_code": code,
            "status_message": message,
            "handler_state": handler_state,
            "event_time": self.clock(),
            "retry_after": None,
            "active_key": None,
            "failed_steps": 0,
        }
        if identifier is not None:
            values["identifier"] = identifier
        return values

    def _progressed(self, handler: Handler, ctx: Context, progress: Progress) -> dict[str, Any]:
        values: dict[str, Any] = {
            "handler_state": json.dumps(ctx.state),
            "identifier": ctx.identifier,
            "failed_steps": 0,
        }
        if not progress.done:
            values["retry_after"] = self.clock() + progress.delay
            return values
        values |= {"status": SUCCESS, "event_time": self.clock(), "retry_after": None, "active_key": None}
        if progress.model is not None:
            values["resource_model"] = json.dumps(handler.schema.readable(progress.model))
        return values

    def _write_back(
        self,
        token: str,
        values: dict[str, Any],
        *,
        identifier: str | None = None,
        cancelled_only: bool = False,
    ) -> None:
        """Record a step's outcome and free the lease; a cancel that came meanwhile wins."""
        with self.database.write() as q:
            store = ResourceRequests(q.conn, postgres=q.postgres)
            current = store.get(token, lock=True)
            if current is None or current["lease_owner"] != self.owner:
                return  # the lease expired and someone else took over
            if current["status"] == CANCEL_IN_PROGRESS:
                values = {
                    "status": CANCEL_COMPLETE,
                    "event_time": self.clock(),
                    "retry_after": None,
                    "active_key": None,
                    "failed_steps": 0,
                    "identifier": values.get("identifier", current["identifier"]),
                    "handler_state": values.get("handler_state", current["handler_state"]),
                }
            elif cancelled_only:
                values = {}
            store.update(token, {**values, "lease_owner": None, "lease_until": None})
            # A create learns its resource only now: from here on it is busy for other requests.
            if (
                identifier is not None
                and current["operation"] == "CREATE"
                and values.get("status") is None
                and current["active_key"] is None
            ):
                handler = self.handlers[current["type_name"]]
                tenant = Tenant(current["account"], current["region"])
                try:
                    key = handler.resolve(tenant, identifier)
                except HandlerFailure:
                    return
                store.try_set_active_key(token, handler.active_key(key))

    # -- reading ----------------------------------------------------------------------------------

    def status(self, tenant: Tenant, token: str) -> dict[str, Any]:
        return self.event(self._find(tenant, token))

    def knows(self, token: str) -> bool:
        """Whether ``token`` names a request made here (by any tenant)."""
        with self.database.read() as q:
            return ResourceRequests(q.conn, postgres=q.postgres).get(token) is not None

    def _find(self, tenant: Tenant, token: str) -> Mapping[str, Any]:
        with self.database.read() as q:
            row = ResourceRequests(q.conn, postgres=q.postgres).get(token)
        if row is None or row["account"] != tenant.account or row["region"] != tenant.region:
            raise RequestTokenNotFoundException(f"Request with token {token} was not found.")
        return row

    def list(
        self,
        tenant: Tenant,
        *,
        operations: list[str] | None,
        statuses: list[str] | None,
        next_token: str | None,
        limit: int | None,
    ) -> dict[str, Any]:
        after = None
        if next_token:
            try:
                after = self.tokens.open(tenant, "ListResourceRequests", next_token, Sort.CREATED.arity)
            except InvalidToken:
                raise InvalidRequestException("The NextToken is not valid.") from None
        # Newest first.
        keyset = Keyset(Sort.CREATED, descending=True, after=after, size=limit or DEFAULT_LIST_PAGE)
        with self.database.read() as q:
            page = ResourceRequests(q.conn, postgres=q.postgres).page(
                tenant.account, tenant.region, operations=operations, statuses=statuses, keyset=keyset
            )
        response: dict[str, Any] = {"ResourceRequestStatusSummaries": [self.event(r) for r in page.rows]}
        if page.next is not None:
            response["NextToken"] = self.tokens.seal(tenant, "ListResourceRequests", list(page.next))
        return response

    def cancel(self, tenant: Tenant, token: str) -> dict[str, Any]:
        self._find(tenant, token)
        with self.database.write() as q:
            store = ResourceRequests(q.conn, postgres=q.postgres)
            row = store.get(token, lock=True)
            assert row is not None
            if row["status"] in (PENDING, IN_PROGRESS):
                store.update(
                    token, {"status": CANCEL_IN_PROGRESS, "event_time": self.clock(), "retry_after": None}
                )
                row = store.get(token)
        self.database.after_commit(self._wake.set)
        assert row is not None
        return self.event(row)

    def event(self, row: Mapping[str, Any]) -> dict[str, Any]:
        """A ProgressEvent as Cloud Control reports it."""
        status = row["status"]
        model = row["resource_model"]
        if model is None and status in UNFINISHED and row["desired_state"] and row["operation"] != "DELETE":
            handler = self.handlers[row["type_name"]]
            model = json.dumps(handler.schema.readable(json.loads(row["desired_state"])))
        event = {
            "TypeName": row["type_name"],
            "Identifier": _printable(row["identifier"]),
            "RequestToken": row["request_token"],
            "Operation": row["operation"],
            "OperationStatus": status,
            "EventTime": row["event_time"],
            "ResourceModel": model,
            "StatusMessage": _printable(row["status_message"]),
            "ErrorCode": row["error_code"],
        }
        if status in UNFINISHED and row["retry_after"] is not None:
            event["RetryAfter"] = row["retry_after"]
        return event

    # -- the background worker --------------------------------------------------------------------

    def start(self) -> None:
        if self._worker is None:
            self._stop.clear()
            self._worker = threading.Thread(target=self._run, name="cloudcontrol-requests", daemon=True)
            self._worker.start()

    def wake(self) -> None:
        """Look for due requests now (the clock was moved), not at the next idle tick."""
        self._wake.set()

    def stop(self) -> None:
        """Let the step under way finish (a lease keeps others off it meanwhile), then end."""
        self._stop.set()
        self._wake.set()
        if self._worker is not None:
            self._worker.join(timeout=LEASE_SECONDS)
            self._worker = None

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                busy = self.advance_due() > 0
            except Exception:  # the database may be away for a moment; try again on the next tick
                log.warning("advancing resource requests failed", exc_info=True)
                busy = False
            if not busy:
                self._wake.wait(IDLE_SECONDS)
                self._wake.clear()


def _printable(text: str | None) -> str | None:
    """A text for the wire: a lone surrogate (from a JSON document inside a member, quoted back in a
    message) cannot be UTF-8, so it is written as its escape, ``\\ud800``."""
    if text is None or text.isascii():
        return text
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


class LeaseLost(Exception):
    """Another process took the request over (this one was too slow): it finishes the step."""


def _concurrent() -> ConcurrentOperationException:
    return ConcurrentOperationException(
        "Another resource operation is currently being performed on this resource."
    )
