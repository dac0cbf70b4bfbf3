"""Request variants generated from the botocore model, and a checker for responses against it.

For every member of an operation's input (at any depth) the generator derives variants from the
member's shape: each length and range boundary and one past it, every enum value and one outside
the set, a value breaking the pattern, the wrong JSON type, a missing required member; plus the
realistic request with required members only, with every optional member, and with each optional
member alone. Each variant carries what the model says must happen: accepted (a 200 or a modelled
domain error), a ValidationException naming the member and the constraint, or a
SerializationException. Nothing here is copied from documentation: constraints come from the model.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import regex
from botocore.model import OperationModel, Shape, StructureShape

ACCEPTED, INVALID, SERIALIZATION = "accepted", "invalid", "serialization"
# A constraint violation message (as opposed to a domain ValidationException such as a bad token).
CONSTRAINT_MESSAGE = re.compile(r"^\d+ validation errors? detected: ")

# Realistic values by (service, shape name); {account}, {token} are filled in per variant.
REALISTIC: dict[tuple[str, str], Any] = {
    ("sagemaker", "ImageName"): "conformance-image",
    ("sagemaker", "RoleArn"): "arn:aws:iam::{account}:role/SageMakerImageRole",
    ("sagemaker", "ImageDescription"): "An image for conformance tests",
    ("sagemaker", "ImageDisplayName"): "Conformance Image",
    ("sagemaker", "TagKey"): "team",
    ("sagemaker", "TagValue"): "ml-platform",
    ("sagemaker", "ImageDeleteProperty"): "DisplayName",
    ("sagemaker", "Timestamp"): 1700000000,
    ("sagemaker", "MaxResults"): 10,
    ("sagemaker", "ListTagsMaxResults"): 50,
    ("sagemaker", "ImageNameContains"): "conformance",
    ("sagemaker", "NextToken"): "bm90LWEtdG9rZW4",
    ("sagemaker", "ImageBaseImage"): "123456789012.dkr.ecr.us-east-1.amazonaws.com/conformance:1",
    ("sagemaker", "ClientToken"): "conformance-client-token",
    ("sagemaker", "SageMakerImageVersionAlias"): "stable",
    ("sagemaker", "MLFramework"): "TensorFlow 2.14",
    ("sagemaker", "ProgrammingLang"): "Python 3.11",
    ("sagemaker", "Horovod"): True,
    ("sagemaker", "ReleaseNotes"): "First release",
    ("sagemaker", "ImageVersionNumber"): 1,
    ("sagemaker", "ResourceArn"): "arn:aws:sagemaker:us-east-1:{account}:image/conformance-image",
    ("sagemaker", "AppImageConfigName"): "conformance-config",
    ("sagemaker", "KernelName"): "python3",
    ("sagemaker", "KernelDisplayName"): "Python 3",
    ("sagemaker", "MountPath"): "/home/sagemaker-user",
    # The only identities AWS accepts (AppImageConfigs); others are a domain ValidationException.
    ("sagemaker", "DefaultUid"): 1000,
    ("sagemaker", "DefaultGid"): 100,
    ("cloudcontrol", "TypeName"): "AWS::SageMaker::Image",
    ("cloudcontrol", "TypeVersionId"): "00000001",
    ("cloudcontrol", "RoleArn"): "arn:aws:iam::{account}:role/CloudControlRole",
    ("cloudcontrol", "ClientToken"): "conformance-client-token",
    ("cloudcontrol", "Properties"): '{"ImageName": "cc-conformance", '
    '"ImageRoleArn": "arn:aws:iam::{account}:role/SageMakerImageRole"}',
    ("cloudcontrol", "Identifier"): "arn:aws:sagemaker:us-east-1:{account}:image/conformance-image",
    ("cloudcontrol", "PatchDocument"): '[{"op": "add", "path": "/ImageDescription", "value": "patched"}]',
    ("cloudcontrol", "HandlerNextToken"): "bm90LWEtdG9rZW4",
    ("cloudcontrol", "NextToken"): "bm90LWEtdG9rZW4",
    ("cloudcontrol", "MaxResults"): 10,
    ("cloudcontrol", "RequestToken"): "{token}",
}
# Where an operation needs another realistic value: a new name to create, a free alias.
BY_OPERATION: dict[tuple[str, str], Any] = {
    ("CreateImage", "ImageName"): "new-conformance-image",
    ("CreateImageVersion", "SageMakerImageVersionAlias"): "latest-build",
    ("UpdateImageVersion", "SageMakerImageVersionAlias"): "stable",
    ("CreateAppImageConfig", "AppImageConfigName"): "new-conformance-config",
}
# Members whose values only the server makes; variants that carry one may be refused as invalid.
OPAQUE = frozenset({"NextToken"})
# Characters tried, in order, to pad a value to a length while keeping its pattern satisfied.
FILLERS = ("a", "0", "A", "x1", " ", "-")
# Values tried, in order, to break a pattern while keeping the length allowed.
PATTERN_BREAKERS = ("!", "a b!", "-", " ", "\u0000", "é", "!" * 20)


@dataclass
class Variant:
    name: str
    request: dict[str, Any]
    expect: str  # ACCEPTED | INVALID | SERIALIZATION
    path: str = ""  # the member's path as AWS's messages write it (for INVALID)
    constraint: str = ""  # a phrase the ValidationException must contain (for INVALID)
    extra: dict[str, Any] = field(default_factory=dict)


def wire_path(path: tuple[Any, ...]) -> str:
    """("Tags", 0, "Key") -> "tags.1.member.key", as Coral writes member paths."""
    parts: list[str] = []
    for step in path:
        if isinstance(step, int):
            parts[-1] = f"{parts[-1]}.{step + 1}.member"
        else:
            parts.append(step[:1].lower() + step[1:])
    return ".".join(parts)


def fill(value: Any, context: dict[str, str]) -> Any:
    if isinstance(value, str):
        for key, replacement in context.items():
            value = value.replace("{" + key + "}", replacement)
        return value
    if isinstance(value, list):
        return [fill(v, context) for v in value]
    if isinstance(value, dict):
        return {k: fill(v, context) for k, v in value.items()}
    return value


class Generator:
    def __init__(self, service: str, operation: OperationModel, context: dict[str, str]) -> None:
        """``context`` fills the placeholders of realistic values ({account}, {token})."""
        self.service = service
        self.operation = operation
        self.context = context

    # -- realistic values ------------------------------------------------------------------------

    def realistic(self, shape: Shape, *, full: bool) -> Any:
        known = BY_OPERATION.get((self.operation.name, shape.name), REALISTIC.get((self.service, shape.name)))
        if known is not None:
            return fill(known, self.context)
        kind = shape.type_name
        if kind == "string":
            if shape.enum:
                return shape.enum[0]
            return self._string_of_length(shape, max(shape.metadata.get("min", 1), 1)) or "x"
        if kind in ("integer", "long"):
            return shape.metadata.get("min", 1)
        if kind == "boolean":
            return True
        if kind == "timestamp":
            return 1700000000
        if kind == "list":
            return [self.realistic(shape.member, full=full)]
        if kind == "map":
            key = self._string_of_length(shape.key, max(shape.key.metadata.get("min", 1), 1)) or "k"
            return {key: self.realistic(shape.value, full=full)}
        if kind == "structure":
            return self.structure(shape, full=full)
        raise AssertionError(f"no realistic value for {shape.name} ({kind})")

    def structure(self, shape: StructureShape, *, full: bool) -> dict[str, Any]:
        members = shape.members if full else {n: shape.members[n] for n in shape.required_members}
        # A pagination token only ever comes from a previous page: no realistic request invents one.
        members = {n: m for n, m in members.items() if n not in OPAQUE or n in shape.required_members}
        return {name: self.realistic(member, full=full) for name, member in members.items()}

    # -- the oracle ------------------------------------------------------------------------------

    @staticmethod
    def string_violation(shape: Shape, value: str) -> str | None:
        """The first constraint ``value`` breaks, as the phrase AWS's message uses (None: valid)."""
        low, high = shape.metadata.get("min"), shape.metadata.get("max")
        if low is not None and len(value) < low:
            return f"Member must have length greater than or equal to {low}"
        if high is not None and len(value) > high:
            return f"Member must have length less than or equal to {high}"
        pattern = shape.metadata.get("pattern")
        if pattern and regex.fullmatch(pattern, value) is None:
            return "Member must satisfy regular expression pattern"
        if shape.enum and value not in shape.enum:
            return "Member must satisfy enum value set"
        return None

    def _string_of_length(self, shape: Shape, length: int, base: str = "") -> str | None:
        """A string of ``length`` that satisfies the pattern if one is easily found, else any."""
        candidates = []
        if len(base) >= length:
            candidates.append(base[:length])
        for filler in FILLERS:
            if len(base) <= length:
                padding = (filler * length)[: length - len(base)]
                candidates += [base + padding, padding + base]
        candidates = [c for c in candidates if len(c) == length]
        for candidate in candidates:
            if self.string_violation(shape, candidate) is None:
                return candidate
        return candidates[0] if candidates else None

    def _distinct(self, shape: Shape, element: Any, index: int) -> Any:
        """The ``index``-th copy of a list element, made distinct where its shape allows."""
        if index == 0:
            return copy.deepcopy(element)
        if isinstance(element, str):
            for candidate in (f"{element}{index}", f"{element[:-3]}{index:03d}"):
                if self.string_violation(shape, candidate) is None:
                    return candidate
            return element
        if isinstance(element, dict) and shape.type_name == "structure":
            return {
                k: (self._distinct(shape.members[k], v, index) if isinstance(v, str) else v)
                for k, v in element.items()
            }
        return element

    # -- variants --------------------------------------------------------------------------------

    def variants(self) -> Iterator[Variant]:
        shape = self.operation.input_shape
        base = self.structure(shape, full=False)
        full = self.structure(shape, full=True)
        yield Variant("realistic, required members only", base, ACCEPTED)
        if full != base:
            yield Variant("realistic, every optional member", full, ACCEPTED)
        for name in shape.members:
            if name not in shape.required_members:
                alone = dict(base)
                alone[name] = full[name] if name in full else self.realistic(shape.members[name], full=True)
                yield Variant(f"optional {name} alone", alone, ACCEPTED)
        for name in shape.required_members:
            missing = {k: v for k, v in full.items() if k != name}
            yield Variant(f"{name} missing", missing, INVALID, wire_path((name,)), "Member must not be null")
        for name, member in shape.members.items():
            yield from self._member_variants(full, (name,), member)

    def _member_variants(
        self, request: dict[str, Any], path: tuple[Any, ...], shape: Shape
    ) -> Iterator[Variant]:
        label = wire_path(path)
        current = _get(request, path)
        kind = shape.type_name

        def put(value: Any) -> dict[str, Any]:
            return _put(request, path, value)

        def judged(name: str, value: str) -> Variant:
            problem = self.string_violation(shape, value)
            if problem is None:
                return Variant(name, put(value), ACCEPTED)
            return Variant(name, put(value), INVALID, label, problem)

        yield Variant(f"{label}: wrong JSON type", put(_wrong_type(kind)), SERIALIZATION)
        if kind == "string":
            low, high = shape.metadata.get("min"), shape.metadata.get("max")
            base = current if isinstance(current, str) else ""
            for length, what in (
                (low, "min"),
                (None if low is None else low - 1, "min-1"),
                (high, "max"),
                (None if high is None else high + 1, "max+1"),
            ):
                if length is None or length < 0:
                    continue
                value = self._string_of_length(shape, length, base)
                if value is not None:
                    yield judged(f"{label}: length {what} ({length})", value)
            for enum_value in shape.enum or ():
                yield judged(f"{label}: enum {enum_value}", enum_value)
            if shape.enum:
                yield judged(f"{label}: not in the enum", "NOT_A_MODELLED_VALUE")
            elif shape.metadata.get("pattern"):
                for breaker in PATTERN_BREAKERS:
                    value = (breaker * (low or 1))[: max(low or 1, len(breaker))]
                    problem = self.string_violation(shape, value)
                    if problem == "Member must satisfy regular expression pattern":
                        yield judged(f"{label}: breaks the pattern", value)
                        break
        elif kind in ("integer", "long"):
            low, high = shape.metadata.get("min"), shape.metadata.get("max")
            for value, what in ((low, "min"), (high, "max")):
                if value is not None:
                    yield Variant(f"{label}: {what} ({value})", put(value), ACCEPTED)
            if low is not None:
                yield Variant(
                    f"{label}: min-1 ({low - 1})",
                    put(low - 1),
                    INVALID,
                    label,
                    f"Member must have value greater than or equal to {low}",
                )
            if high is not None:
                yield Variant(
                    f"{label}: max+1 ({high + 1})",
                    put(high + 1),
                    INVALID,
                    label,
                    f"Member must have value less than or equal to {high}",
                )
        elif kind == "boolean":
            for value in (True, False):
                yield Variant(f"{label}: {value}", put(value), ACCEPTED)
        elif kind == "timestamp":
            yield Variant(f"{label}: epoch seconds", put(1700000000.5), ACCEPTED)
            yield Variant(f"{label}: ISO 8601", put("2023-11-14T22:13:20Z"), ACCEPTED)
            yield Variant(f"{label}: not a date", put("not-a-date"), SERIALIZATION)
        elif kind == "list":
            element = current[0] if isinstance(current, list) and current else None
            low, high = shape.metadata.get("min"), shape.metadata.get("max")
            for length, what in (
                (low, "min"),
                (None if low is None else low - 1, "min-1"),
                (high, "max"),
                (None if high is None else high + 1, "max+1"),
            ):
                if length is None or length < 0 or element is None:
                    continue
                items = [self._distinct(shape.member, element, i) for i in range(length)]
                if low is not None and length < low:
                    yield Variant(
                        f"{label}: {length} items ({what})",
                        put(items),
                        INVALID,
                        label,
                        f"Member must have length greater than or equal to {low}",
                    )
                elif high is not None and length > high:
                    yield Variant(
                        f"{label}: {length} items ({what})",
                        put(items),
                        INVALID,
                        label,
                        f"Member must have length less than or equal to {high}",
                    )
                else:
                    yield Variant(f"{label}: {length} items ({what})", put(items), ACCEPTED)
            if element is not None:
                yield Variant(
                    f"{label}: a null item",
                    put([element, None]),
                    INVALID,
                    wire_path((*path, 1)),
                    "Member must not be null",
                )
                yield from self._member_variants(request, (*path, 0), shape.member)
        elif kind == "map" and isinstance(current, dict) and current:
            key, item = next(iter(current.items()))
            high = shape.metadata.get("max")
            if high is not None:
                entries = {f"{key}{i}": item for i in range(high)}
                yield Variant(f"{label}: {high} entries (max)", put(entries), ACCEPTED)
                yield Variant(
                    f"{label}: {high + 1} entries (max+1)",
                    put({**entries, f"{key}{high}": item}),
                    INVALID,
                    label,
                    f"Member must have length less than or equal to {high}",
                )
            yield Variant(
                f"{label}: a null value",
                put({key: None}),
                INVALID,
                f"{label}.{key}",
                "Member must not be null",
            )
            yield from self._member_variants(request, (*path, key), shape.value)
        elif kind == "structure":
            for name, member in shape.members.items():
                if isinstance(current, dict) and name in current:
                    yield from self._member_variants(request, (*path, name), member)
            for name in shape.required_members:
                if isinstance(current, dict):
                    without = {k: v for k, v in current.items() if k != name}
                    yield Variant(
                        f"{label}: {name} missing",
                        put(without),
                        INVALID,
                        wire_path((*path, name)),
                        "Member must not be null",
                    )


