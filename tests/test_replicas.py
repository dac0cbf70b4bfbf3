"""Several stateless replicas on one database stay correct: the database, not a process, holds every rule.

Two real server processes on one database (PostgreSQL, and SQLite where two processes share one WAL
file), shared by the module's tests as accounts of their own, driven at once from threads, one boto3
client per thread. Tests that kill or restart a replica start their own, on their own database.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
import psycopg
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, WaiterError

from sagemaker_images.store import open_database
from sagemaker_images.store.database import RETRY_ATTEMPTS, Database
from tests.calls import FAST_WAITER
from tests.conftest import client_for
from tests.servers import POSTGRES_URL, ServerProcess, fresh_postgres_database, postgres_available

# One Session for the module's clients, used under a lock: Sessions are not thread-safe, and a Session
# per test or per thread would parse the large SageMaker model again for each.
SESSION = boto3.session.Session(region_name="us-east-1")
SESSION_LOCK = threading.Lock()


class ThreadClients:
    """One boto3 client per (thread, replica), as the test's account; a client, once made, is used by
    its own thread only."""

    def __init__(self, account: str, service: str = "sagemaker") -> None:
        self.service = service
        self.account = account
        self.local = threading.local()

    def __call__(self, endpoint: str):
        clients = self.local.__dict__.setdefault("clients", {})
        if endpoint not in clients:
            with SESSION_LOCK:
                clients[endpoint] = SESSION.client(
                    self.service,
                    endpoint_url=endpoint,
                    aws_access_key_id=self.account,
                    aws_secret_access_key="secret",
                    # No client retries: every answer the servers give is the one the test sees.
                    config=Config(retries={"max_attempts": 1, "mode": "standard"}, max_pool_connections=2),
                )
        return clients[endpoint]


def run_together(calls: Iterable[Callable[[], Any]], threads: int = 32) -> list[Any]:
    """Run the calls at once; each result is the return value or the ClientError raised."""

    def outcome(call: Callable[[], Any]) -> Any:
        try:
            return call()
        except ClientError as error:
            return error

    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(outcome, list(calls)))


def error_code(result: Any) -> str | None:
    return result.response["Error"]["Code"] if isinstance(result, ClientError) else None


@pytest.fixture
def replicas(shared_servers) -> tuple[ServerProcess, ServerProcess]:
    """Two replicas on one database, shared by the module's tests (each test is its own account)."""
    return shared_servers(replica=0), shared_servers(replica=1)


@pytest.fixture
def clients(account) -> ThreadClients:
    return ThreadClients(account)


def version_of(arn: str) -> int:
    return int(arn.rsplit("/", 1)[1])


def all_versions(client, image: str) -> list[int]:
    pages = client.get_paginator("list_image_versions").paginate(ImageName=image, SortBy="VERSION")
    return sorted(v["Version"] for page in pages for v in page["ImageVersions"])


def test_200_concurrent_version_creates_over_two_replicas_number_1_to_200(
    replicas, clients, account, role_arn
):
    a, b = replicas
    client_for(a.endpoint, account).create_image(ImageName="busy", RoleArn=role_arn)

    def create(n: int) -> Callable[[], str]:
        server = replicas[n % 2]
        return lambda: clients(server.endpoint).create_image_version(ImageName="busy", BaseImage=f"b:{n}")[
            "ImageVersionArn"
        ]

    results = run_together(create(n) for n in range(200))

    assert [r for r in results if not isinstance(r, str)] == []
    assert sorted(version_of(arn) for arn in results) == list(range(1, 201))
    assert all_versions(client_for(b.endpoint, account), "busy") == list(range(1, 201))
    # Numbers are never reused: the next one continues the sequence on either replica.
    next_arn = client_for(b.endpoint, account).create_image_version(ImageName="busy", BaseImage="b:next")
    assert version_of(next_arn["ImageVersionArn"]) == 201


