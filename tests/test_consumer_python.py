"""Python consumers with HTTP stacks and botocore versions of their own, unchanged, against a server
whose statuses move, each in a virtual environment of its own (tests/consumers.py):

- sagemaker-core (``sagemaker.core.resources``), pointed at the server only by AWS_ENDPOINT_URL_SAGEMAKER;
- aiobotocore, with its own aiohttp transport and the older botocore it pins.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import new_account
from tests.consumers import moving_server, python_environment, run_flow

pytestmark = pytest.mark.external

__all__ = ["moving_server"]

FLOWS = Path(__file__).parent / "python"
SAGEMAKER_CORE = "sagemaker-core==2.27.0"
AIOBOTOCORE = "aiobotocore==3.10.0"  # pins botocore>=1.43.115,<1.43.118


def flow(python: Path, script: str, server, account: str, **env: str) -> dict:
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        return run_flow([str(python), str(FLOWS / script)], server, account)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


# -- sagemaker-core ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def core_seen(moving_server) -> tuple[str, dict]:
    python = python_environment("sagemaker-core", [SAGEMAKER_CORE])
    account = new_account()
    seen = flow(
        python,
        "sagemaker_core_flow.py",
        moving_server,
        account,
        AWS_ENDPOINT_URL_SAGEMAKER=moving_server.endpoint,
        AWS_ACCESS_KEY_ID=account,
        AWS_SECRET_ACCESS_KEY="secret",
        AWS_DEFAULT_REGION="us-east-1",
    )
    return account, seen


def test_sagemaker_core_flow(core_seen):
    account, seen = core_seen
    assert seen["imageArn"] == f"arn:aws:sagemaker:us-east-1:{account}:image/core-img"
    assert seen["imageStatus"] == "CREATED"
    assert seen["description"] == "updated by sagemaker-core"
    assert seen["got"] == {"status": "CREATED", "displayNameGone": True}
    assert seen["listed"] == ["core-img"]
    assert seen["missing"] == {
        "Code": "ResourceNotFound",
        "Message": f"Image with ARN arn:aws:sagemaker:us-east-1:{account}:image/absent does not exist",
    }
    assert seen["remaining"] == []


@pytest.mark.xfail(
    strict=True,
    reason="sagemaker-core 2.27.0's ImageVersion requires image_name, which DescribeImageVersion does not "
    "return (not a member of its output shape, against AWS either; aws/sagemaker-core issue 6 for the same "
    "class): ImageVersion.create/get raise pydantic ValidationError after the call succeeded",
)
def test_sagemaker_core_image_version_objects(core_seen):
    assert core_seen[1]["imageVersionObjects"] == ["built", "built", "built"]


@pytest.mark.xfail(
    strict=True,
    reason="sagemaker-core 2.27.0's Image.get_all_aliases iterates ListAliases' strings as if they were "
    "summary objects (AttributeError), whatever the server",
)
def test_sagemaker_core_get_all_aliases(core_seen):
    assert core_seen[1]["aliasesOf2"] == ["v2"]


# -- aiobotocore ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def aio_seen(moving_server) -> tuple[str, dict]:
    python = python_environment("aiobotocore", [AIOBOTOCORE])
    account = new_account()
    return account, flow(python, "aiobotocore_flow.py", moving_server, account)


def test_aiobotocore_flow(aio_seen):
    account, seen = aio_seen
    arn = f"arn:aws:sagemaker:ap-southeast-2:{account}"
    assert seen["botocore"].startswith("1.43.")
    assert seen["callerAccount"] == account
    assert seen["imageArn"] == f"{arn}:image/aio-img"
    assert seen["pages"] == [[3, 2], [1]]
    assert seen["versionByAlias"] == {
        "Version": 2,
        "Horovod": True,
        "JobType": "INFERENCE",
        "Processor": "GPU",
    }
    assert seen["horovodUnset"] is False
    assert seen["aliases"] == ["stable", "v2"]
    assert seen["tags"] == [{"Key": "team", "Value": "ai"}, {"Key": "env", "Value": "dev"}]
    assert seen["missing"]["Code"] == "ResourceNotFound"
    assert seen["ccModel"]["ImageDescription"] == "async"
    assert seen["ccModel"]["Tags"] == [{"Key": "a", "Value": "1"}, {"Key": "c", "Value": "3"}]
    assert seen["afterDelete"] == "ResourceNotFound"


@pytest.mark.xfail(
    strict=True,
    reason="the botocore aiobotocore 3.10.0 pins (< 1.43.118) has ImageDeleted waiters that expect "
    "ResourceNotFoundException; SageMaker (and this server) answer ResourceNotFound (fixed in 1.43.125)",
)
def test_aiobotocore_image_deleted_waiter(aio_seen):
    assert aio_seen[1]["deletedWaiter"] == "succeeded"
