"""Authorisation by what a request would do, on both backends (``--auth sigv4``).

The roles and tags a request leaves on a resource are authorised, however the request spells them:
a Cloud Control patch is applied to the current model first and the result is what is checked. Every
test reads the state back with an all-powerful key, so it checks what happened, not what was sent.
"""

from __future__ import annotations

import contextlib
import fnmatch
import json
import os
import random
from collections.abc import Iterable, Iterator

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, WaiterError

from sagemaker_images.cloudcontrol.schema import schema_for
from tests import calls
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


def error_of(call_) -> tuple[str, str, int]:
    code, message, status = calls.error_of(call_, status=True)
    return code, message, status


def settled(cc, token: str) -> dict:
    with contextlib.suppress(WaiterError):
        cc.get_waiter("resource_request_success").wait(RequestToken=token, WaiterConfig=calls.FAST_WAITER)
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


def test_poison_and_malformed_requests_end_under_sigv4_too(secured):
    """The same hostile Cloud Control requests as tests/test_cloudcontrol_requests.py, signed."""
    cc = client(secured, "AKIDADMIN", "cloudcontrol")
    tokens = []
    for desired in (
        {"ImageName": "\ud800"},
        {"ImageName": "ok-name", "Tags": [{"Key": "\ud800", "Value": "v"}]},
        {"ImageName": "nul\x00name"},
    ):
        state = json.dumps({"ImageRoleArn": ALLOWED, **desired})
        if "\\ud800" in state:  # not JSON a UTF-8 document can hold: refused before anything is stored
            assert error_of(lambda s=state: cc.create_resource(TypeName=IMAGE, DesiredState=s))[0] == (
                "InvalidRequestException"
            )
            continue
        tokens.append(cc.create_resource(TypeName=IMAGE, DesiredState=state)["ProgressEvent"]["RequestToken"])
    for identifier in (
        "bad name!",
        "a" * 64,
        '{"ImageName": "a\\nb"}',
        f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:image/bad_name",
    ):
        event = cc.delete_resource(TypeName=IMAGE, Identifier=identifier)["ProgressEvent"]
        tokens.append(event["RequestToken"])
        assert error_of(lambda i=identifier: cc.get_resource(TypeName=IMAGE, Identifier=i))[0] == (
            "ResourceNotFoundException"
        )
    for token in tokens:
        final = settled(cc, token)
        assert final["OperationStatus"] == "FAILED", final
        assert final["ErrorCode"] in ("InvalidRequest", "NotFound", "InternalFailure"), final


# -- authorisation as a property ---------------------------------------------------------------------
#
# Random keys (allowed actions, pass-role patterns, accounts) send random request sequences over both
# APIs — every JSON Patch operation, on every path including the whole document "" — and the state
# read back afterwards with an all-powerful key may hold no role the key could not pass and no change
# the key could not make. What the key could do is computed here from its entry in the credentials
# file, independently of the server's own matching.

EXAMPLES = int(os.environ.get("SAGEMAKER_IMAGES_AUTHZ_EXAMPLES", "6"))
SEED = int(os.environ.get("SAGEMAKER_IMAGES_AUTHZ_SEED", "20261124"))
ACCOUNTS = ("210987654321", "123412341234")
ROLES = (
    f"arn:aws:iam::{ACCOUNTS[0]}:role/Allowed1",
    f"arn:aws:iam::{ACCOUNTS[0]}:role/Other",
    f"arn:aws:iam::{ACCOUNTS[1]}:role/Allowed2",
    "arn:aws:iam::999999999999:role/Evil",
)
ACTIONS = (
    "sagemaker:*",
    "sagemaker:CreateImage",
    "sagemaker:UpdateImage",
    "sagemaker:DeleteImage",
    "sagemaker:AddTags",
    "sagemaker:DeleteTags",
    "sagemaker:Describe*",
    "sagemaker:List*",
    "cloudformation:*",
    "cloudformation:CreateResource",
    "cloudformation:UpdateResource",
    "cloudformation:DeleteResource",
    "cloudformation:Get*",
    "iam:PassRole",
    "iam:*",
)
ROLE_PATTERNS = (
    "arn:aws:iam::*:role/Allowed*",
    f"arn:aws:iam::{ACCOUNTS[1]}:role/*",
    "*",
    "arn:*:iam::999999999999:*",
)
CC_PERMISSIONS = {
    "create": ("cloudformation:CreateResource",),
    "update": ("cloudformation:UpdateResource",),
    "delete": ("cloudformation:DeleteResource",),
}


