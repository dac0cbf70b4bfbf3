"""The sample project tested with the pytest fixture and marker, moto composed."""

from __future__ import annotations

import pytest

from tests.sample_project.conftest import BUCKET, make_bucket_and_role
from tests.sample_project.imagecatalog import latest_release, publish, wait_until_settled


def test_publish(sagemaker_images, aws) -> None:
    role = make_bucket_and_role()
    version = publish("fixture-img", "python:3.12", role, BUCKET, "notes")
    assert wait_until_settled("fixture-img", version) == ("CREATED", None)
    assert latest_release("fixture-img", BUCKET).version == version


@pytest.mark.sagemaker_images(fail_base_images=r".*:broken")
def test_a_failing_base_image(sagemaker_images, aws) -> None:
    role = make_bucket_and_role()
    good = publish("fixture-img", "python:3.12", role, BUCKET, "good")
    publish("fixture-img", "python:broken", role, BUCKET, "bad")
    assert latest_release("fixture-img", BUCKET).version == good


def test_throttling_is_retried_by_the_project_code(sagemaker_images, aws) -> None:
    role = make_bucket_and_role()
    sagemaker_images.fail_next("CreateImageVersion", "ThrottlingException")
    assert publish("fixture-img", "python:3.12", role, BUCKET, "after a retry") == 1
