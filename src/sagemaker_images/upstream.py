"""``serve --upstream URL``: one endpoint for everything, forwarding what this server does not implement.

Every request this server would not answer itself — other services, other SageMaker operations, other
Cloud Control resource types, request tokens it never issued, any other path or protocol — goes to
``URL`` (a moto server, LocalStack, another emulator) unchanged: method, path, query, headers (the
``Host`` a client signed included) and body, streamed both ways without being held in memory.

What is implemented is decided by the same function the in-process mock uses
(``services.serves``). The body is read first only where the decision needs it (Cloud Control calls,
STS actions), and then only up to the server's request limit; everything else streams straight through.

A forward that fails is answered as AWS's front ends answer one: 502 ``BadGateway`` when the
upstream refuses or breaks the connection, 504 ``GatewayTimeout`` when it does not answer in time,
503 ``ServiceUnavailable`` when every connection to it is busy; in the request's own protocol (JSON
for JSON calls, XML otherwise), and all of them retried by AWS SDKs. Nothing waits for ever: connecting,
every read and every write have a time limit. A failure after the answer began (the upstream dies
mid-body) can only end the connection, as it would through any proxy.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urlsplit
from xml.sax.saxutils import escape

import httpx
import orjson

from sagemaker_images.console.app import API_PATH as CONSOLE_API
from sagemaker_images.errors import ServiceError
from sagemaker_images.protocol import sts, wire
from sagemaker_images.protocol.asgi import Message, Request, Response, Route, Send, respond
from sagemaker_images.services import serves

if TYPE_CHECKING:
    from sagemaker_images.server import Application

log = logging.getLogger(__name__)

CONNECT_SECONDS = 5.0
# Connections kept to the upstream; a request waits this long for one (never longer than the request
# timeout) before it is refused with 503.
MAX_CONNECTIONS = 100
POOL_WAIT_SECONDS = 10.0

# Hop-by-hop headers (RFC 9110 section 7.6.1) belong to one connection and are never forwarded.
_HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
    }
)

Answer = Callable[[Request, Send], Awaitable[None]]


class UpstreamFailure(ServiceError):
    pass


def check_url(url: str) -> str:
    """``url`` if it can be forwarded to (http or https, a host, no query); else ValueError."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise ValueError(f"--upstream must be an http:// or https:// URL of a server, not {url!r}")
    return url.rstrip("/")


