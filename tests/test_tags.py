"""AddTags, ListTags and DeleteTags on image and image-version ARNs."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from tests.calls import error_of
from tests.conftest import client_for, new_account


@pytest.fixture
def arns(sagemaker, role_arn) -> tuple[str, str]:
    image = sagemaker.create_image(
        ImageName="tagged", RoleArn=role_arn, Tags=[{"Key": "team", "Value": "ml"}]
    )
    version = sagemaker.create_image_version(ImageName="tagged", BaseImage="repo:1")
    return image["ImageArn"], version["ImageVersionArn"]


def tags_of(sagemaker, arn: str) -> dict[str, str]:
    pages = sagemaker.get_paginator("list_tags").paginate(ResourceArn=arn)
    return {t["Key"]: t["Value"] for p in pages for t in p["Tags"]}


def test_tags_at_creation_and_added_later(sagemaker, arns):
    image_arn, version_arn = arns
    assert tags_of(sagemaker, image_arn) == {"team": "ml"}
    added = sagemaker.add_tags(
        ResourceArn=image_arn, Tags=[{"Key": "env", "Value": "prod"}, {"Key": "team", "Value": "ai"}]
    )
    assert added["Tags"] == [{"Key": "env", "Value": "prod"}, {"Key": "team", "Value": "ai"}]
    assert tags_of(sagemaker, image_arn) == {"team": "ai", "env": "prod"}
    assert tags_of(sagemaker, version_arn) == {}
    sagemaker.add_tags(ResourceArn=version_arn, Tags=[{"Key": "build", "Value": "42"}])
    assert tags_of(sagemaker, version_arn) == {"build": "42"}
    assert tags_of(sagemaker, image_arn) == {"team": "ai", "env": "prod"}


def test_delete_tags(sagemaker, arns):
    image_arn, _ = arns
    sagemaker.add_tags(ResourceArn=image_arn, Tags=[{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}])
    sagemaker.delete_tags(ResourceArn=image_arn, TagKeys=["a", "team", "never-there"])
    assert tags_of(sagemaker, image_arn) == {"b": "2"}


def test_unicode_tags_follow_the_model_pattern(sagemaker, arns):
    image_arn, _ = arns
    sagemaker.add_tags(
        ResourceArn=image_arn, Tags=[{"Key": "équipe", "Value": "données ML"}, {"Key": "empty", "Value": ""}]
    )
    assert tags_of(sagemaker, image_arn)["équipe"] == "données ML"
    assert tags_of(sagemaker, image_arn)["empty"] == ""


def test_list_tags_pages(sagemaker, arns):
    image_arn, _ = arns
    sagemaker.add_tags(ResourceArn=image_arn, Tags=[{"Key": f"k{n:02}", "Value": str(n)} for n in range(49)])
    first = sagemaker.list_tags(ResourceArn=image_arn)
    assert len(first["Tags"]) == 50
    assert "NextToken" not in first
    sagemaker.delete_tags(ResourceArn=image_arn, TagKeys=["team"])
    sagemaker.add_tags(ResourceArn=image_arn, Tags=[{"Key": "zz", "Value": "last"}])
    assert len(tags_of(sagemaker, image_arn)) == 50


def test_fifty_tags_at_most(sagemaker, arns):
    image_arn, _ = arns
    sagemaker.add_tags(ResourceArn=image_arn, Tags=[{"Key": f"k{n}", "Value": "v"} for n in range(49)])
    with pytest.raises(ClientError) as excinfo:
        sagemaker.add_tags(ResourceArn=image_arn, Tags=[{"Key": "one-too-many", "Value": "v"}])
    assert error_of(excinfo)[0] == "ValidationException"
    # Overwriting an existing key does not count as another tag.
    sagemaker.add_tags(ResourceArn=image_arn, Tags=[{"Key": "k1", "Value": "new"}])


def test_system_prefix_is_reserved(sagemaker, arns, role_arn):
    image_arn, _ = arns
    with pytest.raises(ClientError) as excinfo:
        sagemaker.add_tags(
            ResourceArn=image_arn, Tags=[{"Key": "aws:cloudformation:stack-name", "Value": "x"}]
        )
    assert error_of(excinfo) == (
        "ValidationException",
        "System prefix 'aws:' reserved for AWS usage in tag key: aws:cloudformation:stack-name",
    )
    with pytest.raises(ClientError) as excinfo:
        sagemaker.delete_tags(ResourceArn=image_arn, TagKeys=["aws:x"])
    assert error_of(excinfo)[0] == "ValidationException"
    with pytest.raises(ClientError) as excinfo:
        sagemaker.create_image(ImageName="sys", RoleArn=role_arn, Tags=[{"Key": "aws:x", "Value": "y"}])
    assert error_of(excinfo)[0] == "ValidationException"


def test_unknown_and_foreign_arns(server, sagemaker, arns, account):
    image_arn, version_arn = arns
    missing = [
        image_arn.replace(":image/tagged", ":image/other"),
        version_arn.replace("/tagged/1", "/tagged/9"),
        f"arn:aws:sagemaker:us-east-1:{account}:training-job/tagged",
        image_arn.replace("us-east-1", "eu-west-1"),
    ]
    for arn in missing:
        for call in (
            lambda a=arn: sagemaker.list_tags(ResourceArn=a),
            lambda a=arn: sagemaker.add_tags(ResourceArn=a, Tags=[{"Key": "k", "Value": "v"}]),
            lambda a=arn: sagemaker.delete_tags(ResourceArn=a, TagKeys=["team"]),
        ):
            with pytest.raises(ClientError) as excinfo:
                call()
            code, message = error_of(excinfo)
            assert code == "ValidationException"
            assert "does not exist" in message

    # Another account can neither read nor change these tags, even with the exact ARN.
    stranger = client_for(server.endpoint, new_account())
    for call in (
        lambda: stranger.list_tags(ResourceArn=image_arn),
        lambda: stranger.add_tags(ResourceArn=image_arn, Tags=[{"Key": "k", "Value": "v"}]),
        lambda: stranger.delete_tags(ResourceArn=image_arn, TagKeys=["team"]),
    ):
        with pytest.raises(ClientError) as excinfo:
            call()
        assert error_of(excinfo)[0] == "ValidationException"
    assert tags_of(sagemaker, image_arn) == {"team": "ml"}


def test_version_tags_go_with_the_version(sagemaker, arns):
    image_arn, version_arn = arns
    sagemaker.add_tags(ResourceArn=version_arn, Tags=[{"Key": "build", "Value": "1"}])
    sagemaker.delete_image_version(ImageName="tagged", Version=1)
    with pytest.raises(ClientError):
        sagemaker.list_tags(ResourceArn=version_arn)
    assert tags_of(sagemaker, image_arn) == {"team": "ml"}


def ordered_tags(sagemaker, arn: str) -> list[tuple[str, str]]:
    pages = sagemaker.get_paginator("list_tags").paginate(ResourceArn=arn)
    return [(t["Key"], t["Value"]) for p in pages for t in p["Tags"]]


def test_tags_keep_the_order_they_were_added_in(sagemaker, role_arn):
    # Clients that patch tags by index (Terraform's awscc provider) rely on a stable order.
    created = sagemaker.create_image(
        ImageName="ordered",
        RoleArn=role_arn,
        Tags=[{"Key": "team", "Value": "ml"}, {"Key": "owner", "Value": "me"}, {"Key": "app", "Value": "x"}],
    )
    arn = created["ImageArn"]
    assert ordered_tags(sagemaker, arn) == [("team", "ml"), ("owner", "me"), ("app", "x")]
    # A changed value keeps its place; new keys go last in the order sent.
    sagemaker.add_tags(
        ResourceArn=arn,
        Tags=[{"Key": "zeta", "Value": "1"}, {"Key": "owner", "Value": "you"}, {"Key": "beta", "Value": "2"}],
    )
    assert ordered_tags(sagemaker, arn) == [
        ("team", "ml"),
        ("owner", "you"),
        ("app", "x"),
        ("zeta", "1"),
        ("beta", "2"),
    ]
    # A deleted key that comes back goes last.
    sagemaker.delete_tags(ResourceArn=arn, TagKeys=["team"])
    sagemaker.add_tags(ResourceArn=arn, Tags=[{"Key": "team", "Value": "ai"}])
    assert [key for key, _ in ordered_tags(sagemaker, arn)] == ["owner", "app", "zeta", "beta", "team"]


def test_a_foreign_list_tags_token_is_refused(sagemaker, arns):
    import base64

    token = base64.urlsafe_b64encode(b'["ListTags","k05"]').decode().rstrip("=")
    with pytest.raises(ClientError) as caught:
        sagemaker.list_tags(ResourceArn=arns[0], NextToken=token)
    assert error_of(caught) == ("ValidationException", 'Invalid pagination token because "{0}".')


def test_cloudcontrol_models_keep_tag_order_and_index_patches_land_on_their_tag(server, account, role_arn):
    # Terraform's awscc provider sends /Tags/<i>/Key when the tag count is unchanged, computed
    # against the order it last read.
    from tests.test_cloudcontrol import create, properties, update, wait

    cc = client_for(server.endpoint, account, "cloudcontrol")
    tags = [{"Key": "env", "Value": "dev"}, {"Key": "owner", "Value": "me"}]
    done = wait(
        cc,
        create(
            cc, "AWS::SageMaker::Image", {"ImageName": "by-index", "ImageRoleArn": role_arn, "Tags": tags}
        ),
    )
    assert done["OperationStatus"] == "SUCCESS"
    arn = done["Identifier"]
    assert properties(cc, "AWS::SageMaker::Image", arn)["Tags"] == tags
    patch = [
        {"op": "replace", "path": "/Tags/0/Key", "value": "team"},
        {"op": "replace", "path": "/Tags/0/Value", "value": "ml"},
    ]
    assert wait(cc, update(cc, "AWS::SageMaker::Image", arn, patch))["OperationStatus"] == "SUCCESS"
    # The tags read back in the desired order, so the next index patch lands where the client thinks.
    read = properties(cc, "AWS::SageMaker::Image", arn)["Tags"]
    assert read == [{"Key": "team", "Value": "ml"}, {"Key": "owner", "Value": "me"}]