def test_one_name_created_on_both_replicas_at_once_exactly_one_wins(replicas, clients, account, role_arn):
    names = [f"race-{n}" for n in range(20)]

    def create(name: str, server: ServerProcess) -> Callable[[], str]:
        return lambda: clients(server.endpoint).create_image(ImageName=name, RoleArn=role_arn)["ImageArn"]

    # Case differs on purpose: names are unique case-insensitively.
    calls = [
        create(name if i == 0 else name.upper(), server)
        for name in names
        for i, server in enumerate(replicas)
    ]
    results = run_together(calls, threads=8)

    for name, pair in zip(names, zip(results[::2], results[1::2], strict=True), strict=True):
        wins = [r for r in pair if isinstance(r, str)]
        losses = [error_code(r) for r in pair if not isinstance(r, str)]
        assert len(wins) == 1, (name, pair)
        assert losses == ["ResourceInUse"], (name, pair)
    listed = client_for(replicas[1].endpoint, account).list_images(MaxResults=100)["Images"]
    assert sorted(i["ImageName"].lower() for i in listed) == sorted(names)


def test_same_client_token_on_both_replicas_gives_one_version(replicas, clients, account, role_arn):
    client_for(replicas[0].endpoint, account).create_image(ImageName="tokens", RoleArn=role_arn)
    tokens = [str(uuid.uuid4()) for _ in range(30)]

    def create(token: str, server: ServerProcess) -> Callable[[], str]:
        return lambda: clients(server.endpoint).create_image_version(
            ImageName="tokens", BaseImage="b:1", ClientToken=token
        )["ImageVersionArn"]

    results = run_together([create(token, server) for token in tokens for server in replicas], threads=16)

    assert [r for r in results if not isinstance(r, str)] == []
    for first, second in zip(results[::2], results[1::2], strict=True):
        assert first == second
    assert sorted(version_of(arn) for arn in results[::2]) == list(range(1, 31))
    assert all_versions(client_for(replicas[1].endpoint, account), "tokens") == list(range(1, 31))


def test_one_alias_added_to_two_versions_on_two_replicas_exactly_one_wins(
    replicas, clients, account, role_arn
):
    setup = client_for(replicas[0].endpoint, account)
    setup.create_image(ImageName="aliases", RoleArn=role_arn)
    for n in range(2):
        setup.create_image_version(ImageName="aliases", BaseImage=f"b:{n}")
    aliases = [f"alias-{n}" for n in range(15)]

    def add(alias: str, version: int) -> Callable[[], str]:
        server = replicas[version - 1]
        return lambda: clients(server.endpoint).update_image_version(
            ImageName="aliases", Version=version, AliasesToAdd=[alias]
        )["ImageVersionArn"]

    results = run_together([add(alias, version) for alias in aliases for version in (1, 2)], threads=8)

    reader = client_for(replicas[1].endpoint, account)
    for alias, pair in zip(aliases, zip(results[::2], results[1::2], strict=True), strict=True):
        wins = [version_of(r) for r in pair if isinstance(r, str)]
        assert len(wins) == 1, (alias, pair)
        assert [error_code(r) for r in pair if not isinstance(r, str)] == ["ResourceInUse"]
        assert reader.describe_image_version(ImageName="aliases", Alias=alias)["Version"] == wins[0]
        holders = [
            v
            for v in (1, 2)
            if reader.list_aliases(ImageName="aliases", Version=v, Alias=alias)[
                "SageMakerImageVersionAliases"
            ]
        ]
        assert holders == wins


def test_one_alias_on_two_concurrent_new_versions_exactly_one_wins(replicas, clients, account, role_arn):
    client_for(replicas[0].endpoint, account).create_image(ImageName="new-alias", RoleArn=role_arn)

    def create(n: int) -> Callable[[], str]:
        server = replicas[n % 2]
        return lambda: clients(server.endpoint).create_image_version(
            ImageName="new-alias", BaseImage=f"b:{n}", Aliases=[f"shared-{n // 2}"]
        )["ImageVersionArn"]

    results = run_together(create(n) for n in range(20))

    for pair in zip(results[::2], results[1::2], strict=True):
        assert len([r for r in pair if isinstance(r, str)]) == 1, pair
        assert [error_code(r) for r in pair if not isinstance(r, str)] == ["ResourceInUse"]
    # A refused create takes no number: the ten winners are 1..10.
    assert all_versions(client_for(replicas[1].endpoint, account), "new-alias") == list(range(1, 11))


