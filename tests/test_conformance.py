"""Conformance: variants generated from the botocore model for every operation of both APIs, sent over
raw HTTP to a real server, each response checked against the operation's output or error shapes.

Variants run in accounts holding the realistic resources their requests name (image
``conformance-image`` with version 1 aliased ``stable``, AppImageConfig ``conformance-config``; for
Cloud Control, a request token), so valid variants reach the domain and are answered for real. A
variant the model accepts, of an operation that changes state, gets a fresh account of its own; the
others (refused ones, and every variant of a read-only operation) share one account per operation,
as they leave it as they found it. Each test reports "N/N variants pass" for its
operation; with SAGEMAKER_IMAGES_REPORT_DIR set, the lines are also appended to
``conformance.txt`` there (docs/reliability.md quotes them).
"""

from __future__ import annotations

import os
from pathlib import Path

import orjson
import pytest

from sagemaker_images.cloudcontrol.service import OPERATIONS as CLOUDCONTROL_OPERATIONS
from sagemaker_images.services import READ_OPERATIONS, SAGEMAKER_OPERATIONS
from sagemaker_images.shapes.model import load_service
from tests.calls import raw_call
from tests.conftest import new_account
from tests.model_variants import (
    ACCEPTED,
    CONSTRAINT_MESSAGE,
    INVALID,
    OPAQUE,
    SERIALIZATION,
    Generator,
    Variant,
    output_problems,
)

CASES = [("sagemaker", op) for op in SAGEMAKER_OPERATIONS] + [
    ("cloudcontrol", op) for op in CLOUDCONTROL_OPERATIONS
]
LEAKS = ("Traceback", 'File "', "sqlalchemy", "psycopg", "sqlite3", "Exception:", "/src/")


def call(server, service: str, operation: str, account: str, body: dict, region: str = "us-east-1"):
    return raw_call(server, operation, body, service=service, account=account, region=region)


def prepare_account(server, service: str) -> dict[str, str]:
    """A fresh account with the resources realistic requests name."""
    account = new_account()
    role = f"arn:aws:iam::{account}:role/SageMakerImageRole"
    status, _ = call(
        server, "sagemaker", "CreateImage", account, {"ImageName": "conformance-image", "RoleArn": role}
    )
    assert status == 200
    status, _ = call(
        server,
        "sagemaker",
        "CreateImageVersion",
        account,
        {
            "ImageName": "conformance-image",
            "BaseImage": "repo/base:1",
            "ClientToken": "setup",
            "Aliases": ["stable"],
        },
    )
    assert status == 200
    status, _ = call(
        server, "sagemaker", "CreateAppImageConfig", account, {"AppImageConfigName": "conformance-config"}
    )
    assert status == 200
    context = {"account": account, "token": "0" * 36}
    if service == "cloudcontrol":
        desired = orjson.dumps({"ImageName": "cc-setup", "ImageRoleArn": role}).decode()
        status, body = call(
            server,
            "cloudcontrol",
            "CreateResource",
            account,
            {"TypeName": "AWS::SageMaker::Image", "DesiredState": desired},
        )
        assert status == 200
        context["token"] = body["ProgressEvent"]["RequestToken"]
    return context


def judge(operation_model, variant: Variant, status: int, body: dict) -> str | None:
    """None if the response is what the model demands for this variant, else what is wrong."""
    if status >= 500:
        return f"HTTP {status}: {body}"
    if status == 200:
        if variant.expect != ACCEPTED:
            return f"accepted, but the model demands {variant.expect}"
        problems = output_problems(operation_model.output_shape, body)
        return "; ".join(problems) or None
    if set(body) != {"__type", "message", "Message"} or body["Message"] != body["message"]:
        return f"error body is not {{__type, message, Message}}: {body}"
    code, message = body["__type"], body["message"]
    if any(leak in message for leak in LEAKS):
        return f"internal detail on the wire: {message}"
    if variant.expect == SERIALIZATION:
        return None if code == "SerializationException" and status == 400 else f"{status} {code}: {message}"
    if variant.expect == INVALID:
        if code != "ValidationException" or status != 400:
            return f"expected ValidationException, got {status} {code}: {message}"
        if f"at '{variant.path}'" not in message or variant.constraint not in message:
            return f"message does not name '{variant.path}' and '{variant.constraint}': {message}"
        return None
    if any(name in variant.request for name in OPAQUE) and status == 400:
        return None  # a made-up pagination token: refusing it, in any modelled form, is right
    modelled = {error.name for error in operation_model.error_shapes}
    if code in modelled or (code == "ValidationException" and not CONSTRAINT_MESSAGE.match(message)):
        return None
    return f"valid request answered with an unmodelled or constraint error: {status} {code}: {message}"


# Variants depend on realistic values only through their lengths (12-digit accounts, UUID tokens), so
# they are generated once per operation around stand-ins of those lengths, and each variant's request
# has its own account's values put in place of the stand-ins.
STAND_INS = {"account": "918273645546", "token": "5e1f0000-0000-4000-8000-00000000c0de"}


def rebind(value, context: dict[str, str]):
    if isinstance(value, str):
        for key, stand_in in STAND_INS.items():
            value = value.replace(stand_in, context[key])
        return value
    if isinstance(value, list):
        return [rebind(v, context) for v in value]
    if isinstance(value, dict):
        return {k: rebind(v, context) for k, v in value.items()}
    return value


@pytest.mark.parametrize(("service", "operation"), CASES, ids=[f"{s}.{o}" for s, o in CASES])
def test_operation_conforms_to_the_model(server, backend, service, operation):
    operation_model = load_service(service).operation_model(operation)
    variants = list(Generator(service, operation_model, STAND_INS).variants())
    failures = []
    answered_200 = 0
    shared = prepare_account(server, service)
    for variant in variants:
        changes_state = variant.expect == ACCEPTED and operation not in READ_OPERATIONS
        context = prepare_account(server, service) if changes_state else shared
        request = rebind(variant.request, context)
        status, body = call(server, service, operation, context["account"], request)
        answered_200 += status == 200
        problem = judge(operation_model, variant, status, body)
        if problem is not None:
            failures.append(f"{variant.name}: {problem}")
    passed = len(variants) - len(failures)
    line = f"{backend:8} {service}.{operation}: {passed}/{len(variants)} variants pass ({answered_200} answered 200)"
    print(line)
    report_dir = os.environ.get("SAGEMAKER_IMAGES_REPORT_DIR")
    if report_dir:
        with open(Path(report_dir) / "conformance.txt", "a") as report:
            report.write(line + "\n")
    assert not failures, f"{line}\n" + "\n".join(failures)
    assert len(variants) >= 5
    # The realistic requests reach the domain and succeed: the suite is not just a validator test.
    assert answered_200 >= 1
