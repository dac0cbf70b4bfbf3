"""The few ASGI pieces the endpoint is built from: a request, a response and a route.

``server.Application.routes`` is an ordered list of ``Route``: the first whose ``matches`` accepts a
request answers it. A new kind of request (another protocol, an operator's page) is one more route.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

# A scope key of this application's own: the request's whole body, handed over with the request by a
# caller in this process (the in-process mock, testing/inprocess.py). Such a request has nothing to
# wait for: it is answered without the event loop, on the caller's thread (server.py).
WHOLE_BODY = "sagemaker_images.whole_body"


class Request:
    """One HTTP request: its request line, its headers (lower-case names, as ASGI gives them) and body."""

    __slots__ = ("_headers", "method", "path", "receive", "scope", "whole_body")

    def __init__(self, scope: Scope, receive: Receive) -> None:
        self.scope = scope
        self.receive = receive
        self.method: str = scope["method"]
        self.path: str = scope["path"]
        # The body when it came whole with the request (in process); None when it is still to arrive.
        self.whole_body: bytes | None = scope.get(WHOLE_BODY)
        self._headers: dict[str, str] | None = None

    @property
    def headers(self) -> dict[str, str]:
        # Decoded once, when first asked for (functools.cached_property takes a lock each first time).
        headers = self._headers
        if headers is None:
            raw = self.scope["headers"]
            headers = self._headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in raw}
        return headers


@dataclass(slots=True)
class Response:
    status: int
    body: bytes
    content_type: bytes
    headers: dict[bytes, bytes] = field(default_factory=dict)


Endpoint = Callable[[Request, Send], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Route:
    """A kind of request the server answers: which requests it takes, and the coroutine answering them."""

    name: str
    matches: Callable[[Request], bool]
    answer: Endpoint


async def respond(send: Send, response: Response) -> None:
    body = response.body
    headers = [(b"content-type", response.content_type), (b"content-length", b"%d" % len(body))]
    headers.extend(response.headers.items())
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
