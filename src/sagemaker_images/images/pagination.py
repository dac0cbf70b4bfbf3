"""NextToken: an opaque, URL-safe encoding of where the last page ended (keyset, not offset).

A token remembers the listing it belongs to (operation and sort), so replaying it against another
listing is refused rather than silently skipping rows. Rows inserted while a client pages never
shift a page boundary: the next page starts strictly after the last key seen.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from sagemaker_images.errors import ValidationException

# AWS's own text, placeholder and all.
INVALID_TOKEN = 'Invalid pagination token because "{0}".'


def encode(listing: str, key: list[Any]) -> str:
    raw = orjson.dumps([listing, *key])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(token: str, listing: str, arity: int) -> tuple[Any, ...]:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        data = orjson.loads(raw)
    except (binascii.Error, ValueError, orjson.JSONDecodeError):
        raise ValidationException(INVALID_TOKEN) from None
    if (
        not isinstance(data, list)
        or len(data) != arity + 1
        or data[0] != listing
        or not all(isinstance(v, str | int | float) and not isinstance(v, bool) for v in data[1:])
    ):
        raise ValidationException(INVALID_TOKEN)
    return tuple(data[1:])


@dataclass(frozen=True, slots=True)
class Window:
    """One page of a keyset listing: what to ask the store for, and how to cut what it returns.

    ``key`` names the values (row columns, or the items themselves when empty) that order the
    listing; the store is asked for ``size + 1`` rows after ``after`` so the cut knows whether
    another page follows without counting.
    """

    listing: str
    key: tuple[str, ...]
    size: int
    after: tuple[Any, ...] | None

    @classmethod
    def of(cls, listing: str, request: dict[str, Any], *, key: tuple[str, ...], default_size: int) -> Window:
        token = request.get("NextToken")
        after = decode(token, listing, max(len(key), 1)) if token else None
        return cls(listing, key, request.get("MaxResults", default_size), after)

    @classmethod
    def sorted(
        cls,
        operation: str,
        request: dict[str, Any],
        sort_keys: dict[str, tuple[str, ...]],
        *,
        default_sort: str = "CREATION_TIME",
        default_order: str = "DESCENDING",
    ) -> Window:
        """A listing sorted by ``SortBy`` and ``SortOrder``, whose values and defaults vary by operation
        (``CREATION_TIME``/``DESCENDING`` for images, ``CreationTime``/``Descending`` for others)."""
        sort = request.get("SortBy", default_sort)
        order = request.get("SortOrder", default_order)
        return cls.of(f"{operation}/{sort}/{order}", request, key=sort_keys[sort], default_size=10)

    @property
    def descending(self) -> bool:
        return self.listing.upper().endswith("/DESCENDING")

    @property
    def first_after(self) -> Any:
        """The single-value key the page starts after (for listings ordered by one value)."""
        return self.after[0] if self.after else None

    def cut(self, rows: Sequence[Any]) -> tuple[Sequence[Any], str | None]:
        """This page's rows, and the NextToken of the next page if there is one."""
        if len(rows) <= self.size:
            return rows, None
        last = rows[self.size - 1]
        key = [last[column] for column in self.key] if self.key else [last]
        return rows[: self.size], encode(self.listing, key)
