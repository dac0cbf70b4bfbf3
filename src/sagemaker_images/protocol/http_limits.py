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
    head, rest = (data, b"") if end < 0 else (data[: end + 4], data[end + 4 :])
    return _UPGRADE_HEADER.sub(b"\r\nx-declined-upgrade:", head) + rest


class _Refused(Exception):
    """Stops the parser once a request has been refused (raised from a parser callback)."""


class LimitedHttpToolsProtocol(HttpToolsProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_bytes = 0
        self._reading_head = True
        self._head_timer: asyncio.TimerHandle | None = None
        self._header_count = 0
        self._refused = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._start_head()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_head_timer()
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
        self._stop_head_timer()
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        # Bytes from here on belong to the next request's head.
        self._reading_head = True
        self._head_bytes = 0
        self._header_count = 0

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._start_head()

    def _start_head(self) -> None:
        """The clock for the next head starts when the connection opens or the last response ends."""
        self._stop_head_timer()
        self._head_timer = self.loop.call_later(HEAD_TIMEOUT, self._head_timed_out)

    def _stop_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        busy = self.cycle is not None and not self.cycle.response_complete
        if self._reading_head and not busy and not self.transport.is_closing():
            if self._head_bytes:
                self._refuse(408, "Request Timeout")
            else:
                self.transport.close()  # an idle connection: nothing to answer

    def _refuse(self, status: int, reason: str) -> None:
        self._refused = True
        body = reason.encode()
        self.transport.write(
            b"HTTP/1.1 %d %s\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: %d\r\n"
            b"connection: close\r\n\r\n%s" % (status, reason.encode(), len(body), body)
        )
        self.transport.close()
