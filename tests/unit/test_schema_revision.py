"""``SCHEMA_REVISION`` lets start-up skip Alembic on a current schema: it must name the newest migration."""

from __future__ import annotations

from alembic.config import Config
from alembic.script import ScriptDirectory

from sagemaker_images.store import open_database
from sagemaker_images.store.database import MIGRATIONS, SCHEMA_REVISION


def test_schema_revision_is_the_newest_migration():
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    assert ScriptDirectory.from_config(config).get_current_head() == SCHEMA_REVISION


def test_a_new_database_is_migrated_and_a_current_one_left_alone(tmp_path):
    url = f"sqlite:///{tmp_path / 'state.db'}"
    database = open_database(url)
    assert database.schema_revision() == SCHEMA_REVISION
    database.dispose()
    database = open_database(url)
    assert database.schema_revision() == SCHEMA_REVISION
    database.dispose()
