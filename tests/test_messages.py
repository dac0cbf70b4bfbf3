"""No message on the wire shows Python syntax: lists print as AWS's Java services print them
(``[a, b]``), and no ``['…']``, ``None``, ``True``, dict or class reprs ever appear."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import orjson
import pytest

from tests.test_cloudcontrol import create, wait

PYTHON_SYNTAX = re.compile(r"\['|'\]|\{'|<class |\bNone\b|\bTrue\b|\bFalse\b|\\x[0-9a-f]{2}")
SOURCE = Path(__file__).resolve().parents[1] / "src" / "sagemaker_images"
# Modules whose strings can reach the wire (the CLI, settings, the credentials file's start-up errors
# and the store's own errors cannot).
NOT_ON_THE_WIRE = {"protocol/credentials.py"}
WIRE_FACING = ["protocol", "images", "cloudcontrol", "app_image_configs", "shapes", "server.py", "errors.py"]


def wire_facing_sources() -> list[Path]:
    paths: list[Path] = []
    for name in WIRE_FACING:
        path = SOURCE / name
        if path.is_dir():
            paths.extend(sorted(path.rglob("*.py")))
        elif path.exists():
            paths.append(path)
    return paths


def test_no_repr_or_exception_text_is_formatted_into_a_message():
    """Statically: no ``{x!r}`` and no ``{exc}`` in an f-string of a wire-facing module."""
    offenders = []
    for path in wire_facing_sources():
        if str(path.relative_to(SOURCE)) in NOT_ON_THE_WIRE:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.FormattedValue):
                continue
            shown = ast.unparse(node.value)
            if node.conversion == ord("r") or shown in ("exc", "error", "e", "exc.message"):
                offenders.append(f"{path.relative_to(SOURCE)}:{node.lineno}: {{{shown}}}")
    assert offenders == []


def sagemaker_call(server, account: str, operation: str, body) -> tuple[int, dict]:
    headers = {
        "Content-Type": "application/x-amz-json-1.1",
        "X-Amz-Target": f"SageMaker.{operation}",
        "Authorization": f"AWS4-HMAC-SHA256 Credential={account}/20261123/us-east-1/sagemaker/aws4_request, "
        "SignedHeaders=host, Signature=abc",
    }
    return server.request("POST", "/", orjson.dumps(body), headers)


def assert_plain(message: str) -> None:
    assert not PYTHON_SYNTAX.search(message), message


def test_sagemaker_messages(server, account, role_arn, sagemaker):
    sagemaker.create_image(ImageName="msgs", RoleArn=role_arn)
    sagemaker.create_image_version(ImageName="msgs", BaseImage="repo:1", Aliases=["keep"])
    expected = {
        (
            "UpdateImage",
            json.dumps({"ImageName": "msgs", "Description": "d", "DeleteProperties": ["Description"]}),
        ): "The properties [Description] cannot be both updated and deleted in the same request.",
        (
            "UpdateImageVersion",
            json.dumps({"ImageName": "msgs", "Version": 1, "AliasesToAdd": ["x"], "AliasesToDelete": ["x"]}),
        ): "Aliases [x] cannot be both added and deleted in the same request.",
        (
            "UpdateImageVersion",
            json.dumps({"ImageName": "msgs", "Version": 1, "AliasesToDelete": ["nope", "gone"]}),
        ): f"Aliases [nope, gone] do not exist for ImageVersion "
        f"arn:aws:sagemaker:us-east-1:{account}:image-version/msgs/1.",
    }
    for (operation, body), message in expected.items():
        status, answer = sagemaker_call(server, account, operation, json.loads(body))
        assert status in (400, 404), answer
        assert answer["message"] == message
    # Values of every JSON type where the model wants something else, and targets that name nothing.
    bodies = [
        ("CreateImage", {"ImageName": ["a", "b"], "RoleArn": role_arn}),
        ("CreateImage", {"ImageName": None, "RoleArn": True}),
        ("CreateImage", {"ImageName": {"k": "v"}, "RoleArn": role_arn}),
        ("CreateImageVersion", {"ImageName": "msgs", "BaseImage": "b", "Horovod": "yes"}),
        ("CreateImageVersion", {"ImageName": "msgs", "BaseImage": "b", "JobType": ["TRAINING"]}),
        ("CreateImageVersion", {"ImageName": "msgs", "BaseImage": "b", "Aliases": [None, False]}),
        ("UpdateImageVersion", {"ImageName": "msgs", "Horovod": None, "AliasesToAdd": [["x"]]}),
        ("ListImages", {"MaxResults": True, "SortBy": ["NAME"]}),
        ("ListImages", {"NextToken": "WyJ4Il0"}),
        ("AddTags", {"ResourceArn": None, "Tags": [{"Key": None, "Value": False}]}),
        ("DescribeImage", {"ImageName": "absent"}),
        ("NoSuchOperation", {}),
        ("CreateNotebookInstance", {}),
    ]
    for operation, body in bodies:
        status, answer = sagemaker_call(server, account, operation, body)
        assert 400 <= status < 500, answer
        assert_plain(answer.get("message", answer.get("Message", "")))


def test_cloudcontrol_messages(server, account, role_arn):
    from tests.conftest import client_for

    cc = client_for(server.endpoint, account, "cloudcontrol")
    done = wait(cc, create(cc, "AWS::SageMaker::Image", {"ImageName": "cc-msgs", "ImageRoleArn": role_arn}))
    arn = done["Identifier"]
    messages = []
    for patch in (
        [{"op": "test", "path": "/ImageName", "value": ["cc-msgs"]}],
        [{"op": "add", "path": "/ImageName/deeper", "value": 1}],
        [{"op": "add", "path": "/Tags/7", "value": {"Key": "k", "Value": "v"}}],
        [{"op": "remove", "path": "/Tags/-/Key"}],
        [{"op": "copy", "from": "/Tags/9", "path": "/X"}],
        [{"op": "move", "from": "/Nope", "path": "/X"}],
        [{"op": "add", "path": 1, "value": 1}],
        [{"op": "add", "path": "/X"}],
        [{"op": "bogus", "path": "/X"}],
        [{"path": "/X"}],
        [{"op": "replace", "path": "/ImageDescription", "value": None}],
        [{"op": "add", "path": "/ImageDisplayName", "value": ["a", "b"]}],
        [{"op": "add", "path": "/Tags", "value": [{"Key": True, "Value": None}]}],
        [{"op": "add", "path": "/Tags", "value": {"Key": "k"}}],
    ):
        status, answer = call_cc(server, account, "UpdateResource", arn, patch)
        if status == 200:
            event = wait(cc, answer["ProgressEvent"])
            messages.append(event.get("StatusMessage", ""))
        else:
            messages.append(answer.get("message", answer.get("Message", "")))
    for desired in (
        {"ImageName": "v", "ImageRoleArn": role_arn, "ImageDescription": None},
        {"ImageName": "w", "ImageRoleArn": [role_arn]},
        {"ImageName": "x", "ImageRoleArn": role_arn, "Tags": [None]},
    ):
        event = wait(cc, create(cc, "AWS::SageMaker::Image", desired))
        messages.append(event.get("StatusMessage", ""))
    version = {"ImageName": "cc-msgs", "BaseImage": "b", "JobType": ["TRAINING"], "Horovod": "yes"}
    messages.append(wait(cc, create(cc, "AWS::SageMaker::ImageVersion", version)).get("StatusMessage", ""))
    assert all(messages), messages
    for message in messages:
        assert_plain(message)


def call_cc(server, account: str, operation: str, identifier: str, patch) -> tuple[int, dict]:
    body = {"TypeName": "AWS::SageMaker::Image", "Identifier": identifier, "PatchDocument": json.dumps(patch)}
    headers = {
        "Content-Type": "application/x-amz-json-1.0",
        "X-Amz-Target": f"CloudApiService.{operation}",
        "Authorization": f"AWS4-HMAC-SHA256 Credential={account}/20261123/us-east-1/cloudcontrolapi/aws4_request, "
        "SignedHeaders=host, Signature=abc",
    }
    return server.request("POST", "/", orjson.dumps(body), headers)


@pytest.mark.parametrize(
    ("patch", "code", "message"),
    [
        (
            [{"op": "replace", "path": "/ImageDescription", "value": "d"}],
            "ValidationException",
            "[REPLACE Operation] noSuchPath in source, path provided : //ImageDescription",
        ),
        (
            [{"op": "move", "from": "/Nope", "path": "/X"}],
            "ValidationException",
            "[MOVE Operation] noSuchPath in source, path provided : //Nope",
        ),
        (
            [{"op": "test", "path": "/ImageName", "value": "other"}],
            "InvalidRequestException",
            "Invalid patch update: the value at /ImageName differs from the tested value.",
        ),
    ],
)
def test_patch_refusals_in_aws_words(server, account, role_arn, patch, code, message):
    from tests.conftest import client_for

    cc = client_for(server.endpoint, account, "cloudcontrol")
    arn = wait(cc, create(cc, "AWS::SageMaker::Image", {"ImageName": "words", "ImageRoleArn": role_arn}))[
        "Identifier"
    ]
    status, answer = call_cc(server, account, "UpdateResource", arn, patch)
    assert status == 400
    assert (answer["__type"].rsplit("#", 1)[-1], answer.get("Message", answer.get("message"))) == (
        code,
        message,
    )
