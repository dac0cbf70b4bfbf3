"""JSON carried inside a string member (DesiredState, PatchDocument, ResourceModel, JSON identifiers).

Such text is parsed after the request body, by the operation, so the body's own limits do not bound
it. Every such parse goes through ``loads``, which bounds what the rest of the code may meet:

- at most ``MAX_DEPTH`` levels of arrays and objects (the documents these members carry are a few
  levels deep; code that walks them, such as patch application and schema validation, recurses);
- the same grammar as the request body (orjson: no NaN or Infinity, numbers a double can hold,
  and no lone UTF-16 surrogates, which no UTF-8 store or response can carry).

Failures are ``InvalidJsonText`` (a ``ValueError``), which each caller answers with its API's error.
"""

from __future__ import annotations

from typing import Any

import orjson

MAX_DEPTH = 64


class InvalidJsonText(ValueError):
    pass


def loads(text: str | bytes, *, max_depth: int = MAX_DEPTH) -> Any:
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError as error:
        raise InvalidJsonText(f"not valid JSON: {error}") from None
    if depth(value, max_depth) > max_depth:
        raise InvalidJsonText(f"nested deeper than {max_depth} levels")
    return value


def depth(value: Any, limit: int) -> int:
    """How deeply ``value`` nests (a scalar is 0), counting no further than ``limit + 1``; no recursion."""
    deepest = 0
    pending = [(value, 1)] if isinstance(value, list | dict) else []
    while pending:
        item, level = pending.pop()
        deepest = max(deepest, level)
        if deepest > limit:
            break
        children = item.values() if isinstance(item, dict) else item
        pending.extend((child, level + 1) for child in children if isinstance(child, list | dict))
    return deepest
