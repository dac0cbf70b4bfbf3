"""SigV4 verification against signatures botocore makes, credentials files, and permission checks."""

from __future__ import annotations

import datetime as dt
import json
from unittest import mock
from urllib.parse import urlsplit

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from sagemaker_images.access import Need, pass_role
from sagemaker_images.cloudcontrol.schema import ResourceSchema, schema_for
from sagemaker_images.cloudcontrol.service import CloudControl
from sagemaker_images.images import permissions as sagemaker_permissions
from sagemaker_images.protocol import authorization, sigv4
from sagemaker_images.protocol.authentication import SigV4Authenticator
from sagemaker_images.protocol.credentials import CredentialsError, Principal, load_credentials
from sagemaker_images.shapes import load_api

KEY, SECRET, ACCOUNT = "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "111122223333"
NOW = dt.datetime(2026, 11, 23, 12, 0, 0, tzinfo=dt.UTC)


def signed(
    body: bytes = b"{}",
    *,
    url: str = "http://localhost:8750/",
    secret: str = SECRET,
    key: str = KEY,
    service: str = "sagemaker",
    region: str = "us-east-1",
    when: dt.datetime = NOW,
    extra: dict[str, str] | None = None,
) -> sigv4.SignedRequest:
    """A request signed by botocore, as the server would receive it."""
    headers = {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "SageMaker.ListImages"}
    headers.update(extra or {})
    request = AWSRequest(method="POST", url=url, data=body, headers=headers)
    auth = SigV4Auth(Credentials(key, secret), service, region)
    # botocore signs with the time it reads here: sign as of ``when``.
    with mock.patch("botocore.auth.get_current_datetime", lambda: when.replace(tzinfo=None)):
        auth.add_auth(request)
    prepared = request.prepare()
    parts = urlsplit(prepared.url)
    host = parts.netloc
    pairs = [("host", host)] + [(k.lower(), v) for k, v in prepared.headers.items()]
    return sigv4.SignedRequest(
        "POST", parts.path.encode() or b"/", parts.query.encode(), pairs, prepared.body or b""
    )


def authenticator(**principal) -> SigV4Authenticator:
    p = Principal(access_key=KEY, secret=SECRET, account=ACCOUNT, **principal)
    return SigV4Authenticator({KEY: p}, now=lambda: NOW)


def error_of(call) -> tuple[str, str]:
    with pytest.raises(Exception) as info:
        call()
    return info.value.code, info.value.message


def test_botocore_signatures_verify():
    caller = authenticator().authenticate(signed(b'{"MaxResults": 5}'))
    assert caller.tenant.account == ACCOUNT
    assert caller.tenant.region == "us-east-1"


@pytest.mark.parametrize(
    "url",
    [
        "http://localhost:8750/",
        "http://127.0.0.1:9999/?b=2&a=1&a=0",
        "http://h/?x=a%20b&empty=&k=%2F~",
        "http://h/some/../path//x/",
    ],
)
def test_paths_and_query_strings_canonicalise_like_botocore(url):
    authenticator().authenticate(signed(url=url))


def test_regions_and_headers_with_spaces():
    caller = authenticator().authenticate(signed(region="eu-central-2", extra={"X-Custom": "  a   b  c "}))
    assert caller.tenant.region == "eu-central-2"


def test_tampered_body_header_and_wrong_secret_are_invalid_signatures():
    request = signed(b'{"MaxResults": 5}')
    tampered = sigv4.SignedRequest(
        request.method, request.raw_path, request.query_string, request.headers, b'{"MaxResults": 6}'
    )
    assert error_of(lambda: authenticator().authenticate(tampered)) == (
        "InvalidSignatureException",
        sigv4.SIGNATURE_MISMATCH,
    )
    headers = [(k, "SageMaker.DeleteImage" if k == "x-amz-target" else v) for k, v in request.headers]
    retargeted = sigv4.SignedRequest(request.method, request.raw_path, b"", headers, request.body)
    assert error_of(lambda: authenticator().authenticate(retargeted))[0] == "InvalidSignatureException"
    wrong = signed(secret="not-the-secret")
    assert error_of(lambda: authenticator().authenticate(wrong))[0] == "InvalidSignatureException"


