"""The server's own application, answering botocore's prepared requests in process, without a socket.

A request botocore is about to send is turned into an ASGI HTTP scope and handed to the very
``Application`` object ``serve`` runs (authentication, routing, validation, the domain, the store);
its answer goes back to botocore as the ``AWSResponse`` a socket would have produced. Nothing here
knows an operation: what the server answers, this answers.

The scope carries the whole body (``asgi.WHOLE_BODY``), so the application has nothing to wait for
and does its work on the calling thread: its coroutine finishes at its first step, driven right here
with no event loop — the same inside an ``async def`` test whose loop is running.

State lives in an in-memory SQLite database of SQLite's ``memdb`` VFS (shared by the connections of
one process, with ordinary locking), copied from a migrated template with SQLite's backup API, so a
fresh, isolated database costs a fraction of a millisecond instead of a migration.
"""

from __future__ import annotations

import sqlite3
import threading
import uuid
from collections.abc import Coroutine, MutableMapping
from io import BytesIO
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit

from botocore.awsrequest import AWSPreparedRequest, AWSResponse

from sagemaker_images.config import Settings
from sagemaker_images.protocol.asgi import WHOLE_BODY
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
        scope = _scope(request, body)
        answer: dict[str, Any] = {"status": 500, "headers": [], "body": []}

        async def send(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                answer["status"] = message["status"]
                answer["headers"] = message.get("headers", [])
            elif message["type"] == "http.response.body":
                answer["body"].append(message.get("body", b""))

        run(self.app(scope, _nothing_more, send))
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


async def _nothing_more() -> dict[str, Any]:
    """ASGI ``receive``: the body came whole with the scope, so the client has nothing more to send."""
    return {"type": "http.disconnect"}


def _scope(request: AWSPreparedRequest, body: bytes) -> dict[str, Any]:
    url = urlsplit(request.url)
    headers = []
    has_host = False
    for name, value in _header_pairs(request.headers):
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
        WHOLE_BODY: body,
    }


def _header_pairs(headers: Any) -> Any:
    """(name, value) of each header of a prepared request. botocore's case-insensitive HeadersDict
    answers ``items()`` with a lookup per name, a good part of this module's cost per call; the dict
    under it has them at hand (its keys print as the names), and ``items()`` stays the way when not."""
    raw = getattr(headers, "_dict", None)
    if isinstance(raw, dict):
        return ((str(name), value) for name, value in raw.items())
    return headers.items()


# -- running the application's coroutine from synchronous botocore ---------------------------------


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run the application's coroutine for one in-process request to its end, here and now.

    Such a request never waits (its body is in the scope, and the work a server hands to its thread
    pool runs on this thread), so the coroutine ends at its first step: no event loop is needed, and
    a running one (an ``async def`` test's) is left alone, as a blocking socket call would leave it.
    """
    try:
        coroutine.send(None)
    except StopIteration as finished:
        result: T = finished.value
        return result
    coroutine.close()
    raise RuntimeError("the application waited on its event loop for a request answered in process")
