"""VendorGuidance TO_BE_ARCHIVED reads ARCHIVED once ``--archive-after`` has passed, on every replica.

The servers run with ``--admin`` and the test moves their clocks: five minutes pass at once.
"""

from __future__ import annotations

from tests.calls import advance_clock
from tests.conftest import client_for
from tests.servers import ServerProcess

DELAY = 300


def _guidance(client, version: int) -> str | None:
    return client.describe_image_version(ImageName="img", Version=version).get("VendorGuidance")


def test_to_be_archived_becomes_archived(start_server, database_url, artifacts, account, role_arn):
    server = start_server("--archive-after", str(DELAY), "--admin")
    sm = client_for(server.endpoint, account)
    sm.create_image(ImageName="img", RoleArn=role_arn)
    sm.create_image_version(ImageName="img", BaseImage="repo/img:1", VendorGuidance="TO_BE_ARCHIVED")
    sm.create_image_version(ImageName="img", BaseImage="repo/img:2", VendorGuidance="STABLE")
    sm.create_image_version(ImageName="img", BaseImage="repo/img:3")
    sm.create_image_version(ImageName="img", BaseImage="repo/img:4", VendorGuidance="STABLE")

    # Version 2 is set to be archived later than version 1: its own wait starts then.
    advance_clock(server, DELAY / 2)
    sm.update_image_version(ImageName="img", Version=2, VendorGuidance="TO_BE_ARCHIVED")
    # Saying TO_BE_ARCHIVED again does not postpone version 1.
    sm.update_image_version(ImageName="img", Version=1, VendorGuidance="TO_BE_ARCHIVED")
    # Version 4 is taken back from the archive list before it is due.
    sm.update_image_version(ImageName="img", Version=4, VendorGuidance="TO_BE_ARCHIVED")
    sm.update_image_version(ImageName="img", Version=4, VendorGuidance="STABLE")
    before = sm.describe_image_version(ImageName="img", Version=1)
    assert before["VendorGuidance"] == "TO_BE_ARCHIVED"

    advance_clock(server, DELAY / 2 + 1)
    after = sm.describe_image_version(ImageName="img", Version=1)
    assert after["VendorGuidance"] == "ARCHIVED"
    # Only the guidance changes: the status, times and everything else stay as they were.
    assert {k: v for k, v in after.items() if k not in ("VendorGuidance", "ResponseMetadata")} == {
        k: v for k, v in before.items() if k not in ("VendorGuidance", "ResponseMetadata")
    }
    assert _guidance(sm, 2) == "TO_BE_ARCHIVED"
    assert _guidance(sm, 3) is None
    assert _guidance(sm, 4) == "STABLE"
    # An archived version is still listed and found.
    listed = sm.list_image_versions(ImageName="img")["ImageVersions"]
    assert sorted(v["Version"] for v in listed) == [1, 2, 3, 4]

    # Another replica on the same database, started later with the default delay and its clock at the
    # same moment, agrees: the moment is data, stored when the guidance was set.
    with ServerProcess(database_url, "--admin", log_path=artifacts / "replica.log") as replica:
        other = client_for(replica.endpoint, account)
        advance_clock(replica, DELAY + 1)
        assert _guidance(other, 1) == "ARCHIVED"
        assert _guidance(other, 2) == "TO_BE_ARCHIVED"
        for process in (server, replica):
            advance_clock(process, DELAY / 2)
        assert _guidance(other, 2) == "ARCHIVED"
        assert _guidance(sm, 2) == "ARCHIVED"
        # Set again on an archived version, the wait starts over (here: three months).
        other.update_image_version(ImageName="img", Version=1, VendorGuidance="TO_BE_ARCHIVED")
        assert _guidance(sm, 1) == "TO_BE_ARCHIVED"
        other.update_image_version(ImageName="img", Version=3, VendorGuidance="ARCHIVED")
        assert _guidance(sm, 3) == "ARCHIVED"


def test_default_is_three_months(sagemaker, role_arn):
    sagemaker.create_image(ImageName="img", RoleArn=role_arn)
    sagemaker.create_image_version(ImageName="img", BaseImage="repo/img:1", VendorGuidance="TO_BE_ARCHIVED")
    assert _guidance(sagemaker, 1) == "TO_BE_ARCHIVED"
