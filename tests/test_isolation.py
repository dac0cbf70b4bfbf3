"""Tenant isolation: another account (or region) can neither read, list, tag, update nor delete an
account's images, versions, aliases, AppImageConfigs, tags or Cloud Control requests, by any operation of either API,
by name or by passing the owner's ARNs. Every operation is probed; the owner's state is compared
before and after."""

from __future__ import annotations

import contextlib
import json

import pytest
from botocore.exceptions import ClientError, WaiterError

from sagemaker_images.cloudcontrol.service import OPERATIONS as CLOUDCONTROL_OPERATIONS
from sagemaker_images.services import SAGEMAKER_OPERATIONS
from tests.calls import FAST_WAITER
from tests.conftest import client_for, new_account

IMAGE = "AWS::SageMaker::Image"
VERSION = "AWS::SageMaker::ImageVersion"
APP_IMAGE_CONFIG = "AWS::SageMaker::AppImageConfig"
NAME = "isolated-image"
CC_NAME = "isolated-cc-image"
CONFIG = "isolated-config"
KERNELS = {"KernelSpecs": [{"Name": "python3"}]}


def code_of(call) -> str:
    with pytest.raises(ClientError) as info:
        call()
    return info.value.response["Error"]["Code"]


def settle(cc, token: str) -> dict:
    with contextlib.suppress(WaiterError):
        cc.get_waiter("resource_request_success").wait(RequestToken=token, WaiterConfig=FAST_WAITER)
    return cc.get_resource_request_status(RequestToken=token)["ProgressEvent"]


@pytest.fixture
def owner(server):
    """An account holding an image with two versions, an alias, tags, and Cloud Control requests."""
    account = new_account()
    sm = client_for(server.endpoint, account)
    cc = client_for(server.endpoint, account, "cloudcontrol")
    role = f"arn:aws:iam::{account}:role/Owner"
    image_arn = sm.create_image(ImageName=NAME, RoleArn=role, Tags=[{"Key": "team", "Value": "a"}])[
        "ImageArn"
    ]
    version_arn = sm.create_image_version(ImageName=NAME, BaseImage="repo/base:1", ClientToken="t1")[
        "ImageVersionArn"
    ]
    sm.create_image_version(ImageName=NAME, BaseImage="repo/base:2", ClientToken="t2", Aliases=["stable"])
    sm.add_tags(ResourceArn=version_arn, Tags=[{"Key": "v", "Value": "1"}])
    config_arn = sm.create_app_image_config(
        AppImageConfigName=CONFIG, KernelGatewayImageConfig=KERNELS, Tags=[{"Key": "c", "Value": "1"}]
    )["AppImageConfigArn"]
    event = cc.create_resource(
        TypeName=IMAGE, DesiredState=json.dumps({"ImageName": CC_NAME, "ImageRoleArn": role})
    )["ProgressEvent"]
    assert settle(cc, event["RequestToken"])["OperationStatus"] == "SUCCESS"
    return {
        "account": account,
        "sm": sm,
        "cc": cc,
        "image_arn": image_arn,
        "version_arn": version_arn,
        "config_arn": config_arn,
        "cc_arn": image_arn.replace(NAME, CC_NAME),
        "token": event["RequestToken"],
    }


def snapshot(owner) -> dict:
    """Everything the owner can see of its resources."""
    sm, cc = owner["sm"], owner["cc"]
    image = sm.describe_image(ImageName=NAME)
    versions = sm.list_image_versions(ImageName=NAME)["ImageVersions"]
    return {
        "image": {k: v for k, v in image.items() if k != "ResponseMetadata"},
        "images": [i["ImageName"] for i in sm.list_images()["Images"]],
        "versions": [(v["Version"], v["ImageVersionStatus"], v["LastModifiedTime"]) for v in versions],
        "aliases": sm.list_aliases(ImageName=NAME)["SageMakerImageVersionAliases"],
        "image_tags": sm.list_tags(ResourceArn=owner["image_arn"])["Tags"],
        "version_tags": sm.list_tags(ResourceArn=owner["version_arn"])["Tags"],
        "config": {
            k: v
            for k, v in sm.describe_app_image_config(AppImageConfigName=CONFIG).items()
            if k != "ResponseMetadata"
        },
        "configs": [c["AppImageConfigName"] for c in sm.list_app_image_configs()["AppImageConfigs"]],
        "config_tags": sm.list_tags(ResourceArn=owner["config_arn"])["Tags"],
        "cc": cc.get_resource(TypeName=IMAGE, Identifier=owner["cc_arn"])["ResourceDescription"],
        "requests": [
            r["RequestToken"] for r in cc.list_resource_requests()["ResourceRequestStatusSummaries"]
        ],
    }


