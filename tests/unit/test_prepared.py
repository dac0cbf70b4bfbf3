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
import sqlalchemy as sa

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
        (queries._NAMED_VERSION, {**key, "version": 2}),
        (queries._NAMED_LATEST_VERSION, key),
        (queries._list_versions(Sort.NUMBER, True, False, ()), {**key, "limit": 2}),
        (
            queries._list_versions(Sort.CREATED, False, True, ("created_after",)),
            {
                **key,
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
        # Statements that write, run both ways in one transaction: the prepared run (second) sees the
        # direct run's effect.
        take = {"client_token": "token-unused"}
        for prepared, params in (
            (
                queries._TAKE_VERSION_NUMBER_BY_NAME,
                {f"image_{k}" if k in ("account", "region", "name_key") else k: v for k, v in key.items()}
                | take,
            ),
            (queries._TAKE_VERSION_NUMBER_BY_ID, {"image_id": image_id, **take}),
        ):
            mine, theirs = _both_ways(q.conn, prepared, params)
            assert [{**row, "version_counter": row["version_counter"] + 1} for row in theirs] == mine
            assert mine[0]["last_created"] is not None
        used = _both_ways(
            q.conn, queries._TAKE_VERSION_NUMBER_BY_ID, {"image_id": image_id, "client_token": "token-1"}
        )
        assert used == ([], [])  # a client token already used takes no number
        mine, theirs = _both_ways(q.conn, queries._IMAGE_FOR_UPDATE, key)
        assert mine == theirs
        # An insert both ways, read back through SQLAlchemy: the same row but for its key.
        version = {
            "image_id": image_id,
            "client_token": "inserted",
            "base_image": "repo/base:9",
            "vendor_guidance": None,
            "archives_at": None,
            "job_type": "TRAINING",
            "ml_framework": None,
            "programming_lang": None,
            "processor": None,
            "horovod": True,
            "release_notes": None,
            "created_at": 5.0,
            "modified_at": 5.0,
            "settles_at": 5.0,
            "status": "CREATING",
            "next_status": "CREATED",
            "failure_reason": None,
        }
        q.conn.execute(queries._INSERT_VERSION.statement, {**version, "version": 98, "client_token": "a"})
        queries._INSERT_VERSION.execute(q.conn, **{**version, "version": 99, "client_token": "b"})
        versions = tables.image_versions
        inserted = q.conn.execute(
            sa.select(versions).where(versions.c.image_id == image_id, versions.c.version.in_([98, 99]))
        )
        direct, prepared_row = (
            {k: v for k, v in row.items() if k not in ("version", "client_token")}
            for row in inserted.mappings()
        )
        assert direct == prepared_row
    covered = {id(prepared) for prepared, _ in cases} | {
        id(queries._TAKE_VERSION_NUMBER_BY_NAME),
        id(queries._TAKE_VERSION_NUMBER_BY_ID),
        id(queries._IMAGE_FOR_UPDATE),
        id(queries._INSERT_VERSION),
    }
    declared = [value for value in vars(queries).values() if isinstance(value, Prepared)]
    assert all(id(prepared) in covered for prepared in declared), "a prepared statement is not compared here"
