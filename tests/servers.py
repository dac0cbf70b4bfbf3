"""Real server processes and real databases for the end-to-end tests."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import orjson

from sagemaker_images.testing.server import ServeProcess, free_port

__all__ = [
    "POSTGRES_URL",
    "ServerProcess",
    "free_port",
    "fresh_postgres_database",
    "postgres_available",
    "sigv4_server",
    "unread_connections",
]

POSTGRES_URL = os.environ.get(
    "SAGEMAKER_IMAGES_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres"
)


class ServerProcess(ServeProcess):
    """``sagemaker-images serve --db DB_URL ARGS`` on a free port; ``start()`` waits until it is healthy.

    The package's ``ServeProcess`` (the pytest plugin's and the benchmarks' too), with what these tests
    add: ``request`` parses the JSON answer and keeps its headers in ``last_headers``.
    """

    def __init__(
        self, db_url: str, *args: str, log_path: Path | None = None, env: dict[str, str] | None = None
    ) -> None:
        super().__init__(["--db", db_url, *args], log_path=log_path, env=env)
        self.db_url = db_url
        self.args = list(args)
        self.last_headers: dict[str, str] = {}

    def start(self, timeout: float = 30.0) -> ServerProcess:
        return super().start(timeout)

    def request(
        self, method: str, path: str = "/", body: bytes | None = None, headers: dict[str, str] | None = None
    ) -> tuple[int, dict]:
        """Raw HTTP: status and parsed JSON body (or {} when there is none)."""
        status, self.last_headers, data = self.http(method, path, body, headers, timeout=30)
        return status, orjson.loads(data) if data else {}


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
