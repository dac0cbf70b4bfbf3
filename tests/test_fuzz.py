"""Property-based fuzzing (hypothesis) from the botocore shapes of every operation, valid and invalid,
plus garbage bodies, content types, targets and headers, then a store consistency check.

Properties, for every input: never a 5xx; an error is always ``{"__type", "message", "Message"}`` with no
traceback or internal detail; a 200 conforms to the operation's output shape. After the run the
store is consistent (tests/store_checks.py), every list call still answers, and the server's log
holds no traceback. The default run tries 15 examples per operation; the long run (``-m long``) tries
SAGEMAKER_IMAGES_FUZZ_EXAMPLES (default 100).
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import socket
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sagemaker_images.cloudcontrol.service import OPERATIONS as CLOUDCONTROL_OPERATIONS
from sagemaker_images.services import SAGEMAKER_OPERATIONS
from sagemaker_images.shapes.model import load_service
from tests.model_variants import BY_OPERATION, REALISTIC, fill, output_problems
from tests.servers import ServerProcess
from tests.store_checks import inconsistencies

EXAMPLES = int(os.environ.get("SAGEMAKER_IMAGES_FUZZ_EXAMPLES", "100"))
QUICK_EXAMPLES = 15
ACCOUNT = "555555555555"
TARGETS = {"sagemaker": "SageMaker", "cloudcontrol": "CloudApiService"}
CONTENT_TYPES = {"sagemaker": "application/x-amz-json-1.1", "cloudcontrol": "application/x-amz-json-1.0"}
LEAKS = ("Traceback", 'File "', "sqlalchemy", "psycopg", "sqlite3", "/src/", "NoneType", "KeyError")
FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    database=None,
    derandomize=os.environ.get("SAGEMAKER_IMAGES_FUZZ_SEED") is None,
)

tried = {"inputs": 0}


def authorization(account: str = ACCOUNT, service: str = "sagemaker") -> str:
    signing = "sagemaker" if service == "sagemaker" else "cloudcontrolapi"
    return (
        f"AWS4-HMAC-SHA256 Credential={account}/20261123/us-east-1/{signing}/aws4_request, "
        "SignedHeaders=host, Signature=" + "0" * 64
    )


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory):
    """A server of its own (SQLite, so the store can be inspected afterwards) with realistic state."""
    path = tmp_path_factory.mktemp("fuzz")
    process = ServerProcess(f"sqlite:///{path / 'state.db'}", log_path=path / "server.log").start()
    context = {"account": ACCOUNT, "token": "0" * 36}
    send(
        process,
        "sagemaker",
        "CreateImage",
        fill({"ImageName": "conformance-image", "RoleArn": REALISTIC[("sagemaker", "RoleArn")]}, context),
    )
    send(
        process,
        "sagemaker",
        "CreateImageVersion",
        {
            "ImageName": "conformance-image",
            "BaseImage": "repo/base:1",
            "ClientToken": "setup",
            "Aliases": ["stable"],
        },
    )
    send(process, "sagemaker", "CreateAppImageConfig", {"AppImageConfigName": "conformance-config"})
    status, body = send(
        process,
        "cloudcontrol",
        "CreateResource",
        fill(
            {"TypeName": "AWS::SageMaker::Image", "DesiredState": REALISTIC[("cloudcontrol", "Properties")]},
            context,
        ),
    )
    assert status == 200
    context["token"] = body["ProgressEvent"]["RequestToken"]
    yield process, context, path
    process.stop()


def send(server, service: str, operation: str, body: Any, headers: dict[str, str] | None = None):
    raw = body if isinstance(body, bytes) else encode(body)
    base = {
        "Content-Type": CONTENT_TYPES[service],
        "X-Amz-Target": f"{TARGETS[service]}.{operation}",
        "Authorization": authorization(service=service),
    }
    tried["inputs"] += 1
    return server.request("POST", "/", raw, {**base, **(headers or {})})


def encode(value: Any) -> bytes:
    """JSON as any client might send it: big integers, lone surrogates (invalid UTF-8) and all."""
    return json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass")


def assert_proper(status: int, body: Any, output_shape=None) -> None:
    assert status < 500, (status, body)
    if status == 200 and output_shape is not None:
        assert output_problems(output_shape, body) == []
        return
    if status != 200:
        assert isinstance(body, dict) and set(body) == {"__type", "message", "Message"}, body
        assert isinstance(body["__type"], str) and body["__type"]
        assert not any(leak in body["message"] for leak in LEAKS), body


# -- strategies from botocore shapes ---------------------------------------------------------------

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)


def strategy(service: str, operation: str, shape, context: dict[str, str], depth: int = 0):
    """Values for ``shape``: realistic, boundary, enum, random, and (sometimes) the wrong JSON type."""
    kind = shape.type_name
    realistic = BY_OPERATION.get((operation, shape.name), REALISTIC.get((service, shape.name)))
    options = []
    if realistic is not None:
        options.append(st.just(fill(realistic, context)))
    if kind == "string":
        low, high = shape.metadata.get("min", 0), shape.metadata.get("max", 300)
        options.append(st.text(max_size=min(high, 300) + 2))
        if high <= 2048:
            options.append(st.text(alphabet="abcXYZ019-._/: ", min_size=max(high - 1, 0), max_size=high + 1))
        options.append(st.text(alphabet="abc012", min_size=max(low - 1, 0), max_size=low + 1))
        if shape.enum:
            options += [st.sampled_from(shape.enum)] * 3
    elif kind in ("integer", "long"):
        low, high = shape.metadata.get("min", -(2**31)), shape.metadata.get("max", 2**31 - 1)
        options += [
            st.integers(low - 2, min(high, low + 200) + 2),
            st.integers(high - 2, high + 2),
            st.integers(),
        ]
    elif kind == "boolean":
        options.append(st.booleans())
    elif kind == "timestamp":
        options += [st.integers(0, 2**33), st.floats(0, 2**33), st.datetimes().map(lambda d: d.isoformat())]
    elif kind == "list":
        high = shape.metadata.get("max", 6)
        member = strategy(service, operation, shape.member, context, depth + 1)
        options.append(st.lists(member, max_size=min(high + 1, 8)))
        if high > 8:
            options.append(st.lists(member, min_size=high - 1, max_size=high + 1))
    elif kind == "map":
        options.append(
            st.dictionaries(
                # A JSON object's keys are strings: the key shape's own values only (depth 0 mixes in
                # no other JSON types, which could not be keys).
                strategy(service, operation, shape.key, context),
                strategy(service, operation, shape.value, context, depth + 1),
                max_size=4,
            )
        )
    elif kind == "structure":
        members = {n: strategy(service, operation, m, context, depth + 1) for n, m in shape.members.items()}
        required = {n: members[n] for n in shape.required_members}
        optional = {n: s for n, s in members.items() if n not in required}
        options += [
            st.fixed_dictionaries(required, optional=optional),
            st.fixed_dictionaries(required, optional=optional),
            st.fixed_dictionaries({}, optional=members),
        ]
    typed = st.one_of(options)
    return st.one_of(typed, typed, typed, JSON_VALUES) if depth > 0 else typed


CASES = [("sagemaker", op) for op in SAGEMAKER_OPERATIONS] + [
    ("cloudcontrol", op) for op in CLOUDCONTROL_OPERATIONS
]


def fuzz_operation(server, context, service: str, operation: str, examples: int) -> None:
    model = load_service(service).operation_model(operation)
    requests = strategy(service, operation, model.input_shape, context)
    extras = st.dictionaries(st.text(max_size=12), JSON_VALUES, max_size=2)

    @settings(FUZZ_SETTINGS, max_examples=examples)
    @given(request=requests, extra=extras)
    def run(request: dict[str, Any], extra: dict[str, Any]) -> None:
        body = {**extra, **request}
        status, answer = send(server, service, operation, body)
        assert_proper(status, answer, model.output_shape)

    run()


def fuzz_raw(server, examples: int) -> None:
    services = st.sampled_from(sorted(TARGETS))
    # Header values stay valid HTTP (printable ASCII); broken HTTP itself is test_malformed_http's.
    printable = st.characters(min_codepoint=32, max_codepoint=126)
    operations = st.sampled_from([op for _, op in CASES]) | st.text(alphabet=printable, max_size=30)
    bodies = (
        st.binary(max_size=300)
        | JSON_VALUES.map(encode)
        | st.dictionaries(st.text(max_size=12), JSON_VALUES, max_size=6).map(encode)
    )
    content_types = st.sampled_from(
        [
            "application/x-amz-json-1.1",
            "application/x-amz-json-1.0",
            "application/json",
            "text/plain",
            "",
            "*/*",
            "application/x-amz-json-1.1; charset=utf-8",
            "multipart/form-data; boundary=x",
        ]
    )
    header_text = st.text(alphabet=printable, max_size=60)

    @settings(FUZZ_SETTINGS, max_examples=examples)
    @given(
        service=services, operation=operations, body=bodies, content_type=content_types, target=header_text
    )
    def run(service: str, operation: str, body: bytes, content_type: str, target: str) -> None:
        headers = {"Content-Type": content_type}
        if target:
            headers["X-Amz-Target"] = target if "." not in target else f"{TARGETS[service]}.{operation}"
        status, answer = send(server, service, operation, body, headers)
        assert_proper(status, answer)

    run()

    @settings(FUZZ_SETTINGS, max_examples=examples)
    @given(authorization=header_text, target=header_text, body=bodies)
    def garbage_headers(authorization: str, target: str, body: bytes) -> None:
        tried["inputs"] += 1
        status, answer = server.request(
            "POST", "/", body, {"Authorization": authorization, "X-Amz-Target": target}
        )
        assert_proper(status, answer)

    garbage_headers()


@pytest.mark.parametrize(
    "examples",
    [pytest.param(QUICK_EXAMPLES, id="quick"), pytest.param(EXAMPLES, id="thorough", marks=pytest.mark.long)],
)
def test_fuzz_every_operation_then_the_store_is_consistent(fuzzed, examples):
    server, context, path = fuzzed
    for service, operation in CASES:
        fuzz_operation(server, context, service, operation, examples)
    fuzz_raw(server, examples)

    # The server still answers every list call, for the fuzzed account.
    status, _ = server.request("GET", "/_health")
    assert status == 200
    status, images = send(server, "sagemaker", "ListImages", {"MaxResults": 100})
    assert status == 200
    for image in images["Images"]:
        for operation in ("ListImageVersions", "ListAliases"):
            status, body = send(server, "sagemaker", operation, {"ImageName": image["ImageName"]})
            assert_proper(status, body)
            assert status in (200, 400)
        status, body = send(server, "sagemaker", "ListTags", {"ResourceArn": image["ImageArn"]})
        assert status == 200, body
    status, configs = send(server, "sagemaker", "ListAppImageConfigs", {"MaxResults": 100})
    assert status == 200, configs
    for config in configs["AppImageConfigs"]:
        status, body = send(server, "sagemaker", "ListTags", {"ResourceArn": config["AppImageConfigArn"]})
        assert status == 200, body
    bodies = [{"TypeName": "AWS::SageMaker::Image"}] + [
        {
            "TypeName": "AWS::SageMaker::ImageVersion",
            "ResourceModel": json.dumps({"ImageName": i["ImageName"]}),
        }
        for i in images["Images"]
    ]
    for body in bodies:
        status, answer = send(server, "cloudcontrol", "ListResources", body)
        assert status == 200, answer
    status, answer = send(server, "cloudcontrol", "ListResourceRequests", {})
    assert status == 200, answer
    server.stop()
    assert inconsistencies(server.db_url) == []
    log = Path(path / "server.log").read_text()
    assert "Traceback" not in log
    report_dir = os.environ.get("SAGEMAKER_IMAGES_REPORT_DIR")
    if report_dir:
        with open(Path(report_dir) / "fuzz.txt", "a") as report:
            report.write(f"fuzz: {tried['inputs']} inputs, {len(CASES)} operations, 0 5xx\n")
    print(f"fuzz: {tried['inputs']} inputs tried")


# -- hostile HTTP ------------------------------------------------------------------------------------


def raw_exchange(server, data: bytes, *, read: bool = True) -> bytes:
    """Send ``data`` in 8 KiB pieces, stopping early if the server answers (and closes) first."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        chunks: list[bytes] = []
        try:
            for start in range(0, len(data), 8192):
                sock.sendall(data[start : start + 8192])
                readable, _, _ = select.select([sock], [], [], 0)
                if readable:
                    break
            if not read:
                return b""
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_WR)
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        except ConnectionResetError:
            pass  # the server refused and closed while we were still sending
        return b"".join(chunks)


