"""``serve --auth sigv4``: boto3 and the AWS CLI with the right keys work, everything else gets AWS's 403s."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path
from unittest import mock

import boto3
import orjson
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

from tests.calls import FAST_WAITER, error_of
from tests.servers import ServerProcess

ACCOUNT, OTHER_ACCOUNT = "111122223333", "444455556666"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/AllowedRole"
KEYS = {
    "AKIDADMIN": {"secret": "admin-secret", "account": ACCOUNT},
    "AKIDREADER": {
        "secret": "reader-secret",
        "account": ACCOUNT,
        "allow": ["sagemaker:Describe*", "sagemaker:List*"],
        "user": "reader",
    },
    "AKIDNOPASS": {
        "secret": "nopass-secret",
        "account": ACCOUNT,
        "allow": ["sagemaker:*", "cloudformation:*"],
    },
    "AKIDCCONLY": {"secret": "cc-secret", "account": ACCOUNT, "allow": ["cloudformation:*", "iam:PassRole"]},
    "AKIDSCOPED": {
        "secret": "scoped-secret",
        "account": ACCOUNT,
        "allow": ["*"],
        "pass_roles": [f"arn:aws:iam::{ACCOUNT}:role/Allowed*"],
    },
    "AKIDOTHER": {"secret": "other-secret", "account": OTHER_ACCOUNT},
}


@pytest.fixture(scope="module")
def auth_dir(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("auth")
    (path / "keys.json").write_text(json.dumps({"keys": KEYS}))
    return path


@pytest.fixture(scope="module")
def secured(auth_dir):
    process = ServerProcess(
        f"sqlite:///{auth_dir / 'state.db'}",
        "--auth",
        "sigv4",
        "--credentials",
        str(auth_dir / "keys.json"),
        log_path=auth_dir / "server.log",
    )
    with process:
        yield process


def client(
    server, key: str, service: str = "sagemaker", secret: str | None = None, region: str = "us-east-1"
):
    return boto3.client(
        service,
        endpoint_url=server.endpoint,
        region_name=region,
        aws_access_key_id=key,
        aws_secret_access_key=secret or KEYS.get(key, {}).get("secret", "whatever"),
        config=Config(retries={"max_attempts": 1, "mode": "standard"}),
    )


def signed_request(
    server,
    operation: str,
    body: dict,
    *,
    key: str = "AKIDADMIN",
    service: str = "sagemaker",
    prefix: str = "SageMaker",
    when: dt.datetime | None = None,
) -> tuple[dict[str, str], bytes]:
    """Headers and body as botocore signs them (optionally as of another time)."""
    data = orjson.dumps(body)
    request = AWSRequest(
        method="POST",
        url=server.endpoint + "/",
        data=data,
        headers={"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": f"{prefix}.{operation}"},
    )
    auth = SigV4Auth(Credentials(key, KEYS[key]["secret"]), service, "us-east-1")
    if when is None:
        auth.add_auth(request)
    else:
        with mock.patch("botocore.auth.get_current_datetime", lambda: when.replace(tzinfo=None)):
            auth.add_auth(request)
    return dict(request.headers.items()), data


def test_boto3_with_the_right_keys_just_works(secured):
    sm = client(secured, "AKIDADMIN", region="eu-west-1")
    arn = sm.create_image(ImageName="signed", RoleArn=ROLE.replace("us-east-1", "eu-west-1"))["ImageArn"]
    assert arn == f"arn:aws:sagemaker:eu-west-1:{ACCOUNT}:image/signed"
    assert sm.describe_image(ImageName="signed")["ImageStatus"] == "CREATED"
    sm.get_waiter("image_created").wait(ImageName="signed", WaiterConfig={"Delay": 1})
    assert [i["ImageName"] for i in sm.list_images()["Images"]] == ["signed"]
    sm.delete_image(ImageName="signed")


@pytest.mark.external
def test_the_aws_cli_with_the_right_keys_just_works(secured):
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "AKIDADMIN",
        "AWS_SECRET_ACCESS_KEY": "admin-secret",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_MAX_ATTEMPTS": "1",
    }

    def aws(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "awscli", "--endpoint-url", secured.endpoint, "--output", "json"]
        return subprocess.run([*command, *args], capture_output=True, text=True, env=env, timeout=120)

    created = aws("sagemaker", "create-image", "--image-name", "cli-signed", "--role-arn", ROLE)
    assert created.returncode == 0, created.stderr
    listed = aws("sagemaker", "list-images", "--name-contains", "cli-signed")
    assert [i["ImageName"] for i in json.loads(listed.stdout)["Images"]] == ["cli-signed"]
    env["AWS_SECRET_ACCESS_KEY"] = "wrong"
    denied = aws("sagemaker", "list-images")
    assert denied.returncode != 0
    assert "InvalidSignatureException" in denied.stderr


def test_wrong_secret_and_unknown_key(secured):
    assert error_of(
        status=True, failure=lambda: client(secured, "AKIDADMIN", secret="wrong").list_images()
    ) == (
        "InvalidSignatureException",
        "The request signature we calculated does not match the signature you provided. Check your AWS "
        "Secret Access Key and signing method. Consult the service documentation for details.",
        403,
    )
    assert error_of(status=True, failure=lambda: client(secured, "AKIDNOBODY").list_images()) == (
        "UnrecognizedClientException",
        "The security token included in the request is invalid.",
        403,
    )
    # A 12-digit key is no longer an account of its own: it is unknown like any other.
    assert (
        error_of(status=True, failure=lambda: client(secured, "123456789012").list_images())[0]
        == "UnrecognizedClientException"
    )


def test_unsigned_and_incomplete_requests(secured):
    headers = {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "SageMaker.ListImages"}
    status, body = secured.request("POST", "/", b"{}", headers)
    assert (status, body) == (
        403,
        {
            "__type": "MissingAuthenticationTokenException",
            "message": "Missing Authentication Token",
            "Message": "Missing Authentication Token",
        },
    )
    # Authentication comes first: a broken body from an unsigned caller reveals nothing about validation.
    status, body = secured.request(
        "POST", "/", b'{"ImageName": 5}', {**headers, "X-Amz-Target": "SageMaker.X"}
    )
    assert (status, body["__type"]) == (403, "MissingAuthenticationTokenException")
    # Refused before anything else, but still in the language of the API named: Cloud Control's is 1.0.
    status, body = secured.request(
        "POST", "/", b"{}", {**headers, "X-Amz-Target": "CloudApiService.ListResources"}
    )
    assert (status, body["__type"]) == (403, "MissingAuthenticationTokenException")
    assert secured.last_headers["content-type"] == "application/x-amz-json-1.0"
    for authorization in (
        "AWS4-HMAC-SHA256 Credential=AKIDADMIN/20261123/us-east-1/sagemaker/aws4_request",
        "Bearer token",
        "AWS4-HMAC-SHA256 Credential=AKIDADMIN, SignedHeaders=host, Signature=" + "0" * 64,
    ):
        status, body = secured.request("POST", "/", b"{}", {**headers, "Authorization": authorization})
        assert (status, body["__type"]) == (403, "IncompleteSignatureException"), authorization


def test_expired_tampered_and_misscoped_signatures(secured):
    old = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=20)
    headers, data = signed_request(secured, "ListImages", {}, when=old)
    status, body = secured.request("POST", "/", data, headers)
    assert status == 403
    assert body["__type"] == "InvalidSignatureException"
    assert body["message"].startswith(
        f"Signature expired: {old.strftime('%Y%m%dT%H%M%SZ')} is now earlier than"
    )

    fresh = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=10)
    headers, data = signed_request(secured, "ListImages", {"MaxResults": 5}, when=fresh)
    assert secured.request("POST", "/", data, headers)[0] == 200
    status, body = secured.request("POST", "/", b'{"MaxResults": 6}', headers)
    assert (status, body["__type"]) == (403, "InvalidSignatureException")
    status, body = secured.request("POST", "/", data, {**headers, "X-Amz-Target": "SageMaker.DeleteImage"})
    assert (status, body["__type"]) == (403, "InvalidSignatureException")

    # Signed for SageMaker, sent to Cloud Control.
    headers, data = signed_request(
        secured, "ListResources", {"TypeName": "AWS::SageMaker::Image"}, prefix="CloudApiService"
    )
    status, body = secured.request("POST", "/", data, headers)
    assert status == 403
    message = "Credential should be scoped to correct service: 'cloudcontrolapi'. "
    assert body == {"__type": "InvalidSignatureException", "message": message, "Message": message}


def test_allowed_actions_are_enforced(secured):
    client(secured, "AKIDADMIN").create_image(ImageName="readable", RoleArn=ROLE)
    reader = client(secured, "AKIDREADER")
    assert reader.describe_image(ImageName="readable")["ImageName"] == "readable"
    assert reader.list_images(NameContains="readable")["Images"]
    assert error_of(status=True, failure=lambda: reader.create_image(ImageName="nope", RoleArn=ROLE)) == (
        "AccessDeniedException",
        f"User: arn:aws:iam::{ACCOUNT}:user/reader is not authorized to perform: sagemaker:CreateImage "
        "because no identity-based policy allows the sagemaker:CreateImage action",
        403,
    )
    for call in (
        lambda: reader.delete_image(ImageName="readable"),
        lambda: reader.update_image(ImageName="readable", DisplayName="x"),
        lambda: reader.add_tags(
            ResourceArn=f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:image/readable",
            Tags=[{"Key": "k", "Value": "v"}],
        ),
    ):
        assert error_of(call, status=True)[0] == "AccessDeniedException"
    # Authorisation comes before validation, as in AWS.
    headers, data = signed_request(secured, "CreateImage", {"ImageName": "bad name!"}, key="AKIDREADER")
    status, body = secured.request("POST", "/", data, headers)
    assert (status, body["__type"]) == (403, "AccessDeniedException")
    assert client(secured, "AKIDADMIN").describe_image(ImageName="readable")["ImageName"] == "readable"


def test_pass_role_is_checked_against_the_role_passed(secured):
    no_pass = client(secured, "AKIDNOPASS")
    code, message, status = error_of(
        status=True, failure=lambda: no_pass.create_image(ImageName="needs-pass", RoleArn=ROLE)
    )
    assert (code, status) == ("AccessDeniedException", 403)
    assert f"iam:PassRole on resource: {ROLE}" in message
    admin = client(secured, "AKIDADMIN")
    foreign = f"arn:aws:iam::{OTHER_ACCOUNT}:role/Theirs"
    assert error_of(
        status=True, failure=lambda: admin.create_image(ImageName="foreign-role", RoleArn=foreign)
    )[0] == ("AccessDeniedException")
    scoped = client(secured, "AKIDSCOPED")
    scoped.create_image(ImageName="scoped-ok", RoleArn=ROLE)
    other_role = f"arn:aws:iam::{ACCOUNT}:role/NotAllowed"
    assert error_of(
        status=True, failure=lambda: scoped.update_image(ImageName="scoped-ok", RoleArn=other_role)
    )[0] == ("AccessDeniedException")
    scoped.update_image(ImageName="scoped-ok", DisplayName="no role passed")
    for name in ("needs-pass", "foreign-role"):
        assert (
            error_of(status=True, failure=lambda n=name: admin.describe_image(ImageName=n))[0]
            == "ResourceNotFound"
        )
    assert admin.describe_image(ImageName="scoped-ok")["RoleArn"] == ROLE


def test_cloud_control_needs_its_handler_permissions(secured):
    desired = json.dumps({"ImageName": "cc-signed", "ImageRoleArn": ROLE})
    cc_only = client(secured, "AKIDCCONLY", "cloudcontrol")
    code, message, status = error_of(
        status=True,
        failure=lambda: cc_only.create_resource(TypeName="AWS::SageMaker::Image", DesiredState=desired),
    )
    assert (code, status) == ("AccessDeniedException", 403)
    assert "sagemaker:CreateImage" in message
    reader = client(secured, "AKIDREADER", "cloudcontrol")
    assert (
        "cloudformation:ListResources"
        in error_of(status=True, failure=lambda: reader.list_resources(TypeName="AWS::SageMaker::Image"))[1]
    )
    no_pass = client(secured, "AKIDNOPASS", "cloudcontrol")
    assert (
        "iam:PassRole"
        in error_of(
            status=True,
            failure=lambda: no_pass.create_resource(TypeName="AWS::SageMaker::Image", DesiredState=desired),
        )[1]
    )
    admin = client(secured, "AKIDADMIN", "cloudcontrol")
    event = admin.create_resource(TypeName="AWS::SageMaker::Image", DesiredState=desired)["ProgressEvent"]
    admin.get_waiter("resource_request_success").wait(
        RequestToken=event["RequestToken"], WaiterConfig=FAST_WAITER
    )
    identifier = f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:image/cc-signed"
    assert admin.get_resource(TypeName="AWS::SageMaker::Image", Identifier=identifier)["ResourceDescription"]
    # iam:PassRole also guards a role set by a patch.
    scoped = client(secured, "AKIDSCOPED", "cloudcontrol")
    patch = json.dumps(
        [{"op": "replace", "path": "/ImageRoleArn", "value": f"arn:aws:iam::{ACCOUNT}:role/No"}]
    )
    assert (
        error_of(
            status=True,
            failure=lambda: scoped.update_resource(
                TypeName="AWS::SageMaker::Image", Identifier=identifier, PatchDocument=patch
            ),
        )[0]
        == "AccessDeniedException"
    )


def test_accounts_come_from_the_keys(secured):
    client(secured, "AKIDADMIN").create_image(ImageName="mine-only", RoleArn=ROLE)
    other = client(secured, "AKIDOTHER")
    assert (
        error_of(status=True, failure=lambda: other.describe_image(ImageName="mine-only"))[0]
        == "ResourceNotFound"
    )
    assert other.list_images(NameContains="mine-only")["Images"] == []
    # Another key of the same account sees the same images.
    assert client(secured, "AKIDREADER").describe_image(ImageName="mine-only")["ImageName"] == "mine-only"


def test_start_up_states_the_mode(secured, auth_dir, tmp_path):
    log = (auth_dir / "server.log").read_text()
    assert "authentication: AWS Signature Version 4, 6 access key(s)" in log
    with ServerProcess(f"sqlite:///{tmp_path / 'open.db'}", log_path=tmp_path / "open.log"):
        pass
    assert "authentication is off: any credentials are accepted (local testing mode)" in (
        (tmp_path / "open.log").read_text()
    )


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--auth", "sigv4"], "--auth sigv4 needs --credentials FILE"),
        (["--auth", "sigv4", "--credentials", "/nonexistent/keys.toml"], "cannot read the credentials file"),
    ],
)
def test_misconfigured_auth_refuses_to_start(tmp_path, flags, message):
    command = [sys.executable, "-m", "sagemaker_images", "serve", "--db", f"sqlite:///{tmp_path / 's.db'}"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("SAGEMAKER_IMAGES_")}
    result = subprocess.run([*command, *flags], capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 2
    assert message in result.stderr
