"""``serve --upstream URL``: what is not implemented here is forwarded unchanged, streaming, never hanging."""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import json
import os
import socket
import socketserver
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from moto.server import ThreadedMotoServer

from sagemaker_images.config import Settings
from sagemaker_images.server import Application
from sagemaker_images.testing.server import SageMakerImagesServer, free_port
from sagemaker_images.upstream import MAX_CONNECTIONS
from tests.servers import ServerProcess

NO_RETRIES = Config(retries={"total_max_attempts": 1})


class FakeUpstream(socketserver.ThreadingTCPServer):
    """A raw HTTP/1.1 server that records what reached it; some paths misbehave on purpose."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 2 * MAX_CONNECTIONS  # the pool test opens every connection at once

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.seen: list[dict] = []
        self.release = threading.Event()  # lets /slow-answer finish
        self.first_part = threading.Event()  # /slow-upload has its first chunk
        self.uploading = threading.Semaphore(0)  # released once per upload whose first chunk arrived
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        line = self.rfile.readline().decode("latin-1").rstrip("\r\n")
        if not line:
            return
        method, target, _ = line.split(" ", 2)
        headers: list[tuple[str, str]] = []
        while (raw := self.rfile.readline().decode("latin-1").rstrip("\r\n")) != "":
            name, _, value = raw.partition(":")
            headers.append((name, value.strip()))
        lookup = {k.lower(): v for k, v in headers}
        server: FakeUpstream = self.server  # type: ignore[assignment]
        path = target.split("?", 1)[0]
        if lookup.get("transfer-encoding", "").lower() == "chunked":
            body = self._chunked(server if path == "/slow-upload" else None)
        else:
            body = self.rfile.read(int(lookup.get("content-length", "0")))
        server.seen.append({"method": method, "target": target, "headers": headers, "body": body})
        if path == "/hang":
            time.sleep(30)
            return
        if path == "/die-mid-body":
            self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + b"x" * 10)
            self.wfile.flush()
            return
        if path == "/slow-answer":
            self.wfile.write(
                b"HTTP/1.1 200 OK\r\nConnection: close\r\nTransfer-Encoding: chunked\r\nX-Up: slow\r\n\r\n"
            )
            self.wfile.write(b"5\r\nfirst\r\n")
            self.wfile.flush()
            server.release.wait(30)
            self.wfile.write(b"4\r\nlast\r\n0\r\n\r\n")
            self.wfile.flush()
            return
        answer = json.dumps({"got": len(body)}).encode()
        self.wfile.write(
            # It serves one request per connection, and says so: a client that kept the connection
            # for another request would race the close (a 502 the upstream never saw).
            b"HTTP/1.1 418 I'm a teapot\r\nConnection: close\r\nContent-Type: application/json\r\nX-Up: yes\r\n"
            + f"Content-Length: {len(answer)}\r\n\r\n".encode()
            + answer
        )
        self.wfile.flush()

    def _chunked(self, server: FakeUpstream | None) -> bytes:
        parts = []
        while True:
            size = int(self.rfile.readline().split(b";")[0].strip(), 16)
            if size == 0:
                self.rfile.readline()
                return b"".join(parts)
            parts.append(self.rfile.read(size))
            self.rfile.readline()
            if server is not None and len(parts) == 1:
                server.first_part.set()
                server.uploading.release()


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeUpstream]:
    server = FakeUpstream()
    yield server
    server.release.set()
    server.shutdown()


@pytest.fixture(scope="module")
def proxy(upstream: FakeUpstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    state = tmp_path_factory.mktemp("upstream")
    with ServerProcess(
        f"sqlite:///{state / 'state.db'}", "--upstream", upstream.url, "--request-timeout", "3"
    ) as process:
        yield process


def _raw(port: int, method: str, target: str, body: bytes = b"", headers: dict | None = None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    try:
        conn.request(method, target, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


def test_other_requests_are_forwarded_unchanged(proxy: ServerProcess, upstream: FakeUpstream) -> None:
    body = b"<CreateBucketConfiguration/>" + uuid.uuid4().hex.encode()
    headers = {
        "X-Custom": "kept",
        "Authorization": "AWS4-HMAC-SHA256 Credential=a/b/c/s3/aws4_request",
        "Host": "my-host:1",
    }
    status, answer_headers, answer = _raw(
        proxy.port, "PUT", "/bucket/key%2Fwith?uploads&x=a%20b", body, headers
    )
    assert status == 418
    assert answer_headers["x-up"] == "yes"
    assert json.loads(answer) == {"got": len(body)}
    seen = upstream.seen[-1]
    assert (seen["method"], seen["target"], seen["body"]) == (
        "PUT",
        "/bucket/key%2Fwith?uploads&x=a%20b",
        body,
    )
    sent = {k.lower(): v for k, v in seen["headers"]}
    assert sent["x-custom"] == "kept"
    assert sent["host"] == "my-host:1"
    assert sent["authorization"] == headers["Authorization"]


def _json_call(proxy: ServerProcess, target: str, params: dict) -> tuple[int, dict]:
    headers = {"X-Amz-Target": target, "Content-Type": "application/x-amz-json-1.1"}
    status, _, body = _raw(proxy.port, "POST", "/", json.dumps(params).encode(), headers)
    return status, json.loads(body) if body else {}


def test_what_is_implemented_is_answered_here_and_the_rest_forwarded(
    proxy: ServerProcess, upstream: FakeUpstream
) -> None:
    cases = [
        ("SageMaker.DescribeImage", {"ImageName": "nope"}, "here"),
        ("SageMaker.CreateModel", {"ModelName": "m"}, "upstream"),
        ("SageMaker.NoSuchThing", {}, "upstream"),
        ("CloudApiService.CreateResource", {"TypeName": "AWS::S3::Bucket", "DesiredState": "{}"}, "upstream"),
        ("CloudApiService.ListResources", {"TypeName": "AWS::SageMaker::Image"}, "here"),
        ("CloudApiService.GetResourceRequestStatus", {"RequestToken": str(uuid.uuid4())}, "upstream"),
        ("CloudApiService.ListResourceRequests", {}, "here"),
        ("DynamoDB_20120810.ListTables", {}, "upstream"),
    ]
    for target, params, where in cases:
        before = len(upstream.seen)
        status, _ = _json_call(proxy, target, params)
        forwarded = len(upstream.seen) > before
        assert forwarded == (where == "upstream"), target
        assert (status == 418) == forwarded, target
    # A request token issued here is answered here.
    status, created = _json_call(
        proxy,
        "CloudApiService.CreateResource",
        {
            "TypeName": "AWS::SageMaker::Image",
            "DesiredState": json.dumps(
                {"ImageName": "fwd", "ImageRoleArn": "arn:aws:iam::000000000000:role/R"}
            ),
        },
    )
    assert status == 200
    before = len(upstream.seen)
    token = created["ProgressEvent"]["RequestToken"]
    status, _ = _json_call(proxy, "CloudApiService.GetResourceRequestStatus", {"RequestToken": token})
    assert status == 200 and len(upstream.seen) == before
    # STS: GetCallerIdentity is answered here, any other action forwarded.
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    status, _, body = _raw(proxy.port, "POST", "/", b"Action=GetCallerIdentity&Version=2011-06-15", form)
    assert status == 200 and b"GetCallerIdentityResult" in body
    status, _, _ = _raw(proxy.port, "POST", "/", b"Action=AssumeRole&Version=2011-06-15", form)
    assert status == 418
    # The server's own paths stay its own.
    assert _raw(proxy.port, "GET", "/_health")[0] == 200


def test_without_upstream_todays_answers_stay(server: ServerProcess) -> None:
    status, body = server.request(
        "POST", "/", json.dumps({"ModelName": "m"}).encode(), {"X-Amz-Target": "SageMaker.CreateModel"}
    )
    assert (status, body["__type"]) == (400, "UnsupportedOperation")


def test_answers_stream_through(proxy: ServerProcess, upstream: FakeUpstream) -> None:
    upstream.release.clear()
    conn = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=20)
    conn.request("GET", "/slow-answer")
    response = conn.getresponse()
    assert response.status == 200 and response.getheader("X-Up") == "slow"
    assert response.read1(5) == b"first"  # before the upstream has sent the rest
    upstream.release.set()
    assert response.read() == b"last"
    conn.close()


def test_request_bodies_stream_through(proxy: ServerProcess, upstream: FakeUpstream) -> None:
    upstream.first_part.clear()
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=20) as sock:
        sock.sendall(
            b"POST /slow-upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n"
        )
        assert upstream.first_part.wait(10), "the first part was held back until the body ended"
        sock.sendall(b"6\r\n world\r\n0\r\n\r\n")
        answer = sock.recv(65536)
    assert answer.startswith(b"HTTP/1.1 418")
    assert upstream.seen[-1]["body"] == b"hello world"


def test_an_unreachable_upstream_is_a_502_in_the_callers_protocol(tmp_path) -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    with ServerProcess(f"sqlite:///{tmp_path / 's.db'}", "--upstream", closed) as proxy:
        status, headers, body = _raw(
            proxy.port, "POST", "/", b"{}", {"X-Amz-Target": "SageMaker.CreateModel"}
        )
        assert status == 502 and json.loads(body)["__type"] == "BadGateway"
        assert headers["x-amzn-errortype"] == "BadGateway"
        status, _, body = _raw(
            proxy.port,
            "GET",
            "/bucket",
            headers={"Authorization": "AWS4-HMAC-SHA256 Credential=a/20260101/us-east-1/s3/aws4_request"},
        )
        assert status == 502 and body.startswith(b"<?xml") and b"<Error><Code>BadGateway</Code>" in body
        status, _, body = _raw(
            proxy.port,
            "POST",
            "/",
            b"Action=ListUsers",
            {"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert status == 502 and b"<ErrorResponse><Error><Type>Receiver</Type><Code>BadGateway</Code>" in body
        # AWS SDKs retry it, and report it with its code.
        s3 = proxy.client("s3", config=Config(retries={"total_max_attempts": 2}))
        with pytest.raises(ClientError) as caught:
            s3.list_buckets()
        assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 502
        assert caught.value.response["ResponseMetadata"]["RetryAttempts"] == 1
        # Its own operations do not depend on the upstream.
        sm = proxy.client("sagemaker", config=NO_RETRIES)
        assert sm.list_images()["Images"] == []


def test_a_silent_upstream_is_a_504_and_nothing_hangs(proxy: ServerProcess) -> None:
    started = time.monotonic()
    status, _, body = _raw(proxy.port, "GET", "/hang")
    assert status == 504
    assert b"GatewayTimeout" in body
    assert time.monotonic() - started < 15  # --request-timeout 3


def test_an_answer_broken_off_ends_the_connection(proxy: ServerProcess) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=20)
    conn.request("GET", "/die-mid-body")
    response = conn.getresponse()
    assert response.status == 200
    with pytest.raises(http.client.IncompleteRead):
        response.read()
    conn.close()


@pytest.fixture(scope="module")
def moto_server() -> Iterator[str]:
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


def test_one_endpoint_in_front_of_a_moto_server(moto_server: str, tmp_path) -> None:
    with SageMakerImagesServer(tmp_path, {"upstream": moto_server}) as here:
        s3, iam, sm = here.client("s3"), here.client("iam"), here.client("sagemaker")
        s3.create_bucket(Bucket="image-artifacts")
        payload = bytes(range(256)) * 40_000  # 10 MB, streamed both ways
        s3.put_object(Bucket="image-artifacts", Key="layer.tar", Body=payload)
        assert s3.get_object(Bucket="image-artifacts", Key="layer.tar")["Body"].read() == payload
        role = iam.create_role(RoleName="images", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        sm.create_image(ImageName="fronted", RoleArn=role)
        assert sm.describe_image(ImageName="fronted")["RoleArn"] == role
        sm.create_model_package_group(ModelPackageGroupName="models")
        assert (
            sm.list_model_package_groups()["ModelPackageGroupSummaryList"][0]["ModelPackageGroupName"]
            == "models"
        )
        assert here.client("sts").get_caller_identity()["Account"] == "000000000000"


def _start_upload(port: int) -> socket.socket:
    """A chunked upload to /slow-upload through the proxy, its first chunk sent, the body still open."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=20)
    sock.sendall(b"POST /slow-upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n")
    return sock