def test_tag_writes_on_both_replicas_never_collide(replicas, clients, account, role_arn):
    arn = client_for(replicas[0].endpoint, account).create_image(ImageName="tagged", RoleArn=role_arn)[
        "ImageArn"
    ]
    keys = [f"k{n}" for n in range(6)]

    def add(n: int) -> Callable[[], dict]:
        server = replicas[n % 2]
        # The same keys in another order each time: row locks taken in different orders.
        order = keys[n % 6 :] + keys[: n % 6]
        tags = [{"Key": k, "Value": f"v{n}"} for k in (order if n % 2 else reversed(order))]
        return lambda: clients(server.endpoint).add_tags(ResourceArn=arn, Tags=tags)

    results = run_together(add(n) for n in range(60))

    assert [r for r in results if isinstance(r, ClientError)] == []
    listed = client_for(replicas[1].endpoint, account).list_tags(ResourceArn=arn)["Tags"]
    assert sorted(t["Key"] for t in listed) == keys
    assert len({t["Value"] for t in listed}) == 1  # one AddTags wrote them all, the last one


def test_tagging_an_image_being_deleted_on_the_other_replica(replicas, clients, account, role_arn):
    setup = client_for(replicas[0].endpoint, account)
    names = [f"doomed-{n}" for n in range(15)]
    arns = [setup.create_image(ImageName=name, RoleArn=role_arn)["ImageArn"] for name in names]

    def delete(name: str) -> Callable[[], dict]:
        return lambda: clients(replicas[0].endpoint).delete_image(ImageName=name)

    def tag(arn: str) -> Callable[[], dict]:
        return lambda: clients(replicas[1].endpoint).add_tags(
            ResourceArn=arn, Tags=[{"Key": "k", "Value": "v"}]
        )

    calls = [call for name, arn in zip(names, arns, strict=True) for call in (delete(name), tag(arn))]
    results = run_together(calls, threads=8)

    for deleted, tagged in zip(results[::2], results[1::2], strict=True):
        assert not isinstance(deleted, ClientError), deleted
        # Tagged before the delete, or refused after it: never an internal error.
        assert not isinstance(tagged, ClientError) or error_code(tagged) == "ValidationException", tagged
    assert client_for(replicas[1].endpoint, account).list_images()["Images"] == []


def test_image_quota_holds_across_replicas(shared_servers, clients, account, role_arn):
    replicas = tuple(shared_servers("--max-images", "5", replica=n) for n in (0, 1))

    def create(n: int) -> Callable[[], str]:
        server = replicas[n % 2]
        return lambda: clients(server.endpoint).create_image(ImageName=f"q-{n}", RoleArn=role_arn)["ImageArn"]

    results = run_together(create(n) for n in range(24))

    assert len([r for r in results if isinstance(r, str)]) == 5
    assert {error_code(r) for r in results if not isinstance(r, str)} == {"ResourceLimitExceeded"}
    assert len(client_for(replicas[1].endpoint, account).list_images(MaxResults=100)["Images"]) == 5


def wait_for(describe: Callable[[], dict], status_member: str, wanted: str) -> tuple[dict, list[str]]:
    """Poll until the status is ``wanted``; returns the last answer and every status seen."""
    seen: list[str] = []
    deadline = time.monotonic() + 60
    while True:
        answer = describe()
        seen.append(answer[status_member])
        if answer[status_member] == wanted or time.monotonic() > deadline:
            return answer, seen
        time.sleep(0.2)


