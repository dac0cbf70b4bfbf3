"""NextToken: an opaque, URL-safe encoding of where the last page ended (keyset, not offset).

A token remembers the listing it belongs to (operation and sort), so replaying it against another
listing is refused rather than silently skipping rows. Rows inserted while a client pages never
shift a page boundary: the next page starts strictly after the last key seen.
"""

from __future__ import annotations

import base64
import binascii
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
