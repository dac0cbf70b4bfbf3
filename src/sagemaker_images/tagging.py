"""AddTags, ListTags and DeleteTags: one set of rules for every taggable SageMaker resource.

The ARN decides which domain owns the resource: each registers a ``Finder`` for the resource types it
tags (``image``, ``image-version``, ``app-image-config``), which returns the resource's ``TagSet``
when the caller owns such a resource, and None otherwise. Limits, reserved keys, pagination and
the answer to an ARN that names nothing of the caller's are the same for all.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from sagemaker_images.errors import ValidationException
from sagemaker_images.images import pagination
from sagemaker_images.operations import handlers, names, operation, read_only
from sagemaker_images.page_tokens import PageTokens
from sagemaker_images.store import Database
from sagemaker_images.store.keyset import Sort
from sagemaker_images.store.queries import Queries
from sagemaker_images.store.tag_sets import TagSet
from sagemaker_images.tenancy import Tenant

Request = dict[str, Any]
Response = dict[str, Any]

MAX_TAGS = 50

# (transaction, caller, the ARN's resource part such as "image/name", now, lock) -> its tags, or None.
# A finder that locks takes the resource's row lock, as every other write to it does, so tag writes
# never race its deletion or each other (two AddTags of one key would collide on the primary key).
Finder = Callable[[Queries, Tenant, str, float, bool], TagSet | None]


def _now() -> float:
    return round(time.time(), 3)


def refuse_system_keys(keys: Iterable[str]) -> None:
    for key in keys:
        if key.lower().startswith("aws:"):
            raise ValidationException(f"System prefix 'aws:' reserved for AWS usage in tag key: {key}")


def tag_pairs(tags: Iterable[dict[str, str]]) -> dict[str, str]:
    """The Tags member of a request as key -> value, in order, refusing reserved keys."""
    pairs = {tag["Key"]: tag["Value"] for tag in tags}
    refuse_system_keys(pairs)
    return pairs


class Tagging:
    def __init__(
        self,
        database: Database,
        finders: Mapping[str, Finder],
        clock: Callable[[], float] = _now,
        tokens: PageTokens | None = None,
    ) -> None:
        self.database = database
        self.finders = finders
        self.clock = clock
        self.tokens = tokens or PageTokens.ephemeral()

    def operations(self) -> dict[str, Callable[[Tenant, Request], Response]]:
        return handlers(self)

    @operation("AddTags")
    def add_tags(self, tenant: Tenant, request: Request) -> Response:
        pairs = tag_pairs(request["Tags"])
        with self.database.write() as q:
            tags = self._find(q, tenant, request["ResourceArn"], lock=True)
            total = len(tags.keys() | pairs.keys())
            if total > MAX_TAGS:
                raise ValidationException(
                    f"Tag limit exceeded: {request['ResourceArn']} would have {total} tags; "
                    f"a resource can have at most {MAX_TAGS}."
                )
            tags.put(pairs)
        return {"Tags": [{"Key": k, "Value": v} for k, v in pairs.items()]}

    @operation("ListTags", reads=True)
    def list_tags(self, tenant: Tenant, request: Request) -> Response:
        listing = f"ListTags/{request['ResourceArn']}"
        # Tags list in the order they were added.
        window = pagination.Window.of(self.tokens, tenant, listing, request, sort=Sort.ADDED, default_size=50)
        with self.database.read() as q:
            page = self._find(q, tenant, request["ResourceArn"]).page(window.keyset)
        tags = [{"Key": key, "Value": value} for key, value in page.rows]
        return {"Tags": tags, "NextToken": window.token(page)}

    @operation("DeleteTags")
    def delete_tags(self, tenant: Tenant, request: Request) -> Response:
        keys = request["TagKeys"]
        refuse_system_keys(keys)
        with self.database.write() as q:
            self._find(q, tenant, request["ResourceArn"], lock=True).delete(keys)
        return {}

    def _find(self, q: Queries, tenant: Tenant, arn: str, *, lock: bool = False) -> TagSet:
        """The tags of a resource the caller owns, named by its ARN."""
        parts = arn.split(":", 5)
        if (
            len(parts) == 6
            and parts[0] == "arn"
            and parts[2] == "sagemaker"
            and (parts[1], parts[3], parts[4]) == (tenant.partition, tenant.region, tenant.account)
        ):
            resource = parts[5]
            finder = self.finders.get(resource.partition("/")[0])
            found = finder(q, tenant, resource, self.clock(), lock) if finder is not None else None
            if found is not None:
                return found
        # Another account's resource reads exactly as a missing one: its existence is not ours to tell.
        raise ValidationException(f"Resource {arn} does not exist.")


# The operations this module serves, as its methods declare them.
OPERATIONS = names(Tagging)
READ_OPERATIONS = read_only(Tagging)
