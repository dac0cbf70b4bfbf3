"""Cloud Control API end to end: boto3's cloudcontrol client (waiter, paginators) against a real server,
for AWS::SageMaker::Image and AWS::SageMaker::ImageVersion, and the SageMaker API on the same store."""

from __future__ import annotations

import contextlib
import json
import time

import pytest
from botocore.exceptions import ClientError, WaiterError

from tests.calls import FAST_WAITER, advance_clock, error_of, raw_call, wait_until
from tests.conftest import client_for

IMAGE = "AWS::SageMaker::Image"
VERSION = "AWS::SageMaker::ImageVersion"
EVENT_MEMBERS = {"TypeName", "RequestToken", "Operation", "OperationStatus", "EventTime"}


# Transitions of five minutes, for the tests that look at requests in progress: they end when the test
# moves the clock of its ``--admin`` server, never before it has looked, and nothing waits in real time.
DELAY = 300
SLOW = ("--transition-delay", str(DELAY), "--admin")


def wait(cc, event: dict, slow_server=None) -> dict:
    """The request's final ProgressEvent, reached through boto3's own waiter; on a ``SLOW`` server, by
    moving its clock past the transitions before each look instead."""
    token = event["RequestToken"]
    if slow_server is not None:

        def ended() -> bool:
            advance_clock(slow_server, DELAY)
            status = cc.get_resource_request_status(RequestToken=token)["ProgressEvent"]["OperationStatus"]
            return status not in ("PENDING", "IN_PROGRESS", "CANCEL_IN_PROGRESS")

        wait_until(ended, what=f"request {token} to end")
    # FAILED and CANCEL_COMPLETE end the waiter with an error: the caller asserts on the event.
    with contextlib.suppress(WaiterError):
        cc.get_waiter("resource_request_success").wait(RequestToken=token, WaiterConfig=FAST_WAITER)
    return cc.get_resource_request_status(RequestToken=token)["ProgressEvent"]


def create(cc, type_name: str, desired: dict, **extra) -> dict:
    return cc.create_resource(TypeName=type_name, DesiredState=json.dumps(desired), **extra)["ProgressEvent"]


def update(cc, type_name: str, identifier: str, patch: list, **extra) -> dict:
    return cc.update_resource(
        TypeName=type_name, Identifier=identifier, PatchDocument=json.dumps(patch), **extra
    )["ProgressEvent"]


def properties(cc, type_name: str, identifier: str) -> dict:
    description = cc.get_resource(TypeName=type_name, Identifier=identifier)["ResourceDescription"]
    return json.loads(description["Properties"])


@pytest.fixture
def cc(server, account):
    return client_for(server.endpoint, account, "cloudcontrol")


def image_arn(account: str, name: str) -> str:
    return f"arn:aws:sagemaker:us-east-1:{account}:image/{name.lower()}"


# -- images ---------------------------------------------------------------------------------------


