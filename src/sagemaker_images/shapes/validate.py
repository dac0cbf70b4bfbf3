"""Server-side input validation compiled from botocore shapes, with AWS's own messages.

AWS (Coral) reports every violated constraint at once::

    2 validation errors detected: Value 'a_b' at 'imageName' failed to satisfy constraint: Member must
    satisfy regular expression pattern: [a-zA-Z0-9]([-.]?[a-zA-Z0-9]){0,62}; Value null at 'roleArn'
    failed to satisfy constraint: Member must not be null

Member paths are lowerCamelCase and list elements are ``tags.1.member.key`` (1-based). A value of the
wrong JSON type cannot be deserialised at all, so it is a SerializationException instead. Patterns
are Java-flavoured (``\\p{L}``) and must match the whole value, hence the ``regex`` package and
``fullmatch``. Members the model does not know are ignored, as AWS ignores them.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from collections.abc import Callable
from typing import Any, cast

import regex
from botocore.model import ListShape, MapShape, Shape, StructureShape

from sagemaker_images.errors import SerializationException, ValidationException

Violations = list[tuple[str, Any, str]]
Check = Callable[[Any, str, Violations], Any]
InputValidator = Callable[[Any], dict[str, Any]]


def lower_camel(member_name: str) -> str:
    return member_name[:1].lower() + member_name[1:]


def render_value(value: Any) -> str:
    """A value as Java's toString() would print it inside AWS's message."""
    if value is None:
        return "null"
    return f"'{_java_string(value)}'"


def _java_string(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_java_string(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}={_java_string(v)}" for k, v in value.items()) + "}"
    return str(value)


def format_violations(violations: Violations) -> str:
    count = len(violations)
    head = "1 validation error detected: " if count == 1 else f"{count} validation errors detected: "
    return head + "; ".join(
        f"Value {render_value(value)} at '{path}' failed to satisfy constraint: {text}"
        for path, value, text in violations
    )


def compile_input(shape: StructureShape | None) -> InputValidator:
    """A function that checks a parsed request body and returns it with typed values.

    Timestamps come back as epoch seconds (float), blobs as bytes; everything else as parsed.
    """
    check = _compile(shape, {}) if shape is not None else _structure_of({})

    def validate(params: Any) -> dict[str, Any]:
        violations: Violations = []
        result: dict[str, Any] = check(params, "", violations)
        if violations:
            raise ValidationException(format_violations(violations))
        return result

    return validate


def _compile(shape: Shape, compiled: dict[str, Check]) -> Check:
    # Shapes may be recursive: register a forwarding stub before compiling the body.
    if shape.name in compiled:
        return compiled[shape.name]
    slot: list[Check] = []
    compiled[shape.name] = lambda value, path, violations: slot[0](value, path, violations)
    check = _BUILDERS[shape.type_name](shape, compiled)
    slot.append(check)
    compiled[shape.name] = check
    return check


def _type_error(expected: str, value: Any) -> SerializationException:
    """AWS's (Coral's) own texts for a value its deserialiser cannot read as ``expected``."""
    if isinstance(value, dict):
        return SerializationException("Start of structure or map found where not expected.")
    if isinstance(value, list):
        return SerializationException("Start of list found where not expected")
    if expected in _CONTAINER_MESSAGES:
        return SerializationException(_CONTAINER_MESSAGES[expected])
    return SerializationException(f"class {_java_class(value)} can not be converted to an {expected}")


_CONTAINER_MESSAGES = {
    "list": "Expected list or null",
    "map": "Expected map or null",
    "structure": "Expected null",
}


def _java_class(value: Any) -> str:
    if isinstance(value, bool):
        return "java.lang.Boolean"
    if isinstance(value, str):
        return "java.lang.String"
    return "com.amazon.coral.value.json.numbers.TruncatingBigNumber"


def _structure_of(members: dict[str, tuple[str, Check]], required: frozenset[str] = frozenset()) -> Check:
    fields = [(name, wire, check, name in required) for name, (wire, check) in members.items()]

    def check_structure(value: Any, path: str, violations: Violations) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise _type_error("structure", value)
        result: dict[str, Any] = {}
        for name, wire, check, is_required in fields:
            member = value.get(name)
            member_path = f"{path}.{wire}" if path else wire
            if member is None:
                if is_required:
                    violations.append((member_path, None, "Member must not be null"))
                continue
            result[name] = check(member, member_path, violations)
        return result

    return check_structure


def _structure(shape: StructureShape, compiled: dict[str, Check]) -> Check:
    members = {
        name: (lower_camel(name), _compile(member, compiled)) for name, member in shape.members.items()
    }
    return _structure_of(members, frozenset(shape.required_members))


def _length_checks(shape: Shape) -> list[tuple[Callable[[int], bool], str]]:
    checks: list[tuple[Callable[[int], bool], str]] = []
    if "min" in shape.metadata:
        low: int = shape.metadata["min"]
        checks.append((lambda n: n < low, f"Member must have length greater than or equal to {low}"))
    if "max" in shape.metadata:
        high: int = shape.metadata["max"]
        checks.append((lambda n: n > high, f"Member must have length less than or equal to {high}"))
    return checks


# PostgreSQL's text cannot hold U+0000. Rather than store such a string differently on one backend
# (changing its length, uniqueness and substring matches), every backend refuses it, in AWS's format.
NUL_CONSTRAINT = "Member must not contain the null character (U+0000)"


def _string(shape: Shape, compiled: dict[str, Check]) -> Check:
    lengths = _length_checks(shape)
    pattern_text = shape.metadata.get("pattern")
    pattern = regex.compile(pattern_text) if pattern_text else None
    enum = shape.enum or None
    enum_set = frozenset(enum) if enum else None
    enum_text = f"Member must satisfy enum value set: [{', '.join(enum)}]" if enum else ""

    def check_string(value: Any, path: str, violations: Violations) -> str:
        if not isinstance(value, str):
            raise _type_error("String", value)
        size = len(value)
        for too_far, text in lengths:
            if too_far(size):
                violations.append((path, value, text))
        if pattern is not None and pattern.fullmatch(value) is None:
            violations.append(
                (path, value, f"Member must satisfy regular expression pattern: {pattern_text}")
            )
        if enum_set is not None and value not in enum_set:
            violations.append((path, value, enum_text))
        if "\x00" in value:
            violations.append((path, value, NUL_CONSTRAINT))
        return value

    return check_string


# What the Java type behind each model type can hold. A number outside it cannot be deserialised at
# all (Coral's deserialiser fails before any constraint is checked), so it is a SerializationException,
# never a value handed on to the database (whose integer columns are narrower than JSON's numbers).
_JAVA_RANGES: dict[str, tuple[int, int]] = {
    "Integer": (-(2**31), 2**31 - 1),
    "Long": (-(2**63), 2**63 - 1),
}


def _number(kind: str, accepts: tuple[type, ...]) -> Callable[[Shape, dict[str, Check]], Check]:
    def build(shape: Shape, compiled: dict[str, Check]) -> Check:
        low = shape.metadata.get("min")
        high = shape.metadata.get("max")
        java_range = _JAVA_RANGES.get(kind)

        def check_number(value: Any, path: str, violations: Violations) -> Any:
            if isinstance(value, bool) or not isinstance(value, accepts):
                raise _type_error(kind, value)
            if java_range is not None and not java_range[0] <= cast(float, value) <= java_range[1]:
                raise _type_error(kind, value)
            if low is not None and value < low:
                violations.append((path, value, f"Member must have value greater than or equal to {low}"))
            if high is not None and value > high:
                violations.append((path, value, f"Member must have value less than or equal to {high}"))
            return value

        return check_number

    return build


def _boolean(shape: Shape, compiled: dict[str, Check]) -> Check:
    def check_boolean(value: Any, path: str, violations: Violations) -> bool:
        if not isinstance(value, bool):
            raise _type_error("Boolean", value)
        return value

    return check_boolean


# Epoch seconds of 0001-01-01 and of 9999-12-31T23:59:59Z: the dates Python (and every client) can show.
_EARLIEST, _LATEST = -62135596800, 253402300799


def _timestamp(shape: Shape, compiled: dict[str, Check]) -> Check:
    def check_timestamp(value: Any, path: str, violations: Violations) -> float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            if not _EARLIEST <= value <= _LATEST:  # no date of years 1-9999 (or too large for a float)
                raise SerializationException(f"Cannot parse '{value}' as a timestamp")
            return float(value)
        if isinstance(value, str):
            try:
                parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                raise SerializationException(f"Cannot parse '{value}' as a timestamp") from None
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=dt.UTC)
            return parsed.timestamp()
        raise _type_error("Date", value)

    return check_timestamp


def _blob(shape: Shape, compiled: dict[str, Check]) -> Check:
    lengths = _length_checks(shape)

    def check_blob(value: Any, path: str, violations: Violations) -> bytes:
        if not isinstance(value, str):
            raise _type_error("ByteBuffer", value)
        try:
            data = base64.b64decode(value, validate=True)
        except binascii.Error:
            raise SerializationException("Base64 encoded blob is not valid") from None
        for too_far, text in lengths:
            if too_far(len(data)):
                violations.append((path, value, text))
        return data

    return check_blob


def _list(shape: ListShape, compiled: dict[str, Check]) -> Check:
    lengths = _length_checks(shape)
    member = _compile(shape.member, compiled)

    def check_list(value: Any, path: str, violations: Violations) -> list[Any]:
        if not isinstance(value, list):
            raise _type_error("list", value)
        for too_far, text in lengths:
            if too_far(len(value)):
                violations.append((path, value, text))
        result = []
        for index, item in enumerate(value, start=1):
            item_path = f"{path}.{index}.member"
            if item is None:
                violations.append((item_path, None, "Member must not be null"))
                continue
            result.append(member(item, item_path, violations))
        return result

    return check_list


def _map(shape: MapShape, compiled: dict[str, Check]) -> Check:
    lengths = _length_checks(shape)
    key_check = _compile(shape.key, compiled)
    value_check = _compile(shape.value, compiled)

    def check_map(value: Any, path: str, violations: Violations) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise _type_error("map", value)
        for too_far, text in lengths:
            if too_far(len(value)):
                violations.append((path, value, text))
        result = {}
        for key, item in value.items():
            key_check(key, f"{path}.key", violations)
            if item is None:
                violations.append((f"{path}.{key}", None, "Member must not be null"))
                continue
            result[key] = value_check(item, f"{path}.{key}", violations)
        return result

    return check_map


_BUILDERS: dict[str, Callable[..., Check]] = {
    "structure": _structure,
    "string": _string,
    "integer": _number("Integer", (int,)),
    "long": _number("Long", (int,)),
    "double": _number("Double", (int, float)),
    "float": _number("Float", (int, float)),
    "boolean": _boolean,
    "timestamp": _timestamp,
    "blob": _blob,
    "list": _list,
    "map": _map,
}
