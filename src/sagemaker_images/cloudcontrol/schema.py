"""The published CloudFormation resource schemas, and what they decide.

A schema says which properties exist and which are required, create-only, read-only and
write-only; which property is the primary identifier and which others identify a resource too;
and what the list handler needs. Validation messages are written as CloudFormation writes them
(everit-json-schema's wording), e.g. ``#: required key [ImageRoleArn] not found``.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING, Any

from sagemaker_images import jsontext

if TYPE_CHECKING:
    import jsonschema

# jsonschema is imported by the first validation that needs it, not at import: a server's start-up
# does not pay for it (docs/performance.md).

# The resource types this server handles: their names, here only, and their published schemas.
IMAGE = "AWS::SageMaker::Image"
IMAGE_VERSION = "AWS::SageMaker::ImageVersion"
APP_IMAGE_CONFIG = "AWS::SageMaker::AppImageConfig"
SCHEMA_FILES = {
    IMAGE: "aws-sagemaker-image.json",
    IMAGE_VERSION: "aws-sagemaker-imageversion.json",
    APP_IMAGE_CONFIG: "aws-sagemaker-appimageconfig.json",
}
TYPE_NAMES = tuple(SCHEMA_FILES)

_JAVA_TYPES = {
    "string": "String",
    "integer": "Integer",
    "number": "Number",
    "boolean": "Boolean",
    "array": "JSONArray",
    "object": "JSONObject",
    "null": "Null",
}


# A path into a model: property names, and None for "every item of this array".
Path = tuple[str | None, ...]


def _names(pointers: list[str]) -> tuple[str, ...]:
    """``/properties/ImageName`` -> ``ImageName`` (top-level properties only, as these types use)."""
    return tuple(p.removeprefix("/properties/") for p in pointers)


@dataclass(frozen=True)
class ResourceSchema:
    type_name: str
    document: dict[str, Any]

    # Read from the document once (every request reads some of them).
    @functools.cached_property
    def properties(self) -> tuple[str, ...]:
        return tuple(self.document["properties"])

    @functools.cached_property
    def required(self) -> tuple[str, ...]:
        return tuple(self.document.get("required", ()))

    @functools.cached_property
    def create_only(self) -> tuple[str, ...]:
        return _names(self.document.get("createOnlyProperties", []))

    @functools.cached_property
    def read_only(self) -> tuple[str, ...]:
        return _names(self.document.get("readOnlyProperties", []))

    @functools.cached_property
    def write_only(self) -> tuple[str, ...]:
        return _names(self.document.get("writeOnlyProperties", []))

    @functools.cached_property
    def primary_identifier(self) -> tuple[str, ...]:
        return _names(self.document["primaryIdentifier"])

    @functools.cached_property
    def additional_identifiers(self) -> tuple[tuple[str, ...], ...]:
        return tuple(_names(group) for group in self.document.get("additionalIdentifiers", []))

    def handler_permissions(self, handler: str) -> tuple[str, ...]:
        """The IAM actions the schema says its ``create``/``read``/``update``/``delete``/``list`` needs."""
        return tuple(self.document.get("handlers", {}).get(handler, {}).get("permissions", ()))

    @property
    def tag_property(self) -> str | None:
        """The property holding the resource's tags (``tagging.tagProperty``; ``Tags`` by convention)."""
        tagging = self.document.get("tagging", {})
        if tagging.get("taggable") is False:
            return None
        pointer = tagging.get("tagProperty", "/properties/Tags")
        name = pointer.removeprefix("/properties/")
        return name if name in self.document["properties"] else None

    @functools.cached_property
    def role_paths(self) -> tuple[Path, ...]:
        """Where a model holds IAM role ARNs — properties whose schema describes a role's ARN (its
        pattern names ``:iam::…:role/``, or it refers to ``AWS::IAM::Role``) at any depth — so a type
        that adds a role property is covered by its schema alone."""
        return tuple(self._roles_in(self.document, (), frozenset()))

    def _roles_in(self, node: Any, path: Path, seen: frozenset[str]) -> Iterator[Path]:
        if not isinstance(node, dict):
            return
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/definitions/"):
            name = ref.removeprefix("#/definitions/")
            if name in seen:
                return
            yield from self._roles_in(self.document.get("definitions", {}).get(name), path, seen | {name})
            return
        if _describes_role(node):
            yield path
            return
        for name, child in node.get("properties", {}).items():
            yield from self._roles_in(child, (*path, name), seen)
        if "items" in node:
            yield from self._roles_in(node["items"], (*path, None), seen)

    def roles(self, model: Any) -> list[str]:
        """Every role ARN ``model`` holds where the schema says roles go (strings only: anything else
        fails the schema and is never handed to a service)."""
        found: list[str] = []
        for path in self.role_paths:
            found.extend(v for v in _values_at(model, path) if isinstance(v, str))
        return found

    # -- validation ---------------------------------------------------------------------------------

    @functools.cached_property
    def _validator(self) -> jsonschema.protocols.Validator:
        import jsonschema

        return jsonschema.Draft7Validator(self.document)

    @functools.cached_property
    def _list_validator(self) -> jsonschema.protocols.Validator | None:
        handler_schema = self.document.get("handlers", {}).get("list", {}).get("handlerSchema")
        if handler_schema is None:
            return None
        import jsonschema
        import referencing
        from referencing.jsonschema import DRAFT7

        registry = referencing.Registry().with_resource(
            "resource-schema.json", DRAFT7.create_resource(self.document)
        )
        return jsonschema.Draft7Validator(handler_schema, registry=registry)

    @functools.cached_property
    def _property_checks(self) -> dict[str, Callable[[Any], bool]]:
        return {name: self._check_for(name, schema) for name, schema in self.document["properties"].items()}

    def _check_for(self, name: str, schema: dict[str, Any]) -> Callable[[Any], bool]:
        """A fast test of one property's value: identifiers are checked on every GetResource, and
        jsonschema takes ~100 µs for what a compiled pattern and two comparisons decide in ~1."""
        ref = schema.get("$ref", "")
        resolved = self.document.get("definitions", {}).get(ref.removeprefix("#/definitions/"), schema)
        kind = resolved.get("type")
        if kind == "string" and set(resolved) <= {"type", "description", "pattern", "minLength", "maxLength"}:
            # jsonschema's semantics: re.search, lengths in code points.
            pattern = re.compile(resolved["pattern"]) if resolved.get("pattern") else None
            low, high = resolved.get("minLength", 0), resolved.get("maxLength")

            def check_string(value: Any) -> bool:
                return (
                    isinstance(value, str)
                    and low <= len(value)
                    and (high is None or len(value) <= high)
                    and (pattern is None or pattern.search(value) is not None)
                )

            return check_string
        if kind == "integer" and set(resolved) <= {"type", "description", "minimum", "maximum"}:
            low, high = resolved.get("minimum"), resolved.get("maximum")

            def check_integer(value: Any) -> bool:
                return (
                    isinstance(value, int)
                    and not isinstance(value, bool)
                    and (low is None or value >= low)
                    and (high is None or value <= high)
                )

            return check_integer
        import jsonschema

        definitions = self.document.get("definitions", {})
        validator = jsonschema.Draft7Validator({"definitions": definitions, "properties": {name: schema}})
        return lambda value: validator.is_valid({name: value})

    def accepts(self, name: str, value: Any) -> bool:
        """Whether ``value`` is a valid value of property ``name`` (a resource could be named by it)."""
        check = self._property_checks.get(name)
        return check is not None and check(value)

    def violations(self, model: Any) -> list[str]:
        """Every way ``model`` breaks the schema, in CloudFormation's words (empty when valid)."""
        return _violations(self._validator, model)

    def list_violations(self, model: Any) -> list[str]:
        """How a ListResources ResourceModel breaks the list handlerSchema (empty when valid)."""
        if self._list_validator is None:
            return []
        return _violations(self._list_validator, model)

    @property
    def list_needs_model(self) -> bool:
        return self._list_validator is not None

    # -- models -----------------------------------------------------------------------------------

    def readable(self, model: dict[str, Any]) -> dict[str, Any]:
        """The model as READ and LIST show it: write-only properties never leave the server."""
        write_only = self.write_only
        return {k: v for k, v in model.items() if k not in write_only}

    def changed(self, names: tuple[str, ...], before: dict[str, Any], after: dict[str, Any]) -> list[str]:
        """The properties among ``names`` whose value differs, as schema pointers."""
        return [f"/properties/{n}" for n in names if before.get(n) != after.get(n)]