def random_keys(rng: random.Random, count: int) -> dict[str, dict]:
    keys = {}
    for n in range(count):
        entry: dict = {"secret": f"s{n}", "account": rng.choice(ACCOUNTS)}
        if rng.random() < 0.6:  # many keys may do much, so that their pass-role limits are what is tested
            entry["allow"] = rng.sample(ACTIONS, rng.randint(1, 7))
        if rng.random() < 0.75:
            entry["pass_roles"] = rng.sample(ROLE_PATTERNS, rng.randint(1, 2))
        keys[f"AKIDRANDOM{n:03d}"] = entry
    for n, account in enumerate(ACCOUNTS):
        keys[f"AKIDROOT{n}"] = {"secret": "root", "account": account, "pass_roles": ["*"]}
    return keys


class Key:
    """What a key may do, computed from its credentials entry (not by asking the server)."""

    def __init__(self, entry: dict) -> None:
        self.entry = entry

    def can(self, action: str) -> bool:
        allow = self.entry.get("allow")
        return allow is None or any(fnmatch.fnmatch(action.lower(), p.lower()) for p in allow)

    def can_pass(self, role: str) -> bool:
        patterns = self.entry.get("pass_roles", [f"arn:*:iam::{self.entry['account']}:role/*"])
        return self.can("iam:PassRole") and any(fnmatch.fnmatchcase(role, p) for p in patterns)

    def can_all(self, actions: Iterable[str]) -> bool:
        return all(self.can(a) for a in actions)

    def may(self, what: str) -> bool:
        """May the key create/update/delete an image through either API?"""
        schema = schema_for(IMAGE).document["handlers"][what]["permissions"]
        through_cloudcontrol = self.can_all(CC_PERMISSIONS[what]) and self.can_all(schema)
        direct = {"create": "sagemaker:CreateImage", "update": "sagemaker:UpdateImage"}.get(
            what, "sagemaker:DeleteImage"
        )
        return self.can(direct) or through_cloudcontrol


@pytest.fixture(scope="module")
def fuzzed(backend: str, tmp_path_factory: pytest.TempPathFactory):
    where = tmp_path_factory.mktemp("authorization-property")
    keys = random_keys(random.Random(SEED), 40)
    (where / "keys.json").write_text(json.dumps({"keys": keys}))
    flags = ("--auth", "sigv4", "--credentials", str(where / "keys.json"))
    if backend == "sqlite":
        with ServerProcess(
            f"sqlite:///{where / 'state.db'}", *flags, log_path=where / "server.log"
        ) as server:
            yield server, keys
    else:
        with (
            fresh_postgres_database() as url,
            ServerProcess(url, *flags, log_path=where / "server.log") as server,
        ):
            yield server, keys


def keyed_client(server: ServerProcess, key: str, keys: dict, service: str):
    return boto3.client(
        service,
        endpoint_url=server.endpoint,
        region_name="us-east-1",
        aws_access_key_id=key,
        aws_secret_access_key=keys[key]["secret"],
        config=Config(retries={"max_attempts": 1, "mode": "standard"}),
    )


def random_tags(rng: random.Random) -> list[dict]:
    return [
        {"Key": k, "Value": rng.choice(("1", "2"))} for k in rng.sample(("a", "b", "c"), rng.randint(0, 3))
    ]


