"""The ASGI application: ``POST /`` dispatch to the AWS APIs, and ``GET /_health``.

A request is read, authenticated, routed by its X-Amz-Target and validated on the event loop; the
operation itself (database work) runs on a thread pool so a slow commit never stalls other
connections — except SQLite reads, cheaper to answer in place (``services.READ_OPERATIONS``).
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import orjson

from sagemaker_images import __version__
from sagemaker_images.config import Settings
from sagemaker_images.errors import SerializationException, ServiceError
from sagemaker_images.protocol import sts, wire
from sagemaker_images.protocol.authentication import Caller, SigV4Authenticator
from sagemaker_images.protocol.identity import tenant_from_authorization
from sagemaker_images.protocol.sigv4 import SignedRequest
from sagemaker_images.services import READ_OPERATIONS, Service, build_authenticator, build_services
from sagemaker_images.shapes.model import ApiOperation
from sagemaker_images.store import Database, open_database

log = logging.getLogger("sagemaker_images")

_INTERNAL_FAILURE = "An internal error occurred. Please retry."


class Application:
    def __init__(
        self,
        settings: Settings,
        database: Database | None = None,
        authenticator: SigV4Authenticator | None = None,
    ) -> None:
        self.settings = settings
        self.database = database
        self.services: dict[str, Service] = {}
        self.authenticator = authenticator or build_authenticator(settings)
        self.executor = ThreadPoolExecutor(max_workers=settings.threads, thread_name_prefix="op")
        self.reads_on_loop = False
        self.ready = False

    def start(self) -> None:
        if self.database is None:
            self.database = open_database(self.settings.database_url())
        self.services = build_services(self.settings, self.database)
        self.reads_on_loop = self.database.is_sqlite
        self.ready = True

    def stop(self) -> None:
        self.ready = False
        self.executor.shutdown(wait=True)
        if self.database is not None:
            self.database.dispose()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)

    async def _lifespan(self, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await asyncio.get_running_loop().run_in_executor(None, self.start)
                except Exception as exc:
                    log.exception("start-up failed")
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                self.stop()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _http(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        method, path = scope["method"], scope["path"]
        if path == "/_health" and method in ("GET", "HEAD"):
            body = orjson.dumps({"status": "ok" if self.ready else "starting", "version": __version__})
            await _respond(send, 200 if self.ready else 503, body, b"application/json", {})
            return
        request_id = wire.new_request_id()
        if method == "POST" and path == "/" and sts.is_query_request(_headers(scope)):
            await self._sts(scope, receive, send, request_id)
            return
        service: Service | None = None
        try:
            service, result = await self._call(scope, receive)
            payload, status, extra = wire.success_body(result), 200, {}
        except ServiceError as error:
            payload, status = wire.error_body(error), error.status
            extra = {b"x-amzn-errortype": error.code.encode()}
        except Exception:
            log.exception("request %s failed", request_id)
            error = ServiceError(_INTERNAL_FAILURE, code="InternalFailure", status=500)
            payload, status = wire.error_body(error), 500
            extra = {b"x-amzn-errortype": b"InternalFailure"}
        extra[b"x-amzn-requestid"] = request_id.encode()
        json_version = service.api.json_version if service is not None else "1.1"
        await _respond(send, status, payload, wire.content_type(json_version), extra)

    async def _call(self, scope: dict[str, Any], receive: Any) -> tuple[Service, dict[str, Any]]:
        """One API call, in AWS's order: read, authenticate, route, authorise, validate, run, shape."""
        method, path = scope["method"], scope["path"]
        if method != "POST" or path != "/":
            raise wire.UnknownOperationException(f"No operation at {method} {path}.", status=404)
        headers = _headers(scope)
        limit = self.settings.max_body_bytes
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            # Refused before a byte of it is read: a client cannot make the server buffer it.
            raise wire.RequestEntityTooLarge(f"Request body exceeds the limit of {limit} bytes.")
        body = await _read_body(receive, limit, self.settings.request_timeout)
        caller = self._authenticate(scope, body)
        target = wire.parse_target(headers.get("x-amz-target"))
        service, operation = self._route(target)
        params = wire.parse_body(body)
        if caller is not None:
            caller.authorize(service.api.signing_name, target.operation, params)
        request = operation.validate(params)
        if caller is not None:
            caller.authorize_roles(service.api.signing_name, request)
            tenant = caller.tenant
        else:
            tenant = tenant_from_authorization(headers.get("authorization"), self.settings.default_account)
        handler = service.handlers[target.operation]
        if self.reads_on_loop and target.operation in READ_OPERATIONS:
            result = handler(tenant, request)
        else:
            result = await asyncio.get_running_loop().run_in_executor(self.executor, handler, tenant, request)
        return service, operation.shape_output(result)

    async def _sts(self, scope: dict[str, Any], receive: Any, send: Any, request_id: str) -> None:
        """STS's query protocol (GetCallerIdentity): the same limits and signatures, answered in XML."""
        try:
            body = await _read_body(receive, self.settings.max_body_bytes, self.settings.request_timeout)
            caller = self._authenticate(scope, body)
            answer = sts.answer(body, _headers(scope), caller, self.settings.default_account, request_id)
        except ServiceError as error:
            answer = sts.error_answer(error, request_id)
        await _respond(
            send, answer.status, answer.body, sts.CONTENT_TYPE, {b"x-amzn-requestid": request_id.encode()}
        )

    def _route(self, target: wire.Target) -> tuple[Service, ApiOperation]:
        service = self.services.get(target.prefix)
        if service is None:
            raise wire.UnknownOperationException(f"Unknown service target {target.prefix!r}.")
        operation = service.api.operations.get(target.operation)
        if operation is None:
            if service.api.is_modelled(target.operation):
                raise wire.UnsupportedOperation(
                    f"{service.name} operation {target.operation} is not supported by sagemaker-images."
                )
            raise wire.UnknownOperationException(f"Unknown operation {target.operation!r}.")
        return service, operation

    def _authenticate(self, scope: dict[str, Any], body: bytes) -> Caller | None:
        if self.authenticator is None:
            return None
        headers = [(k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in scope["headers"]]
        raw_path = scope.get("raw_path") or b"/"
        request = SignedRequest(scope["method"], raw_path, scope["query_string"], headers, body)
        return self.authenticator.authenticate(request)


def _headers(scope: dict[str, Any]) -> dict[str, str]:
    return {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}


async def _read_body(receive: Any, limit: int, timeout: float) -> bytes:
    chunks: list[bytes] = []
    size = 0
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        try:
            # The whole body must arrive in time: a trickling client cannot hold a request open.
            async with asyncio.timeout_at(deadline):
                message = await receive()
        except TimeoutError:
            raise wire.RequestTimeoutException(
                f"The request body did not arrive within {timeout:g} seconds."
            ) from None
        if message["type"] == "http.disconnect":
            raise SerializationException("The client closed the connection before the body ended.")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise wire.RequestEntityTooLarge(f"Request body exceeds the limit of {limit} bytes.")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _respond(
    send: Any, status: int, body: bytes, content_type: bytes, extra: dict[bytes, bytes]
) -> None:
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
    headers.extend(extra.items())
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