def status_of(response: bytes) -> int:
    return int(response.split(b" ", 2)[1]) if response.startswith(b"HTTP/1.1 ") else 0


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    path = tmp_path_factory.mktemp("hostile")
    with ServerProcess(f"sqlite:///{path / 'state.db'}", "--max-body-bytes", "65536") as process:
        yield process


def test_body_limit(hostile):
    headers = {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "SageMaker.ListImages"}
    body = b'{"NameContains": "' + b"a" * 70000 + b'"}'
    status, answer = hostile.request("POST", "/", body, headers)
    assert status == 413
    assert answer["__type"] == "RequestEntityTooLargeException"
    # A declared length over the limit is refused before the body is read.
    response = raw_exchange(
        hostile,
        b"POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: SageMaker.ListImages\r\nContent-Length: 999999999\r\n\r\n{",
    )
    assert status_of(response) == 413
    status, _ = hostile.request("POST", "/", b"{}", headers)
    assert status == 200


@pytest.mark.parametrize(
    ("name", "body"),
    [
        ("deeply nested array", b"[" * 100_000 + b"]" * 100_000),
        ("deeply nested object", b'{"a":' * 50_000 + b"1" + b"}" * 50_000),
        ("deeply nested member", b'{"ImageName": ' + b"[" * 5000 + b"]" * 5000 + b"}"),
        ("invalid UTF-8 in a string", b'{"ImageName": "\xff\xfe\xfd"}'),
        ("lone surrogate escape", b'{"ImageName": "\\ud800"}'),
        ("NUL bytes", b'{"ImageName": "a\x00b"}'),
        ("huge number", b'{"MaxResults": 1' + b"0" * 5000 + b"}"),
        ("float for integer", b'{"MaxResults": 1e400}'),
        ("duplicate keys", b'{"ImageName": "a", "ImageName": 5}'),
        ("trailing garbage", b'{"ImageName": "a"} {}'),
        ("BOM", b'\xef\xbb\xbf{"ImageName": "a"}'),
        ("60 000 members", orjson.dumps({f"k{i}": i for i in range(60_000)})),
    ],
)
def test_broken_bodies_get_aws_errors(hostile, name, body):
    headers = {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "SageMaker.DescribeImage"}
    status, answer = hostile.request("POST", "/", body, headers)
    assert 400 <= status < 500, (name, status, answer)
    assert set(answer) == {"__type", "message", "Message"}
    assert answer["__type"] in (
        "SerializationException",
        "ValidationException",
        "ResourceNotFound",
        "RequestEntityTooLargeException",
    ), (name, answer)


