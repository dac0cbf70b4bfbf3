"""Terraform's awscc provider and Pulumi AWS Native, as far as they touch the server: their Cloud Control
call sequences and JSON Patch generation (tests/iac.py, reproduced from their source), including updates
that keep the tag count (index paths such as /Tags/0/Key), import, and plans that must show no drift."""

from __future__ import annotations

import pytest

from tests.conftest import client_for
from tests.consumers import moving_server
from tests.iac import CloudControl, awscc_patch, awscc_read, create_patch, drift, pulumi_patch

__all__ = ["moving_server"]

IMAGE = "AWS::SageMaker::Image"


def tags(*pairs: str) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in (pair.split("=") for pair in pairs)]


def test_the_reproduced_patch_generators():
    old = {"ImageName": "x", "Tags": tags("env=dev", "owner=me")}
    new = {"ImageName": "x", "Tags": tags("team=ml", "owner=me")}
    index_ops = [
        {"op": "replace", "path": "/Tags/0/Key", "value": "team"},
        {"op": "replace", "path": "/Tags/0/Value", "value": "ml"},
    ]
    assert create_patch(old, new) == index_ops
    # Index-ended paths only are replaced wholesale by newer awscc builds: these are not index-ended.
    assert awscc_patch(old, new, generation=2025) == index_ops
    assert awscc_patch(old, new, generation=2026) == index_ops
    longer = {"ImageName": "x", "Tags": tags("env=dev")}
    assert awscc_patch(old, longer, generation=2025) == [{"op": "remove", "path": "/Tags/1"}]
    assert awscc_patch(old, longer, generation=2026) == [
        {"op": "replace", "path": "/Tags", "value": tags("env=dev")}
    ]
    assert pulumi_patch(
        {"ImageName": "x", "ImageDescription": "d", "Tags": tags("a=1")},
        {"ImageName": "x", "Tags": tags("a=2")},
    ) == [
        {"op": "remove", "path": "/ImageDescription"},
        {"op": "replace", "path": "/Tags", "value": tags("a=2")},
    ]


def awscc_flow(cc: CloudControl, sagemaker, role_arn: str, name: str, generation: int) -> None:
    def apply(config: dict, state: dict, identifier: str) -> dict:
        planned = {**state, **config}
        patch = awscc_patch(state, planned, generation=generation)
        return awscc_read(cc.update(identifier, patch), planned, generation=generation)

    config = {"ImageName": name, "ImageRoleArn": role_arn, "Tags": tags("team=ml", "owner=me")}
    identifier, model = cc.create(config)
    state = awscc_read(model, None, generation=generation)
    assert drift(config, state) == {}

    # Same count, a value changed: replace /Tags/0/Value lands on "team" and keeps its place.
    config = {**config, "Tags": tags("team=ai", "owner=me")}
    state = apply(config, state, identifier)
    assert cc.patches[-1] == [{"op": "replace", "path": "/Tags/0/Value", "value": "ai"}]
    assert drift(config, state) == {}
    assert sagemaker.list_tags(ResourceArn=identifier)["Tags"] == tags("team=ai", "owner=me")

    # Same count, a key renamed: /Tags/0/Key and /Tags/0/Value land on the tag at index 0.
    config = {**config, "Tags": tags("env=dev", "owner=me")}
    state = apply(config, state, identifier)
    assert cc.patches[-1] == [
        {"op": "replace", "path": "/Tags/0/Key", "value": "env"},
        {"op": "replace", "path": "/Tags/0/Value", "value": "dev"},
    ]
    listed = sagemaker.list_tags(ResourceArn=identifier)["Tags"]
    assert sorted(map(tuple, (t.values() for t in listed))) == [("env", "dev"), ("owner", "me")]
    # Cloud Control leaves tags in the desired order, so the next index patch lands where awscc thinks.
    assert listed == tags("env=dev", "owner=me")
    assert drift(config, state) == {}

    # A description added, a tag added and one removed.
    config = {**config, "ImageDescription": "managed", "Tags": tags("env=dev", "app=x")}
    state = apply(config, state, identifier)
    assert drift(config, state) == {}
    assert sagemaker.describe_image(ImageName=name)["Description"] == "managed"

    # A plan against an unchanged configuration is empty: no call at all.
    assert awscc_patch(state, {**state, **config}, generation=generation) == []

    cc.delete(identifier)
    assert sagemaker.list_images(NameContains=name)["Images"] == []


