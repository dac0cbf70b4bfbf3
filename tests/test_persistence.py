"""Acknowledged writes survive a clean restart and a kill -9."""

from __future__ import annotations

import threading

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError
from urllib3.exceptions import HTTPError

from tests.calls import wait_until
from tests.conftest import client_for


def test_state_survives_a_restart(start_server, account, role_arn):
    server = start_server()
    client = client_for(server.endpoint, account)
    arn = client.create_image(ImageName="kept", RoleArn=role_arn, Tags=[{"Key": "k", "Value": "v"}])[
        "ImageArn"
    ]
    client.create_image_version(ImageName="kept", BaseImage="b:1", Aliases=["stable"], ClientToken="tok")
    client.create_image_version(ImageName="kept", BaseImage="b:2")
    client.delete_image_version(ImageName="kept", Version=2)
    before = client.describe_image(ImageName="kept")

    server.stop()
    server.start()
    client = client_for(server.endpoint, account)
    after = client.describe_image(ImageName="kept")
    assert {k: v for k, v in after.items() if k != "ResponseMetadata"} == {
        k: v for k, v in before.items() if k != "ResponseMetadata"
    }
    assert client.describe_image_version(ImageName="kept", Alias="stable")["Version"] == 1
    assert client.list_tags(ResourceArn=arn)["Tags"] == [{"Key": "k", "Value": "v"}]
    # Counters and idempotency tokens are state too.
    assert client.create_image_version(ImageName="kept", BaseImage="b:1", ClientToken="tok")[
        "ImageVersionArn"
    ].endswith("/1")
    assert client.create_image_version(ImageName="kept", BaseImage="b:3")["ImageVersionArn"].endswith("/3")


@pytest.mark.long
def test_acknowledged_writes_survive_kill_9(start_server, account, role_arn):
    server = start_server()
    client = client_for(server.endpoint, account)
    client.create_image(ImageName="crash", RoleArn=role_arn)
    acknowledged: list[str] = []
    stop = threading.Event()
    lock = threading.Lock()

    def writer(n: int) -> None:
        own = client_for(server.endpoint, account)
        i = 0
        while not stop.is_set():
            i += 1
            try:
                arn = own.create_image_version(ImageName="crash", BaseImage=f"w{n}:{i}")["ImageVersionArn"]
            except (ClientError, EndpointConnectionError, HTTPError, OSError, Exception):
                return
            with lock:
                acknowledged.append(arn)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()

    def enough_acknowledged() -> bool:
        with lock:
            return len(acknowledged) >= 60 or not any(thread.is_alive() for thread in threads)

    wait_until(enough_acknowledged, timeout=60, what="60 acknowledged writes")
    assert len(acknowledged) >= 60, "every writer stopped before 60 writes were acknowledged"
    server.kill()
    stop.set()
    for thread in threads:
        thread.join()

    server.start()
    client = client_for(server.endpoint, account)
    pages = client.get_paginator("list_image_versions").paginate(
        ImageName="crash", PaginationConfig={"PageSize": 100}
    )
    stored = {v["ImageVersionArn"] for p in pages for v in p["ImageVersions"]}
    assert set(acknowledged) <= stored
    numbers = sorted(int(arn.rsplit("/", 1)[1]) for arn in stored)
    assert numbers == list(range(1, len(numbers) + 1))
