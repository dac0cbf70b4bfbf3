"""Keyset pagination: a page is read strictly after a position, and comes back with the next one.

The domain asks for "``size`` rows after this position, sorted by X" (``Keyset``) and gets the rows
and the position the next page starts after (``Page``), which it seals into a NextToken
(``page_tokens.py``) and hands back unopened on the next call. Which columns order a listing, and
which of them breaks ties, is known only here: a position is opaque everywhere else.

Each listing reads one row more than the page, so whether another page follows is known without
counting; page N costs what page 1 costs, and rows written meanwhile never shift a boundary.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import sqlalchemy as sa

T = TypeVar("T")

# Where a page ended: the sort values of its last row, tie-breaker last.
Position = tuple[Any, ...]


@dataclass(frozen=True, slots=True, eq=False)
class Order:
    """An order a listing can be read in (each listing knows its columns for it).

    Compared and hashed by identity (``eq=False``): orders are the five constants of ``Sort``, and
    they key the listings' statement caches on every request.
    """

    name: str
    arity: int  # how many values a position holds (a token of another shape is refused)


class Sort:
    """The orders a listing can be read in."""

    CREATED = Order("created", 2)  # creation time, then the row's own identity
    MODIFIED = Order("modified", 2)  # when the latest change settles, then the row's identity
    NAME = Order("name", 1)  # the case-folded name, unique by itself
    NUMBER = Order("number", 1)  # a version number, unique within its image
    ADDED = Order("added", 1)  # tags: the order they were added in


@dataclass(frozen=True, slots=True)
class Keyset:
    """Which page to read: ``size`` rows strictly after ``after`` (None: the first page)."""

    sort: Order
    descending: bool
    after: Position | None
    size: int

    @property
    def limit(self) -> int:
        """Rows to read: one beyond the page tells whether another follows."""
        return self.size + 1


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a listing, and the position the next one starts after (None: this is the last)."""

    rows: Sequence[T]
    next: Position | None


def order_and_bound(
    columns: Sequence[sa.ColumnElement[Any]], descending: bool, after: Sequence[Any] | None
) -> tuple[list[Any], list[sa.ColumnElement[bool]]]:
    """ORDER BY terms for ``columns`` and the condition "strictly after ``after``" in that order.

    ``after`` holds values or bind parameters (prepared statements bind them per call).
    """
    order = [c.desc() if descending else c.asc() for c in columns]
    if after is None:
        return order, []
    values = [v if isinstance(v, sa.BindParameter) else sa.literal(v) for v in after]
    # One column compares as itself; more compare as a row value, (a, b) > (x, y).
    key = columns[0] if len(columns) == 1 else sa.tuple_(*columns)
    bound = values[0] if len(values) == 1 else sa.tuple_(*values)
    return order, [key < bound if descending else key > bound]


def cut(rows: Sequence[T], keyset: Keyset, position: Callable[[T], Position]) -> Page[T]:
    """The page within ``rows`` (read with ``keyset.limit``), and where the next one starts."""
    if len(rows) <= keyset.size:
        return Page(rows, None)
    return Page(rows[: keyset.size], position(rows[keyset.size - 1]))


def by_columns(names: Sequence[str]) -> Callable[[Any], Position]:
    """The position of a row (a mapping) ordered by the columns ``names``."""
    return lambda row: tuple(row[name] for name in names)