def test_content_sha256_header_must_match_the_body():
    request = signed(extra={"X-Amz-Content-Sha256": "UNSIGNED-PAYLOAD"})
    assert error_of(lambda: authenticator().authenticate(request)) == (
        "InvalidSignatureException",
        "The provided 'x-amz-content-sha256' header does not match what was computed.",
    )


def test_clock_skew_is_fifteen_minutes_either_way():
    authenticator().authenticate(signed(when=NOW - dt.timedelta(minutes=14, seconds=59)))
    authenticator().authenticate(signed(when=NOW + dt.timedelta(minutes=14, seconds=59)))
    assert error_of(lambda: authenticator().authenticate(signed(when=NOW - dt.timedelta(minutes=16)))) == (
        "InvalidSignatureException",
        "Signature expired: 20261123T114400Z is now earlier than 20261123T114500Z (20261123T120000Z - 15 min.)",
    )
    code, message = error_of(lambda: authenticator().authenticate(signed(when=NOW + dt.timedelta(hours=1))))
    assert code == "InvalidSignatureException"
    assert message.startswith("Signature not yet current: 20261123T130000Z is still later than")


def test_unknown_key_is_unrecognized_client():
    assert error_of(lambda: authenticator().authenticate(signed(key="AKIDUNKNOWN"))) == (
        "UnrecognizedClientException",
        "The security token included in the request is invalid.",
    )


@pytest.mark.parametrize(
    ("header", "code"),
    [
        (None, "MissingAuthenticationTokenException"),
        ("", "MissingAuthenticationTokenException"),
        ("AWS4-HMAC-SHA1 Credential=a/b/c/d/aws4_request", "IncompleteSignatureException"),
        (
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261123/us-east-1/sagemaker/aws4_request",
            "IncompleteSignatureException",
        ),
        ("AWS4-HMAC-SHA256 garbage", "IncompleteSignatureException"),
        (
            "AWS4-HMAC-SHA256 Credential=x, SignedHeaders=host, Signature=" + "0" * 64,
            "IncompleteSignatureException",
        ),
        (
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261123/us-east-1/sagemaker/aws5, SignedHeaders=host, Signature="
            + "0" * 64,
            "IncompleteSignatureException",
        ),
        (
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261123/us-east-1/sagemaker/aws4_request, SignedHeaders=x-amz-date, Signature="
            + "0" * 64,
            "IncompleteSignatureException",
        ),
        (
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261123/us-east-1/sagemaker/aws4_request, SignedHeaders=host, Signature=zz",
            "IncompleteSignatureException",
        ),
    ],
)
def test_malformed_authorization_headers(header, code):
    request = signed()
    headers = [(k, v) for k, v in request.headers if k != "authorization"]
    if header is not None:
        headers.append(("authorization", header))
    broken = sigv4.SignedRequest("POST", b"/", b"", headers, request.body)
    assert error_of(lambda: authenticator().authenticate(broken))[0] == code


def test_missing_date_and_mismatched_scope_date():
    request = signed()
    without_date = sigv4.SignedRequest(
        "POST", b"/", b"", [(k, v) for k, v in request.headers if k != "x-amz-date"], request.body
    )
    assert error_of(lambda: authenticator().authenticate(without_date)) == (
        "IncompleteSignatureException",
        "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.",
    )
    moved = [(k, "20261124T000000Z" if k == "x-amz-date" else v) for k, v in request.headers]
    code, message = error_of(
        lambda: authenticator().authenticate(sigv4.SignedRequest("POST", b"/", b"", moved, request.body))
    )
    assert code == "InvalidSignatureException"
    assert message.startswith("Date in Credential scope does not match YYYYMMDD")


