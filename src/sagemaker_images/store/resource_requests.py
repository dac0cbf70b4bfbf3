"""Statements on Cloud Control resource requests, on one connection inside one transaction.

Correctness across replicas rests on the database: a unique constraint per client token and per
active resource, and a lease claimed by a conditional UPDATE (the row count says who won). Which
statuses leave a request unfinished is Cloud Control's vocabulary (``cloudcontrol/progress.py``):
the statements that filter on them are given them.

Texts a client chose (an identifier, a failure message quoting its input) are stored faithfully
whatever they hold: one that a database column cannot take as it is (a NUL character, which
PostgreSQL refuses, or a lone surrogate, which no UTF-8 database takes) is stored as a JSON string
behind a marker, and read back as it was sent.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Collection, Iterable, Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from sagemaker_images.store.keyset import Keyset, Page, Sort, cut, order_and_bound
from sagemaker_images.store.tables import resource_requests as requests

# Columns holding text a client chose, and the marker of such a text stored as JSON.
_FREE_TEXT = ("identifier", "status_message")
_ESCAPED = "\x01json:"


def _storable(text: str | None) -> str | None:
    if text is None:
        return None
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return _ESCAPED + json.dumps(text)
    if "\x00" in text or text.startswith(_ESCAPED):
        return _ESCAPED + json.dumps(text)
    return text


def _stored(text: str | None) -> str | None:
    if text is not None and text.startswith(_ESCAPED):
        return str(json.loads(text[len(_ESCAPED) :]))
    return text


def _encoded(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _storable(v) if k in _FREE_TEXT else v for k, v in values.items()}


def _decoded(row: Mapping[Any, Any] | None) -> dict[str, Any] | None:
    if row is None:
        return None
    return {str(k): _stored(v) if k in _FREE_TEXT else v for k, v in row.items()}


# The columns ordering a tenant's requests, the tie-breaker last (a position holds their values).
_ORDERS = {Sort.CREATED: (requests.c.created_at, requests.c.request_token)}


class DuplicateRequest(Exception):
    """A unique constraint refused the request: its client token or its resource is taken."""


class ResourceRequests:
    def __init__(self, conn: Connection, *, postgres: bool) -> None:
        self.conn = conn
        self.postgres = postgres

    def get(self, token: str, *, lock: bool = False) -> dict[str, Any] | None:
        query = sa.select(requests).where(requests.c.request_token == token)
        if lock and self.postgres:
            query = query.with_for_update()
        return _decoded(self.conn.execute(query).mappings().first())

    def by_client_token(self, account: str, region: str, client_token: str) -> dict[str, Any] | None:
        query = sa.select(requests).where(
            requests.c.account == account,
            requests.c.region == region,
            requests.c.client_token == client_token,
        )
        return _decoded(self.conn.execute(query).mappings().first())

    def by_active_key(self, account: str, region: str, active_key: str) -> dict[str, Any] | None:
        query = sa.select(requests).where(
            requests.c.account == account,
            requests.c.region == region,
            requests.c.active_key == active_key,
        )
        return _decoded(self.conn.execute(query).mappings().first())

    def insert(self, values: dict[str, Any]) -> None:
        try:
            with self.conn.begin_nested() if self.postgres else contextlib.nullcontext():
                self.conn.execute(sa.insert(requests).values(_encoded(values)))
        except sa.exc.IntegrityError as exc:
            raise DuplicateRequest(str(exc.orig)) from None

    def update(self, token: str, values: dict[str, Any], *, lease_owner: str | None = None) -> bool:
        """Write ``values``; with ``lease_owner``, only while that owner still holds the lease."""
        statement = sa.update(requests).where(requests.c.request_token == token)
        if lease_owner is not None:
            statement = statement.where(requests.c.lease_owner == lease_owner)
        return self.conn.execute(statement.values(_encoded(values))).rowcount == 1

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

    def claim(self, token: str, owner: str, now: float, lease: float, *, unfinished: Collection[str]) -> bool:
        """Take the lease of a request in one of the ``unfinished`` statuses for one step; False if it
        is finished or someone else holds it.

        The step is counted in ``failed_steps`` until its outcome is recorded (which resets it), so
        steps that die without recording anything are counted too."""
        statement = (
            sa.update(requests)
            .where(
                requests.c.request_token == token,
                requests.c.status.in_(unfinished),
                sa.or_(requests.c.lease_until.is_(None), requests.c.lease_until < now),
            )
            .values(lease_owner=owner, lease_until=now + lease, failed_steps=requests.c.failed_steps + 1)
        )
        return self.conn.execute(statement).rowcount == 1

    def due(self, now: float, per_tenant: int, limit: int, *, unfinished: Collection[str]) -> list[str]:
        """Requests in the ``unfinished`` statuses whose next step is due and that nobody holds, taken
        in turns: at most ``per_tenant`` of each account and region, the first of every tenant before
        the second of any, so a tenant with thousands of due requests delays another by one turn at most."""
        turn = (
            sa.func.row_number()
            .over(
                partition_by=(requests.c.account, requests.c.region),
                order_by=(requests.c.retry_after, requests.c.created_at),
            )
            .label("turn")
        )
        candidates = (
            sa.select(requests.c.request_token, requests.c.retry_after, turn)
            .where(
                requests.c.status.in_(unfinished),
                sa.or_(requests.c.retry_after.is_(None), requests.c.retry_after <= now),
                sa.or_(requests.c.lease_until.is_(None), requests.c.lease_until < now),
            )
            .subquery()
        )
        query = (
            sa.select(candidates.c.request_token)
            .where(candidates.c.turn <= per_tenant)
            .order_by(candidates.c.turn, candidates.c.retry_after)
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
        keyset: Keyset,
    ) -> Page[dict[str, Any]]:
        """A tenant's requests by creation (Cloud Control lists them newest first)."""
        order, after = order_and_bound(_ORDERS[keyset.sort], keyset.descending, keyset.after)
        query = sa.select(requests).where(requests.c.account == account, requests.c.region == region, *after)
        if operations:
            query = query.where(requests.c.operation.in_(list(operations)))
        if statuses:
            query = query.where(requests.c.status.in_(list(statuses)))
        query = query.order_by(*order).limit(keyset.limit)
        rows = [row for row in map(_decoded, self.conn.execute(query).mappings()) if row is not None]
        return cut(rows, keyset, lambda row: (row["created_at"], row["request_token"]))

    def count_by_status(self) -> dict[str, int]:
        """Stored requests of every tenant by status (for /metrics: a handful of rows, never names)."""
        query = sa.select(requests.c.status, sa.func.count()).group_by(requests.c.status)
        return {status: count for status, count in self.conn.execute(query)}

    def purge(self, before: float, *, unfinished: Collection[str]) -> None:
        """Forget the requests created before ``before``, except those still in ``unfinished`` statuses."""
        self.conn.execute(
            sa.delete(requests).where(requests.c.created_at < before, requests.c.status.notin_(unfinished))
        )
