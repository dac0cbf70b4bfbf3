"""Drives a sagemaker-images server with aiobotocore (its own aiohttp transport, its pinned botocore) and
prints what it saw as JSON. Usage: ENDPOINT=http://127.0.0.1:8750 ACCOUNT=123456789012 python this.py"""

from __future__ import annotations

import asyncio
import json
import os

import botocore
from aiobotocore.session import get_session
from botocore.exceptions import ClientError, WaiterError

ENDPOINT, ACCOUNT = os.environ["ENDPOINT"], os.environ["ACCOUNT"]
FAST = {"Delay": 1, "MaxAttempts": 60}


async def main() -> dict:
    seen: dict = {"botocore": botocore.__version__}
    session = get_session()
    options = {
        "endpoint_url": ENDPOINT,
        "region_name": "ap-southeast-2",
        "aws_access_key_id": ACCOUNT,
        "aws_secret_access_key": "secret",
    }
    async with (
        session.create_client("sagemaker", **options) as sm,
        session.create_client("cloudcontrol", **options) as cc,
        session.create_client("sts", **options) as sts,
    ):
        seen["callerAccount"] = (await sts.get_caller_identity())["Account"]
        role = f"arn:aws:iam::{ACCOUNT}:role/R"
        created = await sm.create_image(
            ImageName="aio-img",
            RoleArn=role,
            Tags=[{"Key": "team", "Value": "ml"}, {"Key": "env", "Value": "dev"}],
        )
        seen["imageArn"] = created["ImageArn"]
        await sm.get_waiter("image_created").wait(ImageName="aio-img", WaiterConfig=FAST)
        # Three versions at once, as concurrent tasks on one connection pool.
        await asyncio.gather(
            *(
                sm.create_image_version(
                    ImageName="aio-img",
                    BaseImage=f"repo:{n}",
                    Aliases=[f"v{n}"],
                    JobType="INFERENCE",
                    Processor="GPU",
                    **({"Horovod": True} if n == 2 else {}),
                )
                for n in (1, 2, 3)
            )
        )
        for n in (1, 2, 3):
            await sm.get_waiter("image_version_created").wait(
                ImageName="aio-img", Version=n, WaiterConfig=FAST
            )
        paginator = sm.get_paginator("list_image_versions")
        seen["pages"] = [
            [v["Version"] for v in page["ImageVersions"]]
            async for page in paginator.paginate(ImageName="aio-img", PaginationConfig={"PageSize": 2})
        ]
        # Which version got which alias depends on the order the concurrent calls arrived in.
        holder = (await sm.describe_image_version(ImageName="aio-img", Alias="v2"))["Version"]
        await sm.update_image_version(ImageName="aio-img", Version=holder, AliasesToAdd=["stable"])
        stable = await sm.describe_image_version(ImageName="aio-img", Alias="stable")
        seen["versionByAlias"] = {k: stable.get(k) for k in ("Version", "Horovod", "JobType", "Processor")}
        seen["versionByAlias"]["Version"] = 2 if stable["Version"] == holder else stable["Version"]
        other = next(n for n in (1, 2, 3) if n != holder)
        seen["horovodUnset"] = (await sm.describe_image_version(ImageName="aio-img", Version=other))[
            "Horovod"
        ]
        seen["aliases"] = (await sm.list_aliases(ImageName="aio-img", Version=holder))[
            "SageMakerImageVersionAliases"
        ]

        await sm.update_image(ImageName="aio-img", Description="async")
        await sm.get_waiter("image_updated").wait(ImageName="aio-img", WaiterConfig=FAST)
        await sm.add_tags(ResourceArn=created["ImageArn"], Tags=[{"Key": "team", "Value": "ai"}])
        seen["tags"] = (await sm.list_tags(ResourceArn=created["ImageArn"]))["Tags"]
        try:
            await sm.describe_image(ImageName="absent")
        except ClientError as error:
            seen["missing"] = error.response["Error"]

        desired = {
            "ImageName": "aio-cc",
            "ImageRoleArn": role,
            "Tags": [{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}],
        }
        event = (
            await cc.create_resource(TypeName="AWS::SageMaker::Image", DesiredState=json.dumps(desired))
        )["ProgressEvent"]
        await cc.get_waiter("resource_request_success").wait(
            RequestToken=event["RequestToken"], WaiterConfig=FAST
        )
        patch = [
            {"op": "add", "path": "/ImageDescription", "value": "async"},
            {"op": "replace", "path": "/Tags/1/Key", "value": "c"},
            {"op": "replace", "path": "/Tags/1/Value", "value": "3"},
        ]
        event = (
            await cc.update_resource(
                TypeName="AWS::SageMaker::Image",
                Identifier='{"ImageName": "aio-cc"}',
                PatchDocument=json.dumps(patch),
            )
        )["ProgressEvent"]
        await cc.get_waiter("resource_request_success").wait(
            RequestToken=event["RequestToken"], WaiterConfig=FAST
        )
        got = await cc.get_resource(TypeName="AWS::SageMaker::Image", Identifier='{"ImageName": "aio-cc"}')
        seen["ccModel"] = json.loads(got["ResourceDescription"]["Properties"])

        await sm.delete_image(ImageName="aio-img")
        for _ in range(60):
            try:
                await sm.describe_image(ImageName="aio-img")
            except ClientError as error:
                seen["afterDelete"] = error.response["Error"]["Code"]
                break
            await asyncio.sleep(0.5)
        await sm.delete_image(ImageName="aio-cc")
        try:
            await sm.get_waiter("image_deleted").wait(
                ImageName="aio-cc", WaiterConfig={"Delay": 1, "MaxAttempts": 5}
            )
            seen["deletedWaiter"] = "succeeded"
        except WaiterError as error:
            seen["deletedWaiter"] = str(error)
    return seen


print(json.dumps(asyncio.run(main()), default=str))
