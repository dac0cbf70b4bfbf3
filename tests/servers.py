"""Real server processes and real databases for the end-to-end tests."""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import orjson

POSTGRES_URL = os.environ.get(
    "SAGEMAKER_IMAGES_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres"
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ServerProcess:
    """``sagemaker-images serve`` in a child process on a free port."""

    def __init__(
        self, db_url: str, *args: str, log_path: Path | None = None, env: dict[str, str] | None = None
    ) -> None:
        self.db_url = db_url
        self.args = list(args)
        self.extra_env = dict(env or {})
        self.port = free_port()
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> ServerProcess:
        command = [
            sys.executable,
            "-m",
            "sagemaker_images",
            "serve",
            "--port",
            str(self.port),
            "--db",
            self.db_url,
        ]
        log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        env = {k: v for k, v in os.environ.items() if not k.startswith("SAGEMAKER_IMAGES_")}
        env.update(self.extra_env)
        self.process = subprocess.Popen([*command, *self.args], stdout=log, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}; see {self.log_path}")
            with contextlib.suppress(OSError):
                status, _ = self.request("GET", "/_health")
                if status == 200:
                    return self
            time.sleep(0.05)
        raise RuntimeError("server did not become healthy")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def kill(self) -> None:
        """``kill -9``: no chance to flush or clean up."""
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def request(
        self, method: str, path: str = "/", body: bytes | None = None, headers: dict[str, str] | None = None
    ) -> tuple[int, dict]:
        """Raw HTTP: status and parsed JSON body (or {} when there is none)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            response = conn.getresponse()
            data = response.read()
            self.last_headers = {k.lower(): v for k, v in response.getheaders()}
            return response.status, orjson.loads(data) if data else {}
        finally:
            conn.close()

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def unread_connections(port: int) -> tuple[int, int]:
    """(established connections to ``port`` on this host, how many of them hold bytes the server has
    not read yet), from the kernel's socket table: a test can know the server has read what it sent."""
    established = unread = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(FileNotFoundError), open(table) as lines:
            next(lines)
            for line in lines:
                fields = line.split()
                local_port = int(fields[1].rsplit(":", 1)[1], 16)
                if local_port != port or fields[3] != "01":  # 01: ESTABLISHED
                    continue
                established += 1
                unread += int(fields[4].split(":")[1], 16) > 0  # rx_queue
    return established, unread


@contextlib.contextmanager
def sigv4_server(path: Path, keys: dict) -> Iterator[ServerProcess]:
    """A server on SQLite in ``path`` that verifies SigV4 against ``keys`` (credentials file entries)."""
    (path / "keys.json").write_bytes(orjson.dumps({"keys": keys}))
    credentials = str(path / "keys.json")
    db_url = f"sqlite:///{path / 'state.db'}"
    with ServerProcess(
        db_url, "--auth", "sigv4", "--credentials", credentials, log_path=path / "server.log"
    ) as process:
        yield process


def postgres_available() -> str | None:
    """None if the test PostgreSQL answers, else why not."""
    try:
        import psycopg

        with psycopg.connect(POSTGRES_URL, connect_timeout=3):
            return None
    except Exception as exc:  # any failure means: not here
        return f"PostgreSQL is not reachable at {POSTGRES_URL}: {exc}".strip()


@contextlib.contextmanager
def fresh_postgres_database() -> Iterator[str]:
    """A new, empty PostgreSQL database for one test run, dropped afterwards."""
    import psycopg

    name = f"smi_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = POSTGRES_URL.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