def test_image_create_read_update_delete(cc, sagemaker, account, role_arn):
    started = create(
        cc, IMAGE, {"ImageName": "Cc-Img", "ImageRoleArn": role_arn, "Tags": [{"Key": "team", "Value": "ml"}]}
    )
    assert started["OperationStatus"] == "IN_PROGRESS"
    assert started["Operation"] == "CREATE"
    assert set(started) >= EVENT_MEMBERS

    done = wait(cc, started)
    arn = image_arn(account, "Cc-Img")
    assert done["OperationStatus"] == "SUCCESS"
    assert done["RequestToken"] == started["RequestToken"]
    assert done["Identifier"] == arn
    assert json.loads(done["ResourceModel"]) == {
        "ImageArn": arn,
        "ImageName": "Cc-Img",
        "ImageRoleArn": role_arn,
        "Tags": [{"Key": "team", "Value": "ml"}],
    }

    # Primary identifier as a plain string, additional identifier as JSON: the same resource.
    by_arn = cc.get_resource(TypeName=IMAGE, Identifier=arn)
    assert by_arn["TypeName"] == IMAGE
    assert by_arn["ResourceDescription"]["Identifier"] == arn
    assert properties(cc, IMAGE, json.dumps({"ImageName": "Cc-Img"})) == json.loads(
        by_arn["ResourceDescription"]["Properties"]
    )

    # The SageMaker API sees the very same image.
    described = sagemaker.describe_image(ImageName="Cc-Img")
    assert described["ImageStatus"] == "CREATED"
    assert described["RoleArn"] == role_arn
    assert sagemaker.list_tags(ResourceArn=arn)["Tags"] == [{"Key": "team", "Value": "ml"}]

    updated = wait(
        cc,
        update(
            cc,
            IMAGE,
            arn,
            [
                {"op": "add", "path": "/ImageDescription", "value": "patched"},
                {"op": "replace", "path": "/Tags", "value": [{"Key": "env", "Value": "dev"}]},
            ],
        ),
    )
    assert updated["OperationStatus"] == "SUCCESS"
    assert updated["Operation"] == "UPDATE"
    assert sagemaker.describe_image(ImageName="Cc-Img")["Description"] == "patched"
    assert sagemaker.list_tags(ResourceArn=arn)["Tags"] == [{"Key": "env", "Value": "dev"}]

    removed = wait(cc, update(cc, IMAGE, arn, [{"op": "remove", "path": "/ImageDescription"}]))
    assert removed["OperationStatus"] == "SUCCESS"
    assert "Description" not in sagemaker.describe_image(ImageName="Cc-Img")

    deleted = cc.delete_resource(TypeName=IMAGE, Identifier=arn)["ProgressEvent"]
    assert deleted["Operation"] == "DELETE"
    assert deleted["OperationStatus"] == "IN_PROGRESS"
    assert deleted["Identifier"] == arn
    final = wait(cc, deleted)
    assert final["OperationStatus"] == "SUCCESS"
    assert "ResourceModel" not in final
    with pytest.raises(ClientError) as excinfo:
        sagemaker.describe_image(ImageName="Cc-Img")
    assert error_of(excinfo)[0] == "ResourceNotFound"


def test_image_made_by_sagemaker_is_managed_by_cloudcontrol(cc, sagemaker, account, role_arn):
    sagemaker.create_image(ImageName="sm-made", RoleArn=role_arn, DisplayName="Made there")
    arn = image_arn(account, "sm-made")
    assert properties(cc, IMAGE, arn) == {
        "ImageArn": arn,
        "ImageName": "sm-made",
        "ImageRoleArn": role_arn,
        "ImageDisplayName": "Made there",
    }
    other_role = role_arn + "-2"
    done = wait(
        cc,
        update(
            cc,
            IMAGE,
            '{"ImageName": "sm-made"}',
            [{"op": "replace", "path": "/ImageRoleArn", "value": other_role}],
        ),
    )
    assert done["OperationStatus"] == "SUCCESS"
    assert sagemaker.describe_image(ImageName="sm-made")["RoleArn"] == other_role
    assert (
        wait(cc, cc.delete_resource(TypeName=IMAGE, Identifier=arn)["ProgressEvent"])["OperationStatus"]
        == "SUCCESS"
    )
    assert sagemaker.list_images(NameContains="sm-made")["Images"] == []


def test_stackql_flow(cc, sagemaker, account, role_arn):
    """awscc.sagemaker.images: INSERT (ImageName + ImageRoleArn), UPDATE with a patch, SELECT, DELETE."""
    inserted = wait(cc, create(cc, IMAGE, {"ImageName": "stackql-image", "ImageRoleArn": role_arn}))
    assert inserted["OperationStatus"] == "SUCCESS"
    arn = inserted["Identifier"]

    new_role = f"arn:aws:iam::{account}:role/Other"
    patch = [
        {"op": "replace", "path": "/ImageRoleArn", "value": new_role},
        {"op": "add", "path": "/ImageDisplayName", "value": "StackQL Image"},
        {"op": "add", "path": "/ImageDescription", "value": "managed by stackql"},
        {
            "op": "add",
            "path": "/Tags",
            "value": [{"Key": "owner", "Value": "stackql"}, {"Key": "tier", "Value": "1"}],
        },
    ]
    assert wait(cc, update(cc, IMAGE, arn, patch))["OperationStatus"] == "SUCCESS"

    selected = properties(cc, IMAGE, arn)
    assert selected == {
        "ImageArn": arn,
        "ImageName": "stackql-image",
        "ImageRoleArn": new_role,
        "ImageDisplayName": "StackQL Image",
        "ImageDescription": "managed by stackql",
        "Tags": [{"Key": "owner", "Value": "stackql"}, {"Key": "tier", "Value": "1"}],
    }
    listed = cc.list_resources(TypeName=IMAGE)["ResourceDescriptions"]
    assert [d["Identifier"] for d in listed] == [arn]

    assert (
        wait(cc, cc.delete_resource(TypeName=IMAGE, Identifier=arn)["ProgressEvent"])["OperationStatus"]
        == "SUCCESS"
    )
    assert cc.list_resources(TypeName=IMAGE)["ResourceDescriptions"] == []