@pytest.mark.long
def test_transitions_started_on_a_killed_replica_finish_on_the_other(start_server, account, role_arn):
    a = start_server("--transition-delay", "2")
    b = start_server("--transition-delay", "2")
    on_a, on_b = client_for(a.endpoint, account), client_for(b.endpoint, account)
    on_a.create_image(ImageName="handover", RoleArn=role_arn)
    image, _ = wait_for(lambda: on_a.describe_image(ImageName="handover"), "ImageStatus", "CREATED")
    assert image["ImageStatus"] == "CREATED"
    on_a.create_image_version(ImageName="handover", BaseImage="b:1")
    on_a.update_image(ImageName="handover", Description="changed on a")
    a.kill()

    version, seen = wait_for(
        lambda: on_b.describe_image_version(ImageName="handover", Version=1), "ImageVersionStatus", "CREATED"
    )
    assert set(seen) <= {"CREATING", "CREATED"} and seen[-1] == "CREATED", seen
    # The completion time is the one replica A recorded: start + the 2 s delay.
    took = version["LastModifiedTime"] - version["CreationTime"]
    assert took.total_seconds() == pytest.approx(2, abs=0.002)
    image, seen = wait_for(lambda: on_b.describe_image(ImageName="handover"), "ImageStatus", "CREATED")
    assert set(seen) <= {"UPDATING", "CREATED"} and seen[-1] == "CREATED", seen
    assert image["Description"] == "changed on a"
    # Work continues on the survivor: the next number follows the one A handed out.
    assert (
        version_of(on_b.create_image_version(ImageName="handover", BaseImage="b:2")["ImageVersionArn"]) == 2
    )


def final_event(cc, token: str) -> dict:
    """The request's last ProgressEvent, through boto3's waiter (FAILED ends it with an error)."""
    with contextlib.suppress(WaiterError):
        cc.get_waiter("resource_request_success").wait(RequestToken=token, WaiterConfig=FAST_WAITER)
    return cc.get_resource_request_status(RequestToken=token)["ProgressEvent"]


@pytest.mark.long
def test_cloud_control_request_started_on_a_killed_replica_finishes_on_the_other(
    start_server, account, role_arn
):
    a = start_server("--transition-delay", "2")
    b = start_server("--transition-delay", "2")
    cc_a = client_for(a.endpoint, account, "cloudcontrol")
    cc_b = client_for(b.endpoint, account, "cloudcontrol")
    desired = json.dumps({"ImageName": "via-cc", "ImageRoleArn": role_arn})
    started = cc_a.create_resource(TypeName="AWS::SageMaker::Image", DesiredState=desired, ClientToken="cc-1")
    token = started["ProgressEvent"]["RequestToken"]
    a.kill()

    event = final_event(cc_b, token)
    assert event["OperationStatus"] == "SUCCESS", event
    assert event["Identifier"] == f"arn:aws:sagemaker:us-east-1:{account}:image/via-cc"
    image = client_for(b.endpoint, account).describe_image(ImageName="via-cc")
    assert image["ImageStatus"] == "CREATED"
    # The survivor knows the client token A recorded: a retry is the same request.
    again = cc_b.create_resource(TypeName="AWS::SageMaker::Image", DesiredState=desired, ClientToken="cc-1")
    assert again["ProgressEvent"]["RequestToken"] == token


def test_one_cloud_control_client_token_on_both_replicas_is_one_request(replicas, account, role_arn):
    clients = ThreadClients(account, "cloudcontrol")
    names = [f"cc-race-{n}" for n in range(10)]

    def create(name: str, server: ServerProcess) -> Callable[[], str]:
        desired = json.dumps({"ImageName": name, "ImageRoleArn": role_arn})
        return lambda: clients(server.endpoint).create_resource(
            TypeName="AWS::SageMaker::Image", DesiredState=desired, ClientToken=f"token-{name}"
        )["ProgressEvent"]["RequestToken"]

    results = run_together([create(name, server) for name in names for server in replicas], threads=8)

    assert [r for r in results if not isinstance(r, str)] == []
    for first, second in zip(results[::2], results[1::2], strict=True):
        assert first == second
    for token in results[::2]:
        assert final_event(clients(replicas[1].endpoint), token)["OperationStatus"] == "SUCCESS"
    listed = client_for(replicas[0].endpoint, account).list_images(MaxResults=100)["Images"]
    assert sorted(i["ImageName"] for i in listed) == names


# -- PostgreSQL: conflicts, outages, retries ---------------------------------------------------------


@pytest.fixture
def postgres_url(backend: str, database_url: str) -> str:
    if backend != "postgres":
        pytest.skip("PostgreSQL only: SQLite has no server to lose and no deadlocks (one writer at a time)")
    return database_url


