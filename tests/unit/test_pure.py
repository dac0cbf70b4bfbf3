"""Pure logic: ARNs, identity, pagination tokens, lifecycle arithmetic."""

from __future__ import annotations

import base64

import pytest

from sagemaker_images.images.arns import image_arn, image_version_arn, parse_image_arn
from sagemaker_images.images.lifecycle import LifecyclePolicy, observe
from sagemaker_images.page_tokens import InvalidToken, PageTokens
from sagemaker_images.protocol.identity import tenant_from_authorization
from sagemaker_images.tenancy import Tenant, partition_for


@pytest.mark.parametrize(
    ("region", "partition"),
    [
        ("us-east-1", "aws"),
        ("cn-northwest-1", "aws-cn"),
        ("us-gov-east-1", "aws-us-gov"),
        ("us-iso-east-1", "aws-iso"),
        ("us-isob-east-1", "aws-iso-b"),
        ("eu-isoe-west-1", "aws-iso-e"),
    ],
)
def test_partitions(region, partition):
    assert partition_for(region) == partition


def test_arns_round_trip():
    tenant = Tenant("123456789012", "eu-west-1")
    assert image_arn(tenant, "My-Img") == "arn:aws:sagemaker:eu-west-1:123456789012:image/my-img"
    version = image_version_arn(tenant, "My-Img", 3)
    assert version == "arn:aws:sagemaker:eu-west-1:123456789012:image-version/my-img/3"
    ref = parse_image_arn(version)
    assert (ref.tenant, ref.partition, ref.name, ref.version) == (tenant, "aws", "my-img", 3)
    assert parse_image_arn(image_arn(tenant, "x")).version is None
    for other in (
        "arn:aws:sagemaker:r:1:training-job/x",
        "arn:aws:s3:::bucket",
        "nonsense",
        "arn:aws:sagemaker:r:1:image-version/x/abc",
        "arn:aws:sagemaker:r:1:image/a/b",
    ):
        assert parse_image_arn(other) is None


def test_identity_from_the_credential_scope():
    header = "AWS4-HMAC-SHA256 Credential=123456789012/20261123/ap-southeast-2/sagemaker/aws4_request, SignedHeaders=host"
    assert tenant_from_authorization(header, "000000000000") == Tenant("123456789012", "ap-southeast-2")
    header = "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20261123/eu-west-1/sagemaker/aws4_request"
    assert tenant_from_authorization(header, "111111111111") == Tenant("111111111111", "eu-west-1")
    assert tenant_from_authorization(None, "000000000000") == Tenant("000000000000", "us-east-1")
    assert tenant_from_authorization("garbage", "000000000000").region == "us-east-1"
    assert tenant_from_authorization("Credential=a/b/../c", "000000000000").region == "us-east-1"


def test_pagination_tokens():
    tokens = PageTokens.ephemeral()
    mine, other = Tenant("111111111111", "us-east-1"), Tenant("222222222222", "us-east-1")
    token = tokens.seal(mine, "L", [1.5, 7])
    assert tokens.open(mine, "L", token, 2) == (1.5, 7)
    assert b"1.5" not in base64.b64decode(token)  # nothing of the position shows
    altered = base64.b64encode(bytes([base64.b64decode(token)[0]]) + base64.b64decode(token)[1:-1] + b"x")
    for bad, tenant, listing, arity in (
        ("", mine, "L", 2),
        ("!!!", mine, "L", 2),
        (token, other, "L", 2),
        (token, Tenant("111111111111", "eu-west-1"), "L", 2),
        (token, mine, "Other", 2),
        (token, mine, "L", 1),
        (altered.decode(), mine, "L", 2),
        (PageTokens.ephemeral().seal(mine, "L", [1.5, 7]), mine, "L", 2),
        ("A" * 5000, mine, "L", 2),
    ):
        with pytest.raises(InvalidToken):
            tokens.open(tenant, listing, bad, arity)


def test_lifecycle_is_a_function_of_the_clock():
    policy = LifecyclePolicy(delay=10)
    row = {**policy.begin("CREATING", 100.0), "failure_reason": None}
    assert observe(row, 105).status == "CREATING"
    assert observe(row, 105).last_modified == 100.0
    assert observe(row, 110).status == "CREATED"
    assert observe(row, 110).last_modified == 110.0
    failing = policy.begin("DELETING", 100.0, "boom")
    assert observe(failing, 200).status == "DELETE_FAILED"
    assert observe(failing, 200).failure_reason == "boom"
    assert observe(failing, 101).failure_reason is None


def test_page_token_nonces_never_repeat_when_the_counter_wraps(monkeypatch):
    import base64

    from sagemaker_images import page_tokens
    from sagemaker_images.tenancy import Tenant

    monkeypatch.setattr(page_tokens, "_COUNTER_LIMIT", 3)  # a new prefix every three tokens
    tokens = page_tokens.PageTokens.ephemeral()
    tenant = Tenant("123456789012", "us-east-1")
    sealed = [tokens.seal(tenant, "ListImages", [n]) for n in range(10)]
    nonces = [base64.b64decode(token)[1:13] for token in sealed]
    assert len(set(nonces)) == 10
    assert len({nonce[:8] for nonce in nonces}) == 4  # prefixes drawn as the counter ran out
    assert [tokens.open(tenant, "ListImages", token, 1) for token in sealed] == [(n,) for n in range(10)]
