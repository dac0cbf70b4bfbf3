"""Real ``sagemaker-images serve`` processes for tests and benchmarks, and the test's handle on one.

``ServeProcess`` is the one way a server process is started, waited for and stopped — by the
``sagemaker_images_server`` pytest fixture, by this repository's own tests (``tests/servers.py``) and
by its benchmarks: a free loopback port, the settings given and none from the environment, ready
once ``/_health`` answers 200, stopped with SIGTERM and then SIGKILL if it lingers.

``SageMakerImagesServer`` is the fixture's server: state in a directory of the caller's choosing and
the admin API on (``--admin``), so the handle's ``reset``, ``advance``, ``fail_next``... are HTTP
calls to it, the same controls ``mock_sagemaker_images`` offers in process.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any, NamedTuple, Self

import orjson

FAKE_ACCESS_KEY = "testing"
FAKE_SECRET = "testing"
REGION = "us-east-1"
# How long a stopped server has to finish before it is killed (its graceful shutdown takes up to 10 s).
STOP_SECONDS = 15.0


class ServerFailed(RuntimeError):
    """The server process exited or did not become healthy; the message carries its log."""


class HttpAnswer(NamedTuple):
    status: int
    headers: dict[str, str]  # names in lower case
    body: bytes


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve_arguments(options: Mapping[str, Any]) -> list[str]:
    """``serve``'s flags for keyword options: ``{"transition_delay": 5}`` -> ``--transition-delay 5``."""
    arguments: list[str] = []
    for name, value in options.items():
        if value is None or value is False:
            continue
        flag = "--" + name.replace("_", "-")
        arguments.extend([flag] if value is True else [flag, str(value)])
    return arguments


