"""``serve --upstream URL``: what is not implemented here is forwarded unchanged, streaming, never hanging."""

from __future__ import annotations

import http.client
import json
import socket
import socketserver
import threading
import time
import uuid
from collections.abc import Iterator

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from moto.server import ThreadedMotoServer

from sagemaker_images.testing.server import SageMakerImagesServer, free_port
from tests.servers import ServerProcess

NO_RETRIES = Config(retries={"total_max_attempts": 1})


class FakeUpstream(socketserver.ThreadingTCPServer):
    """A raw HTTP/1.1 server that records what reached it; some paths misbehave on purpose."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.seen: list[dict] = []
        self.release = threading.Event()  # lets /slow-answer finish
        self.first_part = threading.Event()  # /slow-upload has its first chunk
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
            if server is not None:
                server.first_part.set()


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
        client = SageMakerImagesServer.__new__(SageMakerImagesServer)
        client.port = proxy.port
        s3 = client.client("s3", config=Config(retries={"total_max_attempts": 2}))
        with pytest.raises(ClientError) as caught:
            s3.list_buckets()
        assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 502
        assert caught.value.response["ResponseMetadata"]["RetryAttempts"] == 1
        # Its own operations do not depend on the upstream.
        sm = client.client("sagemaker", config=NO_RETRIES)
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
