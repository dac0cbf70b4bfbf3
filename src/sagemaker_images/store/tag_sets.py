"""The tags of one resource, in whichever table holds its kind's tags.

Every taggable kind keeps its tags in a table of ``key``, ``value`` and ``position`` beside the
columns naming the resource they belong to (``owner``). Tags list in the order they were added —
``position`` keeps that order, and a changed value keeps its place — because clients that patch tags
by list index (Terraform's awscc provider) compute the index against the order they last read.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from sagemaker_images.store.keyset import Keyset, Page, cut
from sagemaker_images.store.prepared import Prepared


@functools.cache
def _listing(table: sa.Table, owner: tuple[str, ...], paged: bool) -> Prepared:
    """The tags of one resource in the order they were added (every Cloud Control read lists them)."""
    query = sa.select(table.c.key, table.c.value, table.c.position).where(
        *(table.c[column] == sa.bindparam(column) for column in owner)
    )
    if paged:
        query = query.where(table.c.position > sa.bindparam("after"))
    query = query.order_by(table.c.position)
    return Prepared(query.limit(sa.bindparam("limit")))


class TagSet:
    def __init__(self, conn: Connection, table: sa.Table, owner: dict[str, Any]) -> None:
        self.conn = conn
        self.table = table
        self.owner_values = owner

    @property
    def owner(self) -> list[sa.ColumnElement[bool]]:
        """The conditions naming this resource's tags, built when a statement needs them (every
        Cloud Control read lists tags through a prepared statement, which needs none)."""
        return [self.table.c[column] == value for column, value in self.owner_values.items()]

    def page(self, keyset: Keyset) -> Page[tuple[str, str]]:
        """(key, value) of the tags in the order they were added (``Sort.ADDED``), one page of them."""
        values: dict[str, Any] = {**self.owner_values, "limit": keyset.limit}
        if keyset.after is not None:
            (values["after"],) = keyset.after
        listing = _listing(self.table, tuple(self.owner_values), keyset.after is not None)
        rows = listing.all(self.conn, **values)
        page = cut(rows, keyset, lambda row: (row["position"],))
        return Page([(row["key"], row["value"]) for row in page.rows], page.next)

    def keys(self) -> set[str]:
        return set(self.conn.execute(sa.select(self.table.c.key).where(*self.owner)).scalars())

    def put(self, pairs: dict[str, str]) -> None:
        """Set tags: a key already there keeps its place with the new value; new keys go last, in order.

        Callers hold the resource's row lock, so reading the last position cannot race another writer.
        """
        if not pairs:
            return
        table = self.table
        query = sa.select(table.c.key, table.c.position).where(*self.owner)
        positions = {row.key: row.position for row in self.conn.execute(query)}
        next_position = max(positions.values(), default=-1) + 1
        rows = []
        for key, value in pairs.items():
            position = positions.get(key)
            if position is None:
                position, next_position = next_position, next_position + 1
            rows.append({**self.owner_values, "key": key, "value": value, "position": position})
        changed = [key for key in pairs if key in positions]
        if changed:
            self.delete(changed)
        self.conn.execute(sa.insert(table).values(rows))

    def delete(self, keys: Iterable[str]) -> None:
        self.conn.execute(sa.delete(self.table).where(*self.owner, self.table.c.key.in_(list(keys))))
