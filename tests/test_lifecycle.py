"""Asynchronous statuses: delays, failures, wrong-state errors, waiters, the opt-in concurrency rule.

Transitions here take five minutes, and the tests move the server's clock (``--admin``) past them:
every in-between status is seen for as long as a test needs, and no test sleeps.
"""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError, WaiterError

from tests.calls import FAST_WAITER, advance_clock, error_of
from tests.conftest import client_for

DELAY = 300
SLOW = ("--transition-delay", str(DELAY), "--admin")


def test_transitions_take_the_configured_delay(shared_servers, role_arn, account):
    server = shared_servers(*SLOW)
    slow = client_for(server.endpoint, account)
    slow.create_image(ImageName="slow", RoleArn=role_arn)
    assert slow.describe_image(ImageName="slow")["ImageStatus"] == "CREATING"
    assert slow.list_images()["Images"][0]["ImageStatus"] == "CREATING"

    # Wrong-state operations fail as AWS fails them.
    with pytest.raises(ClientError) as excinfo:
        slow.create_image_version(ImageName="slow", BaseImage="b")
    assert error_of(excinfo) == ("ValidationException", "Image slow is in an invalid state.")
    with pytest.raises(ClientError) as excinfo:
        slow.update_image(ImageName="slow", Description="x")
    assert error_of(excinfo)[0] == "ResourceInUse"
    with pytest.raises(ClientError) as excinfo:
        slow.delete_image(ImageName="slow")
    assert error_of(excinfo)[0] == "ResourceInUse"

    advance_clock(server, DELAY)
    slow.get_waiter("image_created").wait(ImageName="slow", WaiterConfig=FAST_WAITER)
    image = slow.describe_image(ImageName="slow")
    assert image["ImageStatus"] == "CREATED"
    assert image["LastModifiedTime"] > image["CreationTime"]

    slow.update_image(ImageName="slow", Description="changed")
    assert slow.describe_image(ImageName="slow")["ImageStatus"] == "UPDATING"
    advance_clock(server, DELAY)
    slow.get_waiter("image_updated").wait(ImageName="slow", WaiterConfig=FAST_WAITER)

    slow.create_image_version(ImageName="slow", BaseImage="b")
    version = slow.describe_image_version(ImageName="slow")
    assert version["ImageVersionStatus"] == "CREATING"
    assert "ContainerImage" not in version
    with pytest.raises(ClientError) as excinfo:
        slow.update_image_version(ImageName="slow", Version=1, AliasesToAdd=["a"])
    assert error_of(excinfo)[0] == "ResourceInUse"
    advance_clock(server, DELAY)
    slow.get_waiter("image_version_created").wait(ImageName="slow", Version=1, WaiterConfig=FAST_WAITER)
    assert slow.describe_image_version(ImageName="slow")["ContainerImage"] == "b"

    slow.delete_image_version(ImageName="slow", Version=1)
    assert slow.describe_image_version(ImageName="slow", Version=1)["ImageVersionStatus"] == "DELETING"
    with pytest.raises(ClientError) as excinfo:
        slow.delete_image_version(ImageName="slow", Version=1)
    arn = f"arn:aws:sagemaker:us-east-1:{account}:image-version/slow/1"
    assert error_of(excinfo) == ("ResourceInUse", f"ImageVersion ({arn}) is being deleted")
    advance_clock(server, DELAY)
    slow.get_waiter("image_version_deleted").wait(ImageName="slow", Version=1, WaiterConfig=FAST_WAITER)

    slow.delete_image(ImageName="slow")
    assert slow.describe_image(ImageName="slow")["ImageStatus"] == "DELETING"
    with pytest.raises(ClientError) as excinfo:
        slow.delete_image(ImageName="slow")
    assert error_of(excinfo)[0] == "ResourceInUse"
    assert "is being deleted" in error_of(excinfo)[1]
    with pytest.raises(ClientError) as excinfo:
        slow.create_image(ImageName="slow", RoleArn=role_arn)
    assert error_of(excinfo)[0] == "ResourceInUse"
    advance_clock(server, DELAY)
    slow.get_waiter("image_deleted").wait(ImageName="slow", WaiterConfig=FAST_WAITER)
    slow.create_image(ImageName="slow", RoleArn=role_arn)


