"""The server's own application, answering botocore's prepared requests in process, without a socket.

A request botocore is about to send is turned into an ASGI HTTP scope and handed to the very
``Application`` object ``serve`` runs (authentication, routing, validation, the domain, the store);
its answer goes back to botocore as the ``AWSResponse`` a socket would have produced. Nothing here
knows an operation: what the server answers, this answers.

State lives in an in-memory SQLite database of SQLite's ``memdb`` VFS (shared by the connections of
one process, with ordinary locking), copied from a migrated template with SQLite's backup API, so a
fresh, isolated database costs a fraction of a millisecond instead of a migration.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import uuid
from collections.abc import Coroutine, MutableMapping
from io import BytesIO
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit

from botocore.awsrequest import AWSPreparedRequest, AWSResponse

from sagemaker_images.config import Settings
from sagemaker_images.server import Application
from sagemaker_images.services import serves
from sagemaker_images.store import Database, open_database
from sagemaker_images.store.transfer import clear_state

T = TypeVar("T")

_MEMDB_URL = "sqlite:///file:/{name}?vfs=memdb&uri=true"
_template_lock = threading.Lock()
_template: sqlite3.Connection | None = None


def _template_connection() -> sqlite3.Connection:
    """A migrated, empty in-memory database, made once per process, to copy fresh state from."""
    global _template
    with _template_lock:
        if _template is None:
            name = f"sagemaker-images-template-{uuid.uuid4().hex}"
            keeper = sqlite3.connect(f"file:/{name}?vfs=memdb", uri=True, check_same_thread=False)
            open_database(_MEMDB_URL.format(name=name)).dispose()  # migrates it
            _template = keeper
        return _template


class MemoryDatabase:
    """A fresh in-memory database at the newest schema, alive while this object is open."""

    def __init__(self) -> None:
        name = f"sagemaker-images-{uuid.uuid4().hex}"
        # The memdb database lives as long as one connection to it is open: this one.
        self._keeper = sqlite3.connect(f"file:/{name}?vfs=memdb", uri=True, check_same_thread=False)
        template = _template_connection()
        with _template_lock:
            template.backup(self._keeper)
        self.url = _MEMDB_URL.format(name=name)

    def close(self) -> None:
        self._keeper.close()


class _Body(BytesIO):
    """The raw body botocore reads a response from (``stream()`` as urllib3's response offers)."""

    def stream(self, amt: int = 2**16, decode_content: bool = False) -> Any:
        while chunk := self.read(amt):
            yield chunk


class InProcessServer:
    """One running stack: settings, database and the server's application, started in process."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.memory = MemoryDatabase() if not settings.db else None
        url = self.memory.url if self.memory is not None else settings.db
        database: Database = open_database(url)
        self.app = Application(settings, database=database)
        self.app.start()

    @property
    def database(self) -> Database:
        assert self.app.database is not None
        return self.app.database

    def serves(self, target: str | None, body: bytes) -> bool:
        return serves(self.app.services, target, body)

    def handle(self, request: AWSPreparedRequest, body: bytes) -> AWSResponse:
        """Answer ``request`` as the server would have answered it over HTTP."""
        scope = _scope(request)
        received = False

        async def receive() -> dict[str, Any]:
            nonlocal received
            if received:
                return {"type": "http.disconnect"}
            received = True
            return {"type": "http.request", "body": body, "more_body": False}

        answer: dict[str, Any] = {"status": 500, "headers": [], "body": []}

        async def send(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                answer["status"] = message["status"]
                answer["headers"] = message.get("headers", [])
            elif message["type"] == "http.response.body":
                answer["body"].append(message.get("body", b""))

        run(self.app(scope, receive, send))
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in answer["headers"]}
        return AWSResponse(request.url, answer["status"], headers, _Body(b"".join(answer["body"])))

    def reset(self) -> None:
        """Forget all state, queued failures and clock movement."""
        clear_state(self.database)
        self.app.faults.clear()
        self.app.clock.reset()

    def close(self) -> None:
        self.app.stop()
        if self.memory is not None:
            self.memory.close()


def request_body(request: AWSPreparedRequest) -> bytes:
    body = request.body
    if body is None:
        return b""
    if isinstance(body, str):
        return body.encode("utf-8")
    if isinstance(body, bytes | bytearray):
        return bytes(body)
    # A file-like body (streaming input): read it, and rewind for botocore in case it is retried.
    position = body.tell() if hasattr(body, "tell") else None
    data = body.read()
    if position is not None and hasattr(body, "seek"):
        body.seek(position)
    return data if isinstance(data, bytes) else data.encode("utf-8")


def _scope(request: AWSPreparedRequest) -> dict[str, Any]:
    url = urlsplit(request.url)
    headers = []
    has_host = False
    for name, value in request.headers.items():
        key = name.lower()
        has_host = has_host or key == "host"
        raw = value if isinstance(value, bytes) else str(value).encode("latin-1")
        headers.append((key.encode("latin-1"), raw))
    if not has_host:
        # What the HTTP client would have sent (and what a SigV4 signature covers).
        headers.append((b"host", url.netloc.encode("latin-1")))
    raw_path = url.path or "/"
    secure = url.scheme == "https"
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": request.method,
        "scheme": url.scheme or "https",
        "path": unquote(raw_path),
        "raw_path": raw_path.encode("latin-1"),
        "query_string": url.query.encode("latin-1"),
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 0),
        "server": (url.hostname or "localhost", url.port or (443 if secure else 80)),
    }


# -- running the application's coroutines from synchronous botocore ---------------------------------

_local = threading.local()
_background_lock = threading.Lock()
_background: asyncio.AbstractEventLoop | None = None


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run ``coroutine`` to its end from synchronous code, whatever the calling thread is doing.

    A thread without a running event loop runs it on a private loop of its own (the cheap path). A
    thread that is inside a running loop (a synchronous boto3 call in an ``async def`` test) cannot
    start another one, so the coroutine runs on a background loop while the caller waits, exactly as
    it would have waited for a socket.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        loop = getattr(_local, "loop", None)
        if loop is None or loop.is_closed():
            loop = _local.loop = asyncio.new_event_loop()
        return loop.run_until_complete(coroutine)
    return asyncio.run_coroutine_threadsafe(coroutine, _background_loop()).result()


def _background_loop() -> asyncio.AbstractEventLoop:
    global _background
    with _background_lock:
        if _background is None:
            loop = asyncio.new_event_loop()
            thread = threading.Thread(target=loop.run_forever, name="sagemaker-images-mock", daemon=True)
            thread.start()
            _background = loop
        return _background
