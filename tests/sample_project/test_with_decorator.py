"""The sample project tested with the decorator, moto composed, as a moto user would write it."""

from __future__ import annotations

import boto3
from moto import mock_aws

from sagemaker_images.testing import mock_sagemaker_images
from tests.sample_project.conftest import BUCKET, make_bucket_and_role
from tests.sample_project.imagecatalog import latest_release, publish, wait_until_settled

images = mock_sagemaker_images(transition_delay=120)


@mock_aws
@images
def test_publish_and_find_the_latest_release() -> None:
    role = make_bucket_and_role()
    first = publish("trainer", "python:3.11", role, BUCKET, "first cut", sleep=images.advance)
    # The version takes two minutes to build: the polling code waits on the registry's clock.
    assert wait_until_settled("trainer", first, sleep=images.advance) == ("CREATED", None)
    images.fail_next_versions(reason="Unable to pull python:3.13", image_name="trainer")
    second = publish("trainer", "python:3.13", role, BUCKET, "broken", sleep=images.advance)
    assert wait_until_settled("trainer", second, sleep=images.advance) == (
        "CREATE_FAILED",
        "Unable to pull python:3.13",
    )
    release = latest_release("trainer", BUCKET)
    assert release is not None
    assert (release.version, release.base_image, release.notes) == (1, "python:3.11", "first cut")
    # The role is moto's, the image ours, over one set of clients.
    assert boto3.client("sagemaker").describe_image(ImageName="trainer")["RoleArn"] == role


@mock_sagemaker_images()
@mock_aws
def test_in_the_other_order() -> None:
    role = make_bucket_and_role()
    version = publish("serving", "python:3.12", role, BUCKET, "v1")
    assert version == 1
    assert latest_release("serving", BUCKET).notes == "v1"
