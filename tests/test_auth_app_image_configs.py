"""--auth sigv4 for AppImageConfigs: each SageMaker operation needs its own action, and Cloud Control
needs the permissions of AWS::SageMaker::AppImageConfig's published handlers."""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.calls import FAST_WAITER
from tests.servers import sigv4_server

ACCOUNT = "111122223333"
TYPE = "AWS::SageMaker::AppImageConfig"
KEYS = {
    "AKIDADMIN": {"secret": "admin-secret", "account": ACCOUNT},
    "AKIDREADER": {
        "secret": "reader-secret",
        "account": ACCOUNT,
        "allow": ["sagemaker:Describe*", "sagemaker:List*"],
    },
    "AKIDNOTAGS": {
        "secret": "notags-secret",
        "account": ACCOUNT,
        "allow": ["sagemaker:*AppImageConfig*", "cloudformation:*"],
    },
    "AKIDCCONLY": {"secret": "cc-secret", "account": ACCOUNT, "allow": ["cloudformation:*"]},
    "AKIDCCHANDLER": {
        "secret": "handler-secret",
        "account": ACCOUNT,
        # The published create and read handlers' permissions, nothing else of SageMaker's.
        "allow": [
            "cloudformation:*",
            "sagemaker:CreateAppImageConfig",
            "sagemaker:DescribeAppImageConfig",
            "sagemaker:AddTags",
            "sagemaker:ListTags",
        ],
    },
}


@pytest.fixture(scope="module")
def secured(tmp_path_factory):
    with sigv4_server(tmp_path_factory.mktemp("auth-configs"), KEYS) as process:
        yield process


def client(server, key: str, service: str = "sagemaker"):
    return boto3.client(
        service,
        endpoint_url=server.endpoint,
        region_name="us-east-1",
        aws_access_key_id=key,
        aws_secret_access_key=KEYS[key]["secret"],
        config=Config(retries={"max_attempts": 1, "mode": "standard"}),
    )


def denied(call) -> str:
    with pytest.raises(ClientError) as info:
        call()
    assert info.value.response["Error"]["Code"] == "AccessDeniedException"
    return info.value.response["Error"]["Message"]


def test_sagemaker_operations_need_their_actions(secured):
    admin = client(secured, "AKIDADMIN")
    arn = admin.create_app_image_config(AppImageConfigName="signed", Tags=[{"Key": "a", "Value": "1"}])[
        "AppImageConfigArn"
    ]
    reader = client(secured, "AKIDREADER")
    assert reader.describe_app_image_config(AppImageConfigName="signed")["AppImageConfigArn"] == arn
    assert [c["AppImageConfigName"] for c in reader.list_app_image_configs()["AppImageConfigs"]] == ["signed"]
    assert reader.list_tags(ResourceArn=arn)["Tags"] == [{"Key": "a", "Value": "1"}]
    assert "sagemaker:CreateAppImageConfig" in denied(
        lambda: reader.create_app_image_config(AppImageConfigName="x")
    )
    assert "sagemaker:UpdateAppImageConfig" in denied(
        lambda: reader.update_app_image_config(AppImageConfigName="signed")
    )
    assert "sagemaker:DeleteAppImageConfig" in denied(
        lambda: reader.delete_app_image_config(AppImageConfigName="signed")
    )
    assert "sagemaker:AddTags" in denied(
        lambda: reader.add_tags(ResourceArn=arn, Tags=[{"Key": "b", "Value": "2"}])
    )
    assert "sagemaker:DeleteTags" in denied(lambda: reader.delete_tags(ResourceArn=arn, TagKeys=["a"]))
    # Without sagemaker:AddTags a key may create configs, but not tagged ones.
    no_tags = client(secured, "AKIDNOTAGS")
    no_tags.create_app_image_config(AppImageConfigName="untagged")
    assert "sagemaker:AddTags" in denied(
        lambda: no_tags.create_app_image_config(
            AppImageConfigName="tagged", Tags=[{"Key": "a", "Value": "1"}]
        )
    )
    assert admin.describe_app_image_config(AppImageConfigName="signed")["AppImageConfigName"] == "signed"


def test_cloud_control_needs_the_handler_permissions(secured):
    desired = json.dumps({"AppImageConfigName": "cc-signed", "Tags": [{"Key": "a", "Value": "1"}]})
    message = denied(
        lambda: client(secured, "AKIDCCONLY", "cloudcontrol").create_resource(
            TypeName=TYPE, DesiredState=desired
        )
    )
    assert "sagemaker:CreateAppImageConfig" in message
    assert "sagemaker:ListAppImageConfigs" in denied(
        lambda: client(secured, "AKIDCCONLY", "cloudcontrol").list_resources(TypeName=TYPE)
    )
    handler = client(secured, "AKIDCCHANDLER", "cloudcontrol")
    event = handler.create_resource(TypeName=TYPE, DesiredState=desired)["ProgressEvent"]
    handler.get_waiter("resource_request_success").wait(
        RequestToken=event["RequestToken"], WaiterConfig=FAST_WAITER
    )
    model = json.loads(
        handler.get_resource(TypeName=TYPE, Identifier="cc-signed")["ResourceDescription"]["Properties"]
    )
    assert model["Tags"] == [{"Key": "a", "Value": "1"}]
    # Updating and deleting need what those handlers need.
    patch = json.dumps([{"op": "add", "path": "/CodeEditorAppImageConfig", "value": {}}])
    assert "sagemaker:UpdateAppImageConfig" in denied(
        lambda: handler.update_resource(TypeName=TYPE, Identifier="cc-signed", PatchDocument=patch)
    )
    assert "sagemaker:DeleteAppImageConfig" in denied(
        lambda: handler.delete_resource(TypeName=TYPE, Identifier="cc-signed")
    )
