"""Statements on Cloud Control resource requests, on one connection inside one transaction.

Correctness across replicas rests on the database: a unique constraint per client token and per
active resource, and a lease claimed by a conditional UPDATE (the row count says who won).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from sagemaker_images.store.tables import resource_requests as requests

UNFINISHED = ("PENDING", "IN_PROGRESS", "CANCEL_IN_PROGRESS")


class DuplicateRequest(Exception):
    """A unique constraint refused the request: its client token or its resource is taken."""


class ResourceRequests:
    def __init__(self, conn: Connection, *, postgres: bool) -> None:
        self.conn = conn
        self.postgres = postgres

    def get(self, token: str, *, lock: bool = False) -> RowMapping | None:
        query = sa.select(requests).where(requests.c.request_token == token)
        if lock and self.postgres:
            query = query.with_for_update()
        return self.conn.execute(query).mappings().first()

    def by_client_token(self, account: str, region: str, client_token: str) -> RowMapping | None:
        query = sa.select(requests).where(
            requests.c.account == account,
            requests.c.region == region,
            requests.c.client_token == client_token,
        )
        return self.conn.execute(query).mappings().first()

    def by_active_key(self, account: str, region: str, active_key: str) -> RowMapping | None:
        query = sa.select(requests).where(
            requests.c.account == account,
            requests.c.region == region,
            requests.c.active_key == active_key,
        )
        return self.conn.execute(query).mappings().first()

    def insert(self, values: dict[str, Any]) -> None:
        try:
            with self.conn.begin_nested() if self.postgres else contextlib.nullcontext():
                self.conn.execute(sa.insert(requests).values(values))
        except sa.exc.IntegrityError as exc:
            raise DuplicateRequest(str(exc.orig)) from None

    def update(self, token: str, values: dict[str, Any], *, lease_owner: str | None = None) -> bool:
        """Write ``values``; with ``lease_owner``, only while that owner still holds the lease."""
        statement = sa.update(requests).where(requests.c.request_token == token)
        if lease_owner is not None:
            statement = statement.where(requests.c.lease_owner == lease_owner)
        return self.conn.execute(statement.values(values)).rowcount == 1

    def try_set_active_key(self, token: str, active_key: str) -> bool:
        """Mark the request's resource as busy, unless another unfinished request holds it."""
        try:
            with self.conn.begin_nested() if self.postgres else contextlib.nullcontext():
                self.conn.execute(
                    sa.update(requests).where(requests.c.request_token == token).values(active_key=active_key)
                )
        except sa.exc.IntegrityError:
            return False
        return True

    def claim(self, token: str, owner: str, now: float, lease: float) -> bool:
        """Take the lease of an unfinished request for one step; False if someone else holds it."""
        statement = (
            sa.update(requests)
            .where(
                requests.c.request_token == token,
                requests.c.status.in_(UNFINISHED),
                sa.or_(requests.c.lease_until.is_(None), requests.c.lease_until < now),
            )
            .values(lease_owner=owner, lease_until=now + lease)
        )
        return self.conn.execute(statement).rowcount == 1

    def due(self, now: float, limit: int) -> list[str]:
        """Unfinished requests whose next step is due and that nobody holds."""
        query = (
            sa.select(requests.c.request_token)
            .where(
                requests.c.status.in_(UNFINISHED),
                sa.or_(requests.c.retry_after.is_(None), requests.c.retry_after <= now),
                sa.or_(requests.c.lease_until.is_(None), requests.c.lease_until < now),
            )
            .order_by(requests.c.retry_after)
            .limit(limit)
        )
        return list(self.conn.execute(query).scalars())

    def unfinished(self, account: str, region: str, limit: int) -> list[str]:
        query = (
            sa.select(requests.c.request_token)
            .where(
                requests.c.account == account,
                requests.c.region == region,
                requests.c.status.in_(UNFINISHED),
            )
            .limit(limit)
        )
        return list(self.conn.execute(query).scalars())

    def page(
        self,
        account: str,
        region: str,
        *,
        operations: Iterable[str] | None,
        statuses: Iterable[str] | None,
        after: tuple[float, str] | None,
        limit: int,
    ) -> Sequence[RowMapping]:
        """Newest first; keyset on (created_at, request_token)."""
        query = sa.select(requests).where(requests.c.account == account, requests.c.region == region)
        if operations:
            query = query.where(requests.c.operation.in_(list(operations)))
        if statuses:
            query = query.where(requests.c.status.in_(list(statuses)))
        if after is not None:
            key = sa.tuple_(requests.c.created_at, requests.c.request_token)
            query = query.where(key < sa.tuple_(sa.literal(after[0]), sa.literal(after[1])))
        query = query.order_by(requests.c.created_at.desc(), requests.c.request_token.desc()).limit(limit)
        return self.conn.execute(query).mappings().all()

    def count_by_status(self) -> dict[str, int]:
        """Stored requests of every tenant by status (for /metrics: a handful of rows, never names)."""
        query = sa.select(requests.c.status, sa.func.count()).group_by(requests.c.status)
        return {status: count for status, count in self.conn.execute(query)}

    def purge(self, before: float) -> None:
        self.conn.execute(
            sa.delete(requests).where(requests.c.created_at < before, requests.c.status.notin_(UNFINISHED))
        )
