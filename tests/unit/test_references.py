"""Image references, routing of BaseImages to registries, and the ECR hook under moto's mock_aws."""

from __future__ import annotations

import json

import pytest

from sagemaker_images.images import references
from sagemaker_images.images.aws import EcrRegistry, botocore_clients
from sagemaker_images.images.references import MalformedReference, Reference
from sagemaker_images.images.resolution import Failed, Resolved, Resolver, Route, parse_route

DIGEST = "sha256:" + "ab" * 32


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("python:3.12-slim", Reference("docker.io", "library/python", "3.12-slim", None)),
        ("python", Reference("docker.io", "library/python", None, None)),
        ("team/app:v1", Reference("docker.io", "team/app", "v1", None)),
        ("localhost/app", Reference("localhost", "app", None, None)),
        ("127.0.0.1:5000/a/b/c:t", Reference("127.0.0.1:5000", "a/b/c", "t", None)),
        (
            f"123456789012.dkr.ecr.us-east-1.amazonaws.com/repo@{DIGEST}",
            Reference("123456789012.dkr.ecr.us-east-1.amazonaws.com", "repo", None, DIGEST),
        ),
        (f"r.io/a:t@{DIGEST}", Reference("r.io", "a", "t", DIGEST)),
    ],
)
def test_references_parse_as_container_tools_read_them(text: str, expected: Reference) -> None:
    assert references.parse(text) == expected


@pytest.mark.parametrize(
    "text", ["", "UPPER/case", "r.io/a:", "r.io/a@sha256:short", "r.io/a:t:u", "r.io//a", "a b", "r.io/-a"]
)
def test_malformed_references_are_refused(text: str) -> None:
    with pytest.raises(MalformedReference):
        references.parse(text)


def test_ecr_hosts_name_account_and_region() -> None:
    location = references.ecr_location("123456789012.dkr.ecr.eu-west-1.amazonaws.com")
    assert (location.account, location.region) == ("123456789012", "eu-west-1")
    assert references.ecr_location("123456789012.dkr.ecr-fips.us-gov-west-1.amazonaws.com") is not None
    assert references.ecr_location("registry.example.com") is None
    assert references.ecr_location("12345.dkr.ecr.us-east-1.amazonaws.com") is None


class _Answer:
    def __init__(self) -> None:
        self.asked: list[str] = []

    def resolve(self, base_image: str, reference: Reference) -> Resolved:
        self.asked.append(base_image)
        return Resolved(reference.pinned(DIGEST))


def test_routes_match_hosts_by_glob_first_match_wins() -> None:
    ecr_like, other = _Answer(), _Answer()
    resolver = Resolver([Route("*.dkr.ecr.*.amazonaws.com", ecr_like), Route("*", other)])
    uri = "111122223333.dkr.ecr.us-west-2.amazonaws.com/team/app:1"
    assert resolver.resolve(uri) == Resolved(
        f"111122223333.dkr.ecr.us-west-2.amazonaws.com/team/app@{DIGEST}"
    )
    assert resolver.resolve("python:3") == Resolved(f"docker.io/library/python@{DIGEST}")
    assert (ecr_like.asked, other.asked) == ([uri], ["python:3"])


def test_without_a_matching_route_images_are_taken_as_written_unless_ecr_is_configured() -> None:
    only_oci = Resolver([Route("registry.example.com", _Answer())])
    assert not only_oci.applies("python:3.12")
    assert only_oci.applies("registry.example.com/a:1")
    ecr_only = Resolver([], ecr=_Answer())
    assert ecr_only.applies("python:3.12")
    outcome = ecr_only.resolve("python:3.12")
    assert isinstance(outcome, Failed)
    assert outcome.reason.startswith("Invalid BaseImage 'python:3.12'. Please provide a valid Amazon Elastic")


@pytest.mark.parametrize("text", ["x", "=http://a", "p=ftp://a", "p="])
def test_route_syntax(text: str) -> None:
    with pytest.raises(ValueError, match="PATTERN=URL"):
        parse_route(text)
    assert parse_route("*.example.com=http://127.0.0.1:5000/") == ("*.example.com", "http://127.0.0.1:5000")


def test_ecr_resolution_goes_through_botocore_so_moto_mock_aws_answers(monkeypatch) -> None:
    moto = pytest.importorskip("moto")
    import boto3

    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    with moto.mock_aws():
        ecr = boto3.client("ecr", region_name="eu-west-1")
        registry_id = ecr.create_repository(repositoryName="team/app")["repository"]["registryId"]
        manifest = {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": DIGEST, "size": 2},
            "layers": [],
        }
        pushed = ecr.put_image(repositoryName="team/app", imageManifest=json.dumps(manifest), imageTag="v1")
        digest = pushed["image"]["imageId"]["imageDigest"]
        host = f"{registry_id}.dkr.ecr.eu-west-1.amazonaws.com"
        resolver = Resolver([], ecr=EcrRegistry(botocore_clients("aws", 5)))
        assert resolver.resolve(f"{host}/team/app:v1") == Resolved(f"{host}/team/app@{digest}")
        missing = resolver.resolve(f"{host}/team/app:v2")
        assert isinstance(missing, Failed) and "Requested image not found" in missing.reason
        elsewhere = resolver.resolve(f"{registry_id}.dkr.ecr.us-east-1.amazonaws.com/team/app:v1")
        assert isinstance(elsewhere, Failed) and "does not exist in the registry" in elsewhere.reason
