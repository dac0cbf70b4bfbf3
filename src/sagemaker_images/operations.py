"""API operations, declared once where they are implemented.

A domain class marks each method that implements an API operation with ``@operation("Name")``
(``reads=True`` for one that only reads). Everything else is derived from those marks when the server
starts: the operations a model is compiled for (``names``), the handlers a service dispatches to
(``handlers``) and the read-only ones answered in place on SQLite (``read_only``). A new domain module
declares its operations on its own class; nothing central lists them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

Method = TypeVar("Method", bound=Callable[..., Any])

_MARK = "__api_operation__"


@dataclass(frozen=True, slots=True)
class Declared:
    name: str  # as the API model names it: CreateImage
    reads: bool  # only reads: never changes state
    attribute: str  # the method implementing it


def operation(name: str, *, reads: bool = False) -> Callable[[Method], Method]:
    """Mark a method as the implementation of API operation ``name``."""

    def mark(method: Method) -> Method:
        setattr(method, _MARK, (name, reads))
        return method

    return mark


def declared(kind: type) -> tuple[Declared, ...]:
    """The operations ``kind`` (and its bases) implement, in the order they are written."""
    found: dict[str, Declared] = {}
    for klass in reversed(kind.__mro__):
        for attribute, value in vars(klass).items():
            mark = getattr(value, _MARK, None)
            if mark is not None:
                name, reads = mark
                found[name] = Declared(name, reads, attribute)
    return tuple(found.values())


def names(kind: type) -> tuple[str, ...]:
    return tuple(d.name for d in declared(kind))


def read_only(kind: type) -> frozenset[str]:
    return frozenset(d.name for d in declared(kind) if d.reads)


def handlers(implementation: object) -> dict[str, Callable[..., Any]]:
    """Operation name -> bound method, for an instance of a class that declares operations."""
    return {d.name: getattr(implementation, d.attribute) for d in declared(type(implementation))}
