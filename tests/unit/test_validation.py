"""Model-driven validation, without a server: constraints come from the botocore model."""

from __future__ import annotations

import pytest

from sagemaker_images.app_image_configs.registry import AppImageConfigRegistry
from sagemaker_images.errors import SerializationException, ValidationException
from sagemaker_images.images.registry import ImageRegistry
from sagemaker_images.services import SAGEMAKER_OPERATIONS
from sagemaker_images.shapes import load_api
from sagemaker_images.shapes.model import load_service
from sagemaker_images.tagging import Tagging

API = load_api("sagemaker", SAGEMAKER_OPERATIONS)


def validate(operation: str, request: dict) -> dict:
    return API.operations[operation].validate(request)


def test_every_operation_compiles_from_the_model():
    assert set(API.operations) == set(SAGEMAKER_OPERATIONS)
    served = set()
    for kind in (ImageRegistry, Tagging, AppImageConfigRegistry):
        served |= set(kind.operations(kind.__new__(kind)))
    assert served == set(SAGEMAKER_OPERATIONS)
    for name in SAGEMAKER_OPERATIONS:
        assert API.is_modelled(name)


def test_the_name_pattern_is_the_models():
    pattern = load_service("sagemaker").shape_for("ImageName").metadata["pattern"]
    with pytest.raises(ValidationException) as excinfo:
        validate("DescribeImage", {"ImageName": "a..b"})
    assert f"Member must satisfy regular expression pattern: {pattern}" in excinfo.value.message


@pytest.mark.parametrize("name", ["a", "a.b", "A-1.b-2", "x" * 63, "1"])
def test_valid_names(name):
    assert validate("DescribeImage", {"ImageName": name}) == {"ImageName": name}


@pytest.mark.parametrize("name", ["", "-a", "a-", "a--b", "a_b", "x" * 64, "é"])
def test_invalid_names(name):
    with pytest.raises(ValidationException):
        validate("DescribeImage", {"ImageName": name})


@pytest.mark.parametrize(
    ("alias", "ok"),
    [
        ("v1.0", True),
        ("latest_stable-2", True),
        (".hidden", False),
        ("-x", False),
        ("a b", False),
        ("x" * 129, False),
    ],
)
def test_alias_pattern_with_lookahead(alias, ok):
    request = {"ImageName": "i", "Alias": alias}
    if ok:
        validate("DescribeImageVersion", request)
    else:
        with pytest.raises(ValidationException):
            validate("DescribeImageVersion", request)


def test_unicode_classes_in_tag_patterns():
    request = {
        "ResourceArn": "arn:aws:sagemaker:us-east-1:123456789012:image/x",
        "Tags": [{"Key": "clé ü", "Value": "值"}],
    }
    assert validate("AddTags", request)["Tags"][0]["Key"] == "clé ü"
    with pytest.raises(ValidationException) as excinfo:
        validate("AddTags", {**request, "Tags": [{"Key": "no#hash", "Value": "v"}]})
    assert "at 'tags.1.member.key'" in excinfo.value.message


def test_timestamps_become_epoch_seconds():
    assert validate("ListImages", {"CreationTimeAfter": 10})["CreationTimeAfter"] == 10.0
    assert validate("ListImages", {"CreationTimeAfter": "1970-01-01T00:01:00Z"})["CreationTimeAfter"] == 60.0


def test_booleans_are_not_numbers_and_numbers_not_booleans():
    with pytest.raises(SerializationException):
        validate("ListImages", {"MaxResults": True})
    with pytest.raises(SerializationException):
        validate("CreateImageVersion", {"ImageName": "i", "BaseImage": "b", "ClientToken": "t", "Horovod": 1})


def test_unknown_members_are_dropped():
    assert validate("ListImages", {"Unknown": 1}) == {}


def test_output_shaping_keeps_only_modelled_members():
    shape = API.operations["ListImages"].shape_output
    out = shape(
        {
            "Images": [{"ImageName": "a", "RoleArn": "secret", "CreationTime": 1.23456, "Description": None}],
            "Internal": 1,
        }
    )
    assert out == {"Images": [{"ImageName": "a", "CreationTime": 1.235}]}