def _describes_role(node: dict[str, Any]) -> bool:
    pattern = node.get("pattern")
    if isinstance(pattern, str) and ":iam::" in pattern and ":role/" in pattern:
        return True
    reference = node.get("relationshipRef")
    return isinstance(reference, dict) and reference.get("typeName") == "AWS::IAM::Role"


def _values_at(value: Any, path: Path) -> Iterator[Any]:
    if not path:
        yield value
        return
    step, rest = path[0], path[1:]
    if step is None:
        if isinstance(value, list):
            for item in value:
                yield from _values_at(item, rest)
    elif isinstance(value, dict) and step in value:
        yield from _values_at(value[step], rest)


def model_validation_failed(messages: list[str]) -> str:
    return f"Model validation failed ({', '.join(messages)})"


def _violations(validator: jsonschema.protocols.Validator, model: Any) -> list[str]:
    errors = sorted(validator.iter_errors(model), key=lambda e: (list(e.absolute_path), e.validator))
    messages: list[str] = []
    for error in errors:
        messages.extend(_everit(error))
    return messages


def _everit(error: jsonschema.ValidationError) -> list[str]:
    where = "#" + "".join(f"/{p}" for p in error.absolute_path)
    # jsonschema types these as "maybe unset"; for an error it reports, they are set.
    value: Any = error.instance
    rule: Any = error.validator_value
    kind = error.validator
    schema: Any = error.schema
    if kind == "required":
        # jsonschema reports one error per missing key: "'ImageName' is a required property".
        key = error.message.split("'")[1] if error.message.count("'") >= 2 else error.message
        return [f"{where}: required key [{key}] not found"]
    if kind == "additionalProperties":
        known = set(schema.get("properties", {}))
        return [f"{where}: extraneous key [{key}] is not permitted" for key in value if key not in known]
    if kind == "pattern":
        return [f"{where}: string [{value}] does not match pattern {rule}"]
    if kind == "maxLength":
        return [f"{where}: expected maxLength: {rule}, actual: {len(value)}"]
    if kind == "minLength":
        return [f"{where}: expected minLength: {rule}, actual: {len(value)}"]
    if kind == "type":
        expected = _JAVA_TYPES.get(rule, rule) if isinstance(rule, str) else ", ".join(map(str, rule))
        return [f"{where}: expected type: {expected}, found: {_java_type(value)}"]
    if kind == "enum":
        return [f"{where}: {_json_text(value)} is not a valid enum value"]
    if kind == "maxItems":
        return [f"{where}: expected maximum item count: {rule}, found: {len(value)}"]
    if kind == "minItems":
        return [f"{where}: expected minimum item count: {rule}, found: {len(value)}"]
    if kind == "minimum":
        return [f"{where}: {value} is not greater or equal to {rule}"]
    if kind == "maximum":
        return [f"{where}: {value} is not less or equal to {rule}"]
    # jsonschema's own texts are Python's (reprs of the value); none of them goes on the wire.
    return [f"{where}: {_json_text(value)} does not satisfy the {kind} constraint"]


def _json_text(value: Any) -> str:
    """A value as org.json prints it in everit's messages: strings bare, everything else as JSON."""
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _java_type(value: Any) -> str:
    if isinstance(value, bool):
        return "Boolean"
    if isinstance(value, int):
        return "Integer"
    if isinstance(value, float):
        return "BigDecimal"
    if isinstance(value, str):
        return "String"
    if isinstance(value, list):
        return "JSONArray"
    if isinstance(value, dict):
        return "JSONObject"
    return "Null"


@functools.cache
def schema_for(type_name: str) -> ResourceSchema | None:
    filename = SCHEMA_FILES.get(type_name)
    if filename is None:
        return None
    text = resources.files("sagemaker_images.cloudcontrol").joinpath("schemas", filename).read_text()
    return ResourceSchema(type_name, json.loads(text))


def parse_json_object(text: str) -> dict[str, Any] | None:
    """A JSON object from a request member, or None if the text is not one."""
    try:
        value = jsontext.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None
