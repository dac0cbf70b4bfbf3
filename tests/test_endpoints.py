"""The README's ways of pointing clients at the server, run as written: botocore's endpoint variables
(service-specific and global) with no endpoint_url in the code, and the AWS CLI reading them too."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

SCRIPT = """
import json, boto3
sm, cc, sts = (boto3.client(s, region_name="us-east-1") for s in ("sagemaker", "cloudcontrol", "sts"))
sm.create_image(ImageName="by-env", RoleArn="arn:aws:iam::000000000000:role/R")
state = json.dumps({"ImageName": "by-env-cc", "ImageRoleArn": "arn:aws:iam::000000000000:role/R"})
event = cc.create_resource(TypeName="AWS::SageMaker::Image", DesiredState=state)["ProgressEvent"]
cc.get_waiter("resource_request_success").wait(RequestToken=event["RequestToken"], WaiterConfig={"Delay": 0.05})
print(json.dumps({
    "account": sts.get_caller_identity()["Account"],
    "images": sorted(i["ImageName"] for i in sm.list_images()["Images"]),
}))
"""


def environment(account: str, **endpoints: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    return {
        **env,
        "AWS_ACCESS_KEY_ID": account,
        "AWS_SECRET_ACCESS_KEY": "secret",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        **endpoints,
    }


@pytest.mark.parametrize("style", ["per-service", "global"])
def test_botocore_endpoint_variables(server, account, style):
    if style == "per-service":
        endpoints = {
            "AWS_ENDPOINT_URL_SAGEMAKER": server.endpoint,
            "AWS_ENDPOINT_URL_CLOUDCONTROL": server.endpoint,
            "AWS_ENDPOINT_URL_STS": server.endpoint,
        }
    else:
        endpoints = {"AWS_ENDPOINT_URL": server.endpoint}
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        env=environment(account, **endpoints),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"account": account, "images": ["by-env", "by-env-cc"]}


@pytest.mark.external
def test_aws_cli_reads_the_endpoint_variable(server, account):
    env = environment(account, AWS_ENDPOINT_URL_SAGEMAKER=server.endpoint, AWS_DEFAULT_REGION="us-east-1")
    command = [sys.executable, "-m", "awscli", "sagemaker", "create-image", "--image-name", "cli-env",
               "--role-arn", "arn:aws:iam::000000000000:role/R"]  # fmt: skip
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["ImageArn"] == f"arn:aws:sagemaker:us-east-1:{account}:image/cli-env"