class Upstream:
    def __init__(self, app: Application, url: str) -> None:
        self.app = app
        self.url = check_url(url)
        self.timeout = app.settings.request_timeout
        self._client: httpx.AsyncClient | None = None

    def route(self) -> Route:
        """Placed before the AWS routes: takes every request and answers or forwards it."""
        return Route("upstream", lambda request: True, self.answer)

    @property
    def client(self) -> httpx.AsyncClient:
        # Made on first use, inside the server's event loop.
        if self._client is None:
            self._client = httpx.AsyncClient(
                timeout=httpx.Timeout(
                    self.timeout, connect=CONNECT_SECONDS, pool=min(POOL_WAIT_SECONDS, self.timeout)
                ),
                limits=httpx.Limits(max_connections=MAX_CONNECTIONS, max_keepalive_connections=20),
                follow_redirects=False,
                trust_env=False,  # no proxies or .netrc from the environment: the URL as given
            )
        return self._client

    async def answer(self, request: Request, send: Send) -> None:
        ours = self._ours_by_headers(request)
        if ours is not None:
            if ours:
                await self._answer_here(request, send)
            else:
                await self.forward(request, send, body=None)
            return
        # The body decides (Cloud Control types and tokens, STS actions): read it within the limits.
        try:
            body = await self.app.read_body(request)
        except ServiceError:
            await self._answer_here(request, send)  # answered with the limit's error, as without upstream
            return
        replay = Request(request.scope, _replay(body))
        if self._ours_by_body(request, body):
            await self._answer_here(replay, send)
        else:
            await self.forward(request, send, body=body)

    def _ours_by_headers(self, request: Request) -> bool | None:
        """True: ours; False: the upstream's; None: the body decides."""
        if request.path == CONSOLE_API:
            return True  # the console's own calls, from its session
        if request.method != "POST" or request.path != "/":
            return False
        headers = request.headers
        target = headers.get("x-amz-target")
        if target is None:
            return None if sts.is_query_request(headers) else False
        prefix, _, operation = target.rpartition(".")
        service = self.app.services.get(prefix)
        if service is None or operation not in service.handlers:
            return False
        return True if service.serves is None else None

    def _ours_by_body(self, request: Request, body: bytes) -> bool:
        target = request.headers.get("x-amz-target")
        if target is not None:
            return serves(self.app.services, target, body)
        try:
            action = dict(parse_qsl(body.decode("utf-8"))).get("Action")
        except UnicodeDecodeError:
            return False
        return action in sts.ACTIONS

    async def _answer_here(self, request: Request, send: Send) -> None:
        for route in self.app.routes:
            if route.name != "upstream" and route.matches(request):
                await route.answer(request, send)
                return

    # -- forwarding -------------------------------------------------------------------------------

    async def forward(self, request: Request, send: Send, *, body: bytes | None) -> None:
        scope = request.scope
        headers = [(k, v) for k, v in scope["headers"] if k.lower() not in _HOP_BY_HOP]
        raw_path = scope.get("raw_path") or scope["path"].encode("latin-1")
        query = scope.get("query_string") or b""
        url = self.url + raw_path.decode("latin-1") + ("?" + query.decode("latin-1") if query else "")
        content: bytes | AsyncIterator[bytes] = body if body is not None else self._body(request)
        try:
            outgoing = self.client.build_request(scope["method"], url, headers=headers, content=content)
            response = await self.client.send(outgoing, stream=True)
        except _ClientGone:
            return  # nobody to answer
        except httpx.PoolTimeout:
            await self._fail(
                request, send, 503, "ServiceUnavailable", "Too many requests are being forwarded."
            )
            return
        except httpx.TimeoutException:
            await self._fail(request, send, 504, "GatewayTimeout", f"{self.url} did not answer in time.")
            return
        except (httpx.HTTPError, OSError) as error:
            log.info("forwarding %s %s to %s failed: %s", scope["method"], scope["path"], self.url, error)
            await self._fail(request, send, 502, "BadGateway", f"{self.url} could not be reached: {error}.")
            return
        try:
            out_headers = [(k, v) for k, v in response.headers.raw if k.lower() not in _HOP_BY_HOP]
            await send(
                {"type": "http.response.start", "status": response.status_code, "headers": out_headers}
            )
            async for chunk in response.aiter_raw():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except (httpx.HTTPError, OSError) as error:
            # The answer has begun: all that is left is to end the connection, as a proxy does.
            log.info("the answer of %s broke off: %s", self.url, error)
            raise
        finally:
            await response.aclose()

    async def _body(self, request: Request) -> AsyncIterator[bytes]:
        """The client's body as it arrives, each part within the request timeout."""
        while True:
            try:
                message: Message = await asyncio.wait_for(request.receive(), self.timeout)
            except TimeoutError:
                raise _ClientGone("the request body stopped arriving") from None
            if message["type"] == "http.disconnect":
                raise _ClientGone("the client went away")
            chunk = message.get("body", b"")
            if chunk:
                yield chunk
            if not message.get("more_body", False):
                return

    async def _fail(self, request: Request, send: Send, status: int, code: str, message: str) -> None:
        request_id = wire.new_request_id()
        headers = {b"x-amzn-requestid": request_id.encode(), b"x-amzn-errortype": code.encode()}
        content_type = request.headers.get("content-type", "")
        if "x-amz-target" in request.headers or "json" in content_type:
            body = orjson.dumps({"__type": code, "message": message})
            await respond(send, Response(status, body, b"application/x-amz-json-1.1", headers))
            return
        text, code_x, request_x = escape(message), escape(code), escape(request_id)
        if "/s3/aws4_request" in request.headers.get("authorization", ""):
            xml = (
                f"<Error><Code>{code_x}</Code><Message>{text}</Message>"
                f"<RequestId>{request_x}</RequestId></Error>"
            )
        else:
            xml = (
                f"<ErrorResponse><Error><Type>Receiver</Type><Code>{code_x}</Code><Message>{text}</Message>"
                f"</Error><RequestId>{request_x}</RequestId></ErrorResponse>"
            )
        body = b'<?xml version="1.0" encoding="UTF-8"?>\n' + xml.encode()
        await respond(send, Response(status, body, b"text/xml", headers))

    async def close(self) -> None:
        """Close every connection to the upstream (the server's shutdown)."""
        if self._client is not None:
            await self._client.aclose()

    @property
    def closed(self) -> bool:
        return self._client is None or self._client.is_closed


class _ClientGone(httpx.TransportError):
    """The client stopped sending its body: the forward is abandoned (raised through httpx)."""


def _replay(body: bytes) -> Callable[[], Awaitable[Message]]:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive
