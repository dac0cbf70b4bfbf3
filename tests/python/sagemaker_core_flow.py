"""Drives a sagemaker-images server with sagemaker-core (``sagemaker.core.resources``) and prints what it
saw as JSON. sagemaker-core builds its own boto3 clients, so it is pointed at the server only through
AWS_ENDPOINT_URL_SAGEMAKER. Usage: AWS_ENDPOINT_URL_SAGEMAKER=... ACCOUNT=123456789012 python this.py
"""

from __future__ import annotations

import json
import os

import botocore.exceptions
import pydantic
from sagemaker.core.resources import Image, ImageVersion
from sagemaker.core.shapes import Tag

account = os.environ["ACCOUNT"]
role = f"arn:aws:iam::{account}:role/R"
seen: dict = {"imageVersionObjects": []}

image = Image.create(
    image_name="core-img",
    role_arn=role,
    description="made by sagemaker-core",
    display_name="Core",
    tags=[Tag(key="team", value="ml"), Tag(key="env", value="dev")],
)
image.wait_for_status("CREATED", poll=1, timeout=60)
seen["imageArn"] = image.image_arn
seen["imageStatus"] = image.image_status

for n in (1, 2, 3):
    try:
        # Creates the version, then builds the object from DescribeImageVersion.
        ImageVersion.create(
            image_name="core-img",
            base_image=f"repo:{n}",
            client_token=f"core-token-{n}",
            aliases=[f"v{n}"],
            job_type="TRAINING",
            processor="CPU",
            ml_framework="PyTorch 2.1",
            programming_lang="Python 3.12",
        )
        seen["imageVersionObjects"].append("built")
    except pydantic.ValidationError as error:
        # DescribeImageVersion has no ImageName member, which sagemaker-core's ImageVersion requires.
        seen["imageVersionObjects"].append(str(error).splitlines()[1].strip())
try:
    seen["aliasesOf2"] = list(image.get_all_aliases(version=2))
except AttributeError as error:
    # Its ResourceIterator expects summaries to be objects; ListAliases lists strings.
    seen["aliasesOf2"] = f"{type(error).__name__}: {error}"

image.update(description="updated by sagemaker-core", delete_properties=["DisplayName"])
image.wait_for_status("CREATED", poll=1, timeout=60)
image.refresh()
seen["description"] = image.description
got = Image.get(image_name="core-img")
seen["got"] = {"status": got.image_status, "displayNameGone": type(got.display_name).__name__ == "Unassigned"}
seen["listed"] = [i.image_name for i in Image.get_all(name_contains="core")]

try:
    Image.get(image_name="absent")
except botocore.exceptions.ClientError as error:
    seen["missing"] = {"Code": error.response["Error"]["Code"], "Message": error.response["Error"]["Message"]}

image.delete()
image.wait_for_delete(poll=1, timeout=60)
seen["remaining"] = [i.image_name for i in Image.get_all(name_contains="core")]
print("\n" + json.dumps(seen, default=str))  # after the progress panels sagemaker-core draws