def sagemaker_probes(sm, owner) -> dict[str, list]:
    """Every SageMaker operation, aimed at the owner's resources: (call, expected error or None)."""
    image_arn, version_arn, config_arn = owner["image_arn"], owner["version_arn"], owner["config_arn"]
    tag = [{"Key": "intruder", "Value": "x"}]
    return {
        "CreateImage": [],  # checked separately: the same name is a different image in another account
        "DescribeImage": [(lambda: sm.describe_image(ImageName=NAME), "ResourceNotFound")],
        "UpdateImage": [(lambda: sm.update_image(ImageName=NAME, DisplayName="pwned"), "ResourceNotFound")],
        "DeleteImage": [(lambda: sm.delete_image(ImageName=NAME), "ResourceNotFound")],
        "ListImages": [],  # checked separately: the owner's image is not listed
        "CreateImageVersion": [
            (
                lambda: sm.create_image_version(ImageName=NAME, BaseImage="evil:1", ClientToken="evil"),
                "ResourceNotFound",
            )
        ],
        "DescribeImageVersion": [
            (lambda: sm.describe_image_version(ImageName=NAME, Version=1), "ResourceNotFound"),
            (lambda: sm.describe_image_version(ImageName=NAME, Alias="stable"), "ResourceNotFound"),
            (lambda: sm.describe_image_version(ImageName=NAME), "ResourceNotFound"),
        ],
        "UpdateImageVersion": [
            (lambda: sm.update_image_version(ImageName=NAME, Version=1, Horovod=True), "ResourceNotFound"),
            (
                lambda: sm.update_image_version(ImageName=NAME, Alias="stable", AliasesToDelete=["stable"]),
                "ResourceNotFound",
            ),
        ],
        "DeleteImageVersion": [
            (lambda: sm.delete_image_version(ImageName=NAME, Version=1), "ResourceNotFound"),
            (lambda: sm.delete_image_version(ImageName=NAME, Alias="stable"), "ResourceNotFound"),
        ],
        "ListImageVersions": [(lambda: sm.list_image_versions(ImageName=NAME), "ResourceNotFound")],
        "ListAliases": [(lambda: sm.list_aliases(ImageName=NAME), "ResourceNotFound")],
        "AddTags": [
            (lambda: sm.add_tags(ResourceArn=image_arn, Tags=tag), "ValidationException"),
            (lambda: sm.add_tags(ResourceArn=version_arn, Tags=tag), "ValidationException"),
            (lambda: sm.add_tags(ResourceArn=config_arn, Tags=tag), "ValidationException"),
        ],
        "ListTags": [
            (lambda: sm.list_tags(ResourceArn=image_arn), "ValidationException"),
            (lambda: sm.list_tags(ResourceArn=version_arn), "ValidationException"),
            (lambda: sm.list_tags(ResourceArn=config_arn), "ValidationException"),
        ],
        "DeleteTags": [
            (lambda: sm.delete_tags(ResourceArn=image_arn, TagKeys=["team"]), "ValidationException"),
            (lambda: sm.delete_tags(ResourceArn=version_arn, TagKeys=["v"]), "ValidationException"),
            (lambda: sm.delete_tags(ResourceArn=config_arn, TagKeys=["c"]), "ValidationException"),
        ],
        "CreateAppImageConfig": [],  # checked separately: the same name is another tenant's own config
        "DescribeAppImageConfig": [
            (lambda: sm.describe_app_image_config(AppImageConfigName=CONFIG), "ResourceNotFound")
        ],
        "UpdateAppImageConfig": [
            (
                lambda: sm.update_app_image_config(
                    AppImageConfigName=CONFIG, KernelGatewayImageConfig=KERNELS
                ),
                "ResourceNotFound",
            )
        ],
        "DeleteAppImageConfig": [
            (lambda: sm.delete_app_image_config(AppImageConfigName=CONFIG), "ResourceNotFound")
        ],
        "ListAppImageConfigs": [],  # checked separately: the owner's config is not listed
    }


