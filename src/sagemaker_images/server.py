"""The ASGI application: ``POST /`` dispatch to the AWS APIs, and ``GET /_health``.

A request is parsed and validated on the event loop; the operation itself (database work) runs on a
thread pool so a slow commit never stalls other connections.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import orjson
import regex

from sagemaker_images import __version__
from sagemaker_images.cloudcontrol.schema import schema_for
from sagemaker_images.cloudcontrol.service import OPERATIONS as CLOUDCONTROL_OPERATIONS
from sagemaker_images.cloudcontrol.service import CloudControl
from sagemaker_images.config import Settings
from sagemaker_images.errors import SerializationException, ServiceError
from sagemaker_images.images.lifecycle import LifecyclePolicy
from sagemaker_images.images.registry import ImageRegistry, RegistryOptions
from sagemaker_images.protocol import wire
from sagemaker_images.protocol.authentication import Caller, SigV4Authenticator
from sagemaker_images.protocol.credentials import load_credentials
from sagemaker_images.protocol.identity import tenant_from_authorization
from sagemaker_images.protocol.sigv4 import SignedRequest
from sagemaker_images.shapes import load_api
from sagemaker_images.shapes.model import Api
from sagemaker_images.store import Database, open_database

log = logging.getLogger("sagemaker_images")

# Operations that only read (of either API). On SQLite they are answered on the event loop: a read
# takes SQLite tens of microseconds and never waits for a writer (WAL), while handing it to a pool
# thread and back cost more CPU than the read itself (GIL hand-overs; see docs/performance.md).
# Writes, which wait for an fsync, and every PostgreSQL call, a network round trip, use the pool.
READ_OPERATIONS = frozenset(
    {
        # SageMaker
        "DescribeImage",
        "DescribeImageVersion",
        "ListImages",
        "ListImageVersions",
        "ListAliases",
        "ListTags",
        # Cloud Control
        "GetResource",
    }
)

SAGEMAKER_OPERATIONS = (
    "CreateImage",
    "DescribeImage",
    "UpdateImage",
    "DeleteImage",
    "ListImages",
    "CreateImageVersion",
    "DescribeImageVersion",
    "UpdateImageVersion",
    "DeleteImageVersion",
    "ListImageVersions",
    "ListAliases",
    "AddTags",
    "ListTags",
    "DeleteTags",
)


@dataclass(frozen=True, slots=True)
class Service:
    """One AWS API served on the endpoint: its compiled model and a handler per operation."""

    name: str
    api: Api
    handlers: dict[str, Any]


def build_services(settings: Settings, database: Database) -> dict[str, Service]:
    policy = LifecyclePolicy(
        delay=settings.transition_delay,
        fail_images=regex.compile(settings.fail_images) if settings.fail_images else None,
        fail_base_images=regex.compile(settings.fail_base_images) if settings.fail_base_images else None,
    )
    options = RegistryOptions(
        max_images=settings.max_images or None,
        max_versions_per_image=settings.max_versions_per_image or None,
        reject_concurrent_version_creates=settings.reject_concurrent_version_creates,
    )
    registry = ImageRegistry(database, policy, options)
    sagemaker = load_api("sagemaker", SAGEMAKER_OPERATIONS)
    # Each SageMaker operation is one transaction: run again if PostgreSQL rolls it back as a conflict.
    operations = {name: database.retrying(operation) for name, operation in registry.operations().items()}
    services = [Service("SageMaker", sagemaker, operations)]
    # Cloud Control's handlers call the same SageMaker operations, over the same store.
    cloudcontrol = CloudControl(services[0].handlers, database, sagemaker)
    cloudcontrol.tracker.start()
    services.append(
        Service("CloudControl", load_api("cloudcontrol", CLOUDCONTROL_OPERATIONS), cloudcontrol.operations())
    )
    return {service.api.target_prefix: service for service in services}


def build_authenticator(settings: Settings) -> SigV4Authenticator | None:
    """``--auth sigv4``: verify every signature against the credentials file; else accept any."""
    if settings.auth in ("", "none"):
        return None
    if settings.auth != "sigv4":
        raise ValueError(f"unknown authentication mode {settings.auth!r} (expected none or sigv4)")
    if not settings.credentials:
        raise ValueError("--auth sigv4 needs --credentials FILE")
    schemas = {name: schema.document for name in SCHEMA_TYPES if (schema := schema_for(name))}
    return SigV4Authenticator(load_credentials(settings.credentials), schemas.get)


SCHEMA_TYPES = ("AWS::SageMaker::Image", "AWS::SageMaker::ImageVersion")


class Application:
    def __init__(self, settings: Settings, database: Database | None = None) -> None:
        self.settings = settings
        self.database = database
        self.services: dict[str, Service] = {}
        self.authenticator = build_authenticator(settings)
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
        headers = _headers(scope)
        json_version = "1.1"
        try:
            if method != "POST" or path != "/":
                raise wire.UnknownOperationException(f"No operation at {method} {path}.", status=404)
            declared = headers.get("content-length", "")
            if declared.isdigit() and int(declared) > self.settings.max_body_bytes:
                # Refused before a byte of it is read: a client cannot make the server buffer it.
                raise wire.RequestEntityTooLarge(
                    f"Request body exceeds the limit of {self.settings.max_body_bytes} bytes."
                )
            body = await _read_body(receive, self.settings.max_body_bytes, self.settings.request_timeout)
            caller = self._authenticate(scope, body)
            target = wire.parse_target(headers.get("x-amz-target"))
            service = self.services.get(target.prefix)
            if service is None:
                raise wire.UnknownOperationException(f"Unknown service target {target.prefix!r}.")
            json_version = service.api.json_version
            operation = service.api.operations.get(target.operation)
            if operation is None:
                if service.api.is_modelled(target.operation):
                    raise wire.UnsupportedOperation(
                        f"{service.name} operation {target.operation} is not supported by sagemaker-images."
                    )
                raise wire.UnknownOperationException(f"Unknown operation {target.operation!r}.")
            params = wire.parse_body(body)
            if caller is not None:
                caller.authorize(service.api.signing_name, target.operation, params)
            request = operation.validate(params)
            if caller is not None:
                caller.authorize_roles(service.api.signing_name, request)
                tenant = caller.tenant
            else:
                authorization = headers.get("authorization")
                tenant = tenant_from_authorization(authorization, self.settings.default_account)
            handler = service.handlers[target.operation]
            if self.reads_on_loop and target.operation in READ_OPERATIONS:
                result = handler(tenant, request)
            else:
                loop = asyncio.get_running_loop()
                result = await loop.run_in_executor(self.executor, handler, tenant, request)
            payload, status, extra = wire.success_body(operation.shape_output(result)), 200, {}
        except ServiceError as error:
            payload, status, extra = (
                wire.error_body(error),
                error.status,
                {b"x-amzn-errortype": error.code.encode()},
            )
        except Exception:
            log.exception("request %s failed", request_id)
            error = ServiceError(
                "An internal error occurred. Please retry.", code="InternalFailure", status=500
            )
            payload, status, extra = wire.error_body(error), 500, {b"x-amzn-errortype": b"InternalFailure"}
        extra[b"x-amzn-requestid"] = request_id.encode()
        await _respond(send, status, payload, wire.content_type(json_version), extra)

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
