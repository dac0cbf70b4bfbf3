"""AWS::SageMaker::AppImageConfig on Cloud Control end to end: boto3's cloudcontrol client (waiter,
paginators) and the AWS CLI, over the same store as the SageMaker API, on SQLite and PostgreSQL."""

from __future__ import annotations

import contextlib
import json

import pytest
from botocore.exceptions import ClientError, WaiterError

from tests.calls import FAST_WAITER
from tests.conftest import client_for

TYPE = "AWS::SageMaker::AppImageConfig"
KERNEL_GATEWAY = {
    "KernelSpecs": [{"Name": "python3", "DisplayName": "Python 3"}],
    "FileSystemConfig": {"MountPath": "/home/sagemaker-user", "DefaultUid": 1000, "DefaultGid": 100},
}
JUPYTER_LAB = {
    "ContainerConfig": {
        "ContainerArguments": ["--port", "8888"],
        "ContainerEntrypoint": ["entrypoint.sh"],
        "ContainerEnvironmentVariables": [{"Key": "STAGE", "Value": "test"}, {"Key": "MODE", "Value": "lab"}],
    }
}


@pytest.fixture
def cc(server, account):
    return client_for(server.endpoint, account, "cloudcontrol")


def wait(cc, event: dict) -> dict:
    token = event["RequestToken"]
    with contextlib.suppress(WaiterError):
        cc.get_waiter("resource_request_success").wait(RequestToken=token, WaiterConfig=FAST_WAITER)
    return cc.get_resource_request_status(RequestToken=token)["ProgressEvent"]


def create(cc, desired: dict) -> dict:
    return wait(cc, cc.create_resource(TypeName=TYPE, DesiredState=json.dumps(desired))["ProgressEvent"])


def update(cc, identifier: str, patch: list) -> dict:
    event = cc.update_resource(TypeName=TYPE, Identifier=identifier, PatchDocument=json.dumps(patch))
    return wait(cc, event["ProgressEvent"])


def properties(cc, identifier: str) -> dict:
    return json.loads(
        cc.get_resource(TypeName=TYPE, Identifier=identifier)["ResourceDescription"]["Properties"]
    )


def test_create_read_update_delete(cc, sagemaker, account):
    desired = {
        "AppImageConfigName": "cc-config",
        "KernelGatewayImageConfig": KERNEL_GATEWAY,
        "JupyterLabAppImageConfig": JUPYTER_LAB,
        "Tags": [{"Key": "team", "Value": "ml"}, {"Key": "env", "Value": "dev"}],
    }
    done = create(cc, desired)
    arn = f"arn:aws:sagemaker:us-east-1:{account}:app-image-config/cc-config"
    assert (done["OperationStatus"], done["Identifier"]) == ("SUCCESS", "cc-config")
    assert json.loads(done["ResourceModel"]) == {**desired, "AppImageConfigArn": arn}
    # The primary identifier is the name: plain, or as a JSON object.
    assert properties(cc, "cc-config") == {**desired, "AppImageConfigArn": arn}
    assert properties(cc, '{"AppImageConfigName": "cc-config"}')["AppImageConfigArn"] == arn

    # One store: the SageMaker API sees the same config, environment variables as a map.
    described = sagemaker.describe_app_image_config(AppImageConfigName="cc-config")
    assert described["KernelGatewayImageConfig"] == KERNEL_GATEWAY
    assert described["JupyterLabAppImageConfig"]["ContainerConfig"]["ContainerEnvironmentVariables"] == {
        "STAGE": "test",
        "MODE": "lab",
    }
    assert sagemaker.list_tags(ResourceArn=arn)["Tags"] == desired["Tags"]

    # Tags are updatable in the newest schema; a patch by list index follows the order read.
    done = update(
        cc,
        "cc-config",
        [
            {"op": "replace", "path": "/Tags/0/Value", "value": "platform"},
            {"op": "remove", "path": "/Tags/1"},
            {"op": "add", "path": "/Tags/-", "value": {"Key": "cost", "Value": "42"}},
            {"op": "add", "path": "/CodeEditorAppImageConfig", "value": {"ContainerConfig": {}}},
            {"op": "replace", "path": "/KernelGatewayImageConfig/KernelSpecs/0/Name", "value": "conda-env"},
        ],
    )
    assert done["OperationStatus"] == "SUCCESS", done
    after = properties(cc, "cc-config")
    assert after["Tags"] == [{"Key": "team", "Value": "platform"}, {"Key": "cost", "Value": "42"}]
    assert after["CodeEditorAppImageConfig"] == {"ContainerConfig": {}}
    assert after["KernelGatewayImageConfig"]["KernelSpecs"] == [
        {"Name": "conda-env", "DisplayName": "Python 3"}
    ]
    assert sagemaker.list_tags(ResourceArn=arn)["Tags"] == after["Tags"]

    done = wait(cc, cc.delete_resource(TypeName=TYPE, Identifier="cc-config")["ProgressEvent"])
    assert done["OperationStatus"] == "SUCCESS"
    with pytest.raises(ClientError) as excinfo:
        cc.get_resource(TypeName=TYPE, Identifier="cc-config")
    assert excinfo.value.response["Error"]["Code"] == "ResourceNotFoundException"
    with pytest.raises(ClientError):
        sagemaker.describe_app_image_config(AppImageConfigName="cc-config")
    again = wait(cc, cc.delete_resource(TypeName=TYPE, Identifier="cc-config")["ProgressEvent"])
    assert (again["OperationStatus"], again["ErrorCode"]) == ("FAILED", "NotFound")


