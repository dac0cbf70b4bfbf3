"""Hostile and careless input, one test per class of it, on both backends and (where signing matters)
with ``--auth sigv4``: every answer is an AWS-shaped 4xx (JSON ``__type`` + ``message``), never a 5xx.

The mutation fuzzer (test_mutation_fuzz.py) throws the same classes at every member of every
operation; these tests pin the exact answer of each class.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from tests.conftest import new_account
from tests.servers import POSTGRES_URL, ServerProcess, fresh_postgres_database

SAGEMAKER = ("SageMaker", "application/x-amz-json-1.1", "sagemaker")
CLOUDCONTROL = ("CloudApiService", "application/x-amz-json-1.0", "cloudcontrolapi")
KEY, SECRET, KEY_ACCOUNT = "AKIDHOSTILE", "hostile-secret", "123412341234"


def call(server, api, operation: str, body, account: str, extra: dict[str, str] | None = None):
    prefix, content_type, signing = api
    headers = {
        "Content-Type": content_type,
        "X-Amz-Target": f"{prefix}.{operation}",
        "Authorization": f"AWS4-HMAC-SHA256 Credential={account}/20261123/us-east-1/{signing}/aws4_request, "
        "SignedHeaders=host, Signature=" + "0" * 64,
        **(extra or {}),
    }
    raw = body if isinstance(body, bytes) else orjson.dumps(body)
    return server.request("POST", "/", raw, headers)


def assert_aws_error(server, status: int, body: dict, code: str, expected_status: int = 400) -> None:
    assert (status, body.get("__type")) == (expected_status, code), body
    assert set(body) == {"__type", "message", "Message"}
    assert server.last_headers["content-type"].startswith("application/x-amz-json-1.")
    assert "Traceback" not in body["message"]


# -- numbers a Java Integer cannot hold ---------------------------------------------------------------

INTEGER_OVERFLOWS = [2**31, -(2**31) - 1, 2**63 - 1, 2**63, 2**64 - 1]


@pytest.mark.parametrize("number", INTEGER_OVERFLOWS)
@pytest.mark.parametrize(
    "operation",
    ["DescribeImageVersion", "DeleteImageVersion", "UpdateImageVersion", "ListAliases"],
)
def test_integers_out_of_range_are_serialization_errors(server, operation, number):
    account = new_account()
    status, body = call(server, SAGEMAKER, operation, {"ImageName": "img", "Version": number}, account)
    assert_aws_error(server, status, body, "SerializationException")
    assert body["message"].endswith("can not be converted to an Integer")


@pytest.mark.parametrize("operation", ["ListImages", "ListImageVersions", "ListAliases", "ListTags"])
def test_max_results_beyond_an_integer(server, operation):
    body = {
        "MaxResults": 2**63 - 1,
        "ImageName": "img",
        "ResourceArn": "arn:aws:sagemaker:us-east-1:1:image/x",
    }
    status, answer = call(server, SAGEMAKER, operation, body, new_account())
    assert_aws_error(server, status, answer, "SerializationException")


def test_integers_at_the_edge_still_validate_normally(server):
    status, body = call(
        server, SAGEMAKER, "DescribeImageVersion", {"ImageName": "i", "Version": 2**31 - 1}, "1"
    )
    assert_aws_error(server, status, body, "ResourceNotFound")


@pytest.mark.parametrize("number", ["2147483648", "9223372036854775808", "1" + "0" * 400, "007"])
def test_version_arns_ending_in_impossible_numbers_name_nothing(server, sagemaker, account, role_arn, number):
    sagemaker.create_image(ImageName="arn-edge", RoleArn=role_arn)
    arn = f"arn:aws:sagemaker:us-east-1:{account}:image-version/arn-edge/{number}"
    for operation, body in (
        ("ListTags", {"ResourceArn": arn}),
        ("AddTags", {"ResourceArn": arn, "Tags": [{"Key": "k", "Value": "v"}]}),
    ):
        status, answer = call(server, SAGEMAKER, operation, body, account)
        if len(arn) > 256:  # the model's own length limit answers first
            assert_aws_error(server, status, answer, "ValidationException")
            continue
        assert_aws_error(server, status, answer, "ValidationException")
        assert answer["message"] == f"Resource {arn} does not exist."
    for operation, body in (
        ("GetResource", {"TypeName": "AWS::SageMaker::ImageVersion", "Identifier": arn}),
        (
            "UpdateResource",
            {"TypeName": "AWS::SageMaker::ImageVersion", "Identifier": arn, "PatchDocument": "[]"},
        ),
    ):
        status, answer = call(server, CLOUDCONTROL, operation, body, account)
        assert_aws_error(server, status, answer, "ResourceNotFoundException")


# -- NUL characters ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("operation", "body", "member"),
    [
        ("CreateImage", {"ImageName": "nul", "RoleArn": "ROLE", "Description": "a\x00b"}, "description"),
        ("CreateImage", {"ImageName": "nul", "RoleArn": "ROLE", "DisplayName": "a\x00b"}, "displayName"),
        ("CreateImage", {"ImageName": "n\x00l", "RoleArn": "ROLE"}, "imageName"),
        ("DescribeImage", {"ImageName": "\x00"}, "imageName"),
        (
            "CreateImageVersion",
            {"ImageName": "nul", "BaseImage": "repo/x:\x00", "ClientToken": "t"},
            "baseImage",
        ),
        ("ListImages", {"NextToken": "\x00"}, "nextToken"),
    ],
)
def test_nul_characters_are_refused_alike_on_every_backend(
    server, role_arn, account, operation, body, member
):
    body = {k: (role_arn if v == "ROLE" else v) for k, v in body.items()}
    status, answer = call(server, SAGEMAKER, operation, body, account)
    assert_aws_error(server, status, answer, "ValidationException")
    assert (
        f"at '{member}' failed to satisfy constraint: Member must not contain the null character"
        in (answer["message"])
    )
    status, answer = call(server, SAGEMAKER, "ListImages", {}, account)
    assert status == 200 and answer["Images"] == []


# -- JSON nested deeply inside string members ----------------------------------------------------------

DEEP = "[" * 5000 + "]" * 5000
DEEP_OBJECT = '{"a":' * 3000 + "1" + "}" * 3000


@pytest.mark.parametrize(
    ("operation", "body"),
    [
        ("CreateResource", {"TypeName": "AWS::SageMaker::Image", "DesiredState": DEEP_OBJECT}),
        (
            "CreateResource",
            {"TypeName": "AWS::SageMaker::Image", "DesiredState": '{"ImageName":' + DEEP + "}"},
        ),
        (
            "UpdateResource",
            {"TypeName": "AWS::SageMaker::Image", "Identifier": "x", "PatchDocument": DEEP},
        ),
        (
            "UpdateResource",
            {
                "TypeName": "AWS::SageMaker::Image",
                "Identifier": "x",
                "PatchDocument": '[{"op":"add","path":"/ImageDescription","value":' + DEEP + "}]",
            },
        ),
        ("ListResources", {"TypeName": "AWS::SageMaker::Image", "ResourceModel": DEEP_OBJECT}),
        ("GetResource", {"TypeName": "AWS::SageMaker::Image", "Identifier": DEEP_OBJECT}),
        ("DeleteResource", {"TypeName": "AWS::SageMaker::Image", "Identifier": DEEP_OBJECT}),
    ],
)
def test_deep_json_inside_string_members(server, account, operation, body):
    status, answer = call(server, CLOUDCONTROL, operation, body, account)
    assert 400 <= status < 500, answer
    assert set(answer) == {"__type", "message", "Message"}


def test_deep_request_bodies(server, account):
    # Deeper than the parser's bound (1,024 levels): not JSON this server reads.
    raw = b'{"ImageName":' + b"[" * 5000 + b"]" * 5000 + b"}"
    status, answer = call(server, SAGEMAKER, "DescribeImage", raw, account)
    assert_aws_error(server, status, answer, "SerializationException")
    # Within it, in a member the model does not know: ignored, as AWS ignores unknown members.
    raw = b'{"ImageName":"absent","x":' + b"[" * 1000 + b"]" * 1000 + b"}"
    status, answer = call(server, SAGEMAKER, "DescribeImage", raw, account)
    assert_aws_error(server, status, answer, "ResourceNotFound")
    # Within it, in a modelled member: the member's type decides.
    raw = b'{"ImageName":"absent","Tags":' + b"[" * 1000 + b"]" * 1000 + b"}"
    status, answer = call(server, SAGEMAKER, "CreateImage", raw, account)
    assert_aws_error(server, status, answer, "SerializationException")


# -- lone surrogates echoed in messages ----------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        {
            "TypeName": "AWS::SageMaker::Image",
            "Identifier": "x",
            "PatchDocument": '[{"op":"test","path":"/ImageDescription","value":"\\ud800"}]',
        },
        {
            "TypeName": "AWS::SageMaker::Image",
            "Identifier": "x",
            "PatchDocument": '[{"op":"remove","path":"/\\udfff"}]',
        },
    ],
)
def test_lone_surrogates_in_patches(server, account, body):
    status, answer = call(server, CLOUDCONTROL, "UpdateResource", body, account)
    assert_aws_error(server, status, answer, "InvalidRequestException")


def test_lone_surrogates_in_resource_models(server, account):
    for model in ('{"ImageName":"\\ud800"}', '{"\\udfff":1}'):
        body = {"TypeName": "AWS::SageMaker::ImageVersion", "ResourceModel": model}
        status, answer = call(server, CLOUDCONTROL, "ListResources", body, account)
        assert_aws_error(server, status, answer, "InvalidRequestException")
        body = {"TypeName": "AWS::SageMaker::Image", "DesiredState": model}
        status, answer = call(server, CLOUDCONTROL, "CreateResource", body, account)
        assert_aws_error(server, status, answer, "InvalidRequestException")


def test_lone_surrogates_in_the_body_itself(server, account):
    for raw in (b'{"ImageName":"\\ud800"}', b'{"ImageName":"\xed\xa0\x80"}'):
        status, answer = call(server, SAGEMAKER, "DescribeImage", raw, account)
        assert_aws_error(server, status, answer, "SerializationException")


# -- WebSocket upgrades --------------------------------------------------------------------------------


def test_health_with_a_websocket_upgrade_is_plain_http(server):
    status, body = server.request(
        "GET",
        "/_health",
        headers={
            "Upgrade": "websocket",
            "Connection": "Upgrade",
            "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
            "Sec-WebSocket-Version": "13",
        },
    )
    assert status == 200 and body["status"] == "ok"
    # An API call with an upgrade is answered as itself, its body read (the name reaches the domain).
    upgrade = {"Upgrade": "websocket", "Connection": "Upgrade"}
    for _ in range(20):
        status, body = call(
            server, SAGEMAKER, "DescribeImage", {"ImageName": "absent"}, new_account(), upgrade
        )
        assert_aws_error(server, status, body, "ResourceNotFound")


# -- signatures: dates, header lists, header counts -------------------------------------------------


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def secured(request, tmp_path_factory) -> Iterator[ServerProcess]:
    path = tmp_path_factory.mktemp("hostile-auth")
    keys = path / "keys.json"
    keys.write_text(json.dumps({"keys": {KEY: {"secret": SECRET, "account": KEY_ACCOUNT}}}))
    args = ("--auth", "sigv4", "--credentials", str(keys))
    with contextlib.ExitStack() as stack:
        if request.param == "postgres":
            from tests.servers import postgres_available

            if postgres_available() is not None:
                pytest.skip("PostgreSQL is not reachable")
            url = stack.enter_context(fresh_postgres_database())
        else:
            url = f"sqlite:///{path / 'state.db'}"
        yield stack.enter_context(ServerProcess(url, *args, log_path=path / "server.log"))


def signed_headers(server, body: bytes, extra: dict[str, str]) -> dict[str, str]:
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    request = AWSRequest(
        method="POST",
        url=server.endpoint + "/",
        data=body,
        headers={"Content-Type": SAGEMAKER[1], "X-Amz-Target": "SageMaker.ListImages", **extra},
    )
    SigV4Auth(Credentials(KEY, SECRET), "sagemaker", "us-east-1").add_auth(request)
    return dict(request.headers.items())


def test_signed_requests_still_work(secured):
    headers = signed_headers(secured, b"{}", {})
    assert secured.request("POST", "/", b"{}", headers)[0] == 200


@pytest.mark.parametrize(
    "date",
    ["Fri, 31 Dec 9999 23:59:59 -2359", "Mon, 01 Jan 0001 00:00:00 +2359", "Fri, 31 Dec 9999 23:59:59 GMT"],
)
def test_dates_at_the_ends_of_the_calendar(secured, date):
    headers = {
        "Content-Type": SAGEMAKER[1],
        "X-Amz-Target": "SageMaker.ListImages",
        "Date": date,
        "Authorization": f"AWS4-HMAC-SHA256 Credential={KEY}/99991231/us-east-1/sagemaker/aws4_request, "
        "SignedHeaders=date;host, Signature=" + "0" * 64,
    }
    status, body = secured.request("POST", "/", b"{}", headers)
    assert_aws_error(secured, status, body, "InvalidSignatureException", 403)


def test_signed_headers_named_twice_are_refused(secured):
    headers = signed_headers(secured, b"{}", {"X-Pad": "v" * 1000})
    signed = "content-type;host;" + ";".join(["x-pad"] * 9000) + ";x-amz-date;x-amz-target"
    authorization = headers["Authorization"]
    start = authorization.index("SignedHeaders=") + len("SignedHeaders=")
    end = authorization.index(",", start)
    headers["Authorization"] = authorization[:start] + signed + authorization[end:]
    status, body = secured.request("POST", "/", b"{}", headers)
    assert_aws_error(secured, status, body, "IncompleteSignatureException", 403)


def test_too_many_headers_are_refused_before_any_work(secured):
    headers = "".join(f"x-h{i}: v\r\n" for i in range(6000))
    with socket.create_connection(("127.0.0.1", secured.port), timeout=30) as sock:
        sock.sendall(
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n" + headers.encode()[:60000] + b"\r\n{}"
        )
        answer = sock.recv(65536)
    assert answer.startswith(b"HTTP/1.1 431 "), answer[:100]
    assert secured.request("GET", "/_health")[0] == 200


def test_hundred_headers_are_fine(secured):
    extra = {f"X-Extra-{i}": "v" for i in range(80)}
    headers = signed_headers(secured, b"{}", extra)
    assert secured.request("POST", "/", b"{}", headers)[0] == 200


# -- start-up failures ----------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("mysql://localhost/db", "unsupported database URL"),
        ("postgresql://postgres@127.0.0.1:PORT/postgres", "Connection refused"),
        (POSTGRES_URL.rsplit("/", 1)[0] + "/no_such_database_here", "does not exist"),
        ("sqlite:///file:DIR/ro.db?mode=ro&uri=true", "readonly database"),
        ("sqlite:////proc/no-such-dir/state.db", "No such file or directory"),
    ],
)
def test_start_up_failures_say_why_in_one_line(tmp_path: Path, url, reason):
    if "no_such_database" in url:
        from tests.servers import postgres_available

        if postgres_available() is not None:
            pytest.skip("PostgreSQL is not reachable")
    (tmp_path / "ro.db").touch()
    url = url.replace("PORT", str(_free_port())).replace("DIR", str(tmp_path))
    result = subprocess.run(
        [sys.executable, "-m", "sagemaker_images", "serve", "--port", str(_free_port()), "--db", url],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )
    assert result.returncode != 0
    output = (result.stdout + result.stderr).strip().splitlines()
    assert len(output) == 1 and reason in output[0] and "cannot start" in output[0], output
    assert "Traceback" not in result.stderr


def test_a_read_only_database_with_its_schema_refuses_to_start(tmp_path: Path):
    from sagemaker_images.store import open_database

    open_database(f"sqlite:///{tmp_path / 'state.db'}").dispose()  # schema in place, then read-only
    url = f"sqlite:///file:{tmp_path / 'state.db'}?mode=ro&uri=true"
    result = subprocess.run(
        [sys.executable, "-m", "sagemaker_images", "serve", "--port", str(_free_port()), "--db", url],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )
    output = (result.stdout + result.stderr).strip().splitlines()
    assert result.returncode == 2
    assert next(line for line in output if "cannot start" in line).endswith(
        "attempt to write a readonly database"
    )
    assert "Traceback" not in result.stderr and len(output) <= 2, output


def test_health_is_answered_while_a_large_signed_request_is_checked(secured):
    """Authentication runs off the event loop: a large body does not hold up other connections."""
    body = b'{"NameContains":"' + b"a" * (6 * 1024 * 1024 // 2) + b'"}'
    conn = http.client.HTTPConnection("127.0.0.1", secured.port, timeout=60)
    headers = signed_headers(secured, body, {})
    conn.request("POST", "/", body=body, headers=headers)
    assert secured.request("GET", "/_health")[0] == 200
    response = conn.getresponse()
    response.read()
    assert response.status in (400, 413)
    conn.close()
