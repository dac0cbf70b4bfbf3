"""What a resource schema decides about one property's value, held to jsonschema's own answer."""

from __future__ import annotations

import jsonschema
import pytest

from sagemaker_images.cloudcontrol.schema import TYPE_NAMES, schema_for

VALUES = [
    "abc",
    "a" * 63,
    "a" * 64,
    "bad_name",
    "bad name!",
    "ok\n",
    "a\nb",
    "\ud800",
    "a\x00b",
    "",
    "-x",
    5,
    0,
    1,
    2**31,
    2**63,
    True,
    None,
    1.5,
    ["x"],
    {"a": 1},
    "arn:aws:sagemaker:us-east-1:123456789012:image/x",
    "arn:aws:sagemaker:us-east-1:123456789012:image-version/x/1",
    "arn:aws:iam::123456789012:role/x",
    "TRAINING",
    "CPU",
    "Python 3.8",
]


@pytest.mark.parametrize("type_name", TYPE_NAMES)
def test_accepts_agrees_with_jsonschema_for_every_property(type_name):
    schema = schema_for(type_name)
    assert schema is not None
    document = schema.document
    for name, definition in document["properties"].items():
        reference = jsonschema.Draft7Validator(
            {"definitions": document.get("definitions", {}), "properties": {name: definition}}
        )
        for value in VALUES:
            assert schema.accepts(name, value) == reference.is_valid({name: value}), (name, value)
    assert not schema.accepts("NoSuchProperty", "x")