def test_patch_refusals(cc, account, role_arn):
    assert (
        wait(cc, create(cc, IMAGE, {"ImageName": "patched", "ImageRoleArn": role_arn}))["OperationStatus"]
        == "SUCCESS"
    )
    arn = image_arn(account, "patched")
    cases = [
        (
            [{"op": "replace", "path": "/ImageName", "value": "renamed"}],
            "NotUpdatableException",
            "Invalid patch update: createOnlyProperties [/properties/ImageName] cannot be updated",
        ),
        (
            [{"op": "replace", "path": "/ImageArn", "value": arn + "x"}],
            "InvalidRequestException",
            "Invalid patch update: readOnlyProperties [/properties/ImageArn] cannot be updated",
        ),
        (
            [{"op": "remove", "path": "/ImageRoleArn"}],
            "InvalidRequestException",
            "Model validation failed (#: required key [ImageRoleArn] not found)",
        ),
        (
            [{"op": "add", "path": "/Color", "value": "blue"}],
            "InvalidRequestException",
            "Model validation failed (#: extraneous key [Color] is not permitted)",
        ),
    ]
    for patch, code, message in cases:
        with pytest.raises(ClientError) as excinfo:
            update(cc, IMAGE, arn, patch)
        assert error_of(excinfo) == (code, message)
    for document in (
        "not json",
        '{"op": "add"}',
        '[{"op": "jump", "path": "/x"}]',
    ):
        with pytest.raises(ClientError) as excinfo:
            cc.update_resource(TypeName=IMAGE, Identifier=arn, PatchDocument=document)
        assert error_of(excinfo)[0] == "InvalidRequestException"
    # A path that names nothing, as Cloud Control refuses it (terraform-provider-awscc issue 3235).
    with pytest.raises(ClientError) as excinfo:
        update(cc, IMAGE, arn, [{"op": "remove", "path": "/Absent"}])
    assert error_of(excinfo) == (
        "ValidationException",
        "[REMOVE Operation] noSuchPath in source, path provided : //Absent",
    )
    # Nothing was started by any of them.
    assert (
        cc.list_resource_requests(ResourceRequestStatusFilter={"Operations": ["UPDATE"]})[
            "ResourceRequestStatusSummaries"
        ]
        == []
    )


@pytest.mark.parametrize(
    ("desired", "message"),
    [
        ({"ImageName": "no-role"}, "Model validation failed (#: required key [ImageRoleArn] not found)"),
        (
            {"ImageName": "extra", "ImageRoleArn": "ROLE", "Size": 3},
            "Model validation failed (#: extraneous key [Size] is not permitted)",
        ),
        (
            {"ImageName": "bad_name", "ImageRoleArn": "ROLE"},
            "Model validation failed (#/ImageName: string [bad_name] does not match pattern "
            "^[a-zA-Z0-9]([-.]?[a-zA-Z0-9])*$)",
        ),
        (
            {
                "ImageName": "readonly",
                "ImageRoleArn": "ROLE",
                "ImageArn": "arn:aws:sagemaker:us-east-1:123456789012:image/readonly",
            },
            "Invalid request provided: The following ReadOnly properties were set: [ImageArn]",
        ),
    ],
)
def test_desired_state_validation(cc, sagemaker, role_arn, desired, message):
    desired = {k: (role_arn if v == "ROLE" else v) for k, v in desired.items()}
    failed = wait(cc, create(cc, IMAGE, desired))
    assert failed["OperationStatus"] == "FAILED"
    assert failed["ErrorCode"] == "InvalidRequest"
    assert failed["StatusMessage"] == message
    assert sagemaker.list_images()["Images"] == []


def test_create_of_an_existing_image_fails_already_exists(cc, sagemaker, role_arn):
    sagemaker.create_image(ImageName="taken", RoleArn=role_arn)
    failed = wait(cc, create(cc, IMAGE, {"ImageName": "taken", "ImageRoleArn": role_arn}))
    assert failed["OperationStatus"] == "FAILED"
    assert failed["ErrorCode"] == "AlreadyExists"
    assert failed["StatusMessage"] == f"Resource of type '{IMAGE}' with identifier 'taken' already exists."