def test_all_connections_busy_is_a_503_and_nothing_hangs(
    proxy: ServerProcess, upstream: FakeUpstream
) -> None:
    """With every pooled connection to the upstream held by a forward in progress, one more request
    waits for a connection at most --request-timeout (3 s here), then gets 503 ServiceUnavailable as
    AWS writes it; the forwards in progress are unharmed and the pool serves again once they end."""
    while upstream.uploading.acquire(blocking=False):
        pass
    holders = [_start_upload(proxy.port) for _ in range(MAX_CONNECTIONS)]
    stop = threading.Event()

    def trickle() -> None:
        # Each holder's body goes on arriving, a part a second, so no forward ends on its timeout.
        while not stop.wait(1):
            for sock in holders:
                sock.sendall(b"1\r\nb\r\n")

    trickler = threading.Thread(target=trickle, daemon=True)
    try:
        for _ in holders:
            assert upstream.uploading.acquire(timeout=30), "not every upload reached the upstream"
        trickler.start()
        s3_style = {"Authorization": "AWS4-HMAC-SHA256 Credential=a/20260101/us-east-1/s3/aws4_request"}
        requests = {
            "json": ("POST", "/", b"{}", {"X-Amz-Target": "SageMaker.CreateModel"}),
            "s3": ("GET", "/bucket", b"", s3_style),
        }
        answers: dict[str, tuple] = {}
        started = time.monotonic()
        waiting = [
            threading.Thread(target=lambda k=k, r=r: answers.__setitem__(k, _raw(proxy.port, *r)))
            for k, r in requests.items()
        ]
        for thread in waiting:
            thread.start()
        for thread in waiting:
            thread.join()
        assert time.monotonic() - started < 15  # the pool wait, bounded by --request-timeout 3
        status, headers, body = answers["json"]
        assert status == 503
        assert json.loads(body)["__type"] == "ServiceUnavailable"
        assert headers["x-amzn-errortype"] == "ServiceUnavailable"
        assert headers["x-amzn-requestid"]
        status, _, body = answers["s3"]  # refused in S3's XML
        assert status == 503 and b"<Error><Code>ServiceUnavailable</Code>" in body
    finally:
        stop.set()
        if trickler.is_alive():
            trickler.join()
        for sock in holders:
            with contextlib.suppress(OSError):
                sock.sendall(b"0\r\n\r\n")
    for sock in holders:
        with sock:
            assert sock.recv(65536).startswith(b"HTTP/1.1 418")
    status, _, _ = _raw(proxy.port, "GET", "/after-the-crowd")
    assert status == 418


