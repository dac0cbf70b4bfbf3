"""The AWS CLI v2 that Debian ships (``apt-get install awscli``: 2.9.19 with its own vendored botocore
model), unchanged, against a server whose statuses move. Installed by .ci/run."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import new_account
from tests.consumers import moving_server, unavailable

# Debian's Go SDK v2 once failed GetCallerIdentity with "use of closed network connection" on its own
# side of a healthy connection, and its AWS CLI v2 thrice with "'Namespace' object has no attribute
# 'cli_binary_format'" before it ran a request; both pass on their own. One more run is allowed and
# reported (R in pytest's output), so a real regression still fails twice.
pytestmark = [pytest.mark.external, pytest.mark.flaky(reruns=1)]

__all__ = ["moving_server"]

DEBIAN_AWS = Path("/usr/bin/aws")


@pytest.fixture(scope="module")
def aws2(moving_server, tmp_path_factory):
    if not DEBIAN_AWS.exists():
        unavailable("the AWS CLI v2 of Debian is not installed (apt-get install awscli)")
    version = subprocess.run([DEBIAN_AWS, "--version"], capture_output=True, text=True).stdout
    if not version.startswith("aws-cli/2."):
        unavailable(f"{DEBIAN_AWS} is not the AWS CLI v2: {version.strip()}")
    account = new_account()
    # Debian's CLI runs on Debian's python with an environment of its own: nothing of the test run's
    # (its virtual environment, another AWS CLI's data, a HOME with ~/.aws) can reach it.
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path_factory.mktemp("aws-cli-v2-home")),
        "LANG": "C.UTF-8",
        "AWS_ACCESS_KEY_ID": account,
        "AWS_SECRET_ACCESS_KEY": "secret",
        "AWS_DEFAULT_REGION": "eu-central-1",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_MAX_ATTEMPTS": "1",
        "AWS_PAGER": "",
        "AWS_ENDPOINT_URL": moving_server.endpoint,  # not read by 2.9 (added in 2.13): --endpoint-url below
    }

    def run(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        command = [str(DEBIAN_AWS), "--endpoint-url", moving_server.endpoint, "--output", "json", *args]
        result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
        if check and result.returncode != 0:
            # The same call with --debug says where the CLI was when it failed.
            debug = subprocess.run(
                [*command, "--debug"], capture_output=True, text=True, env=env, timeout=300
            )
            raise AssertionError(
                f"aws {' '.join(args)} failed ({result.returncode}): {result.stderr}\n"
                f"again with --debug:\n{debug.stderr[-6000:]}"
            )
        return result

    run.account = account  # type: ignore[attr-defined]
    run.version = version  # type: ignore[attr-defined]
    return run


def out(result: subprocess.CompletedProcess[str]) -> dict:
    return json.loads(result.stdout) if result.stdout.strip() else {}


def test_aws_cli_v2_flow(aws2):
    account = aws2.account
    arn = f"arn:aws:sagemaker:eu-central-1:{account}"
    role = f"arn:aws:iam::{account}:role/R"
    assert out(aws2("sts", "get-caller-identity"))["Account"] == account

    created = out(aws2("sagemaker", "create-image", "--image-name", "cli-v2", "--role-arn", role,
                       "--tags", "Key=team,Value=ml", "Key=env,Value=dev"))  # fmt: skip
    assert created["ImageArn"] == f"{arn}:image/cli-v2"
    aws2("sagemaker", "wait", "image-created", "--image-name", "cli-v2")
    for n in (1, 2, 3):
        aws2("sagemaker", "create-image-version", "--image-name", "cli-v2", "--base-image", f"repo:{n}",
             "--aliases", f"v{n}", "--job-type", "NOTEBOOK_KERNEL", "--horovod")  # fmt: skip
    # The waiter spells Version --version (the operations say --version-number: the CLI renames it there).
    aws2("sagemaker", "wait", "image-version-created", "--image-name", "cli-v2", "--version", "3")
    # The CLI follows NextToken itself: one call per version with a page size of 1.
    versions = out(aws2("sagemaker", "list-image-versions", "--image-name", "cli-v2", "--page-size", "1"))
    assert [v["Version"] for v in versions["ImageVersions"]] == [3, 2, 1]
    aws2("sagemaker", "update-image-version", "--image-name", "cli-v2", "--alias", "v2",
         "--aliases-to-add", "stable", "--release-notes", "second")  # fmt: skip
    stable = out(aws2("sagemaker", "describe-image-version", "--image-name", "cli-v2", "--alias", "stable"))
    assert (stable["Version"], stable["ReleaseNotes"], stable["Horovod"]) == (2, "second", True)
    aliases = out(aws2("sagemaker", "list-aliases", "--image-name", "cli-v2", "--version-number", "2"))
    assert aliases["SageMakerImageVersionAliases"] == ["stable", "v2"]

    aws2("sagemaker", "update-image", "--image-name", "cli-v2", "--description", "from the CLI")
    aws2("sagemaker", "wait", "image-updated", "--image-name", "cli-v2")
    assert out(aws2("sagemaker", "describe-image", "--image-name", "cli-v2"))["Description"] == "from the CLI"
    aws2("sagemaker", "add-tags", "--resource-arn", created["ImageArn"], "--tags", "Key=team,Value=ai")
    tags = out(aws2("sagemaker", "list-tags", "--resource-arn", created["ImageArn"]))["Tags"]
    assert tags == [{"Key": "team", "Value": "ai"}, {"Key": "env", "Value": "dev"}]

    missing = aws2("sagemaker", "describe-image", "--image-name", "absent", check=False)
    assert missing.returncode == 254
    assert "(ResourceNotFound) when calling the DescribeImage operation" in missing.stderr
    assert f"Image with ARN {arn}:image/absent does not exist" in missing.stderr

    desired = json.dumps(
        {"ImageName": "cli-v2-cc", "ImageRoleArn": role, "Tags": [{"Key": "k", "Value": "v"}]}
    )
    event = out(aws2("cloudcontrol", "create-resource", "--type-name", "AWS::SageMaker::Image",
                     "--desired-state", desired))["ProgressEvent"]  # fmt: skip
    aws2("cloudcontrol", "wait", "resource-request-success", "--request-token", event["RequestToken"])
    got = out(aws2("cloudcontrol", "get-resource", "--type-name", "AWS::SageMaker::Image",
                   "--identifier", '{"ImageName": "cli-v2-cc"}'))  # fmt: skip
    assert got["ResourceDescription"]["Identifier"] == f"{arn}:image/cli-v2-cc"
    listed = out(aws2("cloudcontrol", "list-resources", "--type-name", "AWS::SageMaker::Image"))
    assert {r["Identifier"] for r in listed["ResourceDescriptions"]} == {
        f"{arn}:image/cli-v2",
        f"{arn}:image/cli-v2-cc",
    }

    aws2("sagemaker", "delete-image-version", "--image-name", "cli-v2", "--alias", "v1")
    aws2("sagemaker", "delete-image", "--image-name", "cli-v2")


@pytest.mark.xfail(
    strict=True,
    reason="the image-deleted waiter of the botocore model vendored in Debian's awscli 2.9.19 expects "
    "ResourceNotFoundException; SageMaker (and this server) answer ResourceNotFound, so it fails against AWS "
    "too (botocore fixed it in 1.43.125)",
)
def test_aws_cli_v2_image_deleted_waiter(aws2):
    role = f"arn:aws:iam::{aws2.account}:role/R"
    aws2("sagemaker", "create-image", "--image-name", "cli-v2-gone", "--role-arn", role)
    aws2("sagemaker", "wait", "image-created", "--image-name", "cli-v2-gone")
    aws2("sagemaker", "delete-image", "--image-name", "cli-v2-gone")
    aws2("sagemaker", "wait", "image-deleted", "--image-name", "cli-v2-gone")