def test_missing_resources(cc, account):
    arn = image_arn(account, "ghost")
    with pytest.raises(ClientError) as excinfo:
        cc.get_resource(TypeName=IMAGE, Identifier=arn)
    assert error_of(excinfo) == (
        "ResourceNotFoundException",
        f"Resource of type '{IMAGE}' with identifier '{arn}' was not found.",
    )
    with pytest.raises(ClientError) as excinfo:
        update(
            cc, IMAGE, '{"ImageName": "ghost"}', [{"op": "add", "path": "/ImageDescription", "value": "x"}]
        )
    assert error_of(excinfo)[0] == "ResourceNotFoundException"

    gone = wait(cc, cc.delete_resource(TypeName=IMAGE, Identifier=arn)["ProgressEvent"])
    assert gone["OperationStatus"] == "FAILED"
    assert gone["ErrorCode"] == "NotFound"
    assert gone["StatusMessage"] == f"Resource of type '{IMAGE}' with identifier '{arn}' was not found."

    # Another account's ARN names nothing this caller may see.
    foreign = image_arn("111122223333", "ghost")
    with pytest.raises(ClientError) as excinfo:
        cc.get_resource(TypeName=IMAGE, Identifier=foreign)
    assert error_of(excinfo)[0] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as excinfo:
        cc.get_resource(TypeName=IMAGE, Identifier='{"Unknown": "x"}')
    assert error_of(excinfo)[0] == "InvalidRequestException"


def test_unknown_type(cc):
    calls = [
        lambda: cc.create_resource(TypeName="AWS::S3::Bucket", DesiredState="{}"),
        lambda: cc.get_resource(TypeName="AWS::S3::Bucket", Identifier="x"),
        lambda: cc.update_resource(TypeName="AWS::S3::Bucket", Identifier="x", PatchDocument="[]"),
        lambda: cc.delete_resource(TypeName="AWS::S3::Bucket", Identifier="x"),
        lambda: cc.list_resources(TypeName="AWS::S3::Bucket"),
    ]
    for call in calls:
        with pytest.raises(ClientError) as excinfo:
            call()
        assert error_of(excinfo) == ("TypeNotFoundException", "The type 'AWS::S3::Bucket' cannot be found.")


def test_list_resources_pages(cc, sagemaker, account, role_arn):
    names = [f"page-{i:02d}" for i in range(13)]
    for name in names:
        sagemaker.create_image(ImageName=name, RoleArn=role_arn)
    first = cc.list_resources(TypeName=IMAGE, MaxResults=2)
    # MaxResults is reserved: the handler's page size (SageMaker's default of 10) applies.
    assert len(first["ResourceDescriptions"]) == 10
    assert first["NextToken"]
    identifiers = []
    for page in cc.get_paginator("list_resources").paginate(TypeName=IMAGE):
        assert page["TypeName"] == IMAGE
        for description in page["ResourceDescriptions"]:
            identifiers.append(description["Identifier"])
            assert json.loads(description["Properties"]) == {"ImageArn": description["Identifier"]}
    assert sorted(identifiers) == sorted(image_arn(account, n) for n in names)


def test_type_version_and_role_are_accepted(cc, account, role_arn):
    event = create(
        cc,
        IMAGE,
        {"ImageName": "with-role", "ImageRoleArn": role_arn},
        RoleArn=f"arn:aws:iam::{account}:role/CloudControlRole",
        TypeVersionId="00000001",
    )
    assert wait(cc, event)["OperationStatus"] == "SUCCESS"
    got = cc.get_resource(
        TypeName=IMAGE, Identifier=image_arn(account, "with-role"), TypeVersionId="00000001"
    )
    assert json.loads(got["ResourceDescription"]["Properties"])["ImageName"] == "with-role"


# -- image versions -------------------------------------------------------------------------------