def test_every_sagemaker_operation_is_probed(server):
    probes = sagemaker_probes(None, {"image_arn": "", "version_arn": "", "config_arn": ""})
    assert set(probes) == set(SAGEMAKER_OPERATIONS)


@pytest.mark.parametrize("where", ["other account", "other region"])
def test_sagemaker_operations_cannot_reach_another_tenant(server, owner, where):
    before = snapshot(owner)
    if where == "other account":
        sm = client_for(server.endpoint, new_account())
    else:
        sm = client_for(server.endpoint, owner["account"], region="eu-west-1")
    for operation, probes in sagemaker_probes(sm, owner).items():
        for call, expected in probes:
            assert code_of(call) == expected, operation
    assert NAME not in [i["ImageName"] for i in sm.list_images()["Images"]]
    assert sm.list_images(NameContains="isolated")["Images"] == []
    # The same name is free in another tenant, and creating it there changes nothing here.
    intruder_arn = sm.create_image(ImageName=NAME, RoleArn=f"arn:aws:iam::{owner['account']}:role/R")[
        "ImageArn"
    ]
    assert intruder_arn != owner["image_arn"]
    sm.add_tags(ResourceArn=intruder_arn, Tags=[{"Key": "team", "Value": "intruder"}])
    sm.create_image_version(ImageName=NAME, BaseImage="evil:1", Aliases=["stable"])
    sm.delete_image(ImageName=NAME)
    assert sm.list_app_image_configs(NameContains="isolated")["AppImageConfigs"] == []
    intruder_config = sm.create_app_image_config(AppImageConfigName=CONFIG)["AppImageConfigArn"]
    assert intruder_config != owner["config_arn"]
    sm.add_tags(ResourceArn=intruder_config, Tags=[{"Key": "c", "Value": "intruder"}])
    sm.update_app_image_config(
        AppImageConfigName=CONFIG, KernelGatewayImageConfig={"KernelSpecs": [{"Name": "r"}]}
    )
    sm.delete_app_image_config(AppImageConfigName=CONFIG)
    assert snapshot(owner) == before


def cloudcontrol_probes(cc, owner) -> dict[str, list]:
    """Every Cloud Control operation, aimed at the owner's resources and requests."""
    arn, token = owner["cc_arn"], owner["token"]
    by_name = json.dumps({"ImageName": CC_NAME})
    version_arn = owner["version_arn"]
    patch = json.dumps([{"op": "add", "path": "/ImageDescription", "value": "pwned"}])
    return {
        "CreateResource": [],  # checked separately: creates only in the caller's own account
        "GetResource": [
            (lambda: cc.get_resource(TypeName=IMAGE, Identifier=arn), "ResourceNotFoundException"),
            (lambda: cc.get_resource(TypeName=IMAGE, Identifier=by_name), "ResourceNotFoundException"),
            (lambda: cc.get_resource(TypeName=VERSION, Identifier=version_arn), "ResourceNotFoundException"),
            (
                lambda: cc.get_resource(TypeName=APP_IMAGE_CONFIG, Identifier=CONFIG),
                "ResourceNotFoundException",
            ),
        ],
        "UpdateResource": [
            (
                lambda: cc.update_resource(TypeName=IMAGE, Identifier=arn, PatchDocument=patch),
                "ResourceNotFoundException",
            ),
            (
                lambda: cc.update_resource(
                    TypeName=VERSION,
                    Identifier=version_arn,
                    PatchDocument=json.dumps([{"op": "add", "path": "/Horovod", "value": True}]),
                ),
                "ResourceNotFoundException",
            ),
            (
                lambda: cc.update_resource(
                    TypeName=APP_IMAGE_CONFIG,
                    Identifier=CONFIG,
                    PatchDocument=json.dumps(
                        [{"op": "add", "path": "/Tags", "value": [{"Key": "x", "Value": "y"}]}]
                    ),
                ),
                "ResourceNotFoundException",
            ),
        ],
        "DeleteResource": [],  # asynchronous: checked separately, the request fails with NotFound
        "ListResources": [],  # checked separately: nothing of the owner's is listed
        "GetResourceRequestStatus": [
            (lambda: cc.get_resource_request_status(RequestToken=token), "RequestTokenNotFoundException")
        ],
        "ListResourceRequests": [],  # checked separately
        "CancelResourceRequest": [
            (lambda: cc.cancel_resource_request(RequestToken=token), "RequestTokenNotFoundException")
        ],
    }


