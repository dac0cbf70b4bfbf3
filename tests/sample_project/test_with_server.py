"""The sample project tested against a real server process, fronting a moto server (one endpoint)."""

from __future__ import annotations

import urllib.request

import boto3
import pytest

from tests.sample_project.conftest import BUCKET, make_bucket_and_role
from tests.sample_project.imagecatalog import latest_release, publish, wait_until_settled


@pytest.fixture(autouse=True)
def fresh_moto(moto_endpoint: str) -> None:
    """moto's server keeps its state between tests: start each from nothing, as the images do."""
    urllib.request.urlopen(urllib.request.Request(f"{moto_endpoint}/moto-api/reset", method="POST")).close()


def test_publish_through_one_endpoint(sagemaker_images_endpoint) -> None:
    role = make_bucket_and_role()  # IAM and S3: forwarded to moto
    version = publish("served", "python:3.12", role, BUCKET, "over HTTP")
    assert wait_until_settled("served", version) == ("CREATED", None)
    release = latest_release("served", BUCKET)
    assert (release.version, release.notes) == (version, "over HTTP")
    assert boto3.client("sagemaker").describe_image(ImageName="served")["RoleArn"] == role


def test_faults_and_clock_over_http(sagemaker_images_endpoint) -> None:
    role = make_bucket_and_role()
    sagemaker_images_endpoint.fail_next_versions(reason="no such tag", image_name="served")
    version = publish("served", "python:nope", role, BUCKET, "bad")
    assert wait_until_settled("served", version) == ("CREATE_FAILED", "no such tag")
    assert latest_release("served", BUCKET) is None