def test_image_version_lifecycle(cc, sagemaker, account, role_arn):
    sagemaker.create_image(ImageName="Versioned", RoleArn=role_arn)
    started = create(
        cc,
        VERSION,
        {"ImageName": "Versioned", "BaseImage": "repo/img:1", "Aliases": ["stable"], "JobType": "TRAINING"},
    )
    done = wait(cc, started)
    arn = f"arn:aws:sagemaker:us-east-1:{account}:image-version/versioned/1"
    assert done["OperationStatus"] == "SUCCESS"
    assert done["Identifier"] == arn
    model = properties(cc, VERSION, arn)
    assert model == {
        "ImageName": "Versioned",
        "ImageArn": image_arn(account, "Versioned"),
        "ImageVersionArn": arn,
        "BaseImage": "repo/img:1",
        "ContainerImage": "repo/img:1",
        "Version": 1,
        "JobType": "TRAINING",
        "Horovod": False,  # DescribeImageVersion answers it even when never set
    }  # Aliases is write-only: never read back
    assert "Aliases" not in json.loads(done["ResourceModel"])
    assert sagemaker.list_aliases(ImageName="Versioned", Version=1)["SageMakerImageVersionAliases"] == [
        "stable"
    ]

    patch = [
        {"op": "add", "path": "/Aliases", "value": ["latest"]},
        {"op": "add", "path": "/ReleaseNotes", "value": "second thoughts"},
    ]
    assert wait(cc, update(cc, VERSION, arn, patch))["OperationStatus"] == "SUCCESS"
    assert sagemaker.list_aliases(ImageName="Versioned", Version=1)["SageMakerImageVersionAliases"] == [
        "latest"
    ]
    assert (
        sagemaker.describe_image_version(ImageName="Versioned", Version=1)["ReleaseNotes"]
        == "second thoughts"
    )

    with pytest.raises(ClientError) as excinfo:
        update(cc, VERSION, arn, [{"op": "replace", "path": "/BaseImage", "value": "repo/img:2"}])
    assert error_of(excinfo) == (
        "NotUpdatableException",
        "Invalid patch update: createOnlyProperties [/properties/BaseImage] cannot be updated",
    )
    with pytest.raises(ClientError) as excinfo:
        update(cc, VERSION, arn, [{"op": "replace", "path": "/Version", "value": 7}])
    assert error_of(excinfo) == (
        "InvalidRequestException",
        "Invalid patch update: readOnlyProperties [/properties/Version] cannot be updated",
    )

    # A version made through SageMaker is listed and read through Cloud Control.
    sagemaker.create_image_version(ImageName="Versioned", BaseImage="repo/img:2", ClientToken="sm-made-2")
    listed = cc.list_resources(TypeName=VERSION, ResourceModel=json.dumps({"ImageName": "Versioned"}))
    assert {d["Identifier"] for d in listed["ResourceDescriptions"]} == {arn, arn[:-1] + "2"}
    assert properties(cc, VERSION, arn[:-1] + "2")["BaseImage"] == "repo/img:2"

    deleted = wait(cc, cc.delete_resource(TypeName=VERSION, Identifier=arn)["ProgressEvent"])
    assert deleted["OperationStatus"] == "SUCCESS"
    versions = sagemaker.list_image_versions(ImageName="Versioned")["ImageVersions"]
    assert [v["Version"] for v in versions] == [2]


def test_image_version_failures(cc, account):
    failed = wait(cc, create(cc, VERSION, {"ImageName": "no-such-image", "BaseImage": "repo/img:1"}))
    assert failed["OperationStatus"] == "FAILED"
    assert failed["ErrorCode"] == "InvalidRequest"
    assert failed["StatusMessage"].endswith(
        "Image: [no-such-image] not found. Failed to create Image Version"
    )

    readonly = wait(cc, create(cc, VERSION, {"ImageName": "x", "BaseImage": "b", "Version": 3}))
    assert readonly["ErrorCode"] == "InvalidRequest"
    assert (
        readonly["StatusMessage"]
        == "Invalid request provided: The following ReadOnly properties were set: [Version]"
    )

    with pytest.raises(ClientError) as excinfo:
        cc.list_resources(TypeName=VERSION)
    assert error_of(excinfo) == (
        "InvalidRequestException",
        "Missing or invalid ResourceModel property in AWS::SageMaker::ImageVersion list handler request "
        "input.Required property: (#: required key [ImageName] not found)",
    )
    with pytest.raises(ClientError) as excinfo:
        cc.list_resources(TypeName=VERSION, ResourceModel='{"ImageName": "no-such-image"}')
    assert error_of(excinfo)[0] == "ResourceNotFoundException"

    missing = f"arn:aws:sagemaker:us-east-1:{account}:image-version/no-such-image/1"
    with pytest.raises(ClientError) as excinfo:
        cc.get_resource(TypeName=VERSION, Identifier=missing)
    assert error_of(excinfo)[0] == "ResourceNotFoundException"
    gone = wait(cc, cc.delete_resource(TypeName=VERSION, Identifier=missing)["ProgressEvent"])
    assert (gone["OperationStatus"], gone["ErrorCode"]) == ("FAILED", "NotFound")