def test_schema_and_sagemaker_refusals(cc, sagemaker):
    sagemaker.create_app_image_config(AppImageConfigName="made-by-sagemaker")
    taken = create(cc, {"AppImageConfigName": "made-by-sagemaker"})
    assert (taken["OperationStatus"], taken["ErrorCode"]) == ("FAILED", "AlreadyExists")

    # The schema allows one kernel and no FileSystemConfig outside KernelGateway configs.
    two = {"KernelSpecs": [{"Name": "a"}, {"Name": "b"}]}
    for desired in (
        {"AppImageConfigName": "two-kernels", "KernelGatewayImageConfig": two},
        {"AppImageConfigName": "lab-efs", "JupyterLabAppImageConfig": {"FileSystemConfig": {}}},
        {
            "AppImageConfigName": "arn-set",
            "AppImageConfigArn": "arn:aws:sagemaker:us-east-1:1:app-image-config/x",
        },
    ):
        failed = create(cc, desired)
        assert (failed["OperationStatus"], failed["ErrorCode"]) == ("FAILED", "InvalidRequest"), desired
    # SageMaker's own refusal (its name pattern allows no dots; the schema's is not anchored at the end).
    dotted = create(cc, {"AppImageConfigName": "a.b"})
    assert (dotted["OperationStatus"], dotted["ErrorCode"]) == ("FAILED", "InvalidRequest")
    uid = create(
        cc,
        {
            "AppImageConfigName": "root",
            "KernelGatewayImageConfig": {
                "KernelSpecs": [{"Name": "k"}],
                "FileSystemConfig": {"DefaultUid": 0},
            },
        },
    )
    assert (uid["OperationStatus"], uid["ErrorCode"]) == ("FAILED", "InvalidRequest")
    assert "Unsupported FileSystemConfig parameters" in uid["StatusMessage"]

    # Create-only and read-only properties cannot be patched.
    with pytest.raises(ClientError) as excinfo:
        cc.update_resource(
            TypeName=TYPE,
            Identifier="made-by-sagemaker",
            PatchDocument=json.dumps([{"op": "replace", "path": "/AppImageConfigName", "value": "renamed"}]),
        )
    assert excinfo.value.response["Error"]["Code"] == "NotUpdatableException"
    with pytest.raises(ClientError) as excinfo:
        cc.update_resource(
            TypeName=TYPE,
            Identifier="made-by-sagemaker",
            PatchDocument=json.dumps([{"op": "replace", "path": "/AppImageConfigArn", "value": "arn:x"}]),
        )
    assert excinfo.value.response["Error"]["Code"] == "InvalidRequestException"
    for identifier in ("missing", '{"AppImageConfigName": "missing"}'):
        with pytest.raises(ClientError) as excinfo:
            cc.get_resource(TypeName=TYPE, Identifier=identifier)
        assert excinfo.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_list_resources_pages(cc, sagemaker):
    names = [f"listed-{i:02d}" for i in range(12)]
    for name in names:
        sagemaker.create_app_image_config(AppImageConfigName=name)
    pages = list(cc.get_paginator("list_resources").paginate(TypeName=TYPE))
    assert len(pages) == 2  # SageMaker's default page of 10, as AWS's list handler asks for
    listed = [d["Identifier"] for page in pages for d in page["ResourceDescriptions"]]
    assert sorted(listed) == names
    first = pages[0]["ResourceDescriptions"][0]
    assert json.loads(first["Properties"]) == {"AppImageConfigName": first["Identifier"]}
    requests = cc.get_paginator("list_resource_requests").paginate()
    assert all(r["TypeName"] != TYPE for page in requests for r in page["ResourceRequestStatusSummaries"])


def test_cli(aws_cli):
    desired = json.dumps({"AppImageConfigName": "cli-cc", "JupyterLabAppImageConfig": JUPYTER_LAB})
    event = json.loads(
        aws_cli("cloudcontrol", "create-resource", "--type-name", TYPE, "--desired-state", desired).stdout
    )["ProgressEvent"]
    aws_cli("cloudcontrol", "wait", "resource-request-success", "--request-token", event["RequestToken"])
    got = json.loads(
        aws_cli("cloudcontrol", "get-resource", "--type-name", TYPE, "--identifier", "cli-cc").stdout
    )
    assert json.loads(got["ResourceDescription"]["Properties"])["JupyterLabAppImageConfig"] == JUPYTER_LAB
    described = json.loads(
        aws_cli("sagemaker", "describe-app-image-config", "--app-image-config-name", "cli-cc").stdout
    )
    assert described["JupyterLabAppImageConfig"]["ContainerConfig"]["ContainerEnvironmentVariables"] == {
        "STAGE": "test",
        "MODE": "lab",
    }


def test_the_shipped_schema_is_the_newest_published():
    from sagemaker_images.cloudcontrol.schema import schema_for

    schema = schema_for(TYPE).document
    # Older copies made Tags create-only and write-only; the newest reads and updates them.
    assert schema["createOnlyProperties"] == ["/properties/AppImageConfigName"]
    assert "writeOnlyProperties" not in schema
    assert schema["tagging"]["tagUpdatable"] is True
    assert schema["primaryIdentifier"] == ["/properties/AppImageConfigName"]
    assert schema["definitions"]["KernelGatewayImageConfig"]["properties"]["KernelSpecs"]["maxItems"] == 1
    assert schema["handlers"]["create"]["permissions"] == [
        "sagemaker:CreateAppImageConfig",
        "sagemaker:DescribeAppImageConfig",
        "sagemaker:AddTags",
        "sagemaker:ListTags",
    ]