class ServeProcess:
    """``sagemaker-images serve ARGUMENTS`` in a child process on a free loopback port.

    ``launch()`` returns at once; ``wait_ready()`` returns once ``/_health`` answers 200 (or raises
    ``ServerFailed`` with the log); ``start()`` is both. ``command`` runs another program instead
    (the benchmarks' references), with ``health_path=None`` when any HTTP answer means it is up.
    """

    def __init__(
        self,
        arguments: Sequence[str] = (),
        *,
        port: int | None = None,
        log_path: Path | None = None,
        env: Mapping[str, str] | None = None,
        command: Sequence[str] | None = None,
        health_path: str | None = "/_health",
    ) -> None:
        self.port = port or free_port()
        self.arguments = list(arguments)
        self.log_path = log_path
        self.extra_env = dict(env or {})
        self.health_path = health_path
        self.command = list(command) if command is not None else self._serve_command()
        self.name = "sagemaker-images serve" if command is None else Path(self.command[0]).name
        self.process: subprocess.Popen[bytes] | None = None
        self.launched_at = 0.0
        # Seconds from launch to the first healthy answer, once ready (the benchmarks report it).
        self.ready_in: float | None = None

    def _serve_command(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "sagemaker_images",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            *self.arguments,
        ]

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def environ(self) -> dict[str, str]:
        """Variables that send every AWS client of a process here (fake credentials, a region)."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": FAKE_ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": FAKE_SECRET,
            "AWS_DEFAULT_REGION": REGION,
        }

    def client(self, service: str, **kwargs: Any) -> Any:
        """A boto3 client for this server (fake credentials and us-east-1 unless given)."""
        import boto3

        settings = {
            "endpoint_url": self.endpoint,
            "region_name": REGION,
            "aws_access_key_id": FAKE_ACCESS_KEY,
            "aws_secret_access_key": FAKE_SECRET,
            **kwargs,
        }
        return boto3.client(service, **settings)

    # -- the process ------------------------------------------------------------------------------

    def launch(self) -> Self:
        """Start the process and return at once."""
        # The server's settings are the ones given here, not the environment's.
        env = {k: v for k, v in os.environ.items() if not k.startswith("SAGEMAKER_IMAGES_")}
        env.update(self.extra_env)
        log: IO[bytes] | int = subprocess.DEVNULL
        if self.log_path is not None:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            log = open(self.log_path, "ab")  # noqa: SIM115 - the child holds it; closed below
        self.ready_in = None
        self.launched_at = time.perf_counter()
        try:
            self.process = subprocess.Popen(self.command, stdout=log, stderr=subprocess.STDOUT, env=env)
        finally:
            if not isinstance(log, int):
                log.close()
        return self

    def wait_ready(self, timeout: float = 60.0) -> Self:
        """Return once the server answers (``/_health`` 200); ServerFailed if it exits or never does."""
        if self.ready_in is not None:
            return self
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                code = None if self.process is None else self.process.returncode
                raise ServerFailed(f"{self.name} exited ({code}): {self.log_tail()}")
            with contextlib.suppress(OSError):
                status = self.http("GET", self.health_path or "/", timeout=1).status
                if status == 200 or self.health_path is None:
                    self.ready_in = time.perf_counter() - self.launched_at
                    return self
            time.sleep(0.005)
        self.stop()
        raise ServerFailed(f"{self.name} did not become healthy in {timeout:g} s: {self.log_tail()}")

    def start(self, timeout: float = 60.0) -> Self:
        return self.launch().wait_ready(timeout)

    def stop(self, sig: int = signal.SIGTERM) -> None:
        """Ask the process to end (SIGTERM: a graceful shutdown), and kill it if it lingers."""
        process = self.process
        if process is None or process.poll() is not None:
            return
        process.send_signal(sig)
        try:
            process.wait(STOP_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def kill(self) -> None:
        """``kill -9``: no chance to flush or clean up."""
        self.stop(signal.SIGKILL)

    def log_tail(self) -> str:
        if self.log_path is None:
            return "(no log kept)"
        try:
            return self.log_path.read_text(errors="replace")[-4000:]
        except OSError:
            return "(no log)"

    # -- raw HTTP ---------------------------------------------------------------------------------

    def http(
        self,
        method: str,
        path: str = "/",
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float = 60,
    ) -> HttpAnswer:
        """One request on a connection of its own: status, headers (lower-case names) and body."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=dict(headers or {}))
            response = conn.getresponse()
            answer_headers = {k.lower(): v for k, v in response.getheaders()}
            return HttpAnswer(response.status, answer_headers, response.read())
        finally:
            conn.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class SageMakerImagesServer(ServeProcess):
    """``sagemaker-images serve --admin`` with its state in ``state_dir``, and the admin API's controls."""

    def __init__(
        self,
        state_dir: Path,
        options: Mapping[str, Any] | None = None,
        admin_key: tuple[str, str] | None = None,
    ) -> None:
        self.options = dict(options or {})
        self.state_dir = Path(state_dir)
        settings = {"db": f"sqlite:///{self.state_dir / 'state.db'}", "log_level": "warning", **self.options}
        super().__init__(["--admin", *serve_arguments(settings)], log_path=self.state_dir / "server.log")
        # Under --auth sigv4 the admin API answers only requests signed by a key allowed to use it.
        self.admin_key = admin_key

    # -- the admin API ----------------------------------------------------------------------------

    def reset(self) -> None:
        """Fresh state: no images, no queued failures, the clock back to the present."""
        self._admin("POST", "reset")

    def advance(self, seconds: float) -> None:
        self._admin("POST", "clock", {"advance": seconds})

    def fail_next(self, operation: str, error_code: str, count: int = 1, message: str | None = None) -> None:
        self._admin(
            "POST",
            "fail-next",
            {"operation": operation, "error_code": error_code, "count": count, "message": message},
        )

    def fail_next_versions(
        self, count: int = 1, reason: str | None = None, image_name: str | None = None
    ) -> None:
        self._admin(
            "POST", "fail-next-versions", {"count": count, "reason": reason, "image_name": image_name}
        )

    def export(self) -> str:
        return self._admin("GET", "export").decode("utf-8")

    def load(self, snapshot: str | bytes | Path) -> None:
        if isinstance(snapshot, Path):
            data = snapshot.read_bytes()
        elif isinstance(snapshot, str):
            data = snapshot.encode("utf-8")
        else:
            data = bytes(snapshot)
        self._admin("POST", "load", data)

    def _admin(self, method: str, name: str, payload: Any = None) -> bytes:
        body = payload if isinstance(payload, bytes) else (b"" if payload is None else orjson.dumps(payload))
        headers = self._signed_headers(method, f"/_admin/{name}", body)
        status, _, data = self.http(method, f"/_admin/{name}", body, headers)
        if status != 200:
            raise RuntimeError(f"admin {method} {name} answered {status}: {data.decode(errors='replace')}")
        return data

    def _signed_headers(self, method: str, path: str, body: bytes) -> dict[str, str]:
        headers = {"content-type": "application/json"}
        if self.admin_key is None:
            return headers
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest
        from botocore.credentials import Credentials

        request = AWSRequest(method=method, url=self.endpoint + path, data=body, headers=headers)
        SigV4Auth(Credentials(*self.admin_key), "sagemaker-images", REGION).add_auth(request)
        return dict(request.headers.items())
