"""The admin API of a server started for tests (``serve --admin``): state, clock and faults over HTTP.

What ``mock_sagemaker_images``'s handle does in process, a test does to a server process here (the
``sagemaker_images_server`` pytest fixture drives it)::

    POST /_admin/reset                 all state, queued failures and clock movement forgotten
    POST /_admin/clock                 {"advance": SECONDS}: move the clock forward
    GET  /_admin/clock                 {"offset": SECONDS, "now": EPOCH SECONDS}
    POST /_admin/fail-next             {"operation", "error_code", "count"?, "message"?}
    POST /_admin/fail-next-versions    {"count"?, "reason"?, "image_name"?}
    GET  /_admin/faults                what is still queued
    GET  /_admin/export                all state as the JSON Lines of ``sagemaker-images export``
    POST /_admin/load                  replace all state with such an export (the request body), all
                                       or nothing

Off unless the server was started with ``--admin``: then ``/_admin/`` paths are not routes at all.
Under ``--auth sigv4`` every admin request must be signed (any service name in the credential
scope) by a key whose ``allow`` list names ``sagemaker-images:Admin`` (or ``sagemaker-images:*``)
itself: a key without an ``allow`` list may call every AWS action, but is not an administrator.
The clock and the faults belong to the process: run such a server with one worker.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import orjson

from sagemaker_images.errors import ServiceError, ValidationException
from sagemaker_images.protocol import authorization
from sagemaker_images.protocol.asgi import Request, Response, Route, Send, respond
from sagemaker_images.protocol.sigv4 import MissingAuthenticationTokenException
from sagemaker_images.store.transfer import TransferError, clear_state, export_state, import_state

if TYPE_CHECKING:
    from sagemaker_images.server import Application

PREFIX = "/_admin/"
ACTION = "sagemaker-images:Admin"
JSON = b"application/json"
# Exports and loads are whole databases: far larger than an API request may be.
MAX_LOAD_BYTES = 1024 * 1024 * 1024


class NotFound(ServiceError):
    code = "UnknownOperationException"
    status = 404


class AccessDenied(ServiceError):
    code = "AccessDeniedException"
    status = 403


def route(app: Application) -> Route:
    admin = Admin(app)
    return Route("admin", lambda request: request.path.startswith(PREFIX), admin.answer)


class Admin:
    def __init__(self, app: Application) -> None:
        self.app = app
        self.endpoints: dict[tuple[str, str], Callable[[bytes], Awaitable[Response]]] = {
            ("POST", "reset"): self.reset,
            ("POST", "clock"): self.advance,
            ("GET", "clock"): self.clock,
            ("POST", "fail-next"): self.fail_next,
            ("POST", "fail-next-versions"): self.fail_next_versions,
            ("GET", "faults"): self.faults,
            ("GET", "export"): self.export,
            ("POST", "load"): self.load,
        }

    async def answer(self, request: Request, send: Send) -> None:
        try:
            name = request.path[len(PREFIX) :]
            endpoint = self.endpoints.get((request.method, name))
            if endpoint is None:
                raise NotFound(f"No admin operation at {request.method} {request.path}.")
            limit = MAX_LOAD_BYTES if name == "load" else self.app.settings.max_body_bytes
            from sagemaker_images.server import read_body

            body = await read_body(request.receive, limit, self.app.settings.request_timeout)
            await self._authorize(request, body)
            response = await endpoint(body)
        except ServiceError as error:
            payload = orjson.dumps({"__type": error.code, "message": error.message})
            headers = {b"x-amzn-errortype": error.code.encode()}
            if error.closes_connection:
                headers[b"connection"] = b"close"
            response = Response(error.status, payload, JSON, headers)
        await respond(send, response)

    async def _authorize(self, request: Request, body: bytes) -> None:
        if self.app.authenticator is None:
            return  # --auth none: every caller is trusted, as for the AWS API
        if "authorization" not in request.headers:
            raise MissingAuthenticationTokenException("Missing Authentication Token")
        caller = await self.app._authenticate(request.scope, body)
        assert caller is not None
        allow = caller.principal.allow or ()
        # Only a pattern written for this API grants it: "*" or "sagemaker:*" do not.
        own = [pattern for pattern in allow if pattern.lower().startswith("sagemaker-images:")]
        if not authorization.matches(own, ACTION):
            raise AccessDenied(
                f"User: {caller.principal.arn} is not authorized to perform: {ACTION} "
                "(the key's allow list must name it)"
            )

    async def _run(self, work: Callable[[], Any]) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self.app.executor, work)

    # -- endpoints --------------------------------------------------------------------------------

    async def reset(self, body: bytes) -> Response:
        await self._run(lambda: clear_state(self._database()))
        self.app.faults.clear()
        self.app.clock.reset()
        return _ok({"reset": True})

    async def advance(self, body: bytes) -> Response:
        seconds = _object(body).get("advance")
        try:
            offset = self.app.advance_clock(seconds)  # type: ignore[arg-type]  # checked by advance_clock
        except ValueError as error:
            raise ValidationException(str(error)) from None
        return _ok({"offset": offset, "now": self.app.clock()})

    async def clock(self, body: bytes) -> Response:
        return _ok({"offset": self.app.clock.offset, "now": self.app.clock()})

    async def fail_next(self, body: bytes) -> Response:
        params = _object(body)
        try:
            self.app.faults.fail_next(
                params.get("operation"),  # type: ignore[arg-type]
                params.get("error_code"),  # type: ignore[arg-type]
                params.get("count", 1),
                params.get("message"),
            )
        except (ValueError, TypeError) as error:
            raise ValidationException(str(error)) from None
        return _ok(self.app.faults.pending())

    async def fail_next_versions(self, body: bytes) -> Response:
        params = _object(body)
        kwargs = {k: params[k] for k in ("count", "reason", "image_name") if params.get(k) is not None}
        try:
            self.app.faults.fail_next_versions(**kwargs)
        except (ValueError, TypeError) as error:
            raise ValidationException(str(error)) from None
        return _ok(self.app.faults.pending())

    async def faults(self, body: bytes) -> Response:
        return _ok(self.app.faults.pending())

    async def export(self, body: bytes) -> Response:
        out = io.BytesIO()
        await self._run(lambda: export_state(self._database(), out))
        return Response(200, out.getvalue(), b"application/x-ndjson")

    async def load(self, body: bytes) -> Response:
        try:
            # One transaction: an export that turns out to be broken leaves the state as it was.
            counts = await self._run(lambda: import_state(self._database(), body.splitlines(), replace=True))
        except TransferError as error:
            raise ValidationException(str(error)) from None
        return _ok({"loaded": counts})

    def _database(self) -> Any:
        assert self.app.database is not None
        return self.app.database


def _object(body: bytes) -> dict[str, Any]:
    try:
        parsed = orjson.loads(body) if body.strip() else {}
    except orjson.JSONDecodeError:
        raise ValidationException("The request body is not valid JSON.") from None
    if not isinstance(parsed, dict):
        raise ValidationException("Expected a JSON object as the request body.")
    return parsed


def _ok(result: dict[str, Any]) -> Response:
    return Response(200, orjson.dumps(result), JSON)
