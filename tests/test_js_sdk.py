"""The AWS SDK for JavaScript v3, unchanged, against the server (tests/js/flow.mjs)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

JS = Path(__file__).parent / "js"


def node_ready() -> str | None:
    if shutil.which("node") is None:
        return "node is not installed"
    if not (JS / "node_modules" / "@aws-sdk" / "client-sagemaker").is_dir():
        return "the JavaScript SDK is not installed: run `npm ci` in tests/js"
    return None


@pytest.fixture
def node():
    reason = node_ready()
    if reason is not None:
        if os.environ.get("SAGEMAKER_IMAGES_REQUIRE_JS") == "1":
            pytest.fail(reason)
        pytest.skip(reason)


def test_javascript_sdk_flow(node, server, account):
    result = subprocess.run(
        ["node", "flow.mjs"],
        cwd=JS,
        env={**os.environ, "ENDPOINT": server.endpoint, "ACCOUNT": account},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen["imageArn"] == f"arn:aws:sagemaker:eu-west-1:{account}:image/js-img"
    assert seen["imageStatus"] == "CREATED"
    assert seen["creationTimeIsDate"] is True
    assert seen["pages"] == [[3, 2], [1]]
    assert seen["aliasVersion"] == 2
    assert {t["Key"]: t["Value"] for t in seen["tags"]} == {"sdk": "js", "team": "ml"}
    assert seen["validation"]["name"] == "ValidationException"
    assert seen["validation"]["status"] == 400
    assert seen["validation"]["message"].startswith(
        "1 validation error detected: Value 'bad_name' at 'imageName'"
    )
    assert seen["missing"]["name"] == "ResourceNotFound"
    assert "does not exist" in seen["missing"]["message"]
    assert seen["ccFirstStatus"] == "IN_PROGRESS"
    assert seen["ccProperties"]["ImageName"] == "js-cc"
    assert seen["ccProperties"]["ImageArn"] == f"arn:aws:sagemaker:eu-west-1:{account}:image/js-cc"
    assert seen["ccSeenBySageMaker"] == "CREATED"
