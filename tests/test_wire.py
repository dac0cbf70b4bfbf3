"""The wire itself, over raw HTTP: targets, bodies, error shapes, validation messages."""

from __future__ import annotations

import pytest

from tests.calls import raw_call

SAGEMAKER_JSON = "application/x-amz-json-1.1"


def call(server, operation: str, body, *, target_prefix: str = "SageMaker", account: str | None = None):
    service = "cloudcontrol" if target_prefix == "CloudApiService" else "sagemaker"
    return raw_call(server, operation, body, service=service, account=account, target_prefix=target_prefix)


def test_success_headers(server, account):
    status, body = call(server, "ListImages", {}, account=account)
    assert status == 200
    assert body == {"Images": []}
    assert server.last_headers["content-type"] == SAGEMAKER_JSON
    assert len(server.last_headers["x-amzn-requestid"]) == 36


def test_error_shape_and_headers(server, account):
    status, body = call(server, "DescribeImage", {"ImageName": "absent"}, account=account)
    assert status == 400
    assert body["__type"] == "ResourceNotFound"
    assert "does not exist" in body["message"]
    assert set(body) == {"__type", "message", "Message"}
    assert body["Message"] == body["message"]
    assert server.last_headers["x-amzn-errortype"] == "ResourceNotFound"
    assert server.last_headers["x-amzn-requestid"]


@pytest.mark.parametrize("raw", [b"{not json", b"\xff\xfe\x00", b"[1, 2]", b'"text"', b"{" * 10000])
def test_malformed_bodies_are_serialization_exceptions(server, raw):
    status, body = call(server, "ListImages", raw)
    assert status == 400
    assert body["__type"] == "SerializationException"


def test_empty_body_is_an_empty_request(server):
    status, body = call(server, "ListImages", b"")
    assert status == 200
    assert "Images" in body


@pytest.mark.parametrize(
    ("member", "value", "message"),
    [
        (
            "ImageName",
            5,
            "class com.amazon.coral.value.json.numbers.TruncatingBigNumber can not be converted to an String",
        ),
        ("ImageName", True, "class java.lang.Boolean can not be converted to an String"),
        ("ImageName", {"a": 1}, "Start of structure or map found where not expected."),
        ("ImageName", ["a"], "Start of list found where not expected"),
    ],
)
def test_wrong_json_types(server, member, value, message):
    status, body = call(server, "DescribeImage", {member: value})
    assert status == 400
    assert body == {"__type": "SerializationException", "message": message, "Message": message}


def test_wrong_types_in_numbers_lists_and_timestamps(server):
    for request, expected in [
        ({"MaxResults": "10"}, "class java.lang.String can not be converted to an Integer"),
        (
            {"MaxResults": 1.5},
            "class com.amazon.coral.value.json.numbers.TruncatingBigNumber can not be converted to an Integer",
        ),
        ({"CreationTimeAfter": True}, "class java.lang.Boolean can not be converted to an Date"),
        ({"CreationTimeAfter": "yesterday"}, None),
    ]:
        status, body = call(server, "ListImages", request)
        assert status == 400
        assert body["__type"] == "SerializationException"
        if expected:
            assert body["message"] == expected
    status, body = call(
        server,
        "DeleteTags",
        {"ResourceArn": "arn:aws:sagemaker:us-east-1:000000000000:image/x", "TagKeys": "k"},
    )
    assert (status, body["__type"], body["message"]) == (
        400,
        "SerializationException",
        "Expected list or null",
    )


def test_timestamps_accept_epoch_seconds_and_iso_strings(server, account):
    for value in (0, 1.5, "2020-01-01T00:00:00Z"):
        status, _ = call(server, "ListImages", {"CreationTimeAfter": value}, account=account)
        assert status == 200


def test_unknown_members_are_ignored(server, account):
    status, body = call(server, "ListImages", {"SomethingNew": 1}, account=account)
    assert (status, body) == (200, {"Images": []})


def test_validation_message_for_a_pattern(server):
    status, body = call(
        server, "CreateImage", {"ImageName": "bad_name", "RoleArn": "arn:aws:iam::123456789012:role/R"}
    )
    assert status == 400
    message = (
        "1 validation error detected: Value 'bad_name' at 'imageName' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: [a-zA-Z0-9]([-.]?[a-zA-Z0-9]){0,62}"
    )
    assert body == {"__type": "ValidationException", "message": message, "Message": message}


def test_several_violations_in_one_message(server):
    status, body = call(server, "CreateImage", {"ImageName": "x" * 64, "Description": ""})
    assert status == 400
    assert body["__type"] == "ValidationException"
    # Every violated constraint is reported, in the model's member order.
    assert body["message"] == (
        "4 validation errors detected: "
        "Value '' at 'description' failed to satisfy constraint: Member must have length greater than or equal to 1; "
        f"Value '{'x' * 64}' at 'imageName' failed to satisfy constraint: Member must have length less than or equal to 63; "
        f"Value '{'x' * 64}' at 'imageName' failed to satisfy constraint: Member must satisfy regular expression pattern: "
        "[a-zA-Z0-9]([-.]?[a-zA-Z0-9]){0,62}; "
        "Value null at 'roleArn' failed to satisfy constraint: Member must not be null"
    )


