"""The sample project's own fixtures: AWS resources in moto, and the server fixture in front of moto."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.server import ThreadedMotoServer

from sagemaker_images.testing.server import free_port

BUCKET = "release-notes"


def make_bucket_and_role() -> str:
    """What the project expects to exist: a notes bucket and the images' role (moto keeps both)."""
    boto3.client("s3").create_bucket(Bucket=BUCKET)
    iam = boto3.client("iam")
    return iam.create_role(RoleName="catalog-images", AssumeRolePolicyDocument="{}")["Role"]["Arn"]


@pytest.fixture
def aws() -> Iterator[None]:
    """moto for everything sagemaker-images does not serve."""
    with mock_aws():
        yield


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture(scope="session")
def sagemaker_images_server_options(moto_endpoint: str) -> dict[str, Any]:
    """One endpoint for everything: the server answers images and forwards the rest to moto."""
    return {"upstream": moto_endpoint}
