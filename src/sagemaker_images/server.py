"""The ASGI application: ``POST /`` dispatch to the AWS APIs, the console at ``/console``, and the
operators' endpoints ``GET /_health`` (the process is up), ``GET /_ready`` (and its database answers)
and ``GET /metrics``.

What the endpoint answers is ``Application.routes``, tried in order (``protocol/asgi.py``); the last
route answers anything as an AWS JSON call, so an unknown request gets the error AWS would give.

A request is read, authenticated, routed by its X-Amz-Target and validated on the event loop. On
PostgreSQL the operation itself (database work, a network round trip per statement) runs on a
thread pool. On SQLite it runs on the event loop: reads in place (``services.READ_OPERATIONS``), and
writes in place too, joining the current group commit, whose COMMIT (the fsync) a committing thread
makes while the loop goes on (``store/group_commit.py``); the answer waits for that COMMIT. A
request handed over whole by a caller in this process (``asgi.WHOLE_BODY``: the in-process mock) is
answered entirely on the caller's thread, which waits for the answer anyway, as the pool would
answer it: the same steps, without the event loop.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import re
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import orjson

from sagemaker_images import __version__, access, access_log, admin
from sagemaker_images.clock import Clock
from sagemaker_images.config import Settings
from sagemaker_images.console.app import API_PATH as CONSOLE_API
from sagemaker_images.console.app import SECURITY_HEADERS, Console
from sagemaker_images.errors import SerializationException, ServiceError, ServiceUnavailable
from sagemaker_images.faults import Faults
from sagemaker_images.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from sagemaker_images.metrics import UNKNOWN, Metrics
from sagemaker_images.protocol import sts, wire
from sagemaker_images.protocol.asgi import (
    WHOLE_BODY,
    Receive,
    Request,
    Response,
    Route,
    Scope,
    Send,
    respond,
)
from sagemaker_images.protocol.authentication import Caller, SigV4Authenticator
from sagemaker_images.protocol.identity import tenant_from_authorization
from sagemaker_images.protocol.sigv4 import SignedRequest
from sagemaker_images.services import READ_OPERATIONS, Service, build_authenticator, build_services
from sagemaker_images.shapes.model import ApiOperation
from sagemaker_images.store import Database, open_database
from sagemaker_images.store.group_commit import WouldBlock
from sagemaker_images.store.resource_requests import ResourceRequests
from sagemaker_images.tenancy import Tenant

if TYPE_CHECKING:
    from sagemaker_images.upstream import Upstream

log = logging.getLogger("sagemaker_images")

_INTERNAL_FAILURE = "An internal error occurred. Please retry."
_STS_ERROR_CODE = re.compile(rb"<Code>(\w{1,64})</Code>")


class Application:
    def __init__(
        self,
        settings: Settings,
        database: Database | None = None,
        authenticator: SigV4Authenticator | None = None,
        *,
        freeze_heap: bool = False,
    ) -> None:
        self.settings = settings
        self.database = database
        # A server process (``serve``): what start-up made (the compiled models, the libraries) is
        # left out of garbage collections from then on (``gc.freeze``). A full collection otherwise
        # walks all of it, tens of milliseconds of stalled requests; found in the p99 of creates.
        self.freeze_heap = freeze_heap
        self.services: dict[str, Service] = {}
        self._served: dict[str, Service] = {}  # by name, for the metrics' labels
        self.authenticator = authenticator or build_authenticator(settings)
        self.executor = ThreadPoolExecutor(max_workers=settings.threads, thread_name_prefix="op")
        # SQLite: operations run on the event loop (see above); set when the database is opened.
        self.on_loop = False
        self.ready = False
        self.metrics = Metrics()
        self.console = Console(self.authenticator, settings.default_account, settings.console_secret)
        # Tried in order; the first route that takes a request answers it. The last takes anything.
        self.routes: list[Route] = [
            Route("health", _is_get("/_health"), self._health),
            Route("ready", _is_get("/_ready"), self._ready),
            Route("metrics", _is_get("/metrics"), self._metrics),
            Route("console", _is_console_page, self._console),
            Route("sts", _is_sts_query, self._sts),
            # The console's calls (POST /console/api) are AWS JSON calls too, from a console session.
            Route("aws-json", lambda request: True, self._aws_json),
        ]
        # Shared by every service: what tests move (the clock) and the failures they ask for.
        self.clock = Clock()
        self.faults = Faults()
        if settings.admin:
            self.routes.insert(1, admin.route(self))
        self.upstream: Upstream | None = None
        if settings.upstream:
            from sagemaker_images.upstream import Upstream  # and httpx: only a forwarding server needs it

            self.upstream = Upstream(self, settings.upstream)
            self.routes.insert(len(self.routes) - 2, self.upstream.route())  # before the AWS routes

    def start(self) -> None:
        if self.database is None:
            self.database = open_database(self.settings.database_url())
        self.services = build_services(self.settings, self.database, self.clock, self.faults)
        self._served = {service.name: service for service in self.services.values()}
        for service in self.services.values():
            for task in service.background:
                task.start()
        self.on_loop = self.database.is_sqlite
        self.metrics.watch_database(self.database, self._cloudcontrol_counts)
        self.ready = True

    def advance_clock(self, seconds: float) -> float:
        """Move every service's clock forward (tests: ``--admin``, the in-process mock); the new offset."""
        offset = self.clock.advance(seconds)
        for service in self.services.values():
            for task in service.background:
                wake = getattr(task, "wake", None)  # work waiting on the clock looks again now
                if wake is not None:
                    wake()
        return offset

    def _cloudcontrol_counts(self) -> dict[str, int]:
        assert self.database is not None
        with self.database.read() as q:
            return ResourceRequests(q.conn, postgres=q.postgres).count_by_status()

    def stop(self) -> None:
        self.ready = False
        # Background work ends before the requests' threads and the database it uses go away.
        for service in self.services.values():
            for task in service.background:
                task.stop()
        self.executor.shutdown(wait=True)
        if self.database is not None:
            self.database.dispose()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await asyncio.get_running_loop().run_in_executor(None, self.start)
                except Exception as exc:
                    log.exception("start-up failed")
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                if self.on_loop and self.database is not None:
                    self.database.read_in_turns(asyncio.get_running_loop())
                if self.freeze_heap:
                    gc.freeze()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self.upstream is not None:
                    await self.upstream.close()  # its connections belong to this event loop
                self.stop()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        for route in self.routes:
            if route.matches(request):
                await route.answer(request, send)
                return

    async def _health(self, request: Request, send: Send) -> None:
        body = orjson.dumps({"status": "ok" if self.ready else "starting", "version": __version__})
        await respond(send, Response(200 if self.ready else 503, body, b"application/json", {}))

    async def _ready(self, request: Request, send: Send) -> None:
        """Ready to serve: started, and the database answers a query now (unlike /_health)."""
        state: dict[str, str] = {"status": "ok" if self.ready else "starting", "version": __version__}
        ready = self.ready
        if ready:
            assert self.database is not None
            try:
                await asyncio.get_running_loop().run_in_executor(self.executor, self.database.ping)
                state["database"] = "ok"
            except ServiceUnavailable:
                ready = False
                state.update(status="unavailable", database="unreachable")
        await respond(send, Response(200 if ready else 503, orjson.dumps(state), b"application/json", {}))

    async def _metrics(self, request: Request, send: Send) -> None:
        # Off the event loop: the scrape reads figures from the database.
        body = await asyncio.get_running_loop().run_in_executor(self.executor, self.metrics.exposition)
        await respond(send, Response(200, body, METRICS_CONTENT_TYPE, {}))

    async def _console(self, request: Request, send: Send) -> None:
        response = await self.console.handle(request, lambda: self.read_body(request))
        response.headers.update(SECURITY_HEADERS)
        await respond(send, response)

    async def _sts(self, request: Request, send: Send) -> None:
        """STS's query protocol (GetCallerIdentity): the same limits and signatures, answered in XML."""
        started = time.perf_counter()
        request_id = wire.new_request_id()
        closes = False
        try:
            body = await self.read_body(request)
            caller = await self._authenticate(request.scope, body)
            answer = sts.answer(body, request.headers, caller, self.settings.default_account, request_id)
        except ServiceError as error:
            answer = sts.error_answer(error, request_id)
            closes = error.closes_connection
        headers = {b"x-amzn-requestid": request_id.encode()}
        if closes:
            headers[b"connection"] = b"close"
        await respond(send, Response(answer.status, answer.body, sts.CONTENT_TYPE, headers))
        # Its one operation succeeded, or the error's code (one of this server's) is in the XML answer.
        ok = answer.status == 200
        match = None if ok else _STS_ERROR_CODE.search(answer.body)
        code = match.group(1).decode() if match else ""
        call = wire.Call(request_id, "STS", "GetCallerIdentity" if ok else UNKNOWN)
        self._record(request, call, answer.status, code, time.perf_counter() - started)

    async def _aws_json(self, request: Request, send: Send) -> None:
        """Any other request is an AWS JSON call (or answered with the error such a call would get)."""
        started = time.perf_counter()
        call = wire.Call(wire.new_request_id())
        error_code = ""
        metrics = self.metrics
        metrics.in_flight += 1
        try:
            response = wire.answer(call, await self._call(request, call))
        except ServiceError as error:
            response, error_code = wire.error_answer(call, error), error.code
        except Exception:
            log.exception("request %s failed", call.request_id)
            failure = ServiceError(_INTERNAL_FAILURE, code="InternalFailure", status=500)
            response, error_code = wire.error_answer(call, failure), failure.code
        finally:
            metrics.in_flight -= 1
        if request.path == CONSOLE_API:
            response.headers.update(SECURITY_HEADERS)
            response.headers[b"cache-control"] = b"no-store"
        await respond(send, response)
        self._record(request, call, response.status, error_code, time.perf_counter() - started)

    def _record(
        self, request: Request, call: wire.Call, status: int, error_code: str, seconds: float
    ) -> None:
        """The call in /metrics (bounded labels only) and in the access log."""
        # Only names this server serves become labels; whatever else a caller sends is "unknown".
        served = self._served.get(call.service)
        if call.service == "STS":
            api, operation = call.service, call.operation
        elif served is not None:
            api = served.name
            operation = call.operation if call.operation in served.api.operations else UNKNOWN
        else:
            api = operation = UNKNOWN
        self.metrics.observe(api, operation, status, error_code, seconds)
        if not access_log.enabled():
            return
        client = request.scope.get("client")
        access_log.log_call(
            request_id=call.request_id,
            api=api,
            operation=operation,
            account=call.account,
            region=call.region,
            status=status,
            error_code=error_code,
            seconds=seconds,
            method=request.method,
            path=request.path,
            client=client[0] if client else "",
        )

    async def _call(self, request: Request, call: wire.Call) -> dict[str, Any]:
        """One API call, in AWS's order: read, authenticate, route, authorise, validate, run, shape."""
        headers = request.headers
        # The API a request names decides how everything about it is written, errors included.
        named_target = wire.peek_target(headers.get("x-amz-target"))
        if named_target is not None and (named := self.services.get(named_target.prefix)) is not None:
            call.service, call.operation, call.json_version = (
                named.name,
                named_target.operation,
                named.api.json_version,
            )
        if request.method != "POST" or request.path not in ("/", CONSOLE_API):
            raise wire.UnknownOperationException(
                f"No operation at {request.method} {request.path}.", status=404
            )
        body = await self.read_body(request)
        given_tenant: Tenant | None = None
        if request.path == CONSOLE_API:
            # The console session stands in for a signature; from here on it is any API call.
            target = wire.require_target(named_target)
            caller, given_tenant = self.console.caller(headers, target)
        else:
            caller = None if self.authenticator is None else await self._authenticate(request.scope, body)
            target = wire.require_target(named_target)
        service, operation = self._route(target)
        self.faults.raise_injected(target.operation)
        params = wire.parse_body(body)
        if caller is not None:
            # The operation's own action, before the body is looked at; what its content needs, after.
            caller.authorize(service.api.signing_name, service.action(target.operation))
        validated = operation.validate(params)
        if caller is not None:
            caller.require(service.needs(target.operation, validated))
            tenant = caller.tenant
        else:
            tenant = given_tenant or tenant_from_authorization(
                headers.get("authorization"), self.settings.default_account
            )
        call.account, call.region = tenant.account, tenant.region
        handler = service.handlers[target.operation]
        if request.whole_body is not None:
            # In process: the caller's thread waits for this answer anyway; it does the work, as the
            # pool would (a plain transaction: there is no event loop to commit on).
            result = access.call_as(caller, handler, tenant, validated)
        elif not self.on_loop:
            result = await asyncio.get_running_loop().run_in_executor(
                self.executor, access.call_as, caller, handler, tenant, validated
            )
        elif target.operation in READ_OPERATIONS:
            result = access.call_as(caller, handler, tenant, validated)
        else:
            assert self.database is not None
            try:
                result = await self.database.write_on_loop(
                    lambda: access.call_as(caller, handler, tenant, validated)
                )
            except WouldBlock:  # another process holds SQLite's write lock: wait for it on a thread
                result = await asyncio.get_running_loop().run_in_executor(
                    self.executor, access.call_as, caller, handler, tenant, validated
                )
        return operation.shape_output(result)

    async def read_body(self, request: Request) -> bytes:
        """The body of ``request``, within the size and time limits every endpoint keeps."""
        limit = self.settings.max_body_bytes
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            # Refused before a byte of it is read: a client cannot make the server buffer it.
            raise wire.RequestEntityTooLarge(f"Request body exceeds the limit of {limit} bytes.")
        if request.whole_body is not None:
            if len(request.whole_body) > limit:
                raise wire.RequestEntityTooLarge(f"Request body exceeds the limit of {limit} bytes.")
            return request.whole_body
        return await read_body(request.receive, limit, self.settings.request_timeout)

    def _route(self, target: wire.Target) -> tuple[Service, ApiOperation]:
        service = self.services.get(target.prefix)
        if service is None:
            raise wire.UnknownOperationException(f"Unknown service target {target.prefix}.")
        operation = service.api.operations.get(target.operation)
        if operation is None:
            if service.api.is_modelled(target.operation):
                raise wire.UnsupportedOperation(
                    f"{service.name} operation {target.operation} is not supported by sagemaker-images."
                )
            raise wire.UnknownOperationException(f"Unknown operation {target.operation}.")
        return service, operation

    async def _authenticate(self, scope: Scope, body: bytes) -> Caller | None:
        """The signature check, on the pool: hashing the body and canonicalising the headers is CPU
        work proportional to the request, and must not stall every other connection meanwhile."""
        if self.authenticator is None:
            return None
        if WHOLE_BODY in scope:
            return self._verify(scope, body)  # in process: the caller's thread is the one to use
        return await asyncio.get_running_loop().run_in_executor(self.executor, self._verify, scope, body)

    def _verify(self, scope: Scope, body: bytes) -> Caller:
        assert self.authenticator is not None
        headers = [(k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in scope["headers"]]
        raw_path = scope.get("raw_path") or b"/"
        request = SignedRequest(scope["method"], raw_path, scope["query_string"], headers, body)
        return self.authenticator.authenticate(request)


def _is_get(path: str) -> Callable[[Request], bool]:
    return lambda request: request.path == path and request.method in ("GET", "HEAD")


def _is_console_page(request: Request) -> bool:
    path = request.path
    return (path == "/console" or path.startswith("/console/")) and path != CONSOLE_API


def _is_sts_query(request: Request) -> bool:
    return request.method == "POST" and request.path == "/" and sts.is_query_request(request.headers)


# The event loop the last request ran on. ``asyncio.current_task()`` without a loop asks for the
# running one, which costs a getpid() system call on Python 3.11; with the loop it does not.
_last_loop: list[asyncio.AbstractEventLoop] = []


def _current_task() -> asyncio.Task[Any]:
    task = asyncio.current_task(_last_loop[0]) if _last_loop else None
    if task is None:  # the first request, or one on another loop (tests run several)
        task = asyncio.current_task()
        assert task is not None
        _last_loop[:] = [task.get_loop()]
    return task


async def read_body(receive: Receive, limit: int, timeout: float) -> bytes:
    """The whole body, which must arrive within ``timeout`` seconds: a trickling client cannot hold a
    request open. (One timer that cancels this task when it fires, which costs a third of what
    ``asyncio.timeout`` costs per request; the body has nearly always arrived with the head.)"""
    task = _current_task()
    expired = False

    def expire() -> None:
        nonlocal expired
        expired = True
        task.cancel()

    timer = task.get_loop().call_later(timeout, expire)
    chunks: list[bytes] = []
    size = 0
    try:
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise SerializationException("The client closed the connection before the body ended.")
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise wire.RequestEntityTooLarge(f"Request body exceeds the limit of {limit} bytes.")
            if not message.get("more_body", False):
                return b"".join((*chunks, chunk)) if chunks else chunk
            chunks.append(chunk)
    except asyncio.CancelledError:
        if not expired:
            raise
        task.uncancel()  # the cancellation was this timer's, and it ends here
        raise wire.RequestTimeoutException(
            f"The request body did not arrive within {timeout:g} seconds."
        ) from None
    finally:
        timer.cancel()
