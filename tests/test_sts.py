"""STS GetCallerIdentity on the server's endpoint: the query protocol's form-encoded POST, answered in
XML, as Terraform's awscc provider, Pulumi AWS Native and ``aws sts get-caller-identity`` call it."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import boto3
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from tests.conftest import client_for
from tests.servers import sigv4_server

NS = {"sts": "https://sts.amazonaws.com/doc/2011-06-15/"}


def signed_post(endpoint: str, body: str, *, key: str, secret: str = "secret", service: str = "sts"):
    request = AWSRequest(
        method="POST",
        url=endpoint + "/",
        data=body,
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
    )
    SigV4Auth(Credentials(key, secret), service, "us-east-1").add_auth(request)
    import urllib.request

    prepared = urllib.request.Request(endpoint + "/", data=body.encode(), method="POST")
    for name, value in request.headers.items():
        prepared.add_header(name, value)
    try:
        with urllib.request.urlopen(prepared, timeout=30) as answer:
            return answer.status, answer.headers, answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def test_get_caller_identity_names_the_account_of_the_key(server, account):
    sts = client_for(server.endpoint, account, "sts")
    identity = sts.get_caller_identity()
    assert identity["Account"] == account
    assert identity["Arn"] == f"arn:aws:iam::{account}:user/{account}"
    assert identity["UserId"].startswith("AIDA") and len(identity["UserId"]) == 21
    # The same caller gets the same id every time.
    assert sts.get_caller_identity()["UserId"] == identity["UserId"]


def test_other_keys_belong_to_the_default_account_and_regions_pick_the_partition(server):
    sts = boto3.client(
        "sts",
        endpoint_url=server.endpoint,
        region_name="cn-north-1",
        aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key="x",
    )
    identity = sts.get_caller_identity()
    assert identity["Account"] == "000000000000"
    assert identity["Arn"] == "arn:aws-cn:iam::000000000000:user/AKIDEXAMPLE"


def test_the_wire_is_xml(server, account):
    status, headers, body = signed_post(
        server.endpoint, "Action=GetCallerIdentity&Version=2011-06-15", key=account
    )
    assert status == 200
    assert headers["Content-Type"] == "text/xml"
    root = ET.fromstring(body)
    assert root.tag == f"{{{NS['sts']}}}GetCallerIdentityResponse"
    assert root.find("sts:GetCallerIdentityResult/sts:Account", NS).text == account
    request_id = root.find("sts:ResponseMetadata/sts:RequestId", NS).text
    assert headers["x-amzn-RequestId"] == request_id


@pytest.mark.parametrize("action", ["AssumeRole", "GetSessionToken", "NoSuchAction", ""])
def test_other_actions_are_unknown_actions(server, account, action):
    status, headers, body = signed_post(server.endpoint, f"Action={action}&Version=2011-06-15", key=account)
    assert status == 400
    assert headers["Content-Type"] == "text/xml"
    error = ET.fromstring(body).find("{*}Error")
    assert error.find("{*}Code").text == "InvalidAction"
    assert error.find("{*}Type").text == "Sender"
    assert error.find("{*}Message").text == f"Could not find operation {action} for version 2011-06-15"


def test_boto3_reads_an_unknown_action_as_its_error(server, account):
    sts = client_for(server.endpoint, account, "sts")
    with pytest.raises(ClientError) as caught:
        sts.assume_role(RoleArn=f"arn:aws:iam::{account}:role/R", RoleSessionName="session")
    assert caught.value.response["Error"]["Code"] == "InvalidAction"
    assert (
        caught.value.response["Error"]["Message"]
        == "Could not find operation AssumeRole for version 2011-06-15"
    )


def test_the_json_apis_are_unaffected(server, account):
    assert client_for(server.endpoint, account).list_images()["Images"] == []


# -- --auth sigv4 ---------------------------------------------------------------------------------

KEYS = {
    "AKIDREADER": {
        "secret": "reader-secret",
        "account": "111122223333",
        "allow": ["sagemaker:List*"],
        "user": "ci",
    },
    "AKIDPLAIN": {"secret": "plain-secret", "account": "444455556666", "allow": []},
}


@pytest.fixture(scope="module")
def secured(tmp_path_factory):
    with sigv4_server(tmp_path_factory.mktemp("sts-auth"), KEYS) as process:
        yield process


def sts_client(server, key: str, secret: str):
    return boto3.client(
        "sts",
        endpoint_url=server.endpoint,
        region_name="us-east-1",
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        config=Config(retries={"max_attempts": 1, "mode": "standard"}),
    )


def test_under_sigv4_the_account_and_user_come_from_the_credentials_file(secured):
    identity = sts_client(secured, "AKIDREADER", "reader-secret").get_caller_identity()
    assert identity["Account"] == "111122223333"
    assert identity["Arn"] == "arn:aws:iam::111122223333:user/ci"
    # No permission is needed, as in AWS: this key may do nothing at all.
    plain = sts_client(secured, "AKIDPLAIN", "plain-secret").get_caller_identity()
    assert plain["Arn"] == "arn:aws:iam::444455556666:user/AKIDPLAIN"


@pytest.mark.parametrize(
    ("key", "secret", "code"),
    [
        ("AKIDREADER", "wrong", "SignatureDoesNotMatch"),
        ("AKIDNOBODY", "x", "InvalidClientTokenId"),
    ],
)
def test_under_sigv4_bad_signatures_are_refused_in_xml(secured, key, secret, code):
    with pytest.raises(ClientError) as caught:
        sts_client(secured, key, secret).get_caller_identity()
    assert caught.value.response["Error"]["Code"] == code
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_under_sigv4_a_signature_for_another_service_is_refused(secured):
    status, _, body = signed_post(
        secured.endpoint,
        "Action=GetCallerIdentity&Version=2011-06-15",
        key="AKIDREADER",
        secret="reader-secret",
        service="sagemaker",
    )
    assert status == 403
    error = ET.fromstring(body).find("{*}Error")
    assert error.find("{*}Code").text == "SignatureDoesNotMatch"
    assert error.find("{*}Message").text == "Credential should be scoped to correct service: 'sts'. "


def test_unsigned_calls_are_refused_under_sigv4(secured):
    import urllib.request

    request = urllib.request.Request(
        secured.endpoint + "/",
        data=b"Action=GetCallerIdentity&Version=2011-06-15",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        method="POST",
    )
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=30)
    assert caught.value.code == 403
    assert ET.fromstring(caught.value.read()).find("{*}Error/{*}Code").text == "MissingAuthenticationToken"
