"""Who owns a resource: an AWS account in a region, and the ARN partition that region belongs to."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

# Region prefixes of the partitions other than "aws", longest first so "us-isob-" wins over "us-iso-".
_PARTITIONS = (
    ("us-isob-", "aws-iso-b"),
    ("us-iso-", "aws-iso"),
    ("eu-isoe-", "aws-iso-e"),
    ("us-isof-", "aws-iso-f"),
    ("us-gov-", "aws-us-gov"),
    ("cn-", "aws-cn"),
)


@functools.lru_cache(maxsize=256)
def partition_for(region: str) -> str:
    for prefix, partition in _PARTITIONS:
        if region.startswith(prefix):
            return partition
    return "aws"


@dataclass(frozen=True, slots=True)
class Tenant:
    account: str
    region: str
    partition: str = field(init=False, compare=False)  # derived from the region, once

    def __post_init__(self) -> None:
        object.__setattr__(self, "partition", partition_for(self.region))
