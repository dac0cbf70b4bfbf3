"""The AWS CLI (awscli from PyPI) against the server, as a user types it."""

from __future__ import annotations

import json


def test_cli_image_lifecycle(aws_cli, account, role_arn):
    created = json.loads(
        aws_cli("sagemaker", "create-image", "--image-name", "cli-img", "--role-arn", role_arn).stdout
    )
    assert created["ImageArn"] == f"arn:aws:sagemaker:us-east-1:{account}:image/cli-img"
    aws_cli("sagemaker", "wait", "image-created", "--image-name", "cli-img")
    described = json.loads(aws_cli("sagemaker", "describe-image", "--image-name", "cli-img").stdout)
    assert described["ImageStatus"] == "CREATED"

    version = json.loads(
        aws_cli(
            "sagemaker",
            "create-image-version",
            "--image-name",
            "cli-img",
            "--base-image",
            "repo/img:1",
            "--aliases",
            "stable",
            "--job-type",
            "TRAINING",
            "--horovod",
        ).stdout
    )
    assert version["ImageVersionArn"].endswith("image-version/cli-img/1")
    # AWS CLI v1 reads "--version" as its global flag, so the waiter polls the latest version.
    aws_cli("sagemaker", "wait", "image-version-created", "--image-name", "cli-img")
    by_alias = json.loads(
        aws_cli("sagemaker", "describe-image-version", "--image-name", "cli-img", "--alias", "stable").stdout
    )
    assert by_alias["Version"] == 1
    assert by_alias["Horovod"] is True

    listed = json.loads(aws_cli("sagemaker", "list-images").stdout)
    assert [i["ImageName"] for i in listed["Images"]] == ["cli-img"]
    aws_cli("sagemaker", "add-tags", "--resource-arn", created["ImageArn"], "--tags", "Key=team,Value=ml")
    tags = json.loads(aws_cli("sagemaker", "list-tags", "--resource-arn", created["ImageArn"]).stdout)
    assert tags["Tags"] == [{"Key": "team", "Value": "ml"}]

    aws_cli("sagemaker", "delete-image-version", "--image-name", "cli-img", "--version-number", "1")
    aws_cli("sagemaker", "delete-image", "--image-name", "cli-img")
    gone = aws_cli("sagemaker", "describe-image", "--image-name", "cli-img", check=False)
    assert gone.returncode != 0
    assert "(ResourceNotFound)" in gone.stderr


def test_cli_deleted_waiter_sees_what_aws_sends(aws_cli, role_arn):
    """The CLI's own botocore decides whether `wait image-deleted` works, against AWS as here.

    AWS answers a deleted image with ResourceNotFound. botocore before 1.43.125 waited for
    ResourceNotFoundException instead, so with such a CLI the waiter reports that error as a failure.
    """
    try:
        from awscli.botocore import __version__ as cli_botocore  # newer CLIs vendor their own botocore
    except ImportError:
        from botocore import __version__ as cli_botocore

    aws_cli("sagemaker", "create-image", "--image-name", "to-delete", "--role-arn", role_arn)
    aws_cli("sagemaker", "delete-image", "--image-name", "to-delete")
    result = aws_cli("sagemaker", "wait", "image-deleted", "--image-name", "to-delete", check=False)
    fixed = tuple(int(p) for p in cli_botocore.split(".")[:3]) >= (1, 43, 125)
    if fixed:
        assert result.returncode == 0, result.stderr
    else:
        assert result.returncode != 0
        assert "(ResourceNotFound)" in result.stderr


def test_cli_paginates_automatically(aws_cli, role_arn):
    aws_cli("sagemaker", "create-image", "--image-name", "paged", "--role-arn", role_arn)
    for _ in range(5):
        aws_cli("sagemaker", "create-image-version", "--image-name", "paged", "--base-image", "b")
    listed = json.loads(
        aws_cli("sagemaker", "list-image-versions", "--image-name", "paged", "--page-size", "2").stdout
    )
    assert sorted(v["Version"] for v in listed["ImageVersions"]) == [1, 2, 3, 4, 5]


def test_cli_shows_aws_errors(aws_cli):
    result = aws_cli("sagemaker", "describe-image", "--image-name", "missing", check=False)
    assert result.returncode != 0
    assert "ResourceNotFound" in result.stderr
    assert "does not exist" in result.stderr
