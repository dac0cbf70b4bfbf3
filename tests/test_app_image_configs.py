"""AppImageConfigs end to end: boto3 (paginators) and the AWS CLI, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import time

import pytest
from botocore.exceptions import ClientError

from tests.calls import error_of

KERNEL_GATEWAY = {
    "KernelSpecs": [{"Name": "python3", "DisplayName": "Python 3"}, {"Name": "conda-env-r"}],
    "FileSystemConfig": {"MountPath": "/home/sagemaker-user", "DefaultUid": 1000, "DefaultGid": 100},
}
CONTAINER = {
    "ContainerArguments": ["--port", "8888"],
    "ContainerEntrypoint": ["entrypoint.sh"],
    "ContainerEnvironmentVariables": {"STAGE": "test", "EMPTY": ""},
}


def test_create_describe_update_delete(sagemaker, account):
    created = sagemaker.create_app_image_config(
        AppImageConfigName="Kernel--Config-1", KernelGatewayImageConfig=KERNEL_GATEWAY
    )
    arn = f"arn:aws:sagemaker:us-east-1:{account}:app-image-config/kernel--config-1"
    assert created["AppImageConfigArn"] == arn

    described = sagemaker.describe_app_image_config(AppImageConfigName="Kernel--Config-1")
    assert described["AppImageConfigArn"] == arn
    assert described["AppImageConfigName"] == "Kernel--Config-1"
    assert described["KernelGatewayImageConfig"] == KERNEL_GATEWAY
    assert "JupyterLabAppImageConfig" not in described
    assert "CodeEditorAppImageConfig" not in described
    assert described["CreationTime"] == described["LastModifiedTime"]
    # Lookups ignore case, as the ARN does.
    assert (
        sagemaker.describe_app_image_config(AppImageConfigName="kernel--config-1")["AppImageConfigArn"] == arn
    )

    time.sleep(0.01)
    updated = sagemaker.update_app_image_config(
        AppImageConfigName="kernel--config-1", JupyterLabAppImageConfig={"ContainerConfig": CONTAINER}
    )
    assert updated["AppImageConfigArn"] == arn
    after = sagemaker.describe_app_image_config(AppImageConfigName="Kernel--Config-1")
    # A partial update: the config not named keeps its value.
    assert after["KernelGatewayImageConfig"] == KERNEL_GATEWAY
    assert after["JupyterLabAppImageConfig"] == {"ContainerConfig": CONTAINER}
    assert after["CreationTime"] == described["CreationTime"]
    assert after["LastModifiedTime"] > described["LastModifiedTime"]

    sagemaker.update_app_image_config(
        AppImageConfigName="Kernel--Config-1", KernelGatewayImageConfig={"KernelSpecs": [{"Name": "python3"}]}
    )
    replaced = sagemaker.describe_app_image_config(AppImageConfigName="Kernel--Config-1")
    assert replaced["KernelGatewayImageConfig"] == {"KernelSpecs": [{"Name": "python3"}]}

    sagemaker.delete_app_image_config(AppImageConfigName="Kernel--Config-1")
    with pytest.raises(ClientError) as excinfo:
        sagemaker.describe_app_image_config(AppImageConfigName="Kernel--Config-1")
    code, message = error_of(excinfo)
    assert code == "ResourceNotFound"
    assert "does not exist" in message
    # The name is free again.
    sagemaker.create_app_image_config(AppImageConfigName="Kernel--Config-1")


def test_no_defaults_are_filled_in(sagemaker):
    """AWS returns what was sent: no FileSystemConfig appears for a config created without one."""
    sagemaker.create_app_image_config(AppImageConfigName="bare")
    bare = sagemaker.describe_app_image_config(AppImageConfigName="bare")
    assert set(bare) - {"ResponseMetadata"} == {
        "AppImageConfigArn",
        "AppImageConfigName",
        "CreationTime",
        "LastModifiedTime",
    }
    sagemaker.create_app_image_config(
        AppImageConfigName="kernels-only", KernelGatewayImageConfig={"KernelSpecs": [{"Name": "python3"}]}
    )
    described = sagemaker.describe_app_image_config(AppImageConfigName="kernels-only")
    assert described["KernelGatewayImageConfig"] == {"KernelSpecs": [{"Name": "python3"}]}
    sagemaker.create_app_image_config(
        AppImageConfigName="mount-only", KernelGatewayImageConfig={**KERNEL_GATEWAY, "FileSystemConfig": {}}
    )
    described = sagemaker.describe_app_image_config(AppImageConfigName="mount-only")
    assert described["KernelGatewayImageConfig"]["FileSystemConfig"] == {}


def test_errors_as_aws_gives_them(sagemaker):
    sagemaker.create_app_image_config(AppImageConfigName="taken")
    with pytest.raises(ClientError) as excinfo:
        sagemaker.create_app_image_config(AppImageConfigName="TAKEN")
    assert error_of(excinfo) == ("ResourceInUse", "The ID or Name specified is already in use.")

    for call in (sagemaker.describe_app_image_config, sagemaker.delete_app_image_config):
        with pytest.raises(ClientError) as excinfo:
            call(AppImageConfigName="missing")
        code, message = error_of(excinfo)
        assert code == "ResourceNotFound"
        assert message.endswith("app-image-config/missing does not exist")
    with pytest.raises(ClientError) as excinfo:
        sagemaker.update_app_image_config(AppImageConfigName="missing")
    assert error_of(excinfo)[0] == "ResourceNotFound"

    for member in ("JupyterLabAppImageConfig", "CodeEditorAppImageConfig"):
        with pytest.raises(ClientError) as excinfo:
            sagemaker.create_app_image_config(
                AppImageConfigName="with-efs", **{member: {"FileSystemConfig": {"MountPath": "/home/x"}}}
            )
        assert error_of(excinfo) == (
            "ValidationException",
            f"FileSystemConfig parameters are not supported for {member}.",
        )
        with pytest.raises(ClientError) as excinfo:
            sagemaker.update_app_image_config(
                AppImageConfigName="taken", **{member: {"FileSystemConfig": {}}}
            )
        assert error_of(excinfo)[0] == "ValidationException"

    with pytest.raises(ClientError) as excinfo:
        sagemaker.create_app_image_config(
            AppImageConfigName="root",
            KernelGatewayImageConfig={
                "KernelSpecs": [{"Name": "python3"}],
                "FileSystemConfig": {"DefaultUid": 0, "DefaultGid": 0},
            },
        )
    assert error_of(excinfo) == (
        "ValidationException",
        "Unsupported FileSystemConfig parameters. "
        "Only supported values of DefaultUId and DefaultGID are 1000 and 100 respectively",
    )
    with pytest.raises(ClientError):
        sagemaker.describe_app_image_config(AppImageConfigName="root")


def test_validation_from_the_model(sagemaker):
    # Runs of hyphens are allowed, dots are not (unlike image names).
    sagemaker.create_app_image_config(AppImageConfigName="a---b")
    with pytest.raises(ClientError) as excinfo:
        sagemaker.create_app_image_config(AppImageConfigName="a.b")
    assert error_of(excinfo) == (
        "ValidationException",
        "1 validation error detected: Value 'a.b' at 'appImageConfigName' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: [a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}",
    )
    six = [{"Name": f"k{i}"} for i in range(6)]
    with pytest.raises(ClientError) as excinfo:
        sagemaker.create_app_image_config(
            AppImageConfigName="six", KernelGatewayImageConfig={"KernelSpecs": six}
        )
    code, message = error_of(excinfo)
    assert code == "ValidationException"
    assert (
        "'kernelGatewayImageConfig.kernelSpecs' failed to satisfy constraint: Member must have length less than or equal to 5"
        in message
    )
    five = six[:5]
    sagemaker.create_app_image_config(
        AppImageConfigName="five", KernelGatewayImageConfig={"KernelSpecs": five}
    )
    assert sagemaker.describe_app_image_config(AppImageConfigName="five")["KernelGatewayImageConfig"] == {
        "KernelSpecs": five
    }


def test_list_sorts_filters_and_pages(sagemaker):
    names = ["cfg-b", "cfg-a", "other-c", "cfg-d"]
    for name in names:
        sagemaker.create_app_image_config(AppImageConfigName=name)
        time.sleep(0.01)
    listed = sagemaker.list_app_image_configs()["AppImageConfigs"]
    assert [c["AppImageConfigName"] for c in listed] == names[::-1]  # newest first
    assert all("AppImageConfigArn" in c and "CreationTime" in c for c in listed)

    by_name = sagemaker.list_app_image_configs(SortBy="Name", SortOrder="Ascending")["AppImageConfigs"]
    assert [c["AppImageConfigName"] for c in by_name] == sorted(names)
    matching = sagemaker.list_app_image_configs(NameContains="CFG", SortBy="Name")["AppImageConfigs"]
    assert [c["AppImageConfigName"] for c in matching] == ["cfg-d", "cfg-b", "cfg-a"]

    created = {c["AppImageConfigName"]: c["CreationTime"] for c in listed}
    window = sagemaker.list_app_image_configs(
        CreationTimeAfter=created["cfg-a"], CreationTimeBefore=created["other-c"], SortOrder="Ascending"
    )["AppImageConfigs"]
    assert [c["AppImageConfigName"] for c in window] == ["cfg-a", "other-c"]

    time.sleep(0.01)
    sagemaker.update_app_image_config(AppImageConfigName="cfg-b")
    modified = sagemaker.list_app_image_configs(SortBy="LastModifiedTime")["AppImageConfigs"]
    assert modified[0]["AppImageConfigName"] == "cfg-b"
    touched = modified[0]["LastModifiedTime"]
    recent = sagemaker.list_app_image_configs(ModifiedTimeAfter=touched)["AppImageConfigs"]
    assert [c["AppImageConfigName"] for c in recent] == ["cfg-b"]
    older = sagemaker.list_app_image_configs(ModifiedTimeBefore=created["other-c"])["AppImageConfigs"]
    assert {c["AppImageConfigName"] for c in older} == {"cfg-a", "other-c"}

    paginator = sagemaker.get_paginator("list_app_image_configs")
    for sort in ("CreationTime", "LastModifiedTime", "Name"):
        for order in ("Ascending", "Descending"):
            pages = list(paginator.paginate(SortBy=sort, SortOrder=order, PaginationConfig={"PageSize": 50}))
            seen = [c["AppImageConfigName"] for page in pages for c in page["AppImageConfigs"]]
            whole = sagemaker.list_app_image_configs(SortBy=sort, SortOrder=order)["AppImageConfigs"]
            assert seen == [c["AppImageConfigName"] for c in whole]
            assert sorted(seen) == sorted(names)

    token = sagemaker.list_app_image_configs(MaxResults=1, SortBy="Name")["NextToken"]
    with pytest.raises(ClientError) as excinfo:
        sagemaker.list_app_image_configs(NextToken=token, SortBy="CreationTime")
    assert error_of(excinfo)[0] == "ValidationException"


def test_cli_app_image_config(aws_cli, account):
    created = json.loads(
        aws_cli(
            "sagemaker",
            "create-app-image-config",
            "--app-image-config-name",
            "cli-config",
            "--kernel-gateway-image-config",
            "KernelSpecs=[{Name=python3,DisplayName=Python}],FileSystemConfig={MountPath=/home/sagemaker-user}",
            "--code-editor-app-image-config",
            json.dumps({"ContainerConfig": CONTAINER}),
        ).stdout
    )
    assert (
        created["AppImageConfigArn"] == f"arn:aws:sagemaker:us-east-1:{account}:app-image-config/cli-config"
    )
    described = json.loads(
        aws_cli("sagemaker", "describe-app-image-config", "--app-image-config-name", "cli-config").stdout
    )
    assert described["KernelGatewayImageConfig"] == {
        "KernelSpecs": [{"Name": "python3", "DisplayName": "Python"}],
        "FileSystemConfig": {"MountPath": "/home/sagemaker-user"},
    }
    assert described["CodeEditorAppImageConfig"] == {"ContainerConfig": CONTAINER}
    aws_cli(
        "sagemaker",
        "update-app-image-config",
        "--app-image-config-name",
        "cli-config",
        "--jupyter-lab-app-image-config",
        "ContainerConfig={ContainerEntrypoint=[run.sh]}",
    )
    listed = json.loads(aws_cli("sagemaker", "list-app-image-configs", "--name-contains", "cli").stdout)
    assert [c["AppImageConfigName"] for c in listed["AppImageConfigs"]] == ["cli-config"]
    assert listed["AppImageConfigs"][0]["JupyterLabAppImageConfig"] == {
        "ContainerConfig": {"ContainerEntrypoint": ["run.sh"]}
    }
    aws_cli("sagemaker", "delete-app-image-config", "--app-image-config-name", "cli-config")
    gone = aws_cli(
        "sagemaker", "describe-app-image-config", "--app-image-config-name", "cli-config", check=False
    )
    assert gone.returncode != 0
    assert "(ResourceNotFound)" in gone.stderr


def test_tags_on_the_config_arn(sagemaker, account):
    arn = sagemaker.create_app_image_config(
        AppImageConfigName="tagged", Tags=[{"Key": "team", "Value": "ml"}, {"Key": "env", "Value": "dev"}]
    )["AppImageConfigArn"]
    assert sagemaker.list_tags(ResourceArn=arn)["Tags"] == [
        {"Key": "team", "Value": "ml"},
        {"Key": "env", "Value": "dev"},
    ]
    sagemaker.add_tags(
        ResourceArn=arn, Tags=[{"Key": "team", "Value": "platform"}, {"Key": "z", "Value": ""}]
    )
    # Insertion order; a changed value keeps its place.
    assert sagemaker.list_tags(ResourceArn=arn)["Tags"] == [
        {"Key": "team", "Value": "platform"},
        {"Key": "env", "Value": "dev"},
        {"Key": "z", "Value": ""},
    ]
    pages = sagemaker.get_paginator("list_tags").paginate(ResourceArn=arn, PaginationConfig={"PageSize": 50})
    assert [t["Key"] for page in pages for t in page["Tags"]] == ["team", "env", "z"]
    sagemaker.delete_tags(ResourceArn=arn, TagKeys=["env", "absent"])
    assert [t["Key"] for t in sagemaker.list_tags(ResourceArn=arn)["Tags"]] == ["team", "z"]

    # An update of the config leaves its tags alone.
    sagemaker.update_app_image_config(AppImageConfigName="tagged", KernelGatewayImageConfig=KERNEL_GATEWAY)
    assert len(sagemaker.list_tags(ResourceArn=arn)["Tags"]) == 2

    with pytest.raises(ClientError) as excinfo:
        sagemaker.add_tags(ResourceArn=arn, Tags=[{"Key": "aws:reserved", "Value": "x"}])
    assert error_of(excinfo)[0] == "ValidationException"
    with pytest.raises(ClientError) as excinfo:
        sagemaker.add_tags(ResourceArn=arn, Tags=[{"Key": f"k{i}", "Value": "v"} for i in range(49)])
    assert error_of(excinfo)[0] == "ValidationException"

    # Its tags go with it: a config made again under the name starts without them.
    sagemaker.delete_app_image_config(AppImageConfigName="tagged")
    for call in (
        lambda: sagemaker.list_tags(ResourceArn=arn),
        lambda: sagemaker.add_tags(ResourceArn=arn, Tags=[{"Key": "a", "Value": "b"}]),
        lambda: sagemaker.delete_tags(ResourceArn=arn, TagKeys=["team"]),
    ):
        with pytest.raises(ClientError) as excinfo:
            call()
        assert error_of(excinfo) == ("ValidationException", f"Resource {arn} does not exist.")
    sagemaker.create_app_image_config(AppImageConfigName="tagged")
    assert sagemaker.list_tags(ResourceArn=arn)["Tags"] == []
    # The ARN names the config case-insensitively, as its lowercased ARN does.
    assert sagemaker.list_tags(ResourceArn=arn.replace("/tagged", "/TAGGED"))["Tags"] == []
    for malformed in (arn + "/extra", arn.replace("app-image-config/", "app-image-config/x-")):
        with pytest.raises(ClientError) as excinfo:
            sagemaker.list_tags(ResourceArn=malformed)
        assert error_of(excinfo)[0] == "ValidationException"


def test_cli_tags(aws_cli):
    arn = json.loads(
        aws_cli(
            "sagemaker",
            "create-app-image-config",
            "--app-image-config-name",
            "cli-tags",
            "--tags",
            "Key=a,Value=1",
        ).stdout
    )["AppImageConfigArn"]
    aws_cli("sagemaker", "add-tags", "--resource-arn", arn, "--tags", "Key=b,Value=2")
    tags = json.loads(aws_cli("sagemaker", "list-tags", "--resource-arn", arn).stdout)["Tags"]
    assert tags == [{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}]
    aws_cli("sagemaker", "delete-tags", "--resource-arn", arn, "--tag-keys", "a")
    tags = json.loads(aws_cli("sagemaker", "list-tags", "--resource-arn", arn).stdout)["Tags"]
    assert tags == [{"Key": "b", "Value": "2"}]