def test_service_scope_and_allowed_actions():
    caller = authenticator(allow=("sagemaker:Describe*", "sagemaker:listimages")).authenticate(signed())
    caller.authorize("sagemaker", "sagemaker:DescribeImage")
    caller.authorize("sagemaker", "sagemaker:ListImages")  # IAM matches actions case-insensitively
    assert error_of(lambda: caller.authorize("sagemaker", "sagemaker:CreateImage")) == (
        "AccessDeniedException",
        f"User: arn:aws:iam::{ACCOUNT}:user/{KEY} is not authorized to perform: sagemaker:CreateImage "
        "because no identity-based policy allows the sagemaker:CreateImage action",
    )
    assert error_of(lambda: caller.authorize("cloudcontrolapi", "cloudformation:GetResource"))[0] == (
        "InvalidSignatureException"
    )


def test_each_api_declares_what_its_requests_need():
    image, version = "AWS::SageMaker::Image", "AWS::SageMaker::ImageVersion"
    cloudcontrol = CloudControl({}, None, load_api("sagemaker", ()))  # type: ignore[arg-type]
    assert cloudcontrol.needs("CreateResource", {"TypeName": image}) == [
        Need("sagemaker:CreateImage"),
        Need("sagemaker:DescribeImage"),
        Need("iam:PassRole"),
        Need("sagemaker:AddTags"),
        Need("sagemaker:ListTags"),
    ]
    assert cloudcontrol.needs("ListResources", {"TypeName": version}) == [Need("sagemaker:ListImageVersions")]
    assert cloudcontrol.needs("GetResourceRequestStatus", {"RequestToken": "t"}) == []
    assert cloudcontrol.needs("GetResource", {"TypeName": "AWS::S3::Bucket"}) == []
    role = f"arn:aws:iam::{ACCOUNT}:role/CloudControl"
    assert cloudcontrol.needs("DeleteResource", {"TypeName": version, "RoleArn": role}) == [
        Need("sagemaker:DeleteImageVersion"),
        Need("sagemaker:DescribeImageVersion"),
        pass_role(role),
    ]
    assert sagemaker_permissions.needs("AddTags", {"ResourceArn": "x", "Tags": []}) == []
    assert sagemaker_permissions.needs("CreateImage", {"RoleArn": role, "Tags": [{"Key": "k"}]}) == [
        pass_role(role),
        Need("sagemaker:AddTags"),
    ]


def test_resource_types_say_where_roles_and_tags_are():
    image = schema_for("AWS::SageMaker::Image")
    assert image.role_paths == (("ImageRoleArn",),)
    assert image.tag_property == "Tags"
    version = schema_for("AWS::SageMaker::ImageVersion")
    assert (version.role_paths, version.tag_property) == ((), None)
    # A property is a role because its schema describes one, at any depth, whatever its name.
    nested = ResourceSchema(
        "X::Y::Z",
        {
            "properties": {
                "Steps": {"type": "array", "items": {"$ref": "#/definitions/Step"}},
                "Execution": {"type": "string", "relationshipRef": {"typeName": "AWS::IAM::Role"}},
                "RoleName": {"type": "string"},
            },
            "definitions": {
                "Step": {"type": "object", "properties": {"Runner": {"$ref": "#/definitions/Role"}}},
                "Role": {"type": "string", "pattern": "^arn:aws[a-z-]*:iam::[0-9]{12}:role/.*$"},
            },
            "primaryIdentifier": [],
        },
    )
    assert nested.roles(
        {"Steps": [{"Runner": "a"}, {"Runner": 5}, {}], "Execution": "b", "RoleName": "c"}
    ) == [
        "a",
        "b",
    ]