def test_the_upstream_client_is_closed_at_shutdown(upstream: FakeUpstream, tmp_path: Path) -> None:
    """The server's lifespan shutdown closes its connections to the upstream (they belong to the
    event loop that is about to end)."""
    app = Application(Settings(db=f"sqlite:///{tmp_path / 'state.db'}", upstream=upstream.url))
    assert app.upstream is not None

    async def life() -> None:
        lifespan: asyncio.Queue[dict] = asyncio.Queue()
        answers: asyncio.Queue[dict] = asyncio.Queue()
        running = asyncio.create_task(app({"type": "lifespan"}, lifespan.get, answers.put))
        await lifespan.put({"type": "lifespan.startup"})
        assert (await answers.get())["type"] == "lifespan.startup.complete"
        sent: list[dict] = []

        async def receive() -> dict:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict) -> None:
            sent.append(message)

        scope = {
            "type": "http",
            "method": "GET",
            "path": "/forwarded",
            "raw_path": b"/forwarded",
            "query_string": b"",
            "headers": [(b"host", b"here")],
        }
        await app(scope, receive, send)
        assert sent[0]["status"] == 418
        assert not app.upstream.closed
        await lifespan.put({"type": "lifespan.shutdown"})
        assert (await answers.get())["type"] == "lifespan.shutdown.complete"
        await running

    asyncio.run(life())
    assert app.upstream.closed


