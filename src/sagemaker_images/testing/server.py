"""A real ``sagemaker-images serve`` process for a test session, and the test's handle on it.

The process listens on a free loopback port with its state in a directory of the caller's choosing
and its admin API on (``--admin``): the handle's ``reset``, ``advance``, ``fail_next``... are
HTTP calls to it, the same controls ``mock_sagemaker_images`` offers in process.
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
from pathlib import Path
from typing import Any

import orjson

FAKE_ACCESS_KEY = "testing"
FAKE_SECRET = "testing"
REGION = "us-east-1"


class ServerFailed(RuntimeError):
    """The server process exited or did not become healthy; the message carries its log."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve_arguments(options: dict[str, Any]) -> list[str]:
    """``serve``'s flags for keyword options: ``{"transition_delay": 5}`` -> ``--transition-delay 5``."""
    arguments: list[str] = []
    for name, value in options.items():
        if value is None or value is False:
            continue
        flag = "--" + name.replace("_", "-")
        arguments.extend([flag] if value is True else [flag, str(value)])
    return arguments


class SageMakerImagesServer:
    """``sagemaker-images serve --admin`` in a child process; ``start()`` returns at once."""

    def __init__(
        self,
        state_dir: Path,
        options: dict[str, Any] | None = None,
        admin_key: tuple[str, str] | None = None,
    ) -> None:
        self.options = dict(options or {})
        self.state_dir = Path(state_dir)
        self.port = free_port()
        self.log_path = self.state_dir / "server.log"
        # Under --auth sigv4 the admin API answers only requests signed by a key allowed to use it.
        self.admin_key = admin_key
        self.process: subprocess.Popen[bytes] | None = None

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

    def start(self) -> SageMakerImagesServer:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        options = {"db": f"sqlite:///{self.state_dir / 'state.db'}", "log_level": "warning", **self.options}
        command = [
            sys.executable,
            "-m",
            "sagemaker_images",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--admin",
            *serve_arguments(options),
        ]
        # The server's settings are the ones given here, not the environment's.
        env = {k: v for k, v in os.environ.items() if not k.startswith("SAGEMAKER_IMAGES_")}
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
        return self

    def wait_ready(self, timeout: float = 60.0) -> SageMakerImagesServer:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                raise ServerFailed(f"sagemaker-images serve exited: {self._log_tail()}")
            with contextlib.suppress(OSError):
                status, _ = self._request("GET", "/_health", timeout=1)
                if status == 200:
                    return self
            time.sleep(0.005)
        self.stop()
        raise ServerFailed(
            f"sagemaker-images serve did not become healthy in {timeout:g} s: {self._log_tail()}"
        )

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def _log_tail(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-4000:]
        except OSError:
            return "(no log)"

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
        status, data = self._request(method, f"/_admin/{name}", body, headers)
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

    def _request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        timeout: float = 60,
    ) -> tuple[int, bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()

    def __enter__(self) -> SageMakerImagesServer:
        return self.start().wait_ready()

    def __exit__(self, *exc: object) -> None:
        self.stop()
