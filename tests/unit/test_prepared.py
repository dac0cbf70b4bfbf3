"""A prepared statement answers exactly what ``Connection.execute`` answers for the same statement.

Every prepared statement of the store is run both ways on a database holding real rows (SQLite, and
PostgreSQL when it answers), and the rows must be equal: same keys, same values, same Python types
(SQLite's 0/1 read back as booleans, as SQLAlchemy's types convert them).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sagemaker_images.images.lifecycle import DELETED
from sagemaker_images.images.registry import ImageRegistry
from sagemaker_images.store import Database, open_database, queries, tables, tag_sets
from sagemaker_images.store.keyset import Sort
from sagemaker_images.store.prepared import Prepared
from sagemaker_images.tenancy import Tenant
from tests.servers import fresh_postgres_database, postgres_available

TENANT = Tenant(account="123456789012", region="us-east-1")
NOW = 4_000_000_000.0  # after everything the test writes


@pytest.fixture(params=["sqlite", "postgres"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    if request.param == "sqlite":
        database = open_database(f"sqlite:///{tmp_path / 'state.db'}")
        yield database
        database.dispose()
        return
    reason = postgres_available()
    if reason is not None:
        if os.environ.get("SAGEMAKER_IMAGES_REQUIRE_POSTGRES") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    with fresh_postgres_database() as url:
        database = open_database(url)
        yield database
        database.dispose()


def _both_ways(conn: Any, prepared: Prepared, params: dict[str, Any]) -> tuple[list[dict], list[dict]]:
    direct = [dict(row) for row in conn.execute(prepared.statement, params).mappings()]
    return prepared.all(conn, **params), direct


# The columns naming the resource an image's or version's tag belongs to.
TAG_OWNER = ("image_id", "version")


def test_prepared_statements_answer_what_connection_execute_answers(database: Database) -> None:
    registry = ImageRegistry(database)
    role = "arn:aws:iam::123456789012:role/R"
    tags = [{"Key": f"k{n}", "Value": f"v{n}"} for n in range(3)]
    registry.create_image(TENANT, {"ImageName": "img", "RoleArn": role, "Tags": tags})
    for number in range(1, 4):
        registry.create_image_version(
            TENANT,
            {
                "ImageName": "img",
                "BaseImage": f"repo/base:{number}",
                "ClientToken": f"token-{number}",
                "Horovod": number % 2 == 0,
                "JobType": "TRAINING",
            },
        )
    with database.read() as q:
        image = q.image(TENANT.account, TENANT.region, "img", NOW, DELETED)
    assert image is not None
    image_id = image["id"]
    visible = {"now": NOW, "gone": DELETED}
    key = {"account": TENANT.account, "region": TENANT.region, "name_key": "img", **visible}
    cases: list[tuple[Prepared, dict[str, Any]]] = [
        (queries._IMAGE, key),
        (queries._VERSION, {"image_id": image_id, "version": 2, **visible}),
        (queries._LATEST_VERSION, {"image_id": image_id, **visible}),
        (queries._VERSION_BY_CLIENT_TOKEN, {"image_id": image_id, "client_token": "token-1"}),
        (queries._LAST_VERSION_CREATED, {"image_id": image_id}),
        (queries._list_versions(Sort.NUMBER, True, False, ()), {"image_id": image_id, **visible, "limit": 2}),
        (
            queries._list_versions(Sort.CREATED, False, True, ("created_after",)),
            {
                "image_id": image_id,
                **visible,
                "limit": 10,
                "after_0": 0.0,
                "after_1": 1,
                "created_after": 0.0,
            },
        ),
        (tag_sets._listing(tables.tags, TAG_OWNER, False), {"image_id": image_id, "version": 0, "limit": 5}),
        (
            tag_sets._listing(tables.tags, TAG_OWNER, True),
            {"image_id": image_id, "version": 0, "after": 0, "limit": 5},
        ),
    ]
    with database.read() as q:
        for prepared, params in cases:
            mine, theirs = _both_ways(q.conn, prepared, params)
            assert mine, prepared.statement
            assert mine == theirs
            assert [{k: type(v) for k, v in row.items()} for row in mine] == [
                {k: type(v) for k, v in row.items()} for row in theirs
            ]
    with database.write() as q:
        # A statement that writes, run both ways in one transaction: the prepared run (second) sees the
        # direct run's increment.
        mine, theirs = _both_ways(q.conn, queries._NEXT_VERSION_NUMBER, {"image_id": image_id})
        assert mine == [{"version_counter": row["version_counter"] + 1} for row in theirs]
        mine, theirs = _both_ways(q.conn, queries._IMAGE_FOR_UPDATE, key)
        assert mine == theirs
    covered = {id(prepared) for prepared, _ in cases} | {
        id(queries._NEXT_VERSION_NUMBER),
        id(queries._IMAGE_FOR_UPDATE),
    }
    declared = [value for value in vars(queries).values() if isinstance(value, Prepared)]
    assert all(id(prepared) in covered for prepared in declared), "a prepared statement is not compared here"
