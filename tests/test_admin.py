"""``serve --admin``: state, clock and faults of a server process over HTTP, and who may use them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from sagemaker_images.testing.server import SageMakerImagesServer
from tests.servers import ServerProcess

ROLE = "arn:aws:iam::000000000000:role/R"
NO_RETRIES = Config(retries={"total_max_attempts": 1})


@pytest.fixture(scope="module")
def admin_server(tmp_path_factory: pytest.TempPathFactory):
    with SageMakerImagesServer(tmp_path_factory.mktemp("admin"), {"transition_delay": 60}) as server:
        yield server


def test_off_unless_asked_for(tmp_path: Path) -> None:
    with ServerProcess(f"sqlite:///{tmp_path / 'state.db'}") as plain:
        for method, path in (("POST", "/_admin/reset"), ("GET", "/_admin/export"), ("GET", "/_admin/clock")):
            status, body = plain.request(method, path)
            assert status == 404
            assert body["__type"] == "UnknownOperationException"


def test_reset_clock_faults_export_load(admin_server: SageMakerImagesServer) -> None:
    admin_server.reset()
    sm = admin_server.client("sagemaker", config=NO_RETRIES)
    sm.create_image(ImageName="slow", RoleArn=ROLE)
    assert sm.describe_image(ImageName="slow")["ImageStatus"] == "CREATING"
    admin_server.advance(60)
    assert sm.describe_image(ImageName="slow")["ImageStatus"] == "CREATED"

    admin_server.fail_next("DescribeImage", "ServiceUnavailable", message="down for a moment")
    with pytest.raises(ClientError) as caught:
        sm.describe_image(ImageName="slow")
    assert caught.value.response["Error"] == {"Code": "ServiceUnavailable", "Message": "down for a moment"}
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
    assert sm.describe_image(ImageName="slow")["ImageName"] == "slow"

    admin_server.fail_next_versions(reason="pull failed", image_name="slow")
    sm.create_image_version(ImageName="slow", BaseImage="python:3", ClientToken="a")
    admin_server.advance(60)
    version = sm.describe_image_version(ImageName="slow")
    assert (version["ImageVersionStatus"], version["FailureReason"]) == ("CREATE_FAILED", "pull failed")

    snapshot = admin_server.export()
    assert json.loads(snapshot.splitlines()[0])["format"] == "sagemaker-images-state"
    admin_server.reset()
    assert sm.list_images()["Images"] == []
    admin_server.load(snapshot)
    assert [i["ImageName"] for i in sm.list_images()["Images"]] == ["slow"]
    # reset also brought the clock back: the loaded image's transitions were settled already.
    status, _, clock = admin_server.http("GET", "/_admin/clock")
    assert status == 200 and json.loads(clock)["offset"] == 0


def test_a_load_that_fails_halfway_changes_nothing(admin_server: SageMakerImagesServer) -> None:
    admin_server.reset()
    sm = admin_server.client("sagemaker", config=NO_RETRIES)
    sm.create_image(ImageName="replacement", RoleArn=ROLE)
    snapshot = admin_server.export()
    admin_server.reset()
    sm.create_image(ImageName="current", RoleArn=ROLE, Tags=[{"Key": "k", "Value": "v"}])
    before = admin_server.export()
    lines = snapshot.splitlines(keepends=True)
    for broken in (
        "".join(lines[:-1]) + lines[-1][: len(lines[-1]) // 2],  # cut off within its last row
        snapshot + lines[-1],  # its last row twice
    ):
        status, _, answer = admin_server.http("POST", "/_admin/load", broken.encode())
        assert (status, json.loads(answer)["__type"]) == (400, "ValidationException")
        assert admin_server.export() == before
    admin_server.load(snapshot)
    assert [i["ImageName"] for i in sm.list_images()["Images"]] == ["replacement"]


@pytest.mark.parametrize(
    ("method", "name", "body", "code"),
    [
        ("POST", "clock", {"advance": -5}, "ValidationException"),
        ("POST", "clock", {"advance": "soon"}, "ValidationException"),
        ("POST", "fail-next", {"error_code": "ThrottlingException"}, "ValidationException"),
        (
            "POST",
            "fail-next",
            {"operation": "DescribeImage", "error_code": "X", "count": 0},
            "ValidationException",
        ),
        ("POST", "fail-next-versions", {"count": "two"}, "ValidationException"),
        ("POST", "fail-next", [1, 2], "ValidationException"),
        ("POST", "load", "not an export", "ValidationException"),
        ("GET", "reset", None, "UnknownOperationException"),
        ("POST", "nothing-here", {}, "UnknownOperationException"),
    ],
)
def test_bad_admin_requests_get_errors_not_500s(
    admin_server: SageMakerImagesServer, method: str, name: str, body: object, code: str
) -> None:
    raw = body.encode() if isinstance(body, str) else (b"" if body is None else json.dumps(body).encode())
    status, _, answer = admin_server.http(method, f"/_admin/{name}", raw)
    assert json.loads(answer)["__type"] == code
    assert status == (404 if code == "UnknownOperationException" else 400)


KEYS = {
    "AKIDADMIN": {"secret": "admin-secret", "account": "111122223333", "allow": ["sagemaker-images:Admin"]},
    "AKIDWILD": {"secret": "wild-secret", "account": "111122223333", "allow": ["*"]},
    "AKIDALL": {"secret": "all-secret", "account": "111122223333"},
}


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory):
    state = tmp_path_factory.mktemp("secured-admin")
    (state / "keys.json").write_text(json.dumps({"keys": KEYS}))
    options = {"auth": "sigv4", "credentials": str(state / "keys.json")}
    with SageMakerImagesServer(state, options) as server:
        yield server


def test_sigv4_mode_needs_a_key_allowed_to_administer(secured: SageMakerImagesServer) -> None:
    status, _, body = secured.http("POST", "/_admin/reset", b"")
    assert (status, json.loads(body)["__type"]) == (403, "MissingAuthenticationTokenException")
    for key in ("AKIDWILD", "AKIDALL"):
        secured.admin_key = (key, KEYS[key]["secret"])
        with pytest.raises(RuntimeError, match=r"403.*AccessDeniedException"):
            secured.reset()
    secured.admin_key = ("AKIDADMIN", "wrong-secret")
    with pytest.raises(RuntimeError, match=r"403.*InvalidSignatureException"):
        secured.reset()
    secured.admin_key = ("AKIDADMIN", "admin-secret")
    secured.reset()
    secured.advance(1)
    # The AWS API is no way in: an AWS-API key cannot reach the admin API through it either.
    sm = secured.client(
        "sagemaker", aws_access_key_id="AKIDALL", aws_secret_access_key="all-secret", config=NO_RETRIES
    )
    assert sm.list_images()["Images"] == []