# -- requests -------------------------------------------------------------------------------------


def test_client_token_idempotency(cc, role_arn):
    desired = {"ImageName": "idem", "ImageRoleArn": role_arn}
    first = create(cc, IMAGE, desired, ClientToken="token-1")
    again = create(cc, IMAGE, desired, ClientToken="token-1")
    assert again["RequestToken"] == first["RequestToken"]
    with pytest.raises(ClientError) as excinfo:
        create(cc, IMAGE, {**desired, "ImageDescription": "different"}, ClientToken="token-1")
    code, message = error_of(excinfo)
    assert code == "ClientTokenConflictException"
    assert "already been used in another resource request" in message
    assert wait(cc, first)["OperationStatus"] == "SUCCESS"
    # boto3 fills ClientToken itself: two plain calls are two requests.
    assert create(cc, IMAGE, desired)["RequestToken"] != first["RequestToken"]


def test_resource_requests_listing_and_status(cc, server, role_arn):
    tokens = []
    for i in range(3):
        tokens.append(
            wait(cc, create(cc, IMAGE, {"ImageName": f"req-{i}", "ImageRoleArn": role_arn}))["RequestToken"]
        )
    failed = wait(cc, create(cc, IMAGE, {"ImageName": "req-0", "ImageRoleArn": role_arn}))
    assert failed["OperationStatus"] == "FAILED"

    everything = cc.list_resource_requests()["ResourceRequestStatusSummaries"]
    assert [e["RequestToken"] for e in everything] == [failed["RequestToken"], *reversed(tokens)]
    succeeded = cc.list_resource_requests(ResourceRequestStatusFilter={"OperationStatuses": ["SUCCESS"]})
    assert {e["RequestToken"] for e in succeeded["ResourceRequestStatusSummaries"]} == set(tokens)
    failures = cc.list_resource_requests(
        ResourceRequestStatusFilter={"Operations": ["CREATE"], "OperationStatuses": ["FAILED"]}
    )["ResourceRequestStatusSummaries"]
    assert [(e["ErrorCode"], e["RequestToken"]) for e in failures] == [
        ("AlreadyExists", failed["RequestToken"])
    ]
    assert (
        cc.list_resource_requests(ResourceRequestStatusFilter={"Operations": ["DELETE"]})[
            "ResourceRequestStatusSummaries"
        ]
        == []
    )

    pages = list(cc.get_paginator("list_resource_requests").paginate(PaginationConfig={"PageSize": 1}))
    assert [e["RequestToken"] for p in pages for e in p["ResourceRequestStatusSummaries"]] == [
        e["RequestToken"] for e in everything
    ]
    assert len(pages) == 4

    with pytest.raises(ClientError) as excinfo:
        cc.get_resource_request_status(RequestToken="00000000-0000-0000-0000-000000000000")
    assert error_of(excinfo)[0] == "RequestTokenNotFoundException"
    # Requests belong to their account.
    stranger = client_for(server.endpoint, "999988887777", "cloudcontrol")
    with pytest.raises(ClientError) as excinfo:
        stranger.get_resource_request_status(RequestToken=tokens[0])
    assert error_of(excinfo)[0] == "RequestTokenNotFoundException"
    with pytest.raises(ClientError) as excinfo:
        stranger.cancel_resource_request(RequestToken=tokens[0])
    assert error_of(excinfo)[0] == "RequestTokenNotFoundException"

    # Cancelling a finished request changes nothing.
    assert cc.cancel_resource_request(RequestToken=tokens[0])["ProgressEvent"]["OperationStatus"] == "SUCCESS"


def test_create_failed_is_general_service_exception(shared_servers, account, role_arn):
    server = shared_servers("--fail-images", "doomed.*")
    cc = client_for(server.endpoint, account, "cloudcontrol")
    failed = wait(cc, create(cc, IMAGE, {"ImageName": "doomed-1", "ImageRoleArn": role_arn}))
    assert failed["OperationStatus"] == "FAILED"
    assert failed["ErrorCode"] == "GeneralServiceException"
    assert f"{IMAGE} [{image_arn(account, 'doomed-1')}] failed to create." in failed["StatusMessage"]


