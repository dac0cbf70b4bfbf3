"""Behaviour that follows the shipped resource schemas (the newest published ones)."""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from sagemaker_images.cloudcontrol.schema import schema_for
from tests.servers import sigv4_server
from tests.test_cloudcontrol import create, properties, update, wait

IMAGE = "AWS::SageMaker::Image"
VERSION = "AWS::SageMaker::ImageVersion"


def test_the_shipped_schemas_are_the_newest_published():
    image = schema_for(IMAGE).document
    assert "minItems" not in image["properties"]["Tags"]
    assert image["tagging"]["tagProperty"] == "/properties/Tags"
    assert image["handlers"]["create"]["permissions"] == [
        "sagemaker:CreateImage",
        "sagemaker:DescribeImage",
        "iam:PassRole",
        "sagemaker:AddTags",
        "sagemaker:ListTags",
    ]
    assert schema_for(VERSION).document["tagging"]["taggable"] is False


def test_an_empty_tag_list_is_valid(server, account, role_arn):
    from tests.conftest import client_for

    cc = client_for(server.endpoint, account, "cloudcontrol")
    done = wait(cc, create(cc, IMAGE, {"ImageName": "no-tags", "ImageRoleArn": role_arn, "Tags": []}))
    assert done["OperationStatus"] == "SUCCESS", done
    arn = done["Identifier"]
    assert "Tags" not in properties(cc, IMAGE, arn)
    patch = [{"op": "add", "path": "/Tags", "value": [{"Key": "team", "Value": "ml"}]}]
    assert wait(cc, update(cc, IMAGE, arn, patch))["OperationStatus"] == "SUCCESS"
    patch = [{"op": "replace", "path": "/Tags", "value": []}]
    assert wait(cc, update(cc, IMAGE, arn, patch))["OperationStatus"] == "SUCCESS"
    assert "Tags" not in properties(cc, IMAGE, arn)


def test_aliases_follow_the_published_alias_pattern(server, account, role_arn):
    from tests.conftest import client_for

    cc = client_for(server.endpoint, account, "cloudcontrol")
    sagemaker = client_for(server.endpoint, account)
    sagemaker.create_image(ImageName="alias-pattern", RoleArn=role_arn)
    desired = {"ImageName": "alias-pattern", "BaseImage": "repo:1", "Aliases": [".hidden"]}
    failed = wait(cc, create(cc, VERSION, desired))
    assert failed["OperationStatus"] == "FAILED"
    assert failed["ErrorCode"] == "InvalidRequest"
    assert failed["StatusMessage"] == (
        "Model validation failed (#/Aliases/0: string [.hidden] does not match pattern "
        "(?!^[.-])^([a-zA-Z0-9-_.]+)$)"
    )
    assert sagemaker.list_image_versions(ImageName="alias-pattern")["ImageVersions"] == []


# -- the create handler's permissions, enforced under --auth sigv4 ----------------------------------

ACCOUNT = "121212121212"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/R"
OLD_CREATE = ["cloudformation:*", "sagemaker:CreateImage", "iam:PassRole"]
KEYS = {
    "AKIDOLDLIST": {"secret": "s1", "account": ACCOUNT, "allow": OLD_CREATE},
    "AKIDNOTAGS": {"secret": "s2", "account": ACCOUNT, "allow": [*OLD_CREATE, "sagemaker:DescribeImage"]},
    "AKIDFULL": {
        "secret": "s3",
        "account": ACCOUNT,
        "allow": [*OLD_CREATE, "sagemaker:DescribeImage", "sagemaker:AddTags", "sagemaker:ListTags"],
    },
}


@pytest.fixture(scope="module")
def secured(tmp_path_factory):
    with sigv4_server(tmp_path_factory.mktemp("schema-auth"), KEYS) as process:
        yield process


def cloudcontrol(server, key: str):
    return boto3.client(
        "cloudcontrol",
        endpoint_url=server.endpoint,
        region_name="us-east-1",
        aws_access_key_id=key,
        aws_secret_access_key=KEYS[key]["secret"],
        config=Config(retries={"max_attempts": 1, "mode": "standard"}),
    )


@pytest.mark.parametrize(
    ("key", "missing"), [("AKIDOLDLIST", "sagemaker:DescribeImage"), ("AKIDNOTAGS", "sagemaker:AddTags")]
)
def test_creating_an_image_needs_what_the_create_handler_needs(secured, key, missing):
    desired = json.dumps({"ImageName": f"perm-{key.lower()}", "ImageRoleArn": ROLE})
    with pytest.raises(ClientError) as caught:
        cloudcontrol(secured, key).create_resource(TypeName=IMAGE, DesiredState=desired)
    error = caught.value.response["Error"]
    assert error["Code"] == "AccessDeniedException"
    assert f"perform: {missing} " in error["Message"]


def test_a_key_with_the_published_create_permissions_creates(secured):
    cc = cloudcontrol(secured, "AKIDFULL")
    desired = {"ImageName": "perm-full", "ImageRoleArn": ROLE, "Tags": [{"Key": "a", "Value": "b"}]}
    assert wait(cc, create(cc, IMAGE, desired))["OperationStatus"] == "SUCCESS"