@pytest.fixture(scope="module")
def verifying_moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, str]]:
    """A moto server, in a process of its own, that verifies SigV4 signatures against its IAM users'
    keys after its first three calls (which make a user, give it every permission and make its key).
    Yields its URL and the user's key id and secret."""
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    port = free_port()
    env = {**os.environ, "INITIAL_NO_AUTH_ACTION_COUNT": "3"}
    with open(log, "ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, log.read_text()
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                break
            assert time.monotonic() < deadline, "moto's server did not start"
            time.sleep(0.05)
        url = f"http://127.0.0.1:{port}"
        iam = boto3.client(
            "iam", endpoint_url=url, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
        )
        iam.create_user(UserName="caller")
        everything = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
        }
        iam.put_user_policy(UserName="caller", PolicyName="all", PolicyDocument=json.dumps(everything))
        key = iam.create_access_key(UserName="caller")["AccessKey"]
        yield url, key["AccessKeyId"], key["SecretAccessKey"]
    finally:
        process.terminate()
        process.wait(15)


def test_sigv4_mode_forwards_signatures_intact_and_checks_its_own(
    verifying_moto: tuple[str, str, str], tmp_path: Path
) -> None:
    """``serve --auth sigv4 --upstream URL``: a forwarded request reaches the upstream exactly as
    signed, so an upstream that verifies signatures accepts a good one and refuses a bad one; the
    operations answered here are verified here, against this server's own credentials file."""
    url, key_id, secret = verifying_moto
    (tmp_path / "keys.json").write_text(
        json.dumps({"keys": {key_id: {"secret": secret, "account": "123456789012"}}})
    )
    options = {"upstream": url, "auth": "sigv4", "credentials": str(tmp_path / "keys.json")}
    with SageMakerImagesServer(tmp_path, options) as here:
        good = {"aws_access_key_id": key_id, "aws_secret_access_key": secret, "config": NO_RETRIES}
        bad = {**good, "aws_secret_access_key": "not-" + secret}
        # Forwarded and verified by moto: S3 (REST, signed Host and payload hash), IAM (query protocol).
        s3 = here.client("s3", **good)
        s3.create_bucket(Bucket="signed-through")
        s3.put_object(Bucket="signed-through", Key="k", Body=b"payload")
        assert s3.get_object(Bucket="signed-through", Key="k")["Body"].read() == b"payload"
        assert here.client("iam", **good).get_user()["User"]["UserName"] == "caller"
        for service, call in (("s3", "list_buckets"), ("iam", "list_users")):
            with pytest.raises(ClientError) as refused:
                getattr(here.client(service, **bad), call)()
            # moto's own refusal (this server says InvalidSignatureException): it saw the bad signature.
            assert refused.value.response["Error"]["Code"] == "SignatureDoesNotMatch", service
            assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
        # Answered here, and verified here.
        sm = here.client("sagemaker", **good)
        sm.create_image(ImageName="signed", RoleArn="arn:aws:iam::123456789012:role/R")
        assert sm.describe_image(ImageName="signed")["ImageArn"].startswith(
            "arn:aws:sagemaker:us-east-1:123456789012:"
        )
        assert here.client("sts", **good).get_caller_identity()["Account"] == "123456789012"
        with pytest.raises(ClientError) as refused:
            here.client("sagemaker", **bad).list_images()
        assert refused.value.response["Error"]["Code"] == "InvalidSignatureException"
        status, _, body = _raw(
            here.port,
            "POST",
            "/",
            b"{}",
            {"X-Amz-Target": "SageMaker.ListImages", "Content-Type": "application/x-amz-json-1.1"},
        )
        assert status == 403 and json.loads(body)["__type"] == "MissingAuthenticationTokenException"
