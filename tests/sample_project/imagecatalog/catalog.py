"""Publishing images and finding the newest good release."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import boto3

IN_PROGRESS = ("CREATING", "UPDATING", "DELETING")


@dataclass(frozen=True)
class Release:
    image_name: str
    version: int
    base_image: str
    notes: str


def publish(
    image_name: str,
    base_image: str,
    role_arn: str,
    notes_bucket: str,
    notes: str,
    sleep: Callable[[float], object] = time.sleep,
) -> int:
    """Create the image if needed, add a version of ``base_image``, and store its release notes."""
    sagemaker = boto3.client("sagemaker")
    s3 = boto3.client("s3")
    try:
        sagemaker.describe_image(ImageName=image_name)
    except sagemaker.exceptions.ResourceNotFound:
        sagemaker.create_image(
            ImageName=image_name, RoleArn=role_arn, Tags=[{"Key": "owner", "Value": "catalog"}]
        )
        while sagemaker.describe_image(ImageName=image_name)["ImageStatus"] in IN_PROGRESS:
            sleep(30)
    arn = sagemaker.create_image_version(ImageName=image_name, BaseImage=base_image)["ImageVersionArn"]
    version = int(arn.rsplit("/", 1)[1])
    s3.put_object(Bucket=notes_bucket, Key=f"{image_name}/{version}.md", Body=notes.encode())
    return version


def wait_until_settled(
    image_name: str, version: int, sleep: Callable[[float], object] = time.sleep, poll_seconds: float = 30
) -> tuple[str, str | None]:
    """Poll a version until it leaves CREATING; its final status and failure reason."""
    sagemaker = boto3.client("sagemaker")
    while True:
        described = sagemaker.describe_image_version(ImageName=image_name, Version=version)
        if described["ImageVersionStatus"] not in IN_PROGRESS:
            return described["ImageVersionStatus"], described.get("FailureReason")
        sleep(poll_seconds)


def latest_release(image_name: str, notes_bucket: str) -> Release | None:
    """The newest CREATED version of an image, with its notes; None if there is none."""
    sagemaker = boto3.client("sagemaker")
    s3 = boto3.client("s3")
    pages = sagemaker.get_paginator("list_image_versions").paginate(
        ImageName=image_name, SortBy="VERSION", SortOrder="DESCENDING"
    )
    for page in pages:
        for summary in page["ImageVersions"]:
            if summary["ImageVersionStatus"] != "CREATED":
                continue
            version = summary["Version"]
            described = sagemaker.describe_image_version(ImageName=image_name, Version=version)
            notes = s3.get_object(Bucket=notes_bucket, Key=f"{image_name}/{version}.md")["Body"].read()
            return Release(image_name, version, described["BaseImage"], notes.decode())
    return None