@pytest.mark.parametrize(
    "target",
    [
        None,
        "",
        "SageMaker",
        "SageMaker.",
        ".DescribeImage",
        "Nope.DescribeImage",
        "SageMaker.Nope",
        "SageMaker.CreateTrainingJob",
        "CloudApiService.Nope",
        "x" * 10000,
        "SageMaker.DescribeImage.extra",
        "\t",
    ],
)
def test_missing_and_garbage_targets(hostile, target):
    headers = {"Content-Type": "application/x-amz-json-1.1"}
    if target is not None:
        headers["X-Amz-Target"] = target
    status, answer = hostile.request("POST", "/", b"{}", headers)
    assert 400 <= status < 500, (target, status, answer)
    assert set(answer) == {"__type", "message", "Message"}


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"GARBAGE\r\n\r\n",
        b"POST / HTTP/9.9\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"POST / HTTP/1.1\r\nHost: x\r\nBad Header Name: v\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: SageMaker.ListImages\r\n"
        + b"X-Big: "
        + b"a" * 200_000
        + b"\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-H%d: v\r\n" % i for i in range(5000)) + b"\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 100,  # a TLS ClientHello
        b"GET /_health HTTP/1.1\r\nHost: x\r\n\r\n" * 3,  # pipelined
        b"DELETE / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
        b"POST /../../etc/passwd HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}",
    ],
)
def test_malformed_http_never_5xx_and_the_server_lives_on(hostile, request_bytes):
    response = raw_exchange(hostile, request_bytes)
    status = status_of(response)
    assert status == 0 or status < 500, response[:300]
    assert b"Traceback" not in response
    assert hostile.request("GET", "/_health")[0] == 200


