"""Image versions and aliases end to end through boto3."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from botocore.exceptions import ClientError

from tests.calls import error_of
from tests.conftest import client_for

BASE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/my-repo"


@pytest.fixture
def image(sagemaker, role_arn) -> str:
    sagemaker.create_image(ImageName="img", RoleArn=role_arn)
    return "img"


def test_create_and_describe_every_member(sagemaker, image, account):
    arn = sagemaker.create_image_version(
        ImageName=image,
        BaseImage=f"{BASE}:1.0",
        Aliases=["latest-stable"],
        VendorGuidance="STABLE",
        JobType="TRAINING",
        MLFramework="PyTorch 2.3",
        ProgrammingLang="Python 3.11",
        Processor="GPU",
        Horovod=True,
        ReleaseNotes="first release",
    )["ImageVersionArn"]
    assert arn == f"arn:aws:sagemaker:us-east-1:{account}:image-version/img/1"
    sagemaker.get_waiter("image_version_created").wait(
        ImageName=image, Version=1, WaiterConfig={"Delay": 1, "MaxAttempts": 2}
    )
    version = sagemaker.describe_image_version(ImageName=image, Version=1)
    version.pop("ResponseMetadata")
    created, modified = version.pop("CreationTime"), version.pop("LastModifiedTime")
    assert modified >= created
    assert version == {
        "BaseImage": f"{BASE}:1.0",
        "ContainerImage": f"{BASE}:1.0",
        "ImageArn": f"arn:aws:sagemaker:us-east-1:{account}:image/img",
        "ImageVersionArn": arn,
        "ImageVersionStatus": "CREATED",
        "Version": 1,
        "VendorGuidance": "STABLE",
        "JobType": "TRAINING",
        "MLFramework": "PyTorch 2.3",
        "ProgrammingLang": "Python 3.11",
        "Processor": "GPU",
        "Horovod": True,
        "ReleaseNotes": "first release",
    }


def test_optional_members_are_omitted(sagemaker, image):
    sagemaker.create_image_version(ImageName=image, BaseImage=BASE)
    version = sagemaker.describe_image_version(ImageName=image)
    for member in (
        "VendorGuidance",
        "JobType",
        "MLFramework",
        "ProgrammingLang",
        "Processor",
        "ReleaseNotes",
        "FailureReason",
    ):
        assert member not in version
    # As SageMaker answers (an AWS-written fixture of a real DescribeImageVersion answer,
    # amazon-sagemaker-jupyter-scheduler's MOCK_DESCRIBE_IMAGE_VERSION): Horovod reads false.
    assert version["Horovod"] is False


def test_numbers_count_up_and_are_never_reused(sagemaker, image):
    numbers = [
        int(
            sagemaker.create_image_version(ImageName=image, BaseImage=f"{BASE}:{n}")[
                "ImageVersionArn"
            ].rsplit("/")[-1]
        )
        for n in range(3)
    ]
    assert numbers == [1, 2, 3]
    sagemaker.delete_image_version(ImageName=image, Version=3)
    sagemaker.get_waiter("image_version_deleted").wait(
        ImageName=image, Version=3, WaiterConfig={"Delay": 1, "MaxAttempts": 2}
    )
    assert sagemaker.describe_image_version(ImageName=image)["Version"] == 2
    arn = sagemaker.create_image_version(ImageName=image, BaseImage=f"{BASE}:again")["ImageVersionArn"]
    assert arn.endswith("/img/4")


def test_describe_latest_by_version_and_by_alias(sagemaker, image):
    sagemaker.create_image_version(ImageName=image, BaseImage=f"{BASE}:1", Aliases=["one", "first"])
    sagemaker.create_image_version(ImageName=image, BaseImage=f"{BASE}:2", Aliases=["two"])
    assert sagemaker.describe_image_version(ImageName=image)["Version"] == 2
    assert sagemaker.describe_image_version(ImageName=image, Version=1)["BaseImage"] == f"{BASE}:1"
    assert sagemaker.describe_image_version(ImageName=image, Alias="first")["Version"] == 1
    assert sagemaker.describe_image_version(ImageName=image, Alias="two")["Version"] == 2


def test_describe_errors(sagemaker, image, account):
    with pytest.raises(ClientError) as excinfo:
        sagemaker.describe_image_version(ImageName=image)
    assert error_of(excinfo) == (
        "ResourceNotFound",
        "Latest ImageVersion with ImageName img does not exist. Please provide a valid ImageName.",
    )
    sagemaker.create_image_version(ImageName=image, BaseImage=BASE)
    with pytest.raises(ClientError) as excinfo:
        sagemaker.describe_image_version(ImageName=image, Version=7)
    code, message = error_of(excinfo)
    assert code == "ResourceNotFound"
    assert "does not exist" in message
    assert f"arn:aws:sagemaker:us-east-1:{account}:image-version/img/7" in message
    with pytest.raises(ClientError) as excinfo:
        sagemaker.describe_image_version(ImageName=image, Alias="nope")
    assert error_of(excinfo)[0] == "ResourceNotFound"
    assert "does not exist" in error_of(excinfo)[1]
    with pytest.raises(ClientError) as excinfo:
        sagemaker.describe_image_version(ImageName=image, Version=1, Alias="x")
    assert error_of(excinfo)[0] == "ValidationException"
    with pytest.raises(ClientError) as excinfo:
        sagemaker.describe_image_version(ImageName="no-such-image")
    assert error_of(excinfo)[0] == "ResourceNotFound"


def test_version_on_a_missing_image(sagemaker):
    with pytest.raises(ClientError) as excinfo:
        sagemaker.create_image_version(ImageName="missing", BaseImage=BASE)
    code, message = error_of(excinfo)
    assert code == "ResourceNotFound"
    assert "does not exist" in message


def test_client_token_makes_create_idempotent(sagemaker, image):
    first = sagemaker.create_image_version(ImageName=image, BaseImage=f"{BASE}:a", ClientToken="token-1")
    again = sagemaker.create_image_version(ImageName=image, BaseImage=f"{BASE}:a", ClientToken="token-1")
    other = sagemaker.create_image_version(ImageName=image, BaseImage=f"{BASE}:a", ClientToken="token-2")
    assert first["ImageVersionArn"] == again["ImageVersionArn"]
    assert first["ImageVersionArn"].endswith("/1")
    assert other["ImageVersionArn"].endswith("/2")
    assert len(sagemaker.list_image_versions(ImageName=image)["ImageVersions"]) == 2


def test_concurrent_creates_each_get_their_own_number(server, account, image):
    clients = [client_for(server.endpoint, account) for _ in range(8)]

    def create(n: int) -> int:
        arn = clients[n % 8].create_image_version(ImageName=image, BaseImage=f"{BASE}:{n}")["ImageVersionArn"]
        return int(arn.rsplit("/", 1)[1])

    with ThreadPoolExecutor(8) as pool:
        numbers = sorted(pool.map(create, range(40)))
    assert numbers == list(range(1, 41))


def test_aliases_name_one_version_at_a_time(sagemaker, image):
    sagemaker.create_image_version(ImageName=image, BaseImage=f"{BASE}:1", Aliases=["prod"])
    sagemaker.create_image_version(ImageName=image, BaseImage=f"{BASE}:2")
    with pytest.raises(ClientError) as excinfo:
        sagemaker.create_image_version(ImageName=image, BaseImage=f"{BASE}:3", Aliases=["prod"])
    assert error_of(excinfo)[0] == "ResourceInUse"
    with pytest.raises(ClientError) as excinfo:
        sagemaker.update_image_version(ImageName=image, Version=2, AliasesToAdd=["prod"])
    assert error_of(excinfo)[0] == "ResourceInUse"
    # The refused create took no number.
    assert sagemaker.describe_image_version(ImageName=image)["Version"] == 2

    # Move the alias: delete it from 1, add it to 2.
    sagemaker.update_image_version(ImageName=image, Version=1, AliasesToDelete=["prod"])
    sagemaker.update_image_version(ImageName=image, Version=2, AliasesToAdd=["prod", "candidate"])
    assert sagemaker.describe_image_version(ImageName=image, Alias="prod")["Version"] == 2
    # Adding an alias a version already has is a no-op.
    sagemaker.update_image_version(ImageName=image, Alias="prod", AliasesToAdd=["prod"])
    assert sagemaker.list_aliases(ImageName=image, Version=2)["SageMakerImageVersionAliases"] == [
        "candidate",
        "prod",
    ]
    assert sagemaker.list_aliases(ImageName=image, Version=1)["SageMakerImageVersionAliases"] == []


def test_update_image_version_metadata(sagemaker, image):
    sagemaker.create_image_version(ImageName=image, BaseImage=BASE, JobType="TRAINING", Aliases=["a"])
    before = sagemaker.describe_image_version(ImageName=image, Version=1)
    time.sleep(0.01)
    arn = sagemaker.update_image_version(
        ImageName=image,
        Alias="a",
        VendorGuidance="TO_BE_ARCHIVED",
        JobType="INFERENCE",
        MLFramework="TensorFlow 2.16",
        ProgrammingLang="Python 3.12",
        Processor="CPU",
        Horovod=False,
        ReleaseNotes="deprecated",
    )["ImageVersionArn"]
    assert arn == before["ImageVersionArn"]
    after = sagemaker.describe_image_version(ImageName=image, Version=1)
    assert after["VendorGuidance"] == "TO_BE_ARCHIVED"
    assert after["JobType"] == "INFERENCE"
    assert after["MLFramework"] == "TensorFlow 2.16"
    assert after["ProgrammingLang"] == "Python 3.12"
    assert after["Processor"] == "CPU"
    assert after["Horovod"] is False
    assert after["ReleaseNotes"] == "deprecated"
    assert after["ImageVersionStatus"] == "CREATED"
    assert after["LastModifiedTime"] > before["LastModifiedTime"]
    assert after["CreationTime"] == before["CreationTime"]


def test_update_image_version_errors(sagemaker, image):
    sagemaker.create_image_version(ImageName=image, BaseImage=BASE, Aliases=["x"])
    with pytest.raises(ClientError) as excinfo:
        sagemaker.update_image_version(ImageName=image, Version=9, JobType="TRAINING")
    assert error_of(excinfo)[0] == "ResourceNotFound"
    with pytest.raises(ClientError) as excinfo:
        sagemaker.update_image_version(ImageName=image, Version=1, AliasesToDelete=["not-there"])
    assert error_of(excinfo)[0] == "ResourceNotFound"
    with pytest.raises(ClientError) as excinfo:
        sagemaker.update_image_version(ImageName=image, Version=1, AliasesToAdd=["y"], AliasesToDelete=["y"])
    assert error_of(excinfo)[0] == "ValidationException"


def test_delete_by_version_and_by_alias(sagemaker, image):
    for n in range(3):
        sagemaker.create_image_version(ImageName=image, BaseImage=f"{BASE}:{n}", Aliases=[f"a{n}"])
    sagemaker.delete_image_version(ImageName=image, Alias="a1")
    sagemaker.get_waiter("image_version_deleted").wait(
        ImageName=image, Version=2, WaiterConfig={"Delay": 1, "MaxAttempts": 2}
    )
    sagemaker.delete_image_version(ImageName=image, Version=1)
    remaining = sagemaker.list_image_versions(ImageName=image)["ImageVersions"]
    assert [v["Version"] for v in remaining] == [3]
    assert sagemaker.list_aliases(ImageName=image)["SageMakerImageVersionAliases"] == ["a2"]
    with pytest.raises(ClientError) as excinfo:
        sagemaker.delete_image_version(ImageName=image, Version=1)
    assert error_of(excinfo)[0] == "ResourceNotFound"
    with pytest.raises(ClientError) as excinfo:
        sagemaker.delete_image_version(ImageName=image, Alias="a1")
    assert error_of(excinfo)[0] == "ResourceNotFound"


def test_delete_needs_a_version_or_an_alias(sagemaker, image):
    sagemaker.create_image_version(ImageName=image, BaseImage=BASE)
    with pytest.raises(ClientError) as excinfo:
        sagemaker.delete_image_version(ImageName=image)
    assert error_of(excinfo)[0] == "ValidationException"


class TestListImageVersions:
    @pytest.fixture
    def versions(self, sagemaker, image):
        for n in range(5):
            sagemaker.create_image_version(ImageName=image, BaseImage=f"{BASE}:{n}")
            time.sleep(0.005)
        return image

    def test_defaults_and_summary_members(self, sagemaker, versions):
        listed = sagemaker.list_image_versions(ImageName=versions)["ImageVersions"]
        assert [v["Version"] for v in listed] == [5, 4, 3, 2, 1]
        assert set(listed[0]) == {
            "CreationTime",
            "ImageArn",
            "ImageVersionArn",
            "ImageVersionStatus",
            "LastModifiedTime",
            "Version",
        }

    def test_sort_and_filters(self, sagemaker, versions):
        by_version = sagemaker.list_image_versions(
            ImageName=versions, SortBy="VERSION", SortOrder="ASCENDING"
        )
        assert [v["Version"] for v in by_version["ImageVersions"]] == [1, 2, 3, 4, 5]
        sagemaker.update_image_version(ImageName=versions, Version=2, ReleaseNotes="touched")
        recent = sagemaker.list_image_versions(ImageName=versions, SortBy="LAST_MODIFIED_TIME")
        assert recent["ImageVersions"][0]["Version"] == 2
        listed = sagemaker.list_image_versions(ImageName=versions, SortOrder="ASCENDING")["ImageVersions"]
        window = sagemaker.list_image_versions(
            ImageName=versions,
            CreationTimeAfter=listed[1]["CreationTime"],
            CreationTimeBefore=listed[3]["CreationTime"],
        )
        assert [v["Version"] for v in window["ImageVersions"]] == [4, 3, 2]
        touched = sagemaker.list_image_versions(
            ImageName=versions, LastModifiedTimeAfter=recent["ImageVersions"][0]["LastModifiedTime"]
        )
        assert [v["Version"] for v in touched["ImageVersions"]] == [2]

    def test_paginator(self, sagemaker, versions):
        pages = list(
            sagemaker.get_paginator("list_image_versions").paginate(
                ImageName=versions, SortBy="VERSION", PaginationConfig={"PageSize": 2}
            )
        )
        assert [[v["Version"] for v in p["ImageVersions"]] for p in pages] == [[5, 4], [3, 2], [1]]

    def test_missing_image(self, sagemaker):
        with pytest.raises(ClientError) as excinfo:
            sagemaker.list_image_versions(ImageName="nope")
        assert error_of(excinfo)[0] == "ResourceNotFound"


def test_list_aliases_filters_and_pages(sagemaker, image):
    sagemaker.create_image_version(ImageName=image, BaseImage=BASE, Aliases=[f"v1-{c}" for c in "abcde"])
    sagemaker.create_image_version(ImageName=image, BaseImage=BASE, Aliases=["v2"])
    pages = list(
        sagemaker.get_paginator("list_aliases").paginate(ImageName=image, PaginationConfig={"PageSize": 2})
    )
    assert [p["SageMakerImageVersionAliases"] for p in pages] == [
        ["v1-a", "v1-b"],
        ["v1-c", "v1-d"],
        ["v1-e", "v2"],
    ]
    assert sagemaker.list_aliases(ImageName=image, Alias="v2")["SageMakerImageVersionAliases"] == ["v2"]
    assert sagemaker.list_aliases(ImageName=image, Version=2)["SageMakerImageVersionAliases"] == ["v2"]
    with pytest.raises(ClientError) as excinfo:
        sagemaker.list_aliases(ImageName=image, Version=3)
    assert error_of(excinfo)[0] == "ResourceNotFound"
    with pytest.raises(ClientError) as excinfo:
        sagemaker.list_aliases(ImageName="nope")
    assert error_of(excinfo)[0] == "ResourceNotFound"


def test_list_aliases_without_max_results_answers_in_one_call(sagemaker, image):
    # Terraform reads a version's aliases with one ListAliases call and never follows NextToken.
    aliases = sorted(f"alias-{n:02}" for n in range(25))
    sagemaker.create_image_version(ImageName=image, BaseImage=BASE, Aliases=aliases)
    single = sagemaker.list_aliases(ImageName=image, Version=1)
    assert single["SageMakerImageVersionAliases"] == aliases
    assert "NextToken" not in single
    assert sagemaker.list_aliases(ImageName=image)["SageMakerImageVersionAliases"] == aliases
    # An explicit MaxResults still pages.
    first = sagemaker.list_aliases(ImageName=image, Version=1, MaxResults=10)
    assert first["SageMakerImageVersionAliases"] == aliases[:10]
    rest = sagemaker.list_aliases(ImageName=image, Version=1, MaxResults=100, NextToken=first["NextToken"])
    assert rest["SageMakerImageVersionAliases"] == aliases[10:]
