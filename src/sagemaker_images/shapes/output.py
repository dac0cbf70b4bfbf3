"""Response shaping: keep only modelled members, omit absent ones, timestamps as epoch seconds.

Domain functions return plain dicts keyed by the API's member names; this is the last guard that
nothing unmodelled (an internal column, a RoleArn in a list summary) reaches the wire.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from botocore.model import Shape, StructureShape

OutputShaper = Callable[[dict[str, Any]], dict[str, Any]]
_Convert = Callable[[Any], Any]


def compile_output(shape: StructureShape | None) -> OutputShaper:
    if shape is None:
        return lambda data: {}
    return _compile(shape, {})


def _compile(shape: Shape, compiled: dict[str, _Convert]) -> _Convert:
    if shape.name in compiled:
        return compiled[shape.name]
    slot: list[_Convert] = []
    compiled[shape.name] = lambda value: slot[0](value)
    kind = shape.type_name
    if kind == "structure":
        convert = _structure(shape, compiled)
    elif kind == "list":
        member = _compile(shape.member, compiled)
        convert = _identity if member is _identity else (lambda value: [member(v) for v in value])
    elif kind == "map":
        item = _compile(shape.value, compiled)
        convert = _identity if item is _identity else (lambda value: {k: item(v) for k, v in value.items()})
    elif kind == "timestamp":
        convert = _epoch_seconds
    else:
        convert = _identity
    slot.append(convert)
    compiled[shape.name] = convert
    return convert


def _identity(value: Any) -> Any:
    return value


def _epoch_seconds(value: Any) -> float:
    # AWS sends milliseconds precision; a float of seconds is what every SDK parses.
    if type(value) is float:  # what the domain gives (a stored time): no other question to ask
        return round(value, 3)
    if hasattr(value, "timestamp"):
        value = value.timestamp()
    return round(float(value), 3)


def _structure(shape: StructureShape, compiled: dict[str, _Convert]) -> _Convert:
    members = [(name, _compile(member, compiled)) for name, member in shape.members.items()]

    def shape_structure(data: dict[str, Any]) -> dict[str, Any]:
        out = {}
        for name, convert in members:
            value = data.get(name)
            if value is not None:
                out[name] = value if convert is _identity else convert(value)
        return out

    return shape_structure
