"""NextToken of the SageMaker listings: keyset windows whose position travels sealed (page_tokens.py).

A token is bound to the account, region and listing (operation, sort, and the resource listed), so
replaying it elsewhere is refused rather than silently skipping rows, and it reveals nothing. Rows
inserted while a client pages never shift a page boundary: the next page starts strictly after the
last key seen.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sagemaker_images.errors import ValidationException
from sagemaker_images.page_tokens import InvalidToken, PageTokens
from sagemaker_images.tenancy import Tenant

# AWS's own text, placeholder and all.
INVALID_TOKEN = 'Invalid pagination token because "{0}".'


@dataclass(frozen=True, slots=True)
class Window:
    """One page of a keyset listing: what to ask the store for, and how to cut what it returns.

    ``key`` names the values (row columns, or the items themselves when empty) that order the
    listing; the store is asked for ``size + 1`` rows after ``after`` so the cut knows whether
    another page follows without counting.
    """

    tokens: PageTokens
    tenant: Tenant
    listing: str
    key: tuple[str, ...]
    size: int
    after: tuple[Any, ...] | None
    descending: bool = False

    @classmethod
    def of(
        cls,
        tokens: PageTokens,
        tenant: Tenant,
        listing: str,
        request: dict[str, Any],
        *,
        key: tuple[str, ...],
        default_size: int,
        descending: bool = False,
    ) -> Window:
        token = request.get("NextToken")
        after = None
        if token:
            try:
                after = tokens.open(tenant, listing, token, max(len(key), 1))
            except InvalidToken:
                raise ValidationException(INVALID_TOKEN) from None
        return cls(tokens, tenant, listing, key, request.get("MaxResults", default_size), after, descending)

    @classmethod
    def sorted(
        cls,
        tokens: PageTokens,
        tenant: Tenant,
        listing: str,
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
        return cls.of(
            tokens,
            tenant,
            f"{listing}/{sort}/{order}",
            request,
            key=sort_keys[sort],
            default_size=10,
            descending=order.upper() == "DESCENDING",
        )

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
        return rows[: self.size], self.tokens.seal(self.tenant, self.listing, key)
