"""Faults (``@pytest.mark.long``): ``kill -9`` under concurrent writes (SQLite; PostgreSQL replicas),
SIGTERM draining in-flight requests, and the database cut off behind a TCP proxy the test controls.

Every acknowledged write (an HTTP 200) must be there after a restart; nothing half-written may be
visible (tests/store_checks.py, including SQLite's ``PRAGMA integrity_check``).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import socket
import threading
from dataclasses import dataclass, field
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

from tests.calls import wait_until
from tests.conftest import new_account
from tests.servers import ServerProcess, fresh_postgres_database, postgres_available, unread_connections
from tests.store_checks import inconsistencies

pytestmark = pytest.mark.long

HEADERS = {"Content-Type": "application/x-amz-json-1.1"}


def auth(account: str) -> str:
    return (
        f"AWS4-HMAC-SHA256 Credential={account}/20261123/us-east-1/sagemaker/aws4_request, "
        "SignedHeaders=host, Signature=0"
    )


def call(port: int, account: str, operation: str, body: dict, timeout: float = 30) -> tuple[int, dict]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        headers = {**HEADERS, "X-Amz-Target": f"SageMaker.{operation}", "Authorization": auth(account)}
        conn.request("POST", "/", json.dumps(body).encode(), headers)
        response = conn.getresponse()
        data = response.read()
        return response.status, json.loads(data) if data else {}
    finally:
        conn.close()


@dataclass
class Acked:
    """Writes the server acknowledged: images, versions and tags, by account."""

    images: list[tuple[str, str]] = field(default_factory=list)
    versions: list[tuple[str, str, int]] = field(default_factory=list)
    tags: list[tuple[str, str, str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def total(self) -> int:
        return len(self.images) + len(self.versions) + len(self.tags)


class WriteLoad:
    """Writer threads, each its own account: images, then versions and tags on them, until stopped."""

    def __init__(self, ports: list[int], threads: int, prefix: str, acked: Acked) -> None:
        self.ports, self.prefix, self.acked = ports, prefix, acked
        self.stop = threading.Event()
        self.errors: dict[int, list[str]] = {port: [] for port in ports}
        self.threads = [threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(threads)]

    def start(self) -> WriteLoad:
        for thread in self.threads:
            thread.start()
        return self

    def join(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(60)

    def _run(self, index: int) -> None:
        port = self.ports[index % len(self.ports)]
        account = new_account()
        images: list[str] = []
        step = 0
        while not self.stop.is_set():
            step += 1
            try:
                if not images or step % 4 == 0:
                    name = f"{self.prefix}-{index}-{step}"
                    status, body = call(
                        port,
                        account,
                        "CreateImage",
                        {"ImageName": name, "RoleArn": f"arn:aws:iam::{account}:role/R"},
                    )
                    if status == 200:
                        images.append(name)
                        with self.acked.lock:
                            self.acked.images.append((account, name))
                elif step % 4 == 1:
                    name = images[-1]
                    status, body = call(
                        port,
                        account,
                        "CreateImageVersion",
                        {"ImageName": name, "BaseImage": f"repo/{name}:{step}", "ClientToken": f"t{step}"},
                    )
                    if status == 200:
                        version = int(body["ImageVersionArn"].rsplit("/", 1)[1])
                        with self.acked.lock:
                            self.acked.versions.append((account, name, version))
                else:
                    name = images[-1]
                    arn = f"arn:aws:sagemaker:us-east-1:{account}:image/{name}"
                    key, value = f"k{step}", f"v{step}"
                    status, body = call(
                        port, account, "AddTags", {"ResourceArn": arn, "Tags": [{"Key": key, "Value": value}]}
                    )
                    if status == 200:
                        with self.acked.lock:
                            self.acked.tags.append((account, name, key, value))
                if status != 200:
                    self.errors[port].append(f"{status} {body}")
            except (OSError, http.client.HTTPException) as exc:
                # The server died under this request: its outcome is unknown, and that is allowed.
                self.errors[port].append(repr(exc))
                if port_closed(port):
                    return


def port_closed(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) != 0


def missing_writes(port: int, acked: Acked) -> list[str]:
    """Every acknowledged write that a server on ``port`` cannot show."""
    missing = []
    for account, name in acked.images:
        if call(port, account, "DescribeImage", {"ImageName": name})[0] != 200:
            missing.append(f"image {account}/{name}")
    for account, name, version in acked.versions:
        status, _ = call(port, account, "DescribeImageVersion", {"ImageName": name, "Version": version})
        if status != 200:
            missing.append(f"version {account}/{name}/{version}")
    tags: dict[tuple[str, str], dict[str, str]] = {}
    for account, name, key, value in acked.tags:
        if (account, name) not in tags:
            arn = f"arn:aws:sagemaker:us-east-1:{account}:image/{name}"
            _, body = call(port, account, "ListTags", {"ResourceArn": arn, "MaxResults": 100})
            tags[(account, name)] = {t["Key"]: t["Value"] for t in body.get("Tags", [])}
        if tags[(account, name)].get(key) != value:
            missing.append(f"tag {account}/{name}/{key}")
    return missing


def report(name: str, line: str) -> None:
    print(line)
    report_dir = os.environ.get("SAGEMAKER_IMAGES_REPORT_DIR")
    if report_dir:
        with open(Path(report_dir) / name, "a") as out:
            out.write(line + "\n")


# -- kill -9 ---------------------------------------------------------------------------------------


def test_kill_9_under_concurrent_writes_loses_no_acknowledged_write_sqlite(tmp_path):
    url = f"sqlite:///{tmp_path / 'state.db'}"
    acked = Acked()
    kills = 0
    for cycle in range(3):
        server = ServerProcess(url, log_path=tmp_path / "server.log").start()
        load = WriteLoad([server.port], threads=16, prefix=f"c{cycle}", acked=acked).start()
        target = acked.total() + 150
        wait_until(lambda t=target: acked.total() >= t, 120, "acknowledged writes")
        server.kill()  # SIGKILL while 16 writers are mid-request
        kills += 1
        load.join()
    final = ServerProcess(url, log_path=tmp_path / "server.log").start()
    try:
        missing = missing_writes(final.port, acked)
    finally:
        final.stop()
    assert missing == []
    assert inconsistencies(url) == []  # includes PRAGMA integrity_check
    report(
        "faults.txt",
        f"kill -9 (SQLite): {kills} kills under 16 writers, {acked.total()} acknowledged writes, "
        f"{len(missing)} lost, integrity_check ok",
    )


@pytest.mark.postgres
def test_kill_9_of_a_postgres_replica_loses_nothing_and_the_other_serves_on(tmp_path):
    reason = postgres_available()
    if reason is not None:
        if os.environ.get("SAGEMAKER_IMAGES_REQUIRE_POSTGRES") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    with fresh_postgres_database() as url:
        survivor = ServerProcess(url, log_path=tmp_path / "survivor.log").start()
        victim = ServerProcess(url, log_path=tmp_path / "victim.log").start()
        acked = Acked()
        kills = 0
        try:
            for cycle in range(2):
                load = WriteLoad(
                    [victim.port, survivor.port], threads=16, prefix=f"p{cycle}", acked=acked
                ).start()
                target = acked.total() + 200
                wait_until(lambda t=target: acked.total() >= t, 120, "acknowledged writes")
                victim.kill()
                kills += 1
                # The survivor keeps acknowledging writes while its peer is dead.
                during = acked.total()
                wait_until(lambda d=during: acked.total() >= d + 50, 60, "writes on the surviving replica")
                load.join()
                assert load.errors[survivor.port] == [], load.errors[survivor.port][:5]
                victim.start()
            missing = missing_writes(survivor.port, acked) + missing_writes(victim.port, acked)
        finally:
            victim.stop()
            survivor.stop()
        assert missing == []
        assert inconsistencies(url) == []
    report(
        "faults.txt",
        f"kill -9 (PostgreSQL replica): {kills} kills under 16 writers on 2 replicas, "
        f"{acked.total()} acknowledged writes, {len(missing)} lost, survivor errors 0",
    )


# -- SIGTERM -------------------------------------------------------------------------------------


def test_sigterm_drains_in_flight_requests_and_exits_cleanly(tmp_path):
    url = f"sqlite:///{tmp_path / 'state.db'}"
    server = ServerProcess(url, log_path=tmp_path / "server.log").start()
    account = new_account()
    assert (
        call(
            server.port,
            account,
            "CreateImage",
            {"ImageName": "drain", "RoleArn": f"arn:aws:iam::{account}:role/R"},
        )[0]
        == 200
    )
    # 32 requests caught mid-upload: headers and half the body sent, the server is waiting for the rest.
    in_flight = []
    for i in range(32):
        body = json.dumps(
            {"ImageName": "drain", "BaseImage": f"repo/drain:{i}", "ClientToken": f"drain{i}"}
        ).encode()
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=30)
        head = (
            f"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-amz-json-1.1\r\n"
            f"X-Amz-Target: SageMaker.CreateImageVersion\r\nAuthorization: {auth(account)}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode()
        sock.sendall(head + body[: len(body) // 2])
        in_flight.append((sock, body[len(body) // 2 :]))
    # Every request line and header read by the server (nothing left in the sockets' receive queues).
    wait_until(lambda: unread_connections(server.port) == (32, 0), 10, "the server to read 32 request heads")
    server.process.send_signal(signal.SIGTERM)
    # No new connections once draining has begun.
    wait_until(lambda: port_closed(server.port), 10, "the listening socket to close")
    statuses = []
    for sock, rest in in_flight:
        sock.sendall(rest)
        response = b""
        while b"\r\n\r\n" not in response or not response.rstrip().endswith(b"}"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            response += chunk
        sock.close()
        statuses.append(int(response.split(b" ", 2)[1]) if response.startswith(b"HTTP/1.1") else 0)
    assert statuses == [200] * 32
    # After draining, uvicorn re-raises the signal: the exit status says "ended by SIGTERM", as
    # process supervisors (systemd, Kubernetes) expect of a clean stop.
    assert server.process.wait(15) in (0, -signal.SIGTERM)
    log = (tmp_path / "server.log").read_text()
    assert "Application shutdown complete." in log
    assert "Traceback" not in log
    # Every drained write is durable.
    restarted = ServerProcess(url, log_path=tmp_path / "server.log").start()
    try:
        status, body = call(
            restarted.port, account, "ListImageVersions", {"ImageName": "drain", "MaxResults": 100}
        )
    finally:
        restarted.stop()
    assert status == 200
    assert len(body["ImageVersions"]) == 32
    report("faults.txt", "SIGTERM: 32 in-flight requests drained (32 x 200), clean shutdown")


def test_sigterm_exits_within_a_bound_even_if_a_client_never_finishes(tmp_path):
    server = ServerProcess(f"sqlite:///{tmp_path / 'state.db'}", log_path=tmp_path / "server.log").start()
    stuck = socket.create_connection(("127.0.0.1", server.port), timeout=30)
    stuck.sendall(
        b"POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: SageMaker.ListImages\r\nContent-Length: 100\r\n\r\n{"
    )
    wait_until(lambda: unread_connections(server.port) == (1, 0), 10, "the server to read the request head")
    server.process.send_signal(signal.SIGTERM)
    try:
        server.process.wait(20)  # uvicorn's graceful-shutdown timeout is 10 s
    finally:
        stuck.close()
    assert server.process.returncode is not None


# -- the database cut off ------------------------------------------------------------------------


class TcpProxy:
    """127.0.0.1:<port> -> PostgreSQL, which the test can cut (every connection dropped, new ones
    closed at once) and restore."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.open = True
        self.sockets: set[socket.socket] = set()
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.open:
                client.close()
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            except OSError:
                client.close()
                continue
            with self.lock:
                self.sockets |= {client, upstream}
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        for sock in (source, sink):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        self.open = False
        with self.lock:
            sockets, self.sockets = self.sockets, set()
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def restore(self) -> None:
        self.open = True

    def close(self) -> None:
        self.cut()
        self.listener.close()