@pytest.mark.parametrize("generation", [2025, 2026])
def test_awscc_updates_import_and_plans(server, account, role_arn, generation):
    sagemaker = client_for(server.endpoint, account)
    cc = CloudControl(client_for(server.endpoint, account, "cloudcontrol"), IMAGE)
    awscc_flow(cc, sagemaker, role_arn, f"tf-{generation}", generation)

    # terraform import: a resource made elsewhere, read by its identifier; the first plan shows nothing.
    created = sagemaker.create_image(
        ImageName=f"imported-{generation}", RoleArn=role_arn, Tags=tags("zeta=1", "alpha=2", "mid=3")
    )
    state = awscc_read(cc.read(created["ImageArn"]), None, generation=generation)
    config = {
        "ImageName": f"imported-{generation}",
        "ImageRoleArn": role_arn,
        "Tags": tags("zeta=1", "alpha=2", "mid=3"),
    }
    assert drift(config, state) == {}
    assert awscc_patch(state, {**state, **config}, generation=generation) == []


def test_awscc_on_a_server_whose_statuses_move(moving_server, role_arn, account):
    sagemaker = client_for(moving_server.endpoint, account)
    cc = CloudControl(client_for(moving_server.endpoint, account, "cloudcontrol"), IMAGE)
    awscc_flow(cc, sagemaker, role_arn, "tf-moving", 2025)


def test_pulumi_updates_import_and_previews(server, account, role_arn):
    sagemaker = client_for(server.endpoint, account)
    cc = CloudControl(client_for(server.endpoint, account, "cloudcontrol"), IMAGE)
    inputs = {
        "ImageName": "pulumi-img",
        "ImageRoleArn": role_arn,
        "ImageDescription": "d",
        "Tags": tags("team=ml", "owner=me"),
    }
    identifier, outputs = cc.create(inputs)

    def refreshed(outputs: dict) -> dict:
        return {
            k: v
            for k, v in outputs.items()
            if k in inputs or k in ("ImageDisplayName", "ImageDescription", "Tags")
        }

    assert drift(inputs, refreshed(outputs)) == {}
    new = {**inputs, "Tags": tags("team=ai", "owner=me")}
    outputs = cc.update(identifier, pulumi_patch(inputs, new))
    assert cc.patches[-1] == [{"op": "replace", "path": "/Tags", "value": tags("team=ai", "owner=me")}]
    assert drift(new, refreshed(outputs)) == {}
    inputs, new = new, {k: v for k, v in new.items() if k != "ImageDescription"} | {"ImageDisplayName": "P"}
    outputs = cc.update(identifier, pulumi_patch(inputs, new))
    assert cc.patches[-1] == [
        {"op": "remove", "path": "/ImageDescription"},
        {"op": "add", "path": "/ImageDisplayName", "value": "P"},
    ]
    assert "ImageDescription" not in outputs
    assert drift(new, refreshed(outputs)) == {}
    assert pulumi_patch(new, refreshed(outputs)) == []

    # pulumi import, then a preview of a program written in the same order: no changes.
    created = sagemaker.create_image(ImageName="pulumi-imported", RoleArn=role_arn, Tags=tags("b=1", "a=2"))
    imported = refreshed(cc.read(created["ImageArn"]))
    program = {"ImageName": "pulumi-imported", "ImageRoleArn": role_arn, "Tags": tags("b=1", "a=2")}
    assert pulumi_patch(imported, program) == []
    cc.delete(identifier)
