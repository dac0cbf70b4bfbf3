"""``mock_sagemaker_images``: the registry in process, for tests, used the way ``moto.mock_aws`` is.

Inside the context (or a decorated function, method or class) every botocore client answers the
operations this project implements from the server's own application, in process; every other call
goes where it would have gone (to moto inside ``mock_aws``, else to its endpoint). The object is also
the test's handle on the registry: its clock, the failures it should produce, and its state.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import io
import os
import threading
import unittest
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from sagemaker_images.config import Settings
from sagemaker_images.testing import intercept
from sagemaker_images.testing.inprocess import InProcessServer, request_body

F = TypeVar("F", bound=Callable[..., Any])

# Settings that make no sense without a socket or a process of its own (in process, every call runs
# on its caller's thread: there is no pool of ``threads``).
_SERVER_ONLY = {
    "host",
    "port",
    "workers",
    "threads",
    "log_level",
    "log_format",
    "request_timeout",
    "console_secret",
    "upstream",
    "admin",
}
OPTIONS = tuple(f.name for f in dataclasses.fields(Settings) if f.name not in _SERVER_ONLY)

FAKE_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
DEFAULT_REGION = "us-east-1"


def mock_sagemaker_images(*, fake_credentials: bool = True, **options: Any) -> MockSageMakerImages:
    """The in-process registry, as a context manager or a decorator.

    ``options`` are ``serve``'s flags as keyword arguments (``transition_delay=5``,
    ``fail_images="broken-.*"``, ``max_images=3``, ``db="sqlite:///state.db"``, ...). State is fresh
    and in memory unless ``db`` names a database to keep it in. With ``fake_credentials`` (the
    default) the context sets fake AWS credentials in the environment, as ``mock_aws`` does, so no
    real credentials are ever used or needed; they are restored when it ends.
    """
    return MockSageMakerImages(fake_credentials=fake_credentials, **options)


class MockSageMakerImages:
    def __init__(self, *, fake_credentials: bool = True, **options: Any) -> None:
        unknown = sorted(set(options) - set(OPTIONS))
        if unknown:
            raise TypeError(
                f"unknown option(s) {', '.join(unknown)}; the options are: {', '.join(sorted(OPTIONS))}"
            )
        # Validated as serve validates its flags: a wrong option fails here, not at the first call.
        self.settings = Settings(**{"db": "", **options})
        self.fake_credentials = fake_credentials
        self._lock = threading.RLock()
        self._depth = 0
        self._server: InProcessServer | None = None
        self._environment: _Environment | None = None

    # -- context manager and decorator -------------------------------------------------------------

    def start(self) -> MockSageMakerImages:
        with self._lock:
            self._depth += 1
            if self._depth > 1:
                return self  # re-entered (a decorated function calling another): the same state
            try:
                self._server = InProcessServer(self.settings)
            except BaseException:
                self._depth -= 1
                raise
            self._environment = _Environment(self.fake_credentials)
            self._environment.enter()
            intercept.activate(self)
        return self

    def stop(self) -> None:
        with self._lock:
            if self._depth == 0:
                raise RuntimeError("mock_sagemaker_images.stop() called before start()")
            self._depth -= 1
            if self._depth > 0:
                return
            intercept.deactivate(self)
            if self._environment is not None:
                self._environment.exit()
                self._environment = None
            server, self._server = self._server, None
            if server is not None:
                server.close()

    def __enter__(self) -> MockSageMakerImages:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __call__(self, target: F) -> F:
        if inspect.isclass(target):
            return self._decorate_class(target)  # type: ignore[return-value]
        if inspect.iscoroutinefunction(target):

            @functools.wraps(target)
            async def run_async(*args: Any, **kwargs: Any) -> Any:
                with self:
                    return await target(*args, **kwargs)

            return run_async  # type: ignore[return-value]

        @functools.wraps(target)
        def run(*args: Any, **kwargs: Any) -> Any:
            with self:
                return target(*args, **kwargs)

        return run  # type: ignore[return-value]

    def _decorate_class(self, klass: type) -> type:
        """A TestCase: one state from ``setUp`` to the last cleanup. Other classes: one per test."""
        if issubclass(klass, unittest.TestCase):
            set_up = klass.setUp

            @functools.wraps(set_up)
            def setUp(test: unittest.TestCase) -> None:
                self.start()
                test.addCleanup(self.stop)
                set_up(test)

            klass.setUp = setUp  # type: ignore[method-assign,assignment]
            return klass
        for name in dir(klass):
            if not name.startswith("test"):
                continue
            attribute = inspect.getattr_static(klass, name)
            if isinstance(attribute, staticmethod | classmethod) or not inspect.isfunction(attribute):
                continue
            setattr(klass, name, self(attribute))
        return klass

    # -- answering botocore ---------------------------------------------------------------------------

    def answer(self, request: Any) -> Any:
        """The response to a prepared request if this registry serves it, else None."""
        target = request.headers.get("X-Amz-Target")
        if target is None:
            return None
        server = self._server
        if server is None:
            return None
        if isinstance(target, bytes):
            target = target.decode("latin-1")
        body = request_body(request)
        if not server.serves(target, body):
            return None
        return server.handle(request, body)

    # -- the handle -------------------------------------------------------------------------------

    @property
    def server(self) -> InProcessServer:
        server = self._server
        if server is None:
            raise RuntimeError(
                "mock_sagemaker_images is not active: use it in a `with` block or as a decorator"
            )
        return server

    def advance(self, seconds: float) -> None:
        """Move the registry's clock forward: statuses, timestamps, Cloud Control requests."""
        self.server.app.advance_clock(seconds)

    def fail_next(self, operation: str, error_code: str, count: int = 1, message: str | None = None) -> None:
        """The next ``count`` calls of ``operation`` (e.g. "CreateImageVersion") fail with ``error_code``.

        The error is sent as AWS sends it (HTTP 400, or the 5xx status of a server-side code such as
        InternalFailure or ServiceUnavailable), so botocore retries it as it would retry AWS; the
        failed calls change nothing.
        """
        self.server.app.faults.fail_next(operation, error_code, count, message)

    def fail_next_versions(
        self, count: int = 1, reason: str | None = None, image_name: str | None = None
    ) -> None:
        """The next ``count`` image versions created (of ``image_name``, or any) end CREATE_FAILED."""
        if reason is None:
            self.server.app.faults.fail_next_versions(count, image_name=image_name)
        else:
            self.server.app.faults.fail_next_versions(count, reason, image_name)

    def export(self) -> str:
        """All state, in the JSON Lines format of ``sagemaker-images export``."""
        from sagemaker_images.store.transfer import export_state

        out = io.BytesIO()
        export_state(self.server.database, out)
        return out.getvalue().decode("utf-8")

    def load(self, snapshot: str | bytes | Path) -> None:
        """Replace all state with a snapshot: what ``export()`` returned, or a path to such a file.

        A snapshot that cannot be loaded (cut short, edited, of another schema revision) raises
        ``sagemaker_images.store.transfer.TransferError`` and leaves the state as it was.
        """
        from sagemaker_images.store.transfer import import_state

        if isinstance(snapshot, Path):
            data = snapshot.read_bytes()
        elif isinstance(snapshot, str):
            data = snapshot.encode("utf-8")
        elif isinstance(snapshot, bytes | bytearray):
            data = bytes(snapshot)
        else:
            raise TypeError("load() takes what export() returned (str or bytes) or a pathlib.Path")
        # One transaction: a snapshot that turns out to be broken leaves the state as it was.
        import_state(self.server.database, data.splitlines(), replace=True)

    def reset(self) -> None:
        """Fresh state: no images, no queued failures, the clock back to the present."""
        self.server.reset()