def _wrong_type(kind: str) -> Any:
    if kind == "string":
        return 12345
    if kind in ("integer", "long", "boolean", "timestamp"):
        return [1] if kind == "timestamp" else "1"
    if kind == "list":
        return "not-a-list"
    return "not-a-structure"


def _get(request: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        if isinstance(step, int):
            request = request[step] if isinstance(request, list) and len(request) > step else None
        else:
            request = request.get(step) if isinstance(request, dict) else None
    return request


def _put(request: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    result = copy.deepcopy(request)
    target: Any = result
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return result


# -- responses ----------------------------------------------------------------------------------


def output_problems(shape: Shape | None, value: Any, where: str = "$") -> list[str]:
    """How a response body breaks the operation's output shape (empty: it conforms)."""
    if shape is None:
        return [] if value == {} else [f"{where}: expected an empty body"]
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, dict):
            return [f"{where}: expected an object"]
        problems = [f"{where}.{k}: not modelled" for k in value if k not in shape.members]
        problems += [f"{where}.{k}: required but absent" for k in shape.required_members if k not in value]
        for name, member in shape.members.items():
            if name in value:
                problems += output_problems(member, value[name], f"{where}.{name}")
        return problems
    if kind == "list":
        if not isinstance(value, list):
            return [f"{where}: expected a list"]
        return [
            p for i, item in enumerate(value) for p in output_problems(shape.member, item, f"{where}[{i}]")
        ]
    if kind == "map":
        if not isinstance(value, dict):
            return [f"{where}: expected a map"]
        return [p for k, item in value.items() for p in output_problems(shape.value, item, f"{where}.{k}")]
    if kind == "string":
        if not isinstance(value, str):
            return [f"{where}: expected a string"]
        if shape.enum and value not in shape.enum:
            return [f"{where}: {value!r} is not in the enum"]
        return []
    if kind in ("integer", "long"):
        return (
            []
            if isinstance(value, int) and not isinstance(value, bool)
            else [f"{where}: expected an integer"]
        )
    if kind in ("double", "float", "timestamp"):
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return [] if ok else [f"{where}: expected a number"]
    if kind == "boolean":
        return [] if isinstance(value, bool) else [f"{where}: expected a boolean"]
    if kind == "blob":
        return [] if isinstance(value, str) else [f"{where}: expected base64 text"]
    return [f"{where}: unknown shape type {kind}"]