def random_patch(rng: random.Random, model: dict) -> list[dict]:
    """A patch that is often valid and often sets a role, by any of the ways a patch can."""
    role = rng.choice(ROLES)
    tags = random_tags(rng)
    shapes = [
        [{"op": rng.choice(("add", "replace")), "path": "", "value": {**model, "ImageRoleArn": role}}],
        [{"op": "add", "path": "", "value": {**model, "ImageRoleArn": role, "Tags": tags}}],
        [{"op": rng.choice(("add", "replace")), "path": "/ImageRoleArn", "value": role}],
        [
            {"op": "add", "path": "/ImageDescription", "value": role},
            {"op": rng.choice(("move", "copy")), "from": "/ImageDescription", "path": "/ImageRoleArn"},
        ],
        [{"op": "add", "path": "/Tags", "value": tags}],
        [{"op": "remove", "path": "/Tags"}],
        [{"op": "add", "path": "/Tags/-", "value": {"Key": "d", "Value": "4"}}],
        [{"op": "add", "path": "/ImageDescription", "value": "patched"}],
        [
            {"op": "test", "path": "/ImageRoleArn", "value": role},
            {"op": "remove", "path": "/ImageDescription"},
        ],
    ]
    if rng.random() < 0.8:
        return rng.choice(shapes)
    paths = (
        "",
        "/ImageRoleArn",
        "/ImageDescription",
        "/ImageDisplayName",
        "/Tags",
        "/Tags/0",
        "/Tags/-",
        "/Nope",
    )
    values = [*ROLES, "text", tags, {"Key": "d", "Value": "4"}, 5, None, {**model, "ImageRoleArn": role}]
    patch = []
    for _ in range(rng.randint(1, 3)):
        op = rng.choice(("add", "replace", "move", "copy", "remove", "test"))
        entry: dict = {"op": op, "path": rng.choice(paths)}
        if op in ("move", "copy"):
            entry["from"] = rng.choice(paths[1:])
        elif op in ("add", "replace", "test"):
            entry["value"] = rng.choice(values)
        patch.append(entry)
    return patch


def run_sequence(rng: random.Random, sm, cc, names: list[str], account: str) -> int:
    """Random requests over both APIs; how many were attempted."""
    seed, new_sm, new_cc = names
    arn = f"arn:aws:sagemaker:us-east-1:{account}:image/{seed}"
    model = {"ImageArn": arn, "ImageName": seed, "ImageRoleArn": ROLES[0]}
    calls = [
        lambda: sm.create_image(
            ImageName=new_sm,
            RoleArn=rng.choice(ROLES),
            **({"Tags": random_tags(rng) or [{"Key": "t", "Value": "v"}]} if rng.random() < 0.5 else {}),
        ),
        lambda: sm.update_image(ImageName=seed, RoleArn=rng.choice(ROLES)),
        lambda: sm.update_image(ImageName=seed, Description=rng.choice(("changed", "other"))),
        lambda: sm.add_tags(ResourceArn=arn, Tags=random_tags(rng) or [{"Key": "z", "Value": "z"}]),
        lambda: sm.delete_tags(ResourceArn=arn, TagKeys=[rng.choice(("a", "b", "c", "k1"))]),
        lambda: sm.delete_image(ImageName=seed),
        lambda: cc.create_resource(
            TypeName=IMAGE,
            DesiredState=json.dumps(
                {
                    "ImageName": new_cc,
                    "ImageRoleArn": rng.choice(ROLES),
                    **({"Tags": random_tags(rng)} if rng.random() < 0.5 else {}),
                }
            ),
        ),
        lambda: cc.update_resource(
            TypeName=IMAGE, Identifier=arn, PatchDocument=json.dumps(random_patch(rng, model))
        ),
        lambda: cc.update_resource(
            TypeName=IMAGE, Identifier=arn, PatchDocument=json.dumps(random_patch(rng, model))
        ),
        lambda: cc.delete_resource(TypeName=IMAGE, Identifier=arn),
    ]
    count = rng.randint(4, 9)
    for _ in range(count):
        call_ = rng.choice(calls)
        try:
            call_()
        except ClientError as error:
            assert error.response["ResponseMetadata"]["HTTPStatusCode"] < 500, error.response
    return count