@pytest.mark.postgres
def test_database_cut_off_answers_retryable_503_and_recovers_by_itself(tmp_path):
    reason = postgres_available()
    if reason is not None:
        if os.environ.get("SAGEMAKER_IMAGES_REQUIRE_POSTGRES") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    with fresh_postgres_database() as url:
        host_part, database = url.rsplit("/", 1)
        upstream_port = int(host_part.rsplit(":", 1)[1])
        proxy = TcpProxy(upstream_port)
        proxied = f"{host_part.rsplit(':', 1)[0]}:{proxy.port}/{database}"
        server = ServerProcess(proxied, log_path=tmp_path / "server.log").start()
        account = new_account()
        role = f"arn:aws:iam::{account}:role/R"
        try:
            assert (
                call(server.port, account, "CreateImage", {"ImageName": "before", "RoleArn": role})[0] == 200
            )
            cuts = 0
            for _ in range(2):
                proxy.cut()
                cuts += 1
                answers = [
                    call(server.port, account, "DescribeImage", {"ImageName": "before"}),
                    call(server.port, account, "CreateImage", {"ImageName": "during", "RoleArn": role}),
                    call(server.port, account, "ListImages", {}),
                ]
                for status, body in answers:
                    assert status == 503, body
                    assert body == {
                        "__type": "ServiceUnavailable",
                        "message": body["message"],
                        "Message": body["message"],
                    }
                assert server.request("GET", "/_health")[0] == 200  # the process itself is fine
                proxy.restore()
                # Recovery needs no restart: the pool replaces the dropped connections.
                wait_until(
                    lambda: call(server.port, account, "DescribeImage", {"ImageName": "before"})[0] == 200,
                    30,
                    "recovery",
                )
                for _ in range(20):
                    assert call(server.port, account, "ListImages", {})[0] == 200
            # An AWS SDK retries 503 ServiceUnavailable by itself: a call made during a short cut succeeds.
            client = boto3.client(
                "sagemaker",
                endpoint_url=server.endpoint,
                region_name="us-east-1",
                aws_access_key_id=account,
                aws_secret_access_key="x",
                config=Config(retries={"max_attempts": 10, "mode": "standard"}),
            )
            proxy.cut()
            cuts += 1
            restorer = threading.Timer(1.5, proxy.restore)
            restorer.start()
            created = client.create_image(ImageName="retried", RoleArn=role)
            restorer.join()
            assert created["ResponseMetadata"]["RetryAttempts"] >= 1
            assert client.describe_image(ImageName="retried")["ImageName"] == "retried"
            assert call(server.port, account, "DescribeImage", {"ImageName": "during"})[0] == 400
        finally:
            server.stop()
            proxy.close()
        assert inconsistencies(url) == []
    report(
        "faults.txt",
        f"database cut off: {cuts} cuts, 503 ServiceUnavailable during each, recovered without restart",
    )