def test_image_handler_needs_what_the_result_holds():
    handler = CloudControl({}, None, load_api("sagemaker", ())).handlers["AWS::SageMaker::Image"]  # type: ignore[arg-type]
    own = f"arn:aws:iam::{ACCOUNT}:role/Mine"
    current = {"ImageName": "x", "ImageRoleArn": own, "Tags": [{"Key": "a", "Value": "1"}]}
    assert handler.needs(current) == [pass_role(own), Need("sagemaker:AddTags")]
    assert handler.needs(current, current) == [pass_role(own)]
    changed = {**current, "Tags": [{"Key": "a", "Value": "2"}]}
    assert handler.needs(changed, current) == [pass_role(own), Need("sagemaker:AddTags")]
    assert handler.needs({**current, "Tags": []}, current) == [pass_role(own), Need("sagemaker:DeleteTags")]


def test_needs_are_matched_against_the_key():
    own = f"arn:aws:iam::{ACCOUNT}:role/Mine"
    foreign = "arn:aws:iam::999999999999:role/Theirs"
    everything = Principal(KEY, SECRET, ACCOUNT)
    authorization.authorize(everything, [pass_role(own), Need("sagemaker:CreateImage")])
    assert error_of(lambda: authorization.authorize(everything, [pass_role(foreign)])) == (
        "AccessDeniedException",
        f"User: arn:aws:iam::{ACCOUNT}:user/{KEY} is not authorized to perform: iam:PassRole on resource: "
        f"{foreign} because no identity-based policy allows the iam:PassRole action",
    )
    no_pass = Principal(KEY, SECRET, ACCOUNT, allow=("sagemaker:*",))
    assert error_of(lambda: authorization.authorize(no_pass, [pass_role(own)]))[0] == "AccessDeniedException"
    assert error_of(lambda: authorization.authorize(no_pass, [Need("iam:PassRole")]))[0] == (
        "AccessDeniedException"
    )
    scoped = Principal(KEY, SECRET, ACCOUNT, allow=("*",), pass_roles=("arn:aws:iam::*:role/SageMaker*",))
    authorization.authorize(scoped, [pass_role("arn:aws:iam::999999999999:role/SageMakerX")])
    authorization.authorize(scoped, [Need("iam:PassRole")])  # the action alone: no role to limit
    assert error_of(lambda: authorization.authorize(scoped, [pass_role(own)]))[0] == "AccessDeniedException"


def test_credentials_files(tmp_path):
    toml = tmp_path / "keys.toml"
    toml.write_text(
        f'[keys.{KEY}]\nsecret = "{SECRET}"\naccount = "{ACCOUNT}"\nallow = ["sagemaker:*"]\nuser = "ci"\n'
        '[keys.AKIDOTHER]\nsecret = "s"\naccount = "222233334444"\n'
    )
    keys = load_credentials(toml)
    assert keys[KEY] == Principal(KEY, SECRET, ACCOUNT, allow=("sagemaker:*",), pass_roles=None, user="ci")
    assert keys["AKIDOTHER"].allow is None
    as_json = tmp_path / "keys.json"
    as_json.write_text(json.dumps({"keys": {KEY: {"secret": SECRET, "account": ACCOUNT}}}))
    assert load_credentials(as_json)[KEY].account == ACCOUNT
    for bad in (
        {},
        {"keys": {}},
        {"keys": {KEY: {"secret": SECRET}}},
        {"keys": {KEY: {"secret": SECRET, "account": 111122223333}}},
        {"keys": {KEY: {"secret": "", "account": ACCOUNT}}},
        {"keys": {KEY: {"secret": SECRET, "account": ACCOUNT, "allow": "sagemaker:*"}}},
        {"keys": {KEY: {"secret": SECRET, "account": ACCOUNT, "colour": "blue"}}},
        {"keys": {"bad key!": {"secret": SECRET, "account": ACCOUNT}}},
    ):
        as_json.write_text(json.dumps(bad))
        with pytest.raises(CredentialsError):
            load_credentials(as_json)
    as_json.write_text("{not json")
    with pytest.raises(CredentialsError, match="not valid JSON"):
        load_credentials(as_json)
    with pytest.raises(CredentialsError, match="cannot read"):
        load_credentials(tmp_path / "absent.toml")