def test_clients_that_vanish_mid_request(hostile):
    for partial in (
        b'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"Ima',
        b"POST / HTTP/1.1\r\nHost: x\r\nX-Amz-",
        b'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n{"a"',
    ):
        raw_exchange(hostile, partial, read=False)
    assert hostile.request("GET", "/_health")[0] == 200
    status, _ = hostile.request(
        "POST",
        "/",
        b"{}",
        {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "SageMaker.ListImages"},
    )
    assert status == 200


@pytest.fixture(scope="module")
def impatient(tmp_path_factory):
    path = tmp_path_factory.mktemp("impatient")
    with ServerProcess(f"sqlite:///{path / 'state.db'}", "--request-timeout", "0.5") as process:
        yield process


def read_all(sock: socket.socket) -> bytes:
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def test_request_heads_are_limited_in_size(impatient):
    response = raw_exchange(
        impatient, b"POST / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (70 * 1024) + b"\r\n\r\n{}"
    )
    assert status_of(response) == 431
    # Many small headers add up the same way.
    many = b"".join(b"X-H%d: %s\r\n" % (i, b"v" * 60) for i in range(2000))
    assert status_of(raw_exchange(impatient, b"POST / HTTP/1.1\r\nHost: x\r\n" + many + b"\r\n")) == 431
    assert impatient.request("GET", "/_health")[0] == 200


