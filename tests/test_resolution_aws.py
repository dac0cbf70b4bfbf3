"""Resolution through the AWS APIs: moto's server as the ECR endpoint (images created with
put_image) and as the IAM endpoint for CreateImage's role check, on both backends."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.calls import error_of, wait_until
from tests.conftest import client_for, new_account
from tests.servers import free_port
from tests.test_resolution import create_version, db_url, servers, settled  # noqa: F401 (fixtures)

pytest.importorskip("moto")

MOTO_ACCOUNT = "123456789012"  # moto's default account
AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
}
FAST = {"Delay": 0.1, "MaxAttempts": 300}


@pytest.fixture(scope="module")
def moto_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    log = open(tmp_path_factory.mktemp("moto") / "moto.log", "wb")  # noqa: SIM115
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, **AWS_ENV},
    )
    deadline = time.monotonic() + 60
    while True:
        assert process.poll() is None, "moto's server exited"
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            break
        assert time.monotonic() < deadline, "moto's server did not start"
        time.sleep(0.1)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(10)
        log.close()


def aws_client(service: str, endpoint: str, region: str = "us-east-1"):
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def push(ecr, repository: str, tag: str, content: str) -> str:
    """put_image of a small OCI manifest; its digest as ECR reports it."""
    with contextlib.suppress(ecr.exceptions.RepositoryAlreadyExistsException):
        ecr.create_repository(repositoryName=repository)
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": content, "size": 7},
        "layers": [],
    }
    answer = ecr.put_image(repositoryName=repository, imageManifest=json.dumps(manifest), imageTag=tag)
    return answer["image"]["imageId"]["imageDigest"]


def test_ecr_uris_are_resolved_through_the_ecr_api(servers, moto_endpoint):  # noqa: F811
    ecr = aws_client("ecr", moto_endpoint)
    repository = f"team-{new_account()}/app"
    digest = push(ecr, repository, "v1", "sha256:" + "1" * 64)
    host = f"{MOTO_ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com"
    server = servers("--ecr-endpoint", moto_endpoint, env=AWS_ENV)
    sm = client_for(server.endpoint, new_account())
    sm.create_image(ImageName="img", RoleArn=f"arn:aws:iam::{MOTO_ACCOUNT}:role/R")
    sm.get_waiter("image_created").wait(ImageName="img", WaiterConfig=FAST)

    found = create_version(sm, "img", f"{host}/{repository}:v1")
    sm.get_waiter("image_version_created").wait(ImageName="img", Version=found, WaiterConfig=FAST)
    assert (
        sm.describe_image_version(ImageName="img", Version=found)["ContainerImage"]
        == f"{host}/{repository}@{digest}"
    )
    by_digest = create_version(sm, "img", f"{host}/{repository}@{digest}")
    assert settled(sm, "img", by_digest)["ContainerImage"] == f"{host}/{repository}@{digest}"

    # The tag moves in ECR: the version keeps what it resolved.
    moved = push(ecr, repository, "v1", "sha256:" + "2" * 64)
    later = create_version(sm, "img", f"{host}/{repository}:v1")
    assert settled(sm, "img", later)["ContainerImage"] == f"{host}/{repository}@{moved}"
    assert (
        sm.describe_image_version(ImageName="img", Version=found)["ContainerImage"]
        == f"{host}/{repository}@{digest}"
    )

    failures = {
        f"{host}/{repository}:v9": f"The image '{host}/{repository}:v9' does not exist. Requested image not "
        f"found: no manifest with tag v9 in the repository with name '{repository}'.",
        f"{host}/nothing-here:v1": f"The image '{host}/nothing-here:v1' does not exist. The repository with "
        f"name 'nothing-here' does not exist in the registry with id '{MOTO_ACCOUNT}'.",
        # Another account, another region: that repository does not exist there.
        f"111111111111.dkr.ecr.us-east-1.amazonaws.com/{repository}:v1": "The image "
        f"'111111111111.dkr.ecr.us-east-1.amazonaws.com/{repository}:v1' does not exist. The repository with "
        f"name '{repository}' does not exist in the registry with id '111111111111'.",
        f"{MOTO_ACCOUNT}.dkr.ecr.eu-west-1.amazonaws.com/{repository}:v1": "The image "
        f"'{MOTO_ACCOUNT}.dkr.ecr.eu-west-1.amazonaws.com/{repository}:v1' does not exist. The repository "
        f"with name '{repository}' does not exist in the registry with id '{MOTO_ACCOUNT}'.",
        # Only ECR URIs are accepted, as by AWS.
        "python:3.12-slim": "Invalid BaseImage 'python:3.12-slim'. Please provide a valid Amazon Elastic "
        "Container Registry path of the Docker image (expected "
        "<acct-id>.dkr.ecr.<region>.amazonaws.com/<repo-name[:tag] or [@digest]>).",
    }
    versions = {base: create_version(sm, "img", base) for base in failures}
    for base, reason in failures.items():
        described = settled(sm, "img", versions[base])
        assert (described["ImageVersionStatus"], described["FailureReason"]) == ("CREATE_FAILED", reason)


def test_create_image_with_a_role_that_does_not_exist_ends_create_failed(servers, moto_endpoint):  # noqa: F811
    iam = aws_client("iam", moto_endpoint)
    name = f"SageMakerRole{new_account()}"
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "sagemaker.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    role_arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    server = servers("--iam-endpoint", moto_endpoint, env=AWS_ENV)
    sm = client_for(server.endpoint, new_account())

    sm.create_image(ImageName="good", RoleArn=role_arn)
    sm.get_waiter("image_created").wait(ImageName="good", WaiterConfig=FAST)
    assert sm.describe_image(ImageName="good")["ImageStatus"] == "CREATED"
    assert create_version(sm, "good", "python:3.12") == 1  # no registry configured: taken as written

    missing = f"arn:aws:iam::{MOTO_ACCOUNT}:role/NoSuchRole{new_account()}"
    elsewhere = role_arn.replace(MOTO_ACCOUNT, "111111111111")  # same name, another account
    for image, arn in (("bad", missing), ("foreign", elsewhere)):
        assert sm.create_image(ImageName=image, RoleArn=arn)["ImageArn"].endswith(f"image/{image}")
        wait_until(
            lambda i=image: sm.describe_image(ImageName=i)["ImageStatus"] != "CREATING", 30, "the check"
        )
        described = sm.describe_image(ImageName=image)
        assert described["ImageStatus"] == "CREATE_FAILED"
        assert described["FailureReason"] == (
            f"Could not assume role {arn}. Please ensure that the role exists and allows principal "
            "'sagemaker.amazonaws.com' to assume the role."
        )
        with pytest.raises(ClientError) as excinfo:
            sm.create_image_version(ImageName=image, BaseImage="python:3.12")
        assert error_of(excinfo) == ("ValidationException", f"Image {image} is in an invalid state.")
    summaries = {i["ImageName"]: i for i in sm.list_images()["Images"]}
    assert summaries["bad"]["ImageStatus"] == "CREATE_FAILED" and summaries["bad"]["FailureReason"]
    # A failed image can be deleted, and the name used again.
    sm.delete_image(ImageName="bad")
    sm.create_image(ImageName="bad", RoleArn=role_arn)
    sm.get_waiter("image_created").wait(ImageName="bad", WaiterConfig=FAST)


@pytest.mark.long
def test_unreachable_iam_is_retried_then_fails(servers):  # noqa: F811
    closed = f"http://127.0.0.1:{free_port()}"
    server = servers(
        "--iam-endpoint", closed, "--registry-attempts", "2", "--registry-timeout", "2", env=AWS_ENV
    )
    sm = client_for(server.endpoint, new_account())
    role = f"arn:aws:iam::{MOTO_ACCOUNT}:role/R"
    sm.create_image(ImageName="img", RoleArn=role)
    assert sm.describe_image(ImageName="img")["ImageStatus"] == "CREATING"
    wait_until(lambda: sm.describe_image(ImageName="img")["ImageStatus"] != "CREATING", 60, "the retries")
    described = sm.describe_image(ImageName="img")
    assert described["ImageStatus"] == "CREATE_FAILED"
    assert described["FailureReason"].startswith(
        f"Unable to verify the role {role}: IAM could not be reached after 2 attempts ("
    )