def settle_requests(cc) -> None:
    def none_pending() -> bool:
        return not cc.list_resource_requests(
            ResourceRequestStatusFilter={
                "OperationStatuses": ["PENDING", "IN_PROGRESS", "CANCEL_IN_PROGRESS"]
            }
        )["ResourceRequestStatusSummaries"]

    calls.wait_until(none_pending, 60.0, "every resource request to end")


def state_of(sm, name: str, account: str) -> dict | None:
    try:
        described = sm.describe_image(ImageName=name)
    except ClientError as error:
        assert error.response["Error"]["Code"] == "ResourceNotFound"
        return None
    arn = f"arn:aws:sagemaker:us-east-1:{account}:image/{name}"
    tags = {t["Key"]: t["Value"] for t in sm.list_tags(ResourceArn=arn)["Tags"]}
    return {"role": described["RoleArn"], "description": described.get("Description"), "tags": tags}


def test_no_request_sequence_leaves_what_its_key_may_not_do(fuzzed, backend):
    check_sequences(fuzzed, backend, EXAMPLES)


@pytest.mark.long
def test_many_more_request_sequences(fuzzed, backend):
    check_sequences(
        fuzzed, backend, int(os.environ.get("SAGEMAKER_IMAGES_AUTHZ_LONG_EXAMPLES", "60")), offset=1000
    )


def check_sequences(fuzzed, backend: str, examples: int, offset: int = 0) -> None:
    server, keys = fuzzed
    rng = random.Random(SEED + offset + (0 if backend == "sqlite" else 1))
    random_keys_ = sorted(k for k in keys if k.startswith("AKIDRANDOM"))
    tried = 0
    for example in range(offset, offset + examples):
        key_id = rng.choice(random_keys_)
        key = Key(keys[key_id])
        account = keys[key_id]["account"]
        root = f"AKIDROOT{ACCOUNTS.index(account)}"
        admin_sm, admin_cc = (
            keyed_client(server, root, keys, "sagemaker"),
            keyed_client(server, root, keys, "cloudcontrol"),
        )
        names = [f"p{example}-seed-{backend}", f"p{example}-sm-{backend}", f"p{example}-cc-{backend}"]
        seed_role = rng.choice(ROLES)
        admin_sm.create_image(ImageName=names[0], RoleArn=seed_role, Tags=[{"Key": "k1", "Value": "v1"}])
        before = state_of(admin_sm, names[0], account)
        sm, cc = (
            keyed_client(server, key_id, keys, "sagemaker"),
            keyed_client(server, key_id, keys, "cloudcontrol"),
        )
        tried += run_sequence(rng, sm, cc, names, account)
        settle_requests(admin_cc)

        where = f"example {example}, key {key_id} {keys[key_id]}"
        after = state_of(admin_sm, names[0], account)
        if after is None:
            assert key.may("delete"), where
        else:
            assert before is not None
            if after["role"] != before["role"]:
                assert key.can_pass(after["role"]) and key.may("update"), (where, after)
            if after["description"] != before["description"]:
                assert key.may("update"), (where, after)
            added = {k for k, v in after["tags"].items() if before["tags"].get(k) != v}
            removed = set(before["tags"]) - set(after["tags"])
            if added:
                assert key.can("sagemaker:AddTags"), (where, after)
            if removed:
                assert key.can("sagemaker:DeleteTags"), (where, after)
        for name in names[1:]:
            created = state_of(admin_sm, name, account)
            if created is not None:
                assert key.can_pass(created["role"]) and key.may("create"), (where, name, created)
                if created["tags"]:
                    assert key.can("sagemaker:AddTags"), (where, name, created)
    report_line = f"authorization property [{backend}]: {examples} random keys and sequences, {tried} requests, seed {SEED}"
    print(report_line)
    where_ = os.environ.get("SAGEMAKER_IMAGES_REPORT_DIR")
    if where_:
        with open(os.path.join(where_, "authorization.txt"), "a") as out:
            out.write(report_line + "\n")
