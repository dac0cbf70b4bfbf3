"""Authorisation by what a request would do, on both backends (``--auth sigv4``).

The roles and tags a request leaves on a resource are authorised, however the request spells them:
a Cloud Control patch is applied to the current model first and the result is what is checked. Every
test reads the state back with an all-powerful key, so it checks what happened, not what was sent.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, WaiterError

from tests.servers import ServerProcess, fresh_postgres_database

ACCOUNT = "111122223333"
IMAGE = "AWS::SageMaker::Image"
ALLOWED = f"arn:aws:iam::{ACCOUNT}:role/Allowed"
EVIL = "arn:aws:iam::999999999999:role/Evil"
NOT_ALLOWED = f"arn:aws:iam::{ACCOUNT}:role/Other"
KEYS = {
    "AKIDADMIN": {"secret": "admin", "account": ACCOUNT},
    # May do everything, but pass only the Allowed* roles of its account.
    "AKIDSCOPED": {
        "secret": "scoped",
        "account": ACCOUNT,
        "allow": ["sagemaker:*", "cloudformation:*", "iam:PassRole"],
        "pass_roles": [f"arn:aws:iam::{ACCOUNT}:role/Allowed*"],
    },
    "AKIDNOTAGS": {
        "secret": "notags",
        "account": ACCOUNT,
        "allow": ["sagemaker:CreateImage", "sagemaker:Describe*", "cloudformation:*", "iam:PassRole"],
    },
    "AKIDREADER": {
        "secret": "reader",
        "account": ACCOUNT,
        "allow": ["sagemaker:Describe*", "sagemaker:List*"],
    },
    "AKIDCCREAD": {
        "secret": "ccread",
        "account": ACCOUNT,
        "allow": ["cloudformation:Get*", "cloudformation:List*", "sagemaker:Describe*", "sagemaker:List*"],
    },
}


@pytest.fixture(scope="module")
def secured(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    where = tmp_path_factory.mktemp("authorization")
    (where / "keys.json").write_text(json.dumps({"keys": KEYS}))
    flags = ("--auth", "sigv4", "--credentials", str(where / "keys.json"))
    if backend == "sqlite":
        with ServerProcess(
            f"sqlite:///{where / 'state.db'}", *flags, log_path=where / "server.log"
        ) as server:
            yield server
    else:
        with (
            fresh_postgres_database() as url,
            ServerProcess(url, *flags, log_path=where / "server.log") as server,
        ):
            yield server


def client(server: ServerProcess, key: str, service: str = "sagemaker", **config):
    return boto3.client(
        service,
        endpoint_url=server.endpoint,
        region_name="us-east-1",
        aws_access_key_id=key,
        aws_secret_access_key=KEYS[key]["secret"],
        config=Config(retries={"max_attempts": 1, "mode": "standard"}, **config),
    )


def error_of(call) -> tuple[str, str, int]:
    with pytest.raises(ClientError) as info:
        call()
    error = info.value.response["Error"]
    return error["Code"], error["Message"], info.value.response["ResponseMetadata"]["HTTPStatusCode"]


def settled(cc, token: str) -> dict:
    with contextlib.suppress(WaiterError):
        cc.get_waiter("resource_request_success").wait(
            RequestToken=token, WaiterConfig={"Delay": 1, "MaxAttempts": 60}
        )
    return cc.get_resource_request_status(RequestToken=token)["ProgressEvent"]


def test_a_patch_cannot_set_a_role_the_key_may_not_pass(secured):
    admin = client(secured, "AKIDADMIN")
    admin.create_image(ImageName="patched-roles", RoleArn=ALLOWED, Description="start")
    arn = f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:image/patched-roles"
    current = {"ImageArn": arn, "ImageName": "patched-roles", "ImageRoleArn": ALLOWED}
    scoped = client(secured, "AKIDSCOPED", "cloudcontrol")
    for role in (EVIL, NOT_ALLOWED):
        patches = [
            # The example: a role moved into place from another property.
            [
                {"op": "add", "path": "/ImageDescription", "value": role},
                {"op": "move", "from": "/ImageDescription", "path": "/ImageRoleArn"},
            ],
            [
                {"op": "add", "path": "/ImageDescription", "value": role},
                {"op": "copy", "from": "/ImageDescription", "path": "/ImageRoleArn"},
            ],
            [{"op": "add", "path": "", "value": {**current, "ImageRoleArn": role}}],
            [{"op": "replace", "path": "", "value": {**current, "ImageRoleArn": role}}],
            [{"op": "replace", "path": "/ImageRoleArn", "value": role}],
            [{"op": "add", "path": "/ImageRoleArn", "value": role}],
        ]
        for patch in patches:
            code, message, status = error_of(
                lambda p=patch: scoped.update_resource(
                    TypeName=IMAGE, Identifier=arn, PatchDocument=json.dumps(p)
                )
            )
            assert (code, status) == ("AccessDeniedException", 403), patch
            assert f"iam:PassRole on resource: {role}" in message
        # The same role through the SageMaker API is refused the same way.
        sm = client(secured, "AKIDSCOPED")
        assert error_of(lambda r=role, sm=sm: sm.update_image(ImageName="patched-roles", RoleArn=r))[0] == (
            "AccessDeniedException"
        )
    described = admin.describe_image(ImageName="patched-roles")
    assert (described["RoleArn"], described["Description"]) == (ALLOWED, "start")

    # A role it may pass, by any spelling, is accepted.
    other_allowed = f"arn:aws:iam::{ACCOUNT}:role/AllowedToo"
    patch = [
        {"op": "add", "path": "/ImageDescription", "value": other_allowed},
        {"op": "copy", "from": "/ImageDescription", "path": "/ImageRoleArn"},
    ]
    event = scoped.update_resource(TypeName=IMAGE, Identifier=arn, PatchDocument=json.dumps(patch))
    assert settled(scoped, event["ProgressEvent"]["RequestToken"])["OperationStatus"] == "SUCCESS"
    assert admin.describe_image(ImageName="patched-roles")["RoleArn"] == other_allowed


def test_a_key_that_may_not_pass_the_current_role_cannot_update(secured):
    """Cloud Control's update hands the whole desired state to UpdateImage, role included."""
    admin = client(secured, "AKIDADMIN")
    admin.create_image(ImageName="held-role", RoleArn=NOT_ALLOWED)
    scoped = client(secured, "AKIDSCOPED", "cloudcontrol")
    patch = [{"op": "add", "path": "/ImageDescription", "value": "harmless"}]
    code, message, _ = error_of(
        lambda: scoped.update_resource(
            TypeName=IMAGE, Identifier='{"ImageName": "held-role"}', PatchDocument=json.dumps(patch)
        )
    )
    assert code == "AccessDeniedException"
    assert NOT_ALLOWED in message
    assert "Description" not in admin.describe_image(ImageName="held-role")