@pytest.mark.long
def test_a_database_that_is_away_answers_503_and_the_pool_recovers(
    postgres_url, start_server, account, role_arn
):
    server = start_server()
    client = client_for(server.endpoint, account)
    client.create_image(ImageName="outage", RoleArn=role_arn)
    name = postgres_url.rsplit("/", 1)[1]
    with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
        admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        try:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,)
            )
            with pytest.raises(ClientError) as away:
                client.describe_image(ImageName="outage")
            assert away.value.response["Error"]["Code"] == "ServiceUnavailable"
            assert away.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
        finally:
            admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
    # Back: the very next requests succeed on fresh connections, nothing was lost.
    assert client.describe_image(ImageName="outage")["ImageName"] == "outage"
    client.create_image_version(ImageName="outage", BaseImage="b:1")
    assert all_versions(client, "outage") == [1]


def test_a_deadlocked_transaction_is_run_again(postgres_url):
    """Two transactions lock two image rows in opposite orders; PostgreSQL aborts one, which is retried."""
    database = open_database(postgres_url)
    try:
        ids = [_insert_image(database, f"lock-{n}") for n in range(2)]
        attempts: list[str] = []
        barrier = threading.Barrier(2)

        def transfer(who: str, first: int, second: int) -> str:
            attempts.append(who)
            with database.write() as q:
                q.update_image(first, {"description": who})
                if attempts.count(who) == 1:
                    barrier.wait(timeout=30)  # both hold their first row: the next step deadlocks
                q.update_image(second, {"description": who})
            return who

        with ThreadPoolExecutor(2) as pool:
            done = list(
                pool.map(
                    lambda args: database.retrying(transfer)(*args),
                    [("left", ids[0], ids[1]), ("right", ids[1], ids[0])],
                )
            )
        assert done == ["left", "right"]
        # One of the two ran again (the deadlock's victim); a retry may itself meet a serialisation
        # failure while the other commits and run once more: each runs at most RETRY_ATTEMPTS times.
        assert 3 <= len(attempts) <= 2 * RETRY_ATTEMPTS
        with database.read() as q:
            last = {q.conn.execute(_description(i)).scalar_one() for i in ids}
        assert len(last) == 1  # the retried transaction wrote both rows after the other committed
    finally:
        database.dispose()


def _insert_image(database: Database, name: str) -> int:
    now = time.time()
    with database.write() as q:
        return q.insert_image(
            {
                "account": "000000000000",
                "region": "us-east-1",
                "name": name,
                "name_key": name,
                "role_arn": "arn:aws:iam::000000000000:role/r",
                "created_at": now,
                "modified_at": now,
                "settles_at": now,
                "status": "CREATED",
                "next_status": "CREATED",
            }
        )


def _description(image_id: int):
    from sagemaker_images.store.tables import images

    return images.select().with_only_columns(images.c.description).where(images.c.id == image_id)


# -- moving state between backends -------------------------------------------------------------------


def cli(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "sagemaker_images", *args], input=stdin, capture_output=True, timeout=120
    )


@pytest.fixture
def other_database_url(backend: str, tmp_path: Path):
    """An empty database of the other backend: the target of a move from the test's own."""
    if backend == "postgres":
        yield f"sqlite:///{tmp_path / 'moved.db'}"
        return
    reason = postgres_available()
    if reason is not None:
        pytest.skip(reason)
    with fresh_postgres_database() as url:
        yield url


def snapshot(client, arn_of_image: str) -> dict:
    """Everything the API tells about one account's state."""

    def clean(answer: dict) -> dict:
        return {k: v for k, v in answer.items() if k not in ("ResponseMetadata", "NextToken")}

    state: dict[str, Any] = {"images": clean(client.list_images(MaxResults=100))}
    for image in state["images"]["Images"]:
        name = image["ImageName"]
        state[name] = {
            "image": clean(client.describe_image(ImageName=name)),
            "versions": clean(client.list_image_versions(ImageName=name, MaxResults=100)),
            "aliases": clean(client.list_aliases(ImageName=name)),
            "tags": clean(client.list_tags(ResourceArn=image["ImageArn"])),
        }
        for version in state[name]["versions"]["ImageVersions"]:
            state[name][version["Version"]] = {
                "version": clean(client.describe_image_version(ImageName=name, Version=version["Version"])),
                "tags": clean(client.list_tags(ResourceArn=version["ImageVersionArn"])),
            }
    state["configs"] = clean(client.list_app_image_configs(MaxResults=100))
    for config in state["configs"]["AppImageConfigs"]:
        state[config["AppImageConfigArn"]] = clean(client.list_tags(ResourceArn=config["AppImageConfigArn"]))
    return state