def test_slow_transitions_concurrency_and_cancel(shared_servers, account, role_arn):
    server = shared_servers(*SLOW)
    cc = client_for(server.endpoint, account, "cloudcontrol")
    sagemaker = client_for(server.endpoint, account)

    started = create(cc, IMAGE, {"ImageName": "slow", "ImageRoleArn": role_arn})
    # The handler has called CreateImage once the request knows its resource's identifier.
    for _ in range(100):
        polled = cc.get_resource_request_status(RequestToken=started["RequestToken"])["ProgressEvent"]
        if "Identifier" in polled:
            break
        time.sleep(0.05)
    assert polled["OperationStatus"] == "IN_PROGRESS"
    assert sagemaker.describe_image(ImageName="slow")["ImageStatus"] == "CREATING"
    # A second mutating request on a resource with one in progress is refused at once.
    arn = image_arn(account, "slow")
    with pytest.raises(ClientError) as excinfo:
        cc.delete_resource(TypeName=IMAGE, Identifier=arn)
    assert error_of(excinfo)[0] == "ConcurrentOperationException"
    assert wait(cc, started, server)["OperationStatus"] == "SUCCESS"

    # An image SageMaker is still creating cannot be deleted: the handler reports a conflict.
    sagemaker.create_image(ImageName="busy", RoleArn=role_arn)
    conflict = wait(
        cc, cc.delete_resource(TypeName=IMAGE, Identifier='{"ImageName": "busy"}')["ProgressEvent"]
    )
    assert (conflict["OperationStatus"], conflict["ErrorCode"]) == ("FAILED", "ResourceConflict")

    first = update(cc, IMAGE, arn, [{"op": "add", "path": "/ImageDescription", "value": "one"}])
    assert first["OperationStatus"] == "IN_PROGRESS"
    with pytest.raises(ClientError) as excinfo:
        update(
            cc, IMAGE, '{"ImageName": "slow"}', [{"op": "add", "path": "/ImageDescription", "value": "two"}]
        )
    assert error_of(excinfo)[0] == "ConcurrentOperationException"
    with pytest.raises(ClientError) as excinfo:
        cc.delete_resource(TypeName=IMAGE, Identifier=arn)
    assert error_of(excinfo)[0] == "ConcurrentOperationException"

    cancelling = cc.cancel_resource_request(RequestToken=first["RequestToken"])["ProgressEvent"]
    assert cancelling["OperationStatus"] in ("CANCEL_IN_PROGRESS", "CANCEL_COMPLETE")
    cancelled = wait(cc, first)
    assert cancelled["OperationStatus"] == "CANCEL_COMPLETE"
    with pytest.raises(WaiterError):
        cc.get_waiter("resource_request_success").wait(
            RequestToken=first["RequestToken"], WaiterConfig={"Delay": 0.2, "MaxAttempts": 2}
        )
    # Cancelling stops the request, not SageMaker's own update; once that is over the image is free.
    advance_clock(server, DELAY)
    sagemaker.get_waiter("image_updated").wait(ImageName="slow", WaiterConfig=FAST_WAITER)
    later = wait(cc, cc.delete_resource(TypeName=IMAGE, Identifier=arn)["ProgressEvent"], server)
    assert later["OperationStatus"] == "SUCCESS"


def test_requests_survive_a_restart(start_server, account, role_arn):
    first = start_server(*SLOW)
    cc = client_for(first.endpoint, account, "cloudcontrol")
    started = create(cc, IMAGE, {"ImageName": "survivor", "ImageRoleArn": role_arn})
    assert started["OperationStatus"] == "IN_PROGRESS"
    first.kill()

    second = start_server(*SLOW)
    cc = client_for(second.endpoint, account, "cloudcontrol")
    done = wait(cc, started, second)
    assert done["OperationStatus"] == "SUCCESS"
    assert done["Identifier"] == image_arn(account, "survivor")
    assert (
        client_for(second.endpoint, account).describe_image(ImageName="survivor")["ImageStatus"] == "CREATED"
    )


# -- wire -----------------------------------------------------------------------------------------


def call(server, operation: str, body, account: str) -> tuple[int, dict]:
    return raw_call(server, operation, body, service="cloudcontrol", account=account)


