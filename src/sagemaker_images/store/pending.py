"""Statements on transitions that wait for a background check, on one connection in one transaction.

A pending transition is a row whose ``status`` and ``next_status`` are the same in-progress status;
which statuses those are is the domain's (``images/lifecycle.py``), given to ``PendingChecks``. Any
server process may check it: it claims a lease with a conditional UPDATE (the row count says who
won), checks outside any transaction, and writes the outcome only while it still holds the lease —
as Cloud Control requests are advanced (``resource_requests.py``). A process killed mid-check
leaves a lease that expires; whoever comes next finishes the check.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from sagemaker_images.store.tables import image_versions, images


def _pending(table: sa.Table, in_progress: Collection[str]) -> sa.ColumnElement[bool]:
    return sa.and_(table.c.next_status.in_(in_progress), table.c.status == table.c.next_status)


def _free(table: sa.Table, now: float) -> sa.ColumnElement[bool]:
    return sa.or_(table.c.lease_until.is_(None), table.c.lease_until < now)


def _due(table: sa.Table, now: float, in_progress: Collection[str]) -> list[sa.ColumnElement[bool]]:
    return [
        _pending(table, in_progress),
        sa.or_(table.c.check_after.is_(None), table.c.check_after <= now),
        _free(table, now),
    ]


class PendingChecks:
    def __init__(self, conn: Connection, *, in_progress: Collection[str]) -> None:
        self.conn = conn
        # The statuses a transition may wait in for a check to decide it.
        self.in_progress = in_progress

    def due_versions(self, now: float, limit: int) -> list[tuple[int, int]]:
        query = (
            sa.select(image_versions.c.image_id, image_versions.c.version)
            .where(*_due(image_versions, now, self.in_progress))
            .order_by(image_versions.c.check_after)
            .limit(limit)
        )
        return [(row.image_id, row.version) for row in self.conn.execute(query)]

    def due_images(self, now: float, limit: int) -> list[int]:
        query = (
            sa.select(images.c.id)
            .where(*_due(images, now, self.in_progress))
            .order_by(images.c.check_after)
            .limit(limit)
        )
        return list(self.conn.execute(query).scalars())

    def any_pending(self) -> bool:
        """Whether any transition waits for a check, held by someone or not."""
        for table in (images, image_versions):
            pending = _pending(table, self.in_progress)
            if self.conn.execute(sa.select(sa.literal(1)).where(pending).limit(1)).first():
                return True
        return False

    def claim_version(self, image_id: int, version: int, owner: str, now: float, lease: float) -> bool:
        statement = (
            sa.update(image_versions)
            .where(
                image_versions.c.image_id == image_id,
                image_versions.c.version == version,
                _pending(image_versions, self.in_progress),
                _free(image_versions, now),
            )
            .values(lease_owner=owner, lease_until=now + lease)
        )
        return self.conn.execute(statement).rowcount == 1

    def claim_image(self, image_id: int, owner: str, now: float, lease: float) -> bool:
        statement = (
            sa.update(images)
            .where(images.c.id == image_id, _pending(images, self.in_progress), _free(images, now))
            .values(lease_owner=owner, lease_until=now + lease)
        )
        return self.conn.execute(statement).rowcount == 1

    def version(self, image_id: int, version: int) -> RowMapping | None:
        query = sa.select(image_versions).where(
            image_versions.c.image_id == image_id, image_versions.c.version == version
        )
        return self.conn.execute(query).mappings().first()

    def image(self, image_id: int) -> RowMapping | None:
        return self.conn.execute(sa.select(images).where(images.c.id == image_id)).mappings().first()

    def finish_version(self, image_id: int, version: int, values: dict[str, Any], owner: str) -> bool:
        """Write a check's outcome, only while ``owner`` holds the lease of a still pending version."""
        statement = (
            sa.update(image_versions)
            .where(
                image_versions.c.image_id == image_id,
                image_versions.c.version == version,
                image_versions.c.lease_owner == owner,
                _pending(image_versions, self.in_progress),
            )
            .values({**values, "lease_owner": None, "lease_until": None})
        )
        return self.conn.execute(statement).rowcount == 1

    def finish_image(self, image_id: int, values: dict[str, Any], owner: str) -> bool:
        statement = (
            sa.update(images)
            .where(images.c.id == image_id, images.c.lease_owner == owner, _pending(images, self.in_progress))
            .values({**values, "lease_owner": None, "lease_until": None})
        )
        return self.conn.execute(statement).rowcount == 1