class _Environment:
    """Fake credentials and a region for the context, as ``mock_aws`` sets them; restored after."""

    def __init__(self, fake_credentials: bool) -> None:
        self.fake_credentials = fake_credentials
        self.saved: dict[str, str | None] = {}
        self.session_patches: list[Any] = []

    def enter(self) -> None:
        changes: dict[str, str] = {}
        if self.fake_credentials:
            changes.update(FAKE_CREDENTIALS)
        region_set = os.environ.get("AWS_DEFAULT_REGION") or os.environ.get("AWS_REGION")
        if not region_set and _configured_region() is None:
            changes["AWS_DEFAULT_REGION"] = DEFAULT_REGION
        for name, value in changes.items():
            self.saved[name] = os.environ.get(name)
            os.environ[name] = value
        if changes:
            # boto3's default session may hold credentials resolved before; a new one finds these. It
            # is made when boto3 first asks for it, so a context that makes no client pays nothing.
            from unittest.mock import patch

            self.session_patches = [
                patch("boto3.DEFAULT_SESSION", None),
                patch("boto3.setup_default_session", _setup_default_session),
            ]
            for session_patch in self.session_patches:
                session_patch.start()

    def exit(self) -> None:
        for session_patch in reversed(self.session_patches):
            session_patch.stop()
        self.session_patches = []
        for name, value in self.saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _setup_default_session(**kwargs: Any) -> None:
    """``boto3.setup_default_session`` inside a context (boto3 calls it for the first client)."""
    import boto3

    boto3.DEFAULT_SESSION = _fresh_default_session(**kwargs)


def _fresh_default_session(**kwargs: Any) -> Any:
    """A new boto3 session (credentials and region resolved anew) reading service models through the
    process's one botocore loader: parsing SageMaker's model again would cost each context ~150 ms."""
    import boto3.session
    import botocore.session

    core = botocore.session.get_session()
    loader = _shared_loader(core.get_config_variable("data_path"))
    core.register_component("data_loader", loader)
    session = boto3.session.Session(botocore_session=core, **kwargs)
    # boto3 adds its own data directory to the loader's search paths in every session: keep one copy.
    loader.search_paths[:] = list(dict.fromkeys(loader.search_paths))
    return session


@functools.cache
def _shared_loader(data_path: str | None) -> Any:
    import botocore.loaders

    return botocore.loaders.create_loader(data_path)


@functools.cache
def _configured_region() -> str | None:
    """The region of the AWS config file's profile, if any (read once per process)."""
    import botocore.session

    try:
        region: str | None = botocore.session.Session().get_config_variable("region")
        return region
    except Exception:  # a broken config file: no region from it
        return None
