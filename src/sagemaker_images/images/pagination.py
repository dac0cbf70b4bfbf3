"""NextToken of the SageMaker listings: keyset windows whose position travels sealed (page_tokens.py).

A token is bound to the account, region and listing (operation, sort, and the resource listed), so
replaying it elsewhere is refused rather than silently skipping rows, and it reveals nothing. Rows
inserted while a client pages never shift a page boundary: the next page starts strictly after the
last key seen.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sagemaker_images.errors import ValidationException
from sagemaker_images.page_tokens import InvalidToken, PageTokens
from sagemaker_images.store.keyset import Keyset, Order, Page
from sagemaker_images.tenancy import Tenant

# AWS's own text, placeholder and all.
INVALID_TOKEN = 'Invalid pagination token because "{0}".'


@dataclass(frozen=True, slots=True)
class Window:
    """One page of a keyset listing: what to ask the store for (``keyset``), and the NextToken of
    the page it answers (``token``). The position a token carries is the store's, sealed as it is.
    """

    tokens: PageTokens
    tenant: Tenant
    listing: str
    keyset: Keyset

    @classmethod
    def of(
        cls,
        tokens: PageTokens,
        tenant: Tenant,
        listing: str,
        request: dict[str, Any],
        *,
        sort: Order,
        default_size: int,
        descending: bool = False,
    ) -> Window:
        token = request.get("NextToken")
        after = None
        if token:
            try:
                after = tokens.open(tenant, listing, token, sort.arity)
            except InvalidToken:
                raise ValidationException(INVALID_TOKEN) from None
        size = request.get("MaxResults", default_size)
        return cls(tokens, tenant, listing, Keyset(sort, descending, after, size))

    @classmethod
    def sorted(
        cls,
        tokens: PageTokens,
        tenant: Tenant,
        listing: str,
        request: dict[str, Any],
        sorts: dict[str, Order],
        *,
        default_sort: str = "CREATION_TIME",
        default_order: str = "DESCENDING",
    ) -> Window:
        """A listing sorted by ``SortBy`` and ``SortOrder``, whose values and defaults vary by operation
        (``CREATION_TIME``/``DESCENDING`` for images, ``CreationTime``/``Descending`` for others);
        ``sorts`` says which order of the store each ``SortBy`` value reads."""
        sort = request.get("SortBy", default_sort)
        order = request.get("SortOrder", default_order)
        return cls.of(
            tokens,
            tenant,
            f"{listing}/{sort}/{order}",
            request,
            sort=sorts[sort],
            default_size=10,
            descending=order.upper() == "DESCENDING",
        )

    def token(self, page: Page[Any]) -> str | None:
        """The NextToken of the page after ``page``, if there is one."""
        if page.next is None:
            return None
        return self.tokens.seal(self.tenant, self.listing, list(page.next))
