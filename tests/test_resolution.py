"""BaseImage resolution against a real OCI registry (Debian's docker-registry) on both backends.

Every test pushes its own images through the registry HTTP API and drives the server with boto3.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from botocore.exceptions import WaiterError

from tests.calls import wait_until
from tests.conftest import client_for, new_account
from tests.registries import (
    Auth,
    DockerRegistry,
    TokenIssuer,
    TokenServer,
    docker_config,
    registry_missing,
    silent_listener,
)
from tests.servers import ServerProcess, free_port, fresh_postgres_database
from tests.test_cloudcontrol import create, wait

pytestmark = [
    pytest.mark.external,
    pytest.mark.skipif(registry_missing() is not None, reason=str(registry_missing())),
]

HOST = "registry.example.com"  # what users write; --registry maps it to the local registry
FAST = {"Delay": 0.1, "MaxAttempts": 300}


@pytest.fixture
def db_url(backend: str, tmp_path: Path) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'state.db'}"
    else:
        with fresh_postgres_database() as url:
            yield url


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DockerRegistry]:
    with DockerRegistry(tmp_path_factory.mktemp("registry")) as process:
        yield process


@pytest.fixture
def servers(db_url: str, tmp_path: Path) -> Iterator:
    started: list[ServerProcess] = []

    def start(*args: str, env: dict[str, str] | None = None) -> ServerProcess:
        process = ServerProcess(db_url, *args, log_path=tmp_path / "server.log", env=env).start()
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop()


def image_with_role(sm, name: str = "img") -> str:
    sm.create_image(ImageName=name, RoleArn="arn:aws:iam::111122223333:role/SageMakerRole")
    sm.get_waiter("image_created").wait(ImageName=name, WaiterConfig=FAST)
    return name


def settled(sm, name: str, version: int, timeout: float = 60.0) -> dict:
    """DescribeImageVersion once it is no longer CREATING."""

    def status() -> str:
        return sm.describe_image_version(ImageName=name, Version=version)["ImageVersionStatus"]

    wait_until(lambda: status() != "CREATING", timeout, f"version {version} to leave CREATING")
    return sm.describe_image_version(ImageName=name, Version=version)


def create_version(sm, name: str, base_image: str) -> int:
    arn = sm.create_image_version(ImageName=name, BaseImage=base_image)["ImageVersionArn"]
    return int(arn.rsplit("/", 1)[1])


def test_tag_is_pinned_to_its_digest_and_moving_it_later_changes_nothing(servers, registry):
    first = registry.push_image("team/app", "v1")
    server = servers("--registry", f"{HOST}={registry.url}")
    sm = client_for(server.endpoint, new_account())
    name = image_with_role(sm)

    arn = sm.create_image_version(ImageName=name, BaseImage=f"{HOST}/team/app:v1")["ImageVersionArn"]
    assert arn.endswith(f"image-version/{name}/1")
    sm.get_waiter("image_version_created").wait(ImageName=name, Version=1, WaiterConfig=FAST)
    described = sm.describe_image_version(ImageName=name, Version=1)
    assert described["ImageVersionStatus"] == "CREATED"
    assert described["BaseImage"] == f"{HOST}/team/app:v1"
    assert described["ContainerImage"] == f"{HOST}/team/app@{first}"
    assert "FailureReason" not in described

    moved = registry.push_image("team/app", "v1")  # the tag now names another image
    assert moved != first
    version = create_version(sm, name, f"{HOST}/team/app:v1")
    assert settled(sm, name, version)["ContainerImage"] == f"{HOST}/team/app@{moved}"
    assert (
        sm.describe_image_version(ImageName=name, Version=1)["ContainerImage"] == f"{HOST}/team/app@{first}"
    )
    listed = sm.list_image_versions(ImageName=name)["ImageVersions"]
    assert [v["ImageVersionStatus"] for v in listed] == ["CREATED", "CREATED"]


def test_manifest_kinds_digests_and_hosts(servers, registry):
    docker_digest = registry.push_image("kinds/docker", "v2", oci=False)
    oci_digest = registry.push_image("kinds/oci", "latest")
    index_digest, children = registry.push_index("kinds/multi", "v3")
    server = servers(
        "--registry", f"*.example.com={registry.url}", "--registry", f"other.test={registry.url}"
    )
    sm = client_for(server.endpoint, new_account())
    name = image_with_role(sm)
    cases = {
        f"{HOST}/kinds/docker:v2": f"{HOST}/kinds/docker@{docker_digest}",
        # No tag means latest, as for every container tool.
        "eu.example.com/kinds/oci": f"eu.example.com/kinds/oci@{oci_digest}",
        # An image index pins to the index's own digest, not one platform's.
        f"{HOST}/kinds/multi:v3": f"{HOST}/kinds/multi@{index_digest}",
        f"other.test/kinds/multi@{children[1]}": f"other.test/kinds/multi@{children[1]}",
    }
    versions = {base: create_version(sm, name, base) for base in cases}
    for base, expected in cases.items():
        described = settled(sm, name, versions[base])
        assert (described["ImageVersionStatus"], described.get("ContainerImage")) == ("CREATED", expected)

    # A host no pattern matches is taken as written, as without resolution.
    version = create_version(sm, name, "python:3.12-slim")
    described = sm.describe_image_version(ImageName=name, Version=version)
    assert (described["ImageVersionStatus"], described["ContainerImage"]) == ("CREATED", "python:3.12-slim")


def test_missing_tag_repository_digest_and_malformed_references_fail(servers, registry):
    registry.push_image("team/present", "v1")
    server = servers("--registry", f"{HOST}={registry.url}")
    sm = client_for(server.endpoint, new_account())
    name = image_with_role(sm)
    absent = "sha256:" + "0" * 64
    cases = {
        f"{HOST}/team/present:v9": f"The image '{HOST}/team/present:v9' does not exist. Requested image not "
        "found: no manifest with tag v9 in the repository with name 'team/present'.",
        f"{HOST}/team/absent:v1": f"The image '{HOST}/team/absent:v1' does not exist. The repository with "
        f"name 'team/absent' does not exist in the registry {HOST}.",
        f"{HOST}/team/present@{absent}": f"The image '{HOST}/team/present@{absent}' does not exist. Requested "
        f"image not found: no manifest with digest {absent} in the repository with name 'team/present'.",
        f"{HOST}/Team/UPPER:v1": f"Invalid BaseImage '{HOST}/Team/UPPER:v1'. Please provide a valid Amazon "
        "Elastic Container Registry path of the Docker image (invalid repository name 'Team/UPPER').",
    }
    versions = {base: create_version(sm, name, base) for base in cases}
    for base, reason in cases.items():
        described = settled(sm, name, versions[base])
        assert described["ImageVersionStatus"] == "CREATE_FAILED"
        assert described["FailureReason"] == reason
        assert "ContainerImage" not in described

    # boto3's waiter stops on CREATE_FAILED, as against AWS.
    with pytest.raises(WaiterError, match="terminal failure state"):
        sm.get_waiter("image_version_created").wait(
            ImageName=name, Version=versions[f"{HOST}/team/present:v9"], WaiterConfig=FAST
        )
    summaries = sm.list_image_versions(ImageName=name)["ImageVersions"]
    assert {s["ImageVersionStatus"] for s in summaries} == {"CREATE_FAILED"}
    assert all(s["FailureReason"] for s in summaries)
    # A failed version can be deleted like any other.
    sm.delete_image_version(ImageName=name, Version=versions[f"{HOST}/team/absent:v1"])


@pytest.mark.parametrize("kind", ["basic", "token"])
def test_authenticated_registry_with_right_wrong_and_no_credentials(kind, servers, tmp_path):
    issuer = TokenIssuer(tmp_path) if kind == "token" else None
    with contextlib.ExitStack() as stack:
        token_server = None
        if issuer is not None:
            token_server = stack.enter_context(TokenServer(issuer, "puller", "right-password"))
        auth = Auth(kind, user="puller", password="right-password", token_server=token_server)
        registry = stack.enter_context(DockerRegistry(tmp_path / "registry", auth))
        digest = registry.push_image("private/app", "v1")
        base = f"{HOST}/private/app:v1"
        outcomes = {}
        for label, password in (("right", "right-password"), ("wrong", "wrong-password"), ("none", None)):
            env = {"DOCKER_CONFIG": str(tmp_path / f"nowhere-{label}")}
            if password is not None:
                # Credentials keyed by the host the user writes, as `docker login` stores them.
                env["DOCKER_CONFIG"] = str(docker_config(tmp_path / label, HOST, "puller", password))
            server = servers("--registry", f"{HOST}={registry.url}", env=env)
            sm = client_for(server.endpoint, new_account())
            name = image_with_role(sm)
            outcomes[label] = settled(sm, name, create_version(sm, name, base))
            server.stop()
    assert outcomes["right"]["ImageVersionStatus"] == "CREATED"
    assert outcomes["right"]["ContainerImage"] == f"{HOST}/private/app@{digest}"
    for label in ("wrong", "none"):
        assert outcomes[label]["ImageVersionStatus"] == "CREATE_FAILED"
        assert outcomes[label]["FailureReason"].startswith(
            f"Cannot pull the image '{base}'. Either the image does not exist or its permissions are incorrect."
        )
    assert "none are configured" in outcomes["none"]["FailureReason"]
    if token_server is not None:
        assert token_server.requests >= 2  # tokens were asked for with the right and the wrong password


@pytest.mark.long
def test_unreachable_registry_is_retried_a_bounded_number_of_times(servers):
    closed = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    server = servers("--registry", f"{HOST}={closed}", "--registry-attempts", "3")
    sm = client_for(server.endpoint, new_account())
    name = image_with_role(sm)
    version = create_version(sm, name, f"{HOST}/team/app:v1")
    assert sm.describe_image_version(ImageName=name, Version=version)["ImageVersionStatus"] == "CREATING"
    described = settled(sm, name, version)
    assert described["ImageVersionStatus"] == "CREATE_FAILED"
    assert described["FailureReason"].startswith(
        f"Unable to pull the image '{HOST}/team/app:v1': its registry could not be reached after 3 attempts ("
    )
    log = Path(server.log_path).read_text()
    assert log.count(f"({HOST}/team/app:v1): registry unreachable") == 3


@pytest.mark.long
def test_a_registry_that_hangs_never_holds_up_the_api(servers):
    with silent_listener() as port:
        server = servers(
            "--registry",
            f"{HOST}=http://127.0.0.1:{port}",
            "--registry-timeout",
            "4",
            "--registry-attempts",
            "1",
        )
        sm = client_for(server.endpoint, new_account())
        name = image_with_role(sm)
        versions = [create_version(sm, name, f"{HOST}/slow/app:v{i}") for i in range(3)]
        # While the registry holds every connection open, every call answers, and says CREATING.
        for _ in range(20):
            assert (
                sm.describe_image_version(ImageName=name, Version=versions[0])["ImageVersionStatus"]
                == "CREATING"
            )
            assert len(sm.list_image_versions(ImageName=name)["ImageVersions"]) == 3
            sm.describe_image(ImageName=name)
        other = image_with_role(sm, "other")
        assert create_version(sm, other, "python:3.12") == 1
        for version in versions:
            described = settled(sm, name, version)
            assert described["ImageVersionStatus"] == "CREATE_FAILED"
            assert "could not be reached after 1 attempts" in described["FailureReason"]


@pytest.mark.long
def test_kill_9_during_resolution_the_next_process_finishes_it(servers, registry):
    digest = registry.push_image("crash/app", "v1")
    with silent_listener() as port:
        # The first process claims the version and hangs on a registry that never answers.
        first = servers("--registry", f"{HOST}=http://127.0.0.1:{port}", "--registry-timeout", "1")
        account = new_account()
        sm = client_for(first.endpoint, account)
        name = image_with_role(sm)
        version = create_version(sm, name, f"{HOST}/crash/app:v1")
        time.sleep(0.5)  # long enough for the background check to claim it
        first.kill()
    # Another process (a restart, or a replica on the same database) finishes it once the lease is up.
    second = servers("--registry", f"{HOST}={registry.url}", "--registry-timeout", "1")
    sm2 = client_for(second.endpoint, account)
    assert sm2.describe_image_version(ImageName=name, Version=version)["ImageVersionStatus"] == "CREATING"
    described = settled(sm2, name, version)
    assert described["ImageVersionStatus"] == "CREATED"
    assert described["ContainerImage"] == f"{HOST}/crash/app@{digest}"


@pytest.mark.long
def test_pending_versions_are_settled_as_written_when_resolution_is_turned_off(servers):
    with silent_listener() as port:
        # The first process may die holding the version's lease: the next one waits for it to expire.
        first = servers("--registry", f"{HOST}=http://127.0.0.1:{port}", "--registry-timeout", "1")
        account = new_account()
        sm = client_for(first.endpoint, account)
        name = image_with_role(sm)
        version = create_version(sm, name, f"{HOST}/team/app:v1")
        time.sleep(0.5)  # long enough for the background check to claim it
        first.kill()
    second = servers()
    described = settled(client_for(second.endpoint, account), name, version)
    assert (described["ImageVersionStatus"], described["ContainerImage"]) == (
        "CREATED",
        f"{HOST}/team/app:v1",
    )


def test_cloud_control_waits_for_resolution_and_reports_its_outcome(servers, registry):
    digest = registry.push_image("cc/app", "v1")
    server = servers("--registry", f"{HOST}={registry.url}")
    account = new_account()
    sm = client_for(server.endpoint, account)
    cc = client_for(server.endpoint, account, "cloudcontrol")
    name = image_with_role(sm)
    version_type = "AWS::SageMaker::ImageVersion"

    event = wait(cc, create(cc, version_type, {"ImageName": name, "BaseImage": f"{HOST}/cc/app:v1"}))
    assert event["OperationStatus"] == "SUCCESS"
    model = json.loads(
        cc.get_resource(TypeName=version_type, Identifier=event["Identifier"])["ResourceDescription"][
            "Properties"
        ]
    )
    assert model["ContainerImage"] == f"{HOST}/cc/app@{digest}"

    event = wait(cc, create(cc, version_type, {"ImageName": name, "BaseImage": f"{HOST}/cc/app:missing"}))
    assert (event["OperationStatus"], event["ErrorCode"]) == ("FAILED", "GeneralServiceException")
    assert f"{version_type} [{event['Identifier']}] failed to create." in event["StatusMessage"]
    assert settled(sm, name, 2)["ImageVersionStatus"] == "CREATE_FAILED"
