"""Images end to end through boto3: create, describe, update, delete, list, waiters, tenancy."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from botocore.exceptions import ClientError

from tests.calls import error_of
from tests.conftest import client_for, new_account


def test_create_describe_and_waiter(sagemaker, account, role_arn):
    created = sagemaker.create_image(
        ImageName="my-img", RoleArn=role_arn, DisplayName="My image", Description="for tests"
    )
    assert created["ImageArn"] == f"arn:aws:sagemaker:us-east-1:{account}:image/my-img"
    sagemaker.get_waiter("image_created").wait(
        ImageName="my-img", WaiterConfig={"Delay": 1, "MaxAttempts": 2}
    )

    image = sagemaker.describe_image(ImageName="my-img")
    assert image["ImageStatus"] == "CREATED"
    assert image["ImageName"] == "my-img"
    assert image["RoleArn"] == role_arn
    assert image["DisplayName"] == "My image"
    assert image["Description"] == "for tests"
    assert image["ImageArn"] == created["ImageArn"]
    assert isinstance(image["CreationTime"], dt.datetime)
    assert abs(image["CreationTime"].timestamp() - time.time()) < 120
    assert image["LastModifiedTime"] >= image["CreationTime"]
    assert "FailureReason" not in image


def test_arn_lowercases_the_name_and_names_are_unique_ignoring_case(sagemaker, account, role_arn):
    arn = sagemaker.create_image(ImageName="My.Image-1", RoleArn=role_arn)["ImageArn"]
    assert arn.endswith(":image/my.image-1")
    assert sagemaker.describe_image(ImageName="My.Image-1")["ImageName"] == "My.Image-1"
    with pytest.raises(ClientError) as excinfo:
        sagemaker.create_image(ImageName="my.image-1", RoleArn=role_arn)
    assert error_of(excinfo) == (
        "ResourceInUse",
        "The Image with ImageName my.image-1 already exists. Please use a different ImageName.",
    )


def test_duplicate_name_is_resource_in_use(sagemaker, role_arn):
    sagemaker.create_image(ImageName="dup", RoleArn=role_arn)
    with pytest.raises(ClientError) as excinfo:
        sagemaker.create_image(ImageName="dup", RoleArn=role_arn)
    assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert error_of(excinfo) == (
        "ResourceInUse",
        "The Image with ImageName dup already exists. Please use a different ImageName.",
    )


def test_describe_missing_image(sagemaker, account):
    with pytest.raises(ClientError) as excinfo:
        sagemaker.describe_image(ImageName="nothing-here")
    code, message = error_of(excinfo)
    assert code == "ResourceNotFound"
    assert "does not exist" in message
    assert f"arn:aws:sagemaker:us-east-1:{account}:image/nothing-here" in message


def test_update_image_sets_and_deletes_properties(sagemaker, role_arn, account):
    sagemaker.create_image(ImageName="upd", RoleArn=role_arn, DisplayName="Old", Description="old")
    before = sagemaker.describe_image(ImageName="upd")
    other_role = f"arn:aws:iam::{account}:role/Other"
    time.sleep(0.01)
    arn = sagemaker.update_image(ImageName="upd", DisplayName="New", RoleArn=other_role)["ImageArn"]
    assert arn == before["ImageArn"]
    sagemaker.get_waiter("image_updated").wait(ImageName="upd", WaiterConfig={"Delay": 1, "MaxAttempts": 2})
    after = sagemaker.describe_image(ImageName="upd")
    assert after["DisplayName"] == "New"
    assert after["Description"] == "old"
    assert after["RoleArn"] == other_role
    assert after["ImageStatus"] == "CREATED"
    assert after["LastModifiedTime"] > before["LastModifiedTime"]
    assert after["CreationTime"] == before["CreationTime"]

    sagemaker.update_image(ImageName="upd", DeleteProperties=["DisplayName", "Description"])
    cleared = sagemaker.describe_image(ImageName="upd")
    assert "DisplayName" not in cleared
    assert "Description" not in cleared


def test_update_and_delete_the_same_property_is_refused(sagemaker, role_arn):
    sagemaker.create_image(ImageName="both", RoleArn=role_arn)
    with pytest.raises(ClientError) as excinfo:
        sagemaker.update_image(ImageName="both", DisplayName="x", DeleteProperties=["DisplayName"])
    assert error_of(excinfo)[0] == "ValidationException"


def test_update_missing_image(sagemaker):
    with pytest.raises(ClientError) as excinfo:
        sagemaker.update_image(ImageName="ghost", DisplayName="x")
    assert error_of(excinfo)[0] == "ResourceNotFound"


def test_delete_image_removes_versions_aliases_tags_and_frees_the_name(sagemaker, role_arn, account):
    arn = sagemaker.create_image(ImageName="gone", RoleArn=role_arn, Tags=[{"Key": "team", "Value": "ml"}])[
        "ImageArn"
    ]
    sagemaker.create_image_version(ImageName="gone", BaseImage="repo/img:1", Aliases=["stable"])
    sagemaker.create_image_version(ImageName="gone", BaseImage="repo/img:2")
    assert sagemaker.delete_image(ImageName="gone")["ResponseMetadata"]["HTTPStatusCode"] == 200
    sagemaker.get_waiter("image_deleted").wait(ImageName="gone", WaiterConfig={"Delay": 1, "MaxAttempts": 2})
    with pytest.raises(ClientError) as excinfo:
        sagemaker.describe_image(ImageName="gone")
    assert error_of(excinfo)[0] == "ResourceNotFound"
    with pytest.raises(ClientError) as excinfo:
        sagemaker.delete_image(ImageName="gone")
    assert error_of(excinfo)[0] == "ResourceNotFound"

    # The name is free again; the new image starts from an empty slate.
    assert sagemaker.create_image(ImageName="gone", RoleArn=role_arn)["ImageArn"] == arn
    assert sagemaker.list_tags(ResourceArn=arn)["Tags"] == []
    assert sagemaker.list_image_versions(ImageName="gone")["ImageVersions"] == []
    assert sagemaker.list_aliases(ImageName="gone")["SageMakerImageVersionAliases"] == []
    version_arn = sagemaker.create_image_version(ImageName="gone", BaseImage="repo/img:3")["ImageVersionArn"]
    assert version_arn.endswith("image-version/gone/1")


def test_same_name_in_two_regions_and_two_accounts(server, sagemaker, account, role_arn):
    west = client_for(server.endpoint, account, region="eu-west-1")
    stranger = client_for(server.endpoint, new_account())
    sagemaker.create_image(ImageName="shared-name", RoleArn=role_arn, DisplayName="east")
    west_arn = west.create_image(ImageName="shared-name", RoleArn=role_arn, DisplayName="west")["ImageArn"]
    assert west_arn == f"arn:aws:sagemaker:eu-west-1:{account}:image/shared-name"
    stranger.create_image(ImageName="shared-name", RoleArn=role_arn, DisplayName="stranger")

    assert sagemaker.describe_image(ImageName="shared-name")["DisplayName"] == "east"
    assert west.describe_image(ImageName="shared-name")["DisplayName"] == "west"
    assert [i["ImageName"] for i in west.list_images()["Images"]] == ["shared-name"]
    west.delete_image(ImageName="shared-name")
    assert sagemaker.describe_image(ImageName="shared-name")["DisplayName"] == "east"
    assert stranger.describe_image(ImageName="shared-name")["DisplayName"] == "stranger"


@pytest.mark.parametrize(
    ("region", "partition"),
    [("cn-north-1", "aws-cn"), ("us-gov-west-1", "aws-us-gov"), ("eu-central-1", "aws")],
)
def test_arn_partition_follows_the_region(server, account, role_arn, region, partition):
    client = client_for(server.endpoint, account, region=region)
    arn = client.create_image(ImageName="parted", RoleArn=role_arn)["ImageArn"]
    assert arn == f"arn:{partition}:sagemaker:{region}:{account}:image/parted"
    version = client.create_image_version(ImageName="parted", BaseImage="b")["ImageVersionArn"]
    assert version == f"arn:{partition}:sagemaker:{region}:{account}:image-version/parted/1"


def test_access_key_that_is_not_an_account_maps_to_the_default_account(server, role_arn):
    client = client_for(server.endpoint, "AKIAEXAMPLEKEY", region="ap-south-2")
    arn = client.create_image(ImageName="default-account-img", RoleArn=role_arn)["ImageArn"]
    assert arn == "arn:aws:sagemaker:ap-south-2:000000000000:image/default-account-img"
    client.delete_image(ImageName="default-account-img")


class TestListImages:
    @pytest.fixture
    def names(self, sagemaker, role_arn):
        names = ["delta", "alpha", "charlie", "bravo", "echo"]
        for name in names:
            sagemaker.create_image(ImageName=name, RoleArn=role_arn)
            time.sleep(0.005)  # distinct creation times, millisecond precision
        return names

    def test_defaults_newest_first_and_summary_members(self, sagemaker, names):
        images = sagemaker.list_images()["Images"]
        assert [i["ImageName"] for i in images] == list(reversed(names))
        assert set(images[0]) == {"CreationTime", "ImageArn", "ImageName", "ImageStatus", "LastModifiedTime"}

    def test_sorting(self, sagemaker, names):
        by_name = sagemaker.list_images(SortBy="IMAGE_NAME", SortOrder="ASCENDING")["Images"]
        assert [i["ImageName"] for i in by_name] == sorted(names)
        by_name_desc = sagemaker.list_images(SortBy="IMAGE_NAME")["Images"]
        assert [i["ImageName"] for i in by_name_desc] == sorted(names, reverse=True)
        oldest = sagemaker.list_images(SortBy="CREATION_TIME", SortOrder="ASCENDING")["Images"]
        assert [i["ImageName"] for i in oldest] == names
        sagemaker.update_image(ImageName="alpha", Description="touched")
        recent = sagemaker.list_images(SortBy="LAST_MODIFIED_TIME")["Images"]
        assert recent[0]["ImageName"] == "alpha"

    def test_name_contains(self, sagemaker, names):
        found = sagemaker.list_images(NameContains="lph")["Images"]
        assert sorted(i["ImageName"] for i in found) == ["alpha"]
        found = sagemaker.list_images(NameContains="A")["Images"]
        assert sorted(i["ImageName"] for i in found) == ["alpha", "bravo", "charlie", "delta"]

    def test_time_filters_are_inclusive(self, sagemaker, names):
        images = sagemaker.list_images(SortOrder="ASCENDING")["Images"]
        second, fourth = images[1]["CreationTime"], images[3]["CreationTime"]
        window = sagemaker.list_images(
            CreationTimeAfter=second, CreationTimeBefore=fourth, SortOrder="ASCENDING"
        )
        assert [i["ImageName"] for i in window["Images"]] == names[1:4]
        modified = sagemaker.list_images(LastModifiedTimeAfter=images[4]["LastModifiedTime"])["Images"]
        assert [i["ImageName"] for i in modified] == [names[4]]
        assert (
            sagemaker.list_images(LastModifiedTimeBefore=images[0]["LastModifiedTime"])["Images"][0][
                "ImageName"
            ]
            == names[0]
        )

    def test_pages_with_the_paginator(self, sagemaker, names):
        pages = list(sagemaker.get_paginator("list_images").paginate(PaginationConfig={"PageSize": 2}))
        assert [len(p["Images"]) for p in pages] == [2, 2, 1]
        assert [i["ImageName"] for p in pages for i in p["Images"]] == list(reversed(names))
        assert "NextToken" not in pages[-1]
        by_name = sagemaker.get_paginator("list_images").paginate(
            SortBy="IMAGE_NAME", SortOrder="ASCENDING", PaginationConfig={"PageSize": 3}
        )
        assert [i["ImageName"] for p in by_name for i in p["Images"]] == sorted(names)

    def test_pages_are_stable_under_concurrent_inserts(self, sagemaker, names, role_arn):
        first = sagemaker.list_images(MaxResults=2, SortOrder="ASCENDING")
        sagemaker.create_image(ImageName="aaa-late", RoleArn=role_arn)
        rest = sagemaker.list_images(MaxResults=10, SortOrder="ASCENDING", NextToken=first["NextToken"])
        assert [i["ImageName"] for i in first["Images"] + rest["Images"]] == [*names, "aaa-late"]

    def test_default_page_size_is_ten(self, sagemaker, role_arn):
        for n in range(12):
            sagemaker.create_image(ImageName=f"many-{n}", RoleArn=role_arn)
        first = sagemaker.list_images()
        assert len(first["Images"]) == 10
        assert "NextToken" in first