def test_nested_paths_ranges_and_enums(server):
    status, body = call(
        server,
        "CreateImage",
        {
            "ImageName": "ok",
            "RoleArn": "arn:aws:iam::123456789012:role/R",
            "Tags": [{"Key": "fine", "Value": "v"}, {"Key": "", "Value": "v"}, {"Value": "v"}],
        },
    )
    assert status == 400
    assert body["message"] == (
        "2 validation errors detected: "
        "Value '' at 'tags.2.member.key' failed to satisfy constraint: Member must have length greater than or equal to 1; "
        "Value null at 'tags.3.member.key' failed to satisfy constraint: Member must not be null"
    )
    status, body = call(server, "ListImages", {"MaxResults": 0, "SortOrder": "UP"})
    assert body["message"] == (
        "2 validation errors detected: "
        "Value '0' at 'maxResults' failed to satisfy constraint: Member must have value greater than or equal to 1; "
        "Value 'UP' at 'sortOrder' failed to satisfy constraint: Member must satisfy enum value set: [ASCENDING, DESCENDING]"
    )
    status, body = call(server, "ListImages", {"MaxResults": 101})
    assert "Member must have value less than or equal to 100" in body["message"]


def test_patterns_must_match_the_whole_value(server):
    # "ab" matches the name pattern as a prefix of "ab_"; AWS's validators match the whole value.
    status, body = call(server, "DescribeImage", {"ImageName": "ab_"})
    assert status == 400
    assert "at 'imageName'" in body["message"]
    status, body = call(server, "UpdateImage", {"ImageName": "ab", "DeleteProperties": ["DisplayNameX"]})
    assert status == 400
    assert "deleteProperties.1.member" in body["message"]


def test_list_length_constraint(server):
    arn = "arn:aws:sagemaker:us-east-1:000000000000:image/x"
    status, body = call(server, "DeleteTags", {"ResourceArn": arn, "TagKeys": []})
    assert status == 400
    assert body["message"] == (
        "1 validation error detected: Value '[]' at 'tagKeys' failed to satisfy constraint: "
        "Member must have length greater than or equal to 1"
    )


def test_bad_next_token(server, account):
    for operation, body in [
        ("ListImages", {"NextToken": "garbage!"}),
        ("ListImages", {"NextToken": "WyJvdGhlciJd"}),
    ]:
        status, reply = call(server, operation, body, account=account)
        assert status == 400
        message = 'Invalid pagination token because "{0}".'
        assert reply == {"__type": "ValidationException", "message": message, "Message": message}


def test_next_token_of_another_listing_is_refused(server, account):
    for n in range(3):
        call(
            server,
            "CreateImage",
            {"ImageName": f"n{n}", "RoleArn": "arn:aws:iam::123456789012:role/R"},
            account=account,
        )
    status, page = call(server, "ListImages", {"MaxResults": 1}, account=account)
    status, reply = call(
        server,
        "ListImages",
        {"MaxResults": 1, "SortBy": "IMAGE_NAME", "NextToken": page["NextToken"]},
        account=account,
    )
    assert status == 400
    assert reply["__type"] == "ValidationException"


def test_unknown_operation(server):
    status, body = call(server, "MakeCoffee", {})
    assert status == 400
    assert body["__type"] == "UnknownOperationException"


def test_unknown_target_prefix_and_missing_target(server):
    status, body = call(server, "ListImages", {}, target_prefix="Nope_20200101")
    assert (status, body["__type"]) == (400, "UnknownOperationException")
    status, body = server.request("POST", "/", b"{}", {"Content-Type": SAGEMAKER_JSON})
    assert (status, body["__type"]) == (400, "UnknownOperationException")


def test_sagemaker_operation_outside_scope_is_named(server):
    status, body = call(server, "CreateTrainingJob", {})
    assert status == 400
    assert body["__type"] == "UnsupportedOperation"
    assert "CreateTrainingJob" in body["message"]


def test_other_paths_and_methods(server):
    status, body = server.request("GET", "/")
    assert status == 404
    assert body["__type"] == "UnknownOperationException"
    status, body = server.request("GET", "/_health")
    assert status == 200
    assert body["status"] == "ok"


def test_body_limit(server):
    status, body = call(server, "ListImages", b'{"NameContains": "' + b"a" * (2 * 1024 * 1024) + b'"}')
    assert status == 413
    assert body["__type"] == "RequestEntityTooLargeException"


CLOUDCONTROL_JSON = "application/x-amz-json-1.0"


@pytest.mark.parametrize(
    ("operation", "body", "code"),
    [
        ("GetResource", {"TypeName": "AWS::Nope::Thing", "Identifier": "x"}, "TypeNotFoundException"),
        ("GetResource", b"{not json", "SerializationException"),
        ("GetResource", {"TypeName": 5}, "SerializationException"),
        ("GetResource", {}, "ValidationException"),
        ("NoSuchOperation", {}, "UnknownOperationException"),
        ("DescribeImage", {}, "UnknownOperationException"),
    ],
)
def test_cloud_control_errors_are_written_as_its_successes_are(server, account, operation, body, code):
    """Cloud Control speaks AWS JSON 1.0: its errors carry that content type too, not SageMaker's 1.1."""
    status, answer = call(server, operation, body, target_prefix="CloudApiService", account=account)
    assert status == 400
    assert answer["__type"] == code
    assert server.last_headers["content-type"] == CLOUDCONTROL_JSON
    assert server.last_headers["x-amzn-errortype"] == code
    assert len(server.last_headers["x-amzn-requestid"]) == 36


def test_requests_naming_no_served_api_are_answered_in_json_1_1(server):
    for headers in ({"X-Amz-Target": "Nobody.ListThings"}, {}):
        status, answer = server.request("POST", "/", b"{}", headers)
        assert (status, answer["__type"]) == (400, "UnknownOperationException")
        assert server.last_headers["content-type"] == SAGEMAKER_JSON
    status, answer = server.request(
        "GET", "/elsewhere", None, {"X-Amz-Target": "CloudApiService.GetResource"}
    )
    assert (status, answer["__type"]) == (404, "UnknownOperationException")
    assert server.last_headers["content-type"] == CLOUDCONTROL_JSON
