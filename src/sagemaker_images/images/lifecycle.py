"""Asynchronous statuses as data: a transition is stored as where it stands, where it ends and when.

Real SageMaker moves an image from CREATING to CREATED some time after the call returns; clients
poll (boto3's waiters). Here a transition is written once — ``status`` now, ``next_status`` from
``settles_at`` on — and every reader, in any replica, derives the same status from the clock. With
the default delay of 0 a transition has settled before the first poll.

A version's ``VendorGuidance`` has a clock too: AWS archives versions set ``TO_BE_ARCHIVED`` "after
three months" (``--archive-after``). The moment is stored with the guidance (``archives_at``) and the
ARCHIVED value derived from it, the same way.

Failures are reachable on purpose, for users who test their failure handling: images whose name,
or versions whose base image, match a configured pattern end their transitions in ``*_FAILED``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

import regex

# The statuses of images and image versions, as the API names them. The store is given the ones it
# filters on: DELETED to hide what is gone, PENDABLE to find transitions waiting for a check.
CREATING = "CREATING"
CREATED = "CREATED"
UPDATING = "UPDATING"
DELETING = "DELETING"
DELETED = "DELETED"  # never shown: the resource is gone
CREATE_FAILED = "CREATE_FAILED"
UPDATE_FAILED = "UPDATE_FAILED"
DELETE_FAILED = "DELETE_FAILED"
# The transitions a background check may hold pending (a deletion never waits for one).
PENDABLE = (CREATING, UPDATING)

TO_BE_ARCHIVED = "TO_BE_ARCHIVED"
ARCHIVED = "ARCHIVED"
# "Custom image versions that are set to be archived are automatically archived after three months."
THREE_MONTHS = 90 * 24 * 3600.0

# In-progress status -> (status on success, status on failure)
_OUTCOMES = {
    CREATING: (CREATED, CREATE_FAILED),
    UPDATING: (CREATED, UPDATE_FAILED),
    DELETING: (DELETED, DELETE_FAILED),
}


@dataclass(frozen=True, slots=True)
class LifecyclePolicy:
    delay: float = 0.0
    fail_images: regex.Pattern[str] | None = None
    fail_base_images: regex.Pattern[str] | None = None
    archive_after: float = THREE_MONTHS

    def image_fails(self, name: str) -> bool:
        return self.fail_images is not None and self.fail_images.fullmatch(name) is not None

    def version_fails(self, base_image: str) -> bool:
        return self.fail_base_images is not None and self.fail_base_images.fullmatch(base_image) is not None

    def begin(
        self, in_progress: str, now: float, failure_reason: str | None = None, *, pending: bool = False
    ) -> dict[str, Any]:
        """The lifecycle columns of a transition that starts now; it fails if a reason is given.

        A ``pending`` transition has no outcome yet: it shows ``in_progress`` until a background
        check decides it (``settle``), whatever the clock says.
        """
        success, failure = _OUTCOMES[in_progress]
        return {
            "status": in_progress,
            "next_status": in_progress if pending else (failure if failure_reason else success),
            "modified_at": now,
            "settles_at": now + self.delay,
            "failure_reason": failure_reason,
        }

    def guidance(self, value: str | None, now: float, row: Any = None) -> dict[str, Any]:
        """The columns of a version whose VendorGuidance is set to ``value`` now (``row``: as it was).

        Setting TO_BE_ARCHIVED starts the wait, unless the version already waits: saying it again
        does not postpone the archiving.
        """
        archives_at = None
        if value == TO_BE_ARCHIVED:
            waiting = row is not None and vendor_guidance(row, now) == TO_BE_ARCHIVED
            archives_at = row["archives_at"] if waiting else now + self.archive_after
        return {"vendor_guidance": value, "archives_at": archives_at}

    def settle(self, row: Any, now: float, failure_reason: str | None) -> dict[str, Any]:
        """The columns that decide a pending transition: it ends when decided, or when the delay is up."""
        success, failure = _OUTCOMES[row["status"]]
        return {
            "next_status": failure if failure_reason else success,
            "settles_at": max(now, row["modified_at"] + self.delay),
            "failure_reason": failure_reason,
        }


def vendor_guidance(row: Any, now: float) -> str | None:
    """The VendorGuidance a version row shows at ``now``: TO_BE_ARCHIVED reads ARCHIVED once due.

    Only the value changes: what else archiving does in AWS ("not searchable and no longer actively
    supported") is not part of these operations, so the version is listed and described as before.
    """
    value = row["vendor_guidance"]
    if value == TO_BE_ARCHIVED and row["archives_at"] is not None and now >= row["archives_at"]:
        return ARCHIVED
    return cast("str | None", value)


@dataclass(frozen=True, slots=True)
class Observed:
    status: str
    last_modified: float
    failure_reason: str | None

    @property
    def gone(self) -> bool:
        return self.status == DELETED

    @property
    def in_progress(self) -> bool:
        return self.status in _OUTCOMES


def is_pending(row: Any) -> bool:
    """A transition that waits for a background check to decide its outcome."""
    return row["status"] == row["next_status"] and row["status"] in _OUTCOMES


def observe(row: Any, now: float) -> Observed:
    """The status a resource row shows at ``now``."""
    if now >= row["settles_at"]:
        status, last_modified = row["next_status"], row["settles_at"]
    else:
        status, last_modified = row["status"], row["modified_at"]
    reason = row["failure_reason"] if status.endswith("_FAILED") else None
    return Observed(status, last_modified, reason)
