"""Background checks over a real SQLite store: bounded attempts, leases, and settling as written."""

from __future__ import annotations

from pathlib import Path

from sagemaker_images.images.checks import BackgroundChecks, CheckOptions
from sagemaker_images.images.lifecycle import PENDABLE, LifecyclePolicy
from sagemaker_images.images.references import Reference
from sagemaker_images.images.registry import ImageRegistry
from sagemaker_images.images.resolution import Outcome, Resolver, Route
from sagemaker_images.store import open_database
from sagemaker_images.store.pending import PendingChecks
from sagemaker_images.tenancy import Tenant

TENANT = Tenant("111122223333", "us-east-1")


class Broken:
    """A registry client with a bug: every question raises."""

    def __init__(self) -> None:
        self.asked = 0

    def resolve(self, base_image: str, reference: Reference) -> Outcome:
        self.asked += 1
        raise KeyError("unexpected answer")


def _registry(tmp_path: Path, checks_for: Resolver | None) -> tuple[ImageRegistry, BackgroundChecks]:
    database = open_database(f"sqlite:///{tmp_path / 'state.db'}")
    policy = LifecyclePolicy()
    checks = BackgroundChecks(database, policy, checks_for, options=CheckOptions(attempts=3, first_pause=0))
    registry = ImageRegistry(database, policy, checks=checks if checks.active else None)
    registry.create_image(TENANT, {"ImageName": "img", "RoleArn": "arn:aws:iam::111122223333:role/R"})
    return registry, checks


def _run_due(checks: BackgroundChecks) -> None:
    for image_id, version in checks._due(limit=10)[1]:
        checks.check_version(image_id, version)


def test_an_error_of_our_own_is_an_attempt_and_the_attempts_are_bounded(tmp_path: Path) -> None:
    broken = Broken()
    registry, checks = _registry(tmp_path, Resolver([Route("r.example", broken)]))
    registry.create_image_version(
        TENANT, {"ImageName": "img", "BaseImage": "r.example/a:1", "ClientToken": "t"}
    )
    for _ in range(5):
        _run_due(checks)
    described = registry.describe_image_version(TENANT, {"ImageName": "img", "Version": 1})
    assert described["ImageVersionStatus"] == "CREATE_FAILED"
    assert described["FailureReason"] == (
        "Unable to pull the image 'r.example/a:1': its registry could not be reached after 3 attempts "
        "(internal error: KeyError)."
    )
    assert broken.asked == 3


def test_a_version_another_process_holds_is_left_alone(tmp_path: Path) -> None:
    broken = Broken()
    registry, checks = _registry(tmp_path, Resolver([Route("r.example", broken)]))
    registry.create_image_version(
        TENANT, {"ImageName": "img", "BaseImage": "r.example/a:1", "ClientToken": "t"}
    )
    other = BackgroundChecks(checks.database, checks.policy, checks.resolver, options=checks.options)
    with checks.database.write() as q:
        assert PendingChecks(q.conn, in_progress=PENDABLE).claim_version(1, 1, other.owner, other.clock(), 60)
    checks.check_version(1, 1)
    assert broken.asked == 0
    described = registry.describe_image_version(TENANT, {"ImageName": "img", "Version": 1})
    assert described["ImageVersionStatus"] == "CREATING"


def test_settle_all_takes_pending_versions_as_written(tmp_path: Path) -> None:
    registry, checks = _registry(tmp_path, Resolver([Route("r.example", Broken())]))
    registry.create_image_version(
        TENANT, {"ImageName": "img", "BaseImage": "r.example/a:1", "ClientToken": "t"}
    )
    plain = BackgroundChecks(checks.database, checks.policy)
    assert not plain.active
    assert plain.settle_all() == 1
    described = registry.describe_image_version(TENANT, {"ImageName": "img", "Version": 1})
    assert (described["ImageVersionStatus"], described["ContainerImage"]) == ("CREATED", "r.example/a:1")