def test_slow_and_idle_clients_are_disconnected(impatient):
    # Opens a connection and says nothing: closed.
    with socket.create_connection(("127.0.0.1", impatient.port), timeout=15) as idle:
        assert read_all(idle) == b""
    # Trickles its headers: 408.
    with socket.create_connection(("127.0.0.1", impatient.port), timeout=15) as slow:
        slow.sendall(b"POST / HTTP/1.1\r\nHost: x\r\n")
        assert status_of(read_all(slow)) == 408
    # Sends headers, then too little of its body: an AWS error, 408.
    with socket.create_connection(("127.0.0.1", impatient.port), timeout=15) as slow_body:
        slow_body.sendall(
            b"POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: SageMaker.ListImages\r\n"
            b"Content-Type: application/x-amz-json-1.1\r\nContent-Length: 50\r\n\r\n{"
        )
        response = read_all(slow_body)
    assert status_of(response) == 408
    assert orjson.loads(response.split(b"\r\n\r\n", 1)[1])["__type"] == "RequestTimeoutException"
    # The server gave up waiting: it says so and closes at once (RFC 9110), not at the keep-alive timeout.
    assert b"\r\nconnection: close\r\n" in response.split(b"\r\n\r\n", 1)[0].lower() + b"\r\n"
    # A keep-alive client that takes its time between requests is fine up to the keep-alive timeout.
    status, _ = impatient.request(
        "POST",
        "/",
        b"{}",
        {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "SageMaker.ListImages"},
    )
    assert status == 200
