"""NextTokens of every listing of both APIs: opaque, tamper-evident, bound to account and listing,
and the same on every replica of one database.

For each listing a real token is taken from a real page, then replayed: as is (works, on another
replica too), by another account, against another listing, altered bit by bit, and replaced by forged
tokens of every shape (wrong types, huge and 400-digit numbers, deep nesting, garbage). Every
replay that is not the real one is an AWS-shaped 400, never a 5xx.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator

import orjson
import pytest

from tests.conftest import new_account
from tests.servers import ServerProcess, fresh_postgres_database, postgres_available

SAGEMAKER = ("SageMaker", "application/x-amz-json-1.1", "sagemaker")
CLOUDCONTROL = ("CloudApiService", "application/x-amz-json-1.0", "cloudcontrolapi")


def call(server, api, operation: str, body: dict, account: str) -> tuple[int, dict]:
    prefix, content_type, signing = api
    headers = {
        "Content-Type": content_type,
        "X-Amz-Target": f"{prefix}.{operation}",
        "Authorization": f"AWS4-HMAC-SHA256 Credential={account}/20261123/us-east-1/{signing}/aws4_request, "
        "SignedHeaders=host, Signature=" + "0" * 64,
    }
    return server.request("POST", "/", orjson.dumps(body), headers)


def _b64(value: object) -> str:
    raw = value if isinstance(value, bytes) else json.dumps(value).encode()
    return base64.b64encode(raw).decode()


FORGED = [
    _b64(["ListImages/CREATION_TIME/DESCENDING", 1795488839.463, 18]),
    _b64(["ListImages/CREATION_TIME/DESCENDING", "x", [1]]),
    _b64(["ListImages/CREATION_TIME/DESCENDING", 10**400, 1]),
    _b64(["ListImages/CREATION_TIME/DESCENDING", 2**64, 2**63]),
    _b64([1e308, "0" * 36]),
    _b64({"a": 1}),
    _b64(b"[" * 5000 + b"]" * 5000),
    _b64(b'{"a":' * 3000 + b"1" + b"}" * 3000),
    _b64(b"\x01" + b"\x00" * 40),
    _b64(b"\x01" + b"\xff" * 200),
    "bm90LWEtdG9rZW4=",
    "!!!!",
    "A" * 2000,
    "9" * 400,
]


def _altered(token: str) -> Iterator[str]:
    raw = base64.b64decode(token)
    for index in (0, 1, 12, 13, len(raw) // 2, len(raw) - 1):
        flipped = bytearray(raw)
        flipped[index] ^= 0x01
        yield base64.b64encode(bytes(flipped)).decode()
    yield base64.b64encode(raw[:-1]).decode()
    yield token + "AAAA"


class Listing:
    """A listing: how to call it with a token, which error a refused token gets."""

    def __init__(
        self, name: str, api, operation: str, body: Callable[[str], dict], code: str, items: str
    ) -> None:
        self.name, self.api, self.operation, self.body, self.code, self.items = (
            name,
            api,
            operation,
            body,
            code,
            items,
        )


ROLE = "arn:aws:iam::{account}:role/SageMakerImageRole"


def _listings(account: str) -> list[Listing]:
    arn = f"arn:aws:sagemaker:us-east-1:{account}:image/paged-0"
    return [
        Listing(
            "ListImages",
            SAGEMAKER,
            "ListImages",
            lambda a: {"MaxResults": 1},
            "ValidationException",
            "Images",
        ),
        Listing(
            "ListImages by name",
            SAGEMAKER,
            "ListImages",
            lambda a: {"MaxResults": 1, "SortBy": "IMAGE_NAME", "SortOrder": "ASCENDING"},
            "ValidationException",
            "Images",
        ),
        Listing(
            "ListImageVersions",
            SAGEMAKER,
            "ListImageVersions",
            lambda a: {"ImageName": "paged-0", "MaxResults": 1},
            "ValidationException",
            "ImageVersions",
        ),
        Listing(
            "ListAliases",
            SAGEMAKER,
            "ListAliases",
            lambda a: {"ImageName": "paged-0", "MaxResults": 1},
            "ValidationException",
            "SageMakerImageVersionAliases",
        ),
        Listing(
            "ListTags",
            SAGEMAKER,
            "ListTags",
            lambda a: {"ResourceArn": arn.replace(account, a), "MaxResults": 50},
            "ValidationException",
            "Tags",
        ),
        Listing(
            "ListAppImageConfigs",
            SAGEMAKER,
            "ListAppImageConfigs",
            lambda a: {"MaxResults": 1},
            "ValidationException",
            "AppImageConfigs",
        ),
        Listing(
            "ListResources Image",
            CLOUDCONTROL,
            "ListResources",
            lambda a: {"TypeName": "AWS::SageMaker::Image"},
            "InvalidRequestException",
            "ResourceDescriptions",
        ),
        Listing(
            "ListResources ImageVersion",
            CLOUDCONTROL,
            "ListResources",
            lambda a: {
                "TypeName": "AWS::SageMaker::ImageVersion",
                "ResourceModel": '{"ImageName":"paged-0"}',
            },
            "InvalidRequestException",
            "ResourceDescriptions",
        ),
        Listing(
            "ListResourceRequests",
            CLOUDCONTROL,
            "ListResourceRequests",
            lambda a: {"MaxResults": 1},
            "InvalidRequestException",
            "ResourceRequestStatusSummaries",
        ),
    ]


def _populate(server, account: str) -> None:
    role = ROLE.format(account=account)
    for index in range(11):
        status, _ = call(
            server, SAGEMAKER, "CreateImage", {"ImageName": f"paged-{index}", "RoleArn": role}, account
        )
        assert status == 200
    for index in range(11):
        body = {
            "ImageName": "paged-0",
            "BaseImage": "repo/x:1",
            "ClientToken": f"t{index}",
            "Aliases": [f"a{index}"],
        }
        assert call(server, SAGEMAKER, "CreateImageVersion", body, account)[0] == 200
    for index in range(2):
        body = {"AppImageConfigName": f"paged-config-{index}"}
        assert call(server, SAGEMAKER, "CreateAppImageConfig", body, account)[0] == 200
    tags = [{"Key": f"k{i:02}", "Value": "v"} for i in range(50)]
    arn = f"arn:aws:sagemaker:us-east-1:{account}:image/paged-0"
    assert call(server, SAGEMAKER, "AddTags", {"ResourceArn": arn, "Tags": tags}, account)[0] == 200
    for index in range(2):
        desired = json.dumps({"ImageName": f"cc-paged-{index}", "ImageRoleArn": role})
        body = {"TypeName": "AWS::SageMaker::Image", "DesiredState": desired}
        assert call(server, CLOUDCONTROL, "CreateResource", body, account)[0] == 200


def _token(server, listing: Listing, account: str) -> str:
    status, page = call(server, listing.api, listing.operation, listing.body(account), account)
    assert status == 200, page
    assert page.get("NextToken"), (listing.name, page)
    return page["NextToken"]


def _refused(server, listing: Listing, account: str, token: str) -> None:
    body = {**listing.body(account), "NextToken": token}
    status, answer = call(server, listing.api, listing.operation, body, account)
    assert status == 400, (listing.name, token[:60], status, answer)
    assert set(answer) == {"__type", "message", "Message"}
    assert answer["__type"] in (listing.code, "ValidationException"), (listing.name, answer)


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def replicas(request, tmp_path_factory) -> Iterator[tuple[ServerProcess, ServerProcess, str]]:
    path = tmp_path_factory.mktemp("tokens")
    if request.param == "postgres":
        if postgres_available() is not None:
            pytest.skip("PostgreSQL is not reachable")
        with (
            fresh_postgres_database() as url,
            ServerProcess(url, log_path=path / "a.log") as first,
            ServerProcess(url, log_path=path / "b.log") as second,
        ):
            account = new_account()
            _populate(first, account)
            yield first, second, account
    else:
        url = f"sqlite:///{path / 'state.db'}"
        with ServerProcess(url, log_path=path / "a.log") as first:
            account = new_account()
            _populate(first, account)
            yield first, first, account


@pytest.mark.parametrize("index", range(9), ids=[listing.name for listing in _listings("0")])
def test_tokens_of_every_listing(replicas, index):
    first, second, account = replicas
    listing = _listings(account)[index]
    if listing.operation == "ListTags":
        # At most 50 tags a resource and at least 50 a page: ListTags never has a second page. Its
        # tokens are still checked, with another listing's real token standing in for its own.
        token = _token(first, _listings(account)[0], account)
        for bad in [token, *_altered(token), *FORGED]:
            _refused(second, listing, account, bad)
        return
    token = _token(first, listing, account)
    # Opaque: nothing of the position (a row id, a name, a time) shows.
    assert not any(word in base64.b64decode(token) for word in (b"List", b"paged", b"CREATION"))
    # The real token turns the page, on this replica and on the other one.
    for server in (first, second):
        status, page = call(
            server, listing.api, listing.operation, {**listing.body(account), "NextToken": token}, account
        )
        assert status == 200, page
        assert page[listing.items]
    # Another account (with the same listing of its own) cannot use it.
    stranger = new_account()
    if (
        listing.operation in ("ListImageVersions", "ListAliases", "ListTags")
        or "ImageVersion" in listing.name
    ):
        call(
            first,
            SAGEMAKER,
            "CreateImage",
            {"ImageName": "paged-0", "RoleArn": ROLE.format(account=stranger)},
            stranger,
        )
    _refused(second, listing, stranger, token)
    # Any change to it, and any forged token, is refused.
    for bad in [*_altered(token), *FORGED]:
        _refused(second, listing, account, bad)


def test_a_token_opens_only_its_own_listing(replicas):
    first, second, account = replicas
    listings = _listings(account)
    tokens = {
        listing.name: _token(first, listing, account) for listing in listings if listing.name != "ListTags"
    }
    for listing in listings:
        for name, token in tokens.items():
            if name == listing.name:
                continue
            if {name, listing.name} == {"ListImages", "ListResources Image"}:
                continue  # Cloud Control lists images by calling ListImages: the same listing underneath
            if {name, listing.name} == {"ListImageVersions", "ListResources ImageVersion"}:
                continue
            _refused(second, listing, account, token)
    # The sort order is part of the listing.
    listing = listings[0]
    body = {**listing.body(account), "SortOrder": "ASCENDING", "NextToken": tokens["ListImages"]}
    status, answer = call(second, SAGEMAKER, "ListImages", body, account)
    assert (status, answer["__type"]) == (400, "ValidationException")