def test_export_then_import_into_the_other_backend_answers_the_same(
    start_server, other_database_url, account, role_arn
):
    source = start_server()
    client = client_for(source.endpoint, account)
    first = client.create_image(
        ImageName="moved", RoleArn=role_arn, DisplayName="Moved", Tags=[{"Key": "team", "Value": "ml"}]
    )["ImageArn"]
    client.create_image_version(ImageName="moved", BaseImage="b:1", Aliases=["stable"], ClientToken="tok-1")
    client.create_image_version(ImageName="moved", BaseImage="b:2", Horovod=True, JobType="TRAINING")
    third = client.create_image_version(ImageName="moved", BaseImage="b:3")["ImageVersionArn"]
    client.add_tags(ResourceArn=third, Tags=[{"Key": "v", "Value": "3"}])
    client.delete_image_version(ImageName="moved", Version=3)  # the counter stays at 3
    client.create_image(ImageName="second", RoleArn=role_arn, Description="the second image")
    client.update_image_version(ImageName="moved", Version=1, VendorGuidance="TO_BE_ARCHIVED")
    client.create_app_image_config(
        AppImageConfigName="moved-config",
        KernelGatewayImageConfig={"KernelSpecs": [{"Name": "python3"}], "FileSystemConfig": {}},
        CodeEditorAppImageConfig={"ContainerConfig": {"ContainerEnvironmentVariables": {"A": "1"}}},
        Tags=[{"Key": "z", "Value": "1"}, {"Key": "a", "Value": "2"}],
    )
    client.create_app_image_config(AppImageConfigName="second-config")
    cc = client_for(source.endpoint, account, "cloudcontrol")
    desired = json.dumps({"ImageName": "from-cc", "ImageRoleArn": role_arn})
    token = cc.create_resource(TypeName="AWS::SageMaker::Image", DesiredState=desired)["ProgressEvent"][
        "RequestToken"
    ]
    assert final_event(cc, token)["OperationStatus"] == "SUCCESS"
    before = snapshot(client, first)
    requests_before = cc.list_resource_requests()["ResourceRequestStatusSummaries"]
    source.stop()

    exported = cli("export", "--db", source.db_url)
    assert exported.returncode == 0, exported.stderr
    imported = cli("import", "--db", other_database_url, stdin=exported.stdout)
    assert imported.returncode == 0, imported.stderr

    target = start_server(db_url=other_database_url)
    client = client_for(target.endpoint, account)
    assert snapshot(client, first) == before
    cc = client_for(target.endpoint, account, "cloudcontrol")
    assert cc.list_resource_requests()["ResourceRequestStatusSummaries"] == requests_before
    # Counters, tokens and ids travelled: numbers continue, retries are recognised, new rows fit.
    assert client.create_image_version(ImageName="moved", BaseImage="b:1", ClientToken="tok-1")[
        "ImageVersionArn"
    ].endswith("/1")
    assert version_of(client.create_image_version(ImageName="moved", BaseImage="b:4")["ImageVersionArn"]) == 4
    client.create_image(ImageName="third", RoleArn=role_arn)
    assert len(client.list_images()["Images"]) == 4
    client.create_app_image_config(AppImageConfigName="third-config", Tags=[{"Key": "t", "Value": "3"}])
    assert len(client.list_app_image_configs()["AppImageConfigs"]) == 3

    again = cli("import", "--db", other_database_url, stdin=exported.stdout)
    assert again.returncode == 1
    assert b"import needs an empty database" in again.stderr


def test_import_refuses_what_is_not_an_export(tmp_path):
    result = cli("import", "--db", f"sqlite:///{tmp_path / 'x.db'}", stdin=b'{"hello": 1}\n')
    assert result.returncode == 1
    assert b"not a sagemaker-images export" in result.stderr