def test_create_needs_every_role_and_tag_permission_of_the_result(secured):
    scoped = client(secured, "AKIDSCOPED", "cloudcontrol")
    desired = {"ImageName": "cc-evil", "ImageRoleArn": EVIL}
    code, _, _ = error_of(lambda: scoped.create_resource(TypeName=IMAGE, DesiredState=json.dumps(desired)))
    assert code == "AccessDeniedException"
    no_tags = client(secured, "AKIDNOTAGS", "cloudcontrol")
    tagged = {"ImageName": "cc-tagged", "ImageRoleArn": ALLOWED, "Tags": [{"Key": "k", "Value": "v"}]}
    code, message, _ = error_of(
        lambda: no_tags.create_resource(TypeName=IMAGE, DesiredState=json.dumps(tagged))
    )
    assert (code, "sagemaker:AddTags" in message) == ("AccessDeniedException", True)
    # Tagging on create through SageMaker needs sagemaker:AddTags as well.
    code, message, _ = error_of(
        lambda: client(secured, "AKIDNOTAGS").create_image(
            ImageName="sm-tagged", RoleArn=ALLOWED, Tags=[{"Key": "k", "Value": "v"}]
        )
    )
    assert (code, "sagemaker:AddTags" in message) == ("AccessDeniedException", True)
    admin = client(secured, "AKIDADMIN")
    for name in ("cc-evil", "cc-tagged", "sm-tagged"):
        assert error_of(lambda n=name: admin.describe_image(ImageName=n))[0] == "ResourceNotFound"
    # Without tags the same key may create through SageMaker (Cloud Control's create handler needs
    # sagemaker:AddTags whatever the tags, as the type's schema lists it).
    client(secured, "AKIDNOTAGS").create_image(ImageName="sm-untagged", RoleArn=ALLOWED)
    assert admin.describe_image(ImageName="sm-untagged")["RoleArn"] == ALLOWED


@pytest.mark.parametrize("type_name", [["AWS::SageMaker::Image"], {"a": 1}, 5, None, True])
def test_a_type_name_of_the_wrong_shape_is_never_a_500(secured, type_name):
    for key, expected in (("AKIDREADER", "AccessDeniedException"), ("AKIDCCREAD", None)):
        cc = client(secured, key, "cloudcontrol", parameter_validation=False)
        for call in (
            lambda c=cc: c.list_resources(TypeName=type_name),
            lambda c=cc: c.get_resource(TypeName=type_name, Identifier="x"),
        ):
            code, _, status = error_of(call)
            assert status < 500
            if expected:
                assert code == expected
            else:
                assert code in ("SerializationException", "ValidationException")
