"""``SCHEMA_REVISION`` lets start-up skip Alembic on a current schema: it must name the newest migration.
A new SQLite database gets its schema from ``tables.py`` without Alembic: it must be exactly the one the
migrations build."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from sagemaker_images.store import open_database
from sagemaker_images.store.database import MIGRATIONS, SCHEMA_REVISION
from sagemaker_images.store.tables import metadata


def _alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def test_schema_revision_is_the_newest_migration():
    assert ScriptDirectory.from_config(_alembic_config()).get_current_head() == SCHEMA_REVISION


def test_a_new_database_is_migrated_and_a_current_one_left_alone(tmp_path):
    url = f"sqlite:///{tmp_path / 'state.db'}"
    database = open_database(url)
    assert database.schema_revision() == SCHEMA_REVISION
    database.dispose()
    database = open_database(url)
    assert database.schema_revision() == SCHEMA_REVISION
    database.dispose()


def _migrated(path: Path) -> sa.Engine:
    """A database built by running every migration, as Alembic runs them for an older database."""
    engine = sa.create_engine(f"sqlite:///{path}")
    config = _alembic_config()
    with engine.connect() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "head")
        conn.commit()
    return engine


def _schema(engine: sa.Engine) -> dict[str, Any]:
    """Everything about the tables a query or constraint depends on, as the database reports it."""
    inspector = sa.inspect(engine)
    described: dict[str, Any] = {}
    for table in sorted(inspector.get_table_names()):
        described[table] = {
            "columns": sorted(
                (c["name"], str(c["type"]), c["nullable"], str(c.get("default")), c.get("autoincrement"))
                for c in inspector.get_columns(table)
            ),
            "primary key": inspector.get_pk_constraint(table)["constrained_columns"],
            "indexes": sorted(
                (i["name"], tuple(i["column_names"]), bool(i["unique"])) for i in inspector.get_indexes(table)
            ),
            "unique": sorted(
                (u["name"], tuple(u["column_names"])) for u in inspector.get_unique_constraints(table)
            ),
            "foreign keys": sorted(
                (tuple(f["constrained_columns"]), f["referred_table"], tuple(f["referred_columns"]))
                for f in inspector.get_foreign_keys(table)
            ),
        }
    return described


def test_a_new_sqlite_database_gets_exactly_the_migrated_schema(tmp_path):
    created = open_database(f"sqlite:///{tmp_path / 'created.db'}")
    migrated = _migrated(tmp_path / "migrated.db")
    try:
        assert created.schema_revision() == SCHEMA_REVISION
        assert _schema(created.engine) == _schema(migrated)
        # And both are what tables.py declares, as Alembic's autogenerate compares them.
        options = {"compare_type": True, "compare_server_default": True}
        for engine in (created.engine, migrated):
            with engine.connect() as conn:
                context = MigrationContext.configure(conn, opts=options)
                assert compare_metadata(context, metadata) == []
        # Alembic takes the created database as being at the newest revision: nothing left to run.
        with created.engine.connect() as conn:
            assert MigrationContext.configure(conn).get_current_revision() == SCHEMA_REVISION
    finally:
        created.dispose()
        migrated.dispose()