def test_wire(server, account):
    status, body = call(server, "ListResources", {"TypeName": IMAGE}, account)
    assert status == 200
    assert body == {"TypeName": IMAGE, "ResourceDescriptions": []}
    assert server.last_headers["content-type"] == "application/x-amz-json-1.0"
    assert len(server.last_headers["x-amzn-requestid"]) == 36

    status, body = call(server, "GetResource", {"TypeName": "AWS::Nope::Thing", "Identifier": "x"}, account)
    assert status == 400
    message = "The type 'AWS::Nope::Thing' cannot be found."
    assert body == {"__type": "TypeNotFoundException", "message": message, "Message": message}
    assert server.last_headers["x-amzn-errortype"] == "TypeNotFoundException"

    status, body = call(server, "CreateResource", {"TypeName": "bad"}, account)
    assert status == 400
    assert body["__type"] == "ValidationException"
    assert body["message"] == (
        "3 validation errors detected: Value 'bad' at 'typeName' failed to satisfy constraint: Member must have "
        "length greater than or equal to 10; Value 'bad' at 'typeName' failed to satisfy constraint: Member must "
        "satisfy regular expression pattern: [A-Za-z0-9]{2,64}::[A-Za-z0-9]{2,64}::[A-Za-z0-9]{2,64}; "
        "Value null at 'desiredState' failed to satisfy constraint: Member must not be null"
    )

    status, body = call(server, "CreateResource", {"TypeName": IMAGE, "DesiredState": "[1]"}, account)
    assert (status, body["__type"]) == (400, "InvalidRequestException")


# -- the AWS CLI ----------------------------------------------------------------------------------


def test_aws_cli_cloudcontrol(aws_cli, account, role_arn):
    def cli(*args: str) -> dict:
        out = aws_cli("cloudcontrol", *args).stdout
        return json.loads(out) if out.strip() else {}

    started = cli(
        "create-resource",
        "--type-name",
        IMAGE,
        "--desired-state",
        json.dumps({"ImageName": "cli-cc", "ImageRoleArn": role_arn}),
    )["ProgressEvent"]
    assert started["OperationStatus"] == "IN_PROGRESS"
    aws_cli("cloudcontrol", "wait", "resource-request-success", "--request-token", started["RequestToken"])
    status = cli("get-resource-request-status", "--request-token", started["RequestToken"])["ProgressEvent"]
    arn = image_arn(account, "cli-cc")
    assert (status["OperationStatus"], status["Identifier"]) == ("SUCCESS", arn)

    got = cli("get-resource", "--type-name", IMAGE, "--identifier", '{"ImageName": "cli-cc"}')
    assert json.loads(got["ResourceDescription"]["Properties"])["ImageRoleArn"] == role_arn

    patch = json.dumps([{"op": "add", "path": "/ImageDisplayName", "value": "From CLI"}])
    updated = cli("update-resource", "--type-name", IMAGE, "--identifier", arn, "--patch-document", patch)
    aws_cli(
        "cloudcontrol",
        "wait",
        "resource-request-success",
        "--request-token",
        updated["ProgressEvent"]["RequestToken"],
    )
    listed = cli("list-resources", "--type-name", IMAGE)
    assert [d["Identifier"] for d in listed["ResourceDescriptions"]] == [arn]

    requests = cli("list-resource-requests", "--resource-request-status-filter", "Operations=UPDATE")
    assert [r["RequestToken"] for r in requests["ResourceRequestStatusSummaries"]] == [
        updated["ProgressEvent"]["RequestToken"]
    ]
    cancelled = cli("cancel-resource-request", "--request-token", started["RequestToken"])["ProgressEvent"]
    assert cancelled["OperationStatus"] == "SUCCESS"

    deleted = cli("delete-resource", "--type-name", IMAGE, "--identifier", arn)["ProgressEvent"]
    aws_cli("cloudcontrol", "wait", "resource-request-success", "--request-token", deleted["RequestToken"])

    failed = aws_cli("cloudcontrol", "get-resource", "--type-name", IMAGE, "--identifier", arn, check=False)
    assert failed.returncode != 0
    assert "ResourceNotFoundException" in failed.stderr
    unknown = aws_cli("cloudcontrol", "list-resources", "--type-name", "AWS::S3::Bucket", check=False)
    assert "TypeNotFoundException" in unknown.stderr