def test_every_cloudcontrol_operation_is_probed():
    assert set(cloudcontrol_probes(None, {"cc_arn": "", "token": "", "version_arn": ""})) == set(
        CLOUDCONTROL_OPERATIONS
    )


@pytest.mark.parametrize("where", ["other account", "other region"])
def test_cloudcontrol_operations_cannot_reach_another_tenant(server, owner, where):
    before = snapshot(owner)
    if where == "other account":
        account = new_account()
        cc = client_for(server.endpoint, account, "cloudcontrol")
    else:
        account = owner["account"]
        cc = client_for(server.endpoint, account, "cloudcontrol", region="eu-west-1")
    for operation, probes in cloudcontrol_probes(cc, owner).items():
        for call, expected in probes:
            assert code_of(call) == expected, operation
    listed = cc.list_resources(TypeName=IMAGE)["ResourceDescriptions"]
    assert owner["cc_arn"] not in [d["Identifier"] for d in listed]
    assert all(NAME not in d["Identifier"] for d in listed)
    with contextlib.suppress(ClientError):  # an error is as good as an empty list here
        versions = cc.list_resources(TypeName=VERSION, ResourceModel=json.dumps({"ImageName": NAME}))
        assert versions["ResourceDescriptions"] == []
    assert owner["token"] not in [
        r["RequestToken"] for r in cc.list_resource_requests()["ResourceRequestStatusSummaries"]
    ]
    # Deleting by the owner's ARN or name fails with NotFound; the owner's image stays.
    for identifier in (owner["cc_arn"], json.dumps({"ImageName": CC_NAME})):
        event = cc.delete_resource(TypeName=IMAGE, Identifier=identifier)["ProgressEvent"]
        final = settle(cc, event["RequestToken"])
        assert (final["OperationStatus"], final.get("ErrorCode")) == ("FAILED", "NotFound")
    event = cc.delete_resource(TypeName=APP_IMAGE_CONFIG, Identifier=CONFIG)["ProgressEvent"]
    final = settle(cc, event["RequestToken"])
    assert (final["OperationStatus"], final.get("ErrorCode")) == ("FAILED", "NotFound")
    listed = cc.list_resources(TypeName=APP_IMAGE_CONFIG)["ResourceDescriptions"]
    assert CONFIG not in [d["Identifier"] for d in listed]
    # The same config name created here is this tenant's own.
    event = cc.create_resource(
        TypeName=APP_IMAGE_CONFIG, DesiredState=json.dumps({"AppImageConfigName": CONFIG})
    )
    assert settle(cc, event["ProgressEvent"]["RequestToken"])["OperationStatus"] == "SUCCESS"
    # A version created on "the owner's image" lands nowhere: there is no such image in this tenant.
    event = cc.create_resource(
        TypeName=VERSION, DesiredState=json.dumps({"ImageName": NAME, "BaseImage": "evil:1"})
    )["ProgressEvent"]
    assert settle(cc, event["RequestToken"])["OperationStatus"] == "FAILED"
    # The same name created here is this tenant's own image.
    event = cc.create_resource(
        TypeName=IMAGE,
        DesiredState=json.dumps({"ImageName": CC_NAME, "ImageRoleArn": f"arn:aws:iam::{account}:role/R"}),
    )["ProgressEvent"]
    final = settle(cc, event["RequestToken"])
    assert final["OperationStatus"] == "SUCCESS"
    assert final["Identifier"] != owner["cc_arn"]
    assert snapshot(owner) == before