def test_failures_are_reachable(shared_servers, account, role_arn):
    server = shared_servers("--fail-images", "broken-.*", "--fail-base-images", ".*:bad")
    client = client_for(server.endpoint, account)

    client.create_image(ImageName="broken-1", RoleArn=role_arn)
    image = client.describe_image(ImageName="broken-1")
    assert image["ImageStatus"] == "CREATE_FAILED"
    assert "broken-1" in image["FailureReason"]
    with pytest.raises(WaiterError) as waited:
        client.get_waiter("image_created").wait(ImageName="broken-1", WaiterConfig=FAST_WAITER)
    assert "CREATE_FAILED" in str(waited.value) or "failure" in str(waited.value)
    with pytest.raises(ClientError) as excinfo:
        client.create_image_version(ImageName="broken-1", BaseImage="b")
    assert error_of(excinfo) == ("ValidationException", "Image broken-1 is in an invalid state.")
    client.update_image(ImageName="broken-1", Description="retry")
    assert client.describe_image(ImageName="broken-1")["ImageStatus"] == "UPDATE_FAILED"
    with pytest.raises(WaiterError):
        client.get_waiter("image_updated").wait(ImageName="broken-1", WaiterConfig=FAST_WAITER)
    client.delete_image(ImageName="broken-1")
    assert client.describe_image(ImageName="broken-1")["ImageStatus"] == "DELETE_FAILED"
    with pytest.raises(WaiterError):
        client.get_waiter("image_deleted").wait(ImageName="broken-1", WaiterConfig=FAST_WAITER)

    client.create_image(ImageName="fine", RoleArn=role_arn)
    client.create_image_version(ImageName="fine", BaseImage="repo:bad")
    version = client.describe_image_version(ImageName="fine")
    assert version["ImageVersionStatus"] == "CREATE_FAILED"
    assert "repo:bad" in version["FailureReason"]
    assert "ContainerImage" not in version
    assert client.list_image_versions(ImageName="fine")["ImageVersions"][0]["FailureReason"]
    with pytest.raises(WaiterError):
        client.get_waiter("image_version_created").wait(ImageName="fine", Version=1, WaiterConfig=FAST_WAITER)
    client.delete_image_version(ImageName="fine", Version=1)
    assert client.describe_image_version(ImageName="fine", Version=1)["ImageVersionStatus"] == "DELETE_FAILED"
    client.create_image_version(ImageName="fine", BaseImage="repo:good")
    assert client.describe_image_version(ImageName="fine", Version=2)["ImageVersionStatus"] == "CREATED"


def test_opt_in_aws_concurrency_rule_refuses_overlapping_calls_only(shared_servers, account, role_arn):
    """Terraform serialises its CreateImageVersion calls, not the waits: each call after the previous
    one returned is accepted, even while earlier versions are still CREATING (its 10-version test
    passes against AWS). Only calls that overlap are refused (tests/test_version_concurrency.py)."""
    server = shared_servers(*SLOW, "--reject-concurrent-version-creates")
    client = client_for(server.endpoint, account)
    client.create_image(ImageName="strict", RoleArn=role_arn)
    advance_clock(server, DELAY)
    client.get_waiter("image_created").wait(ImageName="strict", WaiterConfig=FAST_WAITER)
    for number in range(1, 11):
        arn = client.create_image_version(ImageName="strict", BaseImage=f"b:{number}")["ImageVersionArn"]
        assert arn.endswith(f"/{number}")
    statuses = {
        v["ImageVersionStatus"] for v in client.list_image_versions(ImageName="strict")["ImageVersions"]
    }
    assert statuses == {"CREATING"}


def test_quotas_are_configurable(shared_servers, account, role_arn):
    server = shared_servers("--max-images", "2", "--max-versions-per-image", "1")
    client = client_for(server.endpoint, account)
    client.create_image(ImageName="q1", RoleArn=role_arn)
    client.create_image(ImageName="q2", RoleArn=role_arn)
    with pytest.raises(ClientError) as excinfo:
        client.create_image(ImageName="q3", RoleArn=role_arn)
    assert error_of(excinfo)[0] == "ResourceLimitExceeded"
    client.create_image_version(ImageName="q1", BaseImage="b")
    with pytest.raises(ClientError) as excinfo:
        client.create_image_version(ImageName="q1", BaseImage="b")
    assert error_of(excinfo)[0] == "ResourceLimitExceeded"
    client.delete_image(ImageName="q2")
    client.create_image(ImageName="q3", RoleArn=role_arn)
