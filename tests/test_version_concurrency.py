"""CreateImageVersion under concurrency: creation times follow version numbers, and the opt-in AWS
rule (``--reject-concurrent-version-creates``) refuses overlapping calls only, on one process and
across replicas of one PostgreSQL database."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from botocore.exceptions import ClientError

from tests.calls import FAST_WAITER, advance_clock
from tests.conftest import client_for, new_account
from tests.servers import ServerProcess, fresh_postgres_database, postgres_available
from tests.store_checks import inconsistencies

DELAY = 300


def _burst(calls: list[Callable[[], str]]) -> tuple[list[str], list[str]]:
    """Run ``calls`` at once (released together); the ARNs made and the error codes met."""
    barrier = threading.Barrier(len(calls))
    made: list[str] = []
    refused: list[str] = []
    lock = threading.Lock()

    def run(call: Callable[[], str]) -> None:
        barrier.wait()
        try:
            arn = call()
        except ClientError as error:
            with lock:
                refused.append(error.response["Error"]["Code"])
        else:
            with lock:
                made.append(arn)

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return made, refused


def _creator(client, image: str, token: str) -> Callable[[], str]:
    return lambda: client.create_image_version(ImageName=image, BaseImage="repo/x:1", ClientToken=token)[
        "ImageVersionArn"
    ]


def test_creation_times_follow_version_numbers(server):
    account = new_account()
    clients = [client_for(server.endpoint, account) for _ in range(6)]
    clients[0].create_image(ImageName="ordered", RoleArn=f"arn:aws:iam::{account}:role/R")
    for round_ in range(5):
        made, refused = _burst([_creator(c, "ordered", f"r{round_}-{i}") for i, c in enumerate(clients)])
        assert refused == [] and len(made) == len(clients)
    pages = (
        clients[0]
        .get_paginator("list_image_versions")
        .paginate(ImageName="ordered", SortBy="CREATION_TIME", SortOrder="ASCENDING")
    )
    versions = [v for page in pages for v in page["ImageVersions"]]
    numbers = [int(v["ImageVersionArn"].rsplit("/", 1)[1]) for v in versions]
    assert numbers == list(range(1, 31))
    times = [v["CreationTime"] for v in versions]
    assert times == sorted(times)


@pytest.fixture
def strict_replicas(backend: str, tmp_path) -> list[ServerProcess]:
    """Two replicas on one database with the AWS rule on (one server on SQLite)."""
    # Versions stay CREATING for five minutes; the test moves the clock past the image's creation.
    flags = ("--reject-concurrent-version-creates", "--transition-delay", str(DELAY), "--admin")
    if backend == "sqlite":
        with ServerProcess(f"sqlite:///{tmp_path / 'state.db'}", *flags, log_path=tmp_path / "a.log") as one:
            yield [one]
        return
    if postgres_available() is not None:
        pytest.skip("PostgreSQL is not reachable")
    with (
        fresh_postgres_database() as url,
        ServerProcess(url, *flags, log_path=tmp_path / "a.log") as first,
        ServerProcess(url, *flags, log_path=tmp_path / "b.log") as second,
    ):
        yield [first, second]


def test_overlapping_calls_are_refused_and_serial_ones_accepted(strict_replicas, backend, tmp_path):
    account = new_account()
    clients = [client_for(s.endpoint, account) for s in strict_replicas for _ in range(4)]
    clients[0].create_image(ImageName="strict", RoleArn=f"arn:aws:iam::{account}:role/R")
    for server in strict_replicas:
        advance_clock(server, DELAY)
    clients[0].get_waiter("image_created").wait(ImageName="strict", WaiterConfig=FAST_WAITER)
    # Serial calls, each while the versions before it are still CREATING: all accepted.
    for index in range(5):
        _creator(clients[index % len(clients)], "strict", f"serial-{index}")()
    # Calls released together: some overlap and are refused, the others each get their own number.
    refusals = 0
    for round_ in range(10):
        made, refused = _burst([_creator(c, "strict", f"burst-{round_}-{i}") for i, c in enumerate(clients)])
        assert made, "one of the calls always goes through"
        assert set(refused) <= {"ResourceInUse"}
        refusals += len(refused)
        numbers = [int(arn.rsplit("/", 1)[1]) for arn in made]
        assert len(set(numbers)) == len(numbers)
    assert refusals > 0
    if backend == "postgres":
        # Across replicas alone (one call per replica, never two in one process): still refused.
        across = 0
        pair = [client_for(s.endpoint, account) for s in strict_replicas]
        for round_ in range(20):
            made, refused = _burst([_creator(c, "strict", f"pair-{round_}-{i}") for i, c in enumerate(pair)])
            assert made and set(refused) <= {"ResourceInUse"}
            across += len(refused)
        assert across > 0
    versions = clients[0].list_image_versions(ImageName="strict", MaxResults=100)["ImageVersions"]
    assert len(versions) == len({v["ImageVersionArn"] for v in versions})
    if backend == "sqlite":
        assert inconsistencies(f"sqlite:///{tmp_path / 'state.db'}") == []
