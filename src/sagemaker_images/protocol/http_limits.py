"""Limits on the HTTP request head that uvicorn's httptools protocol does not set by itself.

- The request line and headers of one request may take at most ``MAX_HEAD_BYTES`` (64 KiB, as
  Application Load Balancers allow); more is answered ``431`` and the connection closed, so a
  client cannot make the server buffer an endless header.
- They may hold at most ``MAX_HEADERS`` (100) header fields, as Apache httpd and Tomcat allow by
  default; more is answered ``431`` as soon as the 101st arrives, so nothing downstream (signature
  checking included) ever iterates over thousands of them.
- They must arrive within ``HEAD_TIMEOUT`` seconds of the connection opening (or of the previous
  response); a client that trickles them (or opens a connection and sends nothing) is disconnected
  with ``408``, so idle sockets cannot pile up.

Body size and body time are limited by the application (``--max-body-bytes``; server.py).

Two things make each request cheaper than uvicorn's own protocol does, without changing what goes
on the wire: the head clock is one timer per connection that looks at the time the current head
started (not a timer started and cancelled per request), and a response's head is held until its
body follows in the same turn of the event loop, so a small answer leaves in one write — one
system call, one TCP segment and one wake-up of the client instead of two (docs/performance.md).
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

MAX_HEAD_BYTES = 64 * 1024
MAX_HEADERS = 100
HEAD_TIMEOUT = 60.0  # --request-timeout


def configure(*, head_timeout: float) -> None:
    global HEAD_TIMEOUT
    HEAD_TIMEOUT = head_timeout


# This server speaks no other protocol: an ``Upgrade`` header is declined by renaming it before the
# parser sees it, so the request (body included) is parsed and answered as plain HTTP, as RFC 9110
# lets a server ignore an upgrade. (Left to the parser, a request with ``Connection: upgrade`` ends
# at its head: its body would be read as the next request.)
_UPGRADE_HEADER = re.compile(rb"\r\nupgrade:", re.IGNORECASE)


def _decline_upgrades(data: bytes) -> bytes:
    end = data.find(b"\r\n\r\n")
    end = len(data) if end < 0 else end + 4
    if _UPGRADE_HEADER.search(data, 0, end) is None:
        return data  # nearly always: nothing to rename, nothing copied
    return _UPGRADE_HEADER.sub(b"\r\nx-declined-upgrade:", data[:end]) + data[end:]


class _Refused(Exception):
    """Stops the parser once a request has been refused (raised from a parser callback)."""


# What may be held back until the end of the turn (more is written at once).
_HOLD_AT_MOST = 64 * 1024


class _Corked:
    """A connection's transport as the protocol and its responses see it: what is written in one turn
    of the event loop leaves together, in order, at the end of that turn.

    uvicorn writes a response's head and its body separately; here they go out in one system call
    (and one TCP segment), and the answers of every request served in the same turn leave one after
    the other, so a client busy reading the first finds the next ones waiting instead of being woken
    for each (docs/performance.md). Nothing waits longer than the turn: closing the connection, the
    client's end of its stream and a large answer write what is held first.
    """

    __slots__ = ("_held", "_held_bytes", "_loop", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._held: list[bytes] = []
        self._held_bytes = 0

    def write(self, data: bytes) -> None:
        held = self._held
        if not held:
            self._loop.call_soon(self.flush)
        held.append(data)
        self._held_bytes += len(data)
        if self._held_bytes >= _HOLD_AT_MOST:
            # A large answer goes now: the transport's own flow control (which pauses a sender
            # whose client reads slowly) only sees what has been handed to it.
            self.flush()

    def flush(self) -> None:
        held = self._held
        if held:
            self._held = []
            self._held_bytes = 0
            if not self._transport.is_closing():
                self._transport.writelines(held)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def is_closing(self) -> bool:
        return self._transport.is_closing()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)  # the rest of the transport, as it is


class LimitedHttpToolsProtocol(HttpToolsProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_bytes = 0
        self._reading_head = True
        # When the head being read now began (the connection opened, or the last response ended).
        self._head_since = 0.0
        self._head_timer: asyncio.TimerHandle | None = None
        self._header_count = 0
        self._refused = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.transport = _Corked(transport, self.loop)  # type: ignore[assignment]
        self._head_since = self.loop.time()
        self._head_timer = self.loop.call_at(self._head_since + HEAD_TIMEOUT, self._head_timed_out)

    def eof_received(self) -> None:
        # The client will send no more (it may still read): what is held goes before the transport
        # closes, as it did when every answer was written at once.
        self.transport.flush()  # type: ignore[attr-defined]

    def connection_lost(self, exc: Exception | None) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        if self._reading_head and self._head_bytes + len(data) > MAX_HEAD_BYTES:
            # Over the limit unless the head ends within it (the rest of ``data`` is body).
            end = data.find(b"\r\n\r\n")
            if end < 0 or self._head_bytes + end + 4 > MAX_HEAD_BYTES:
                self._refuse(431, "Request Header Fields Too Large")
                return
        if self._reading_head:
            self._head_bytes += len(data)
            data = _decline_upgrades(data)
        super().data_received(data)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_count += 1
        if self._header_count > MAX_HEADERS:
            self._refuse(431, "Request Header Fields Too Large")
            raise _Refused
        super().on_header(name, value)

    def send_400_response(self, msg: str) -> None:
        if not self._refused:  # the parser's error after a refusal: the answer has been sent
            super().send_400_response(msg)

    def on_headers_complete(self) -> None:
        self._reading_head = False
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        # Bytes from here on belong to the next request's head.
        self._reading_head = True
        self._head_bytes = 0
        self._header_count = 0

    def on_response_complete(self) -> None:
        super().on_response_complete()
        # The clock for the next head starts now; the connection's one timer reads it when it fires.
        self._head_since = self.loop.time()

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self.transport.is_closing():
            return
        now = self.loop.time()
        busy = self.cycle is not None and not self.cycle.response_complete
        if self._reading_head and not busy and now >= self._head_since + HEAD_TIMEOUT:
            if self._head_bytes:
                self._refuse(408, "Request Timeout")
            else:
                self.transport.close()  # an idle connection: nothing to answer
            return
        # A head that began later (or a request being answered): look again when it would be late.
        self._head_timer = self.loop.call_at(max(now, self._head_since) + HEAD_TIMEOUT, self._head_timed_out)

    def _refuse(self, status: int, reason: str) -> None:
        self._refused = True
        body = reason.encode()
        self.transport.write(
            b"HTTP/1.1 %d %s\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: %d\r\n"
            b"connection: close\r\n\r\n%s" % (status, reason.encode(), len(body), body)
        )
        self.transport.close()
