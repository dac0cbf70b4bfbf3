"""Migrating a database whose tags predate their positions: the old order (by key) becomes the order."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from sagemaker_images.store import open_database
from sagemaker_images.store.database import MIGRATIONS, normalise_url
from tests.conftest import client_for


def test_tags_written_before_positions_keep_their_listed_order(database_url, start_server, account):
    engine = sa.create_engine(normalise_url(database_url))
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0002")
        conn.execute(
            sa.text(
                "INSERT INTO images (id, account, region, name, name_key, role_arn, created_at, modified_at,"
                " settles_at, status, next_status, version_counter) VALUES (1, :account, 'us-east-1', 'old',"
                " 'old', 'arn:aws:iam::000000000000:role/R', 1, 1, 1, 'CREATED', 'CREATED', 0)"
            ),
            {"account": account},
        )
        for key in ("zeta", "alpha", "mid"):
            conn.execute(
                sa.text("INSERT INTO tags (image_id, version, key, value) VALUES (1, 0, :key, 'v')"),
                {"key": key},
            )
    engine.dispose()
    open_database(database_url).dispose()  # migrates to the newest revision

    server = start_server()
    sagemaker = client_for(server.endpoint, account)
    arn = f"arn:aws:sagemaker:us-east-1:{account}:image/old"
    sagemaker.add_tags(ResourceArn=arn, Tags=[{"Key": "beta", "Value": "new"}, {"Key": "mid", "Value": "w"}])
    tags = sagemaker.list_tags(ResourceArn=arn)["Tags"]
    assert [(t["Key"], t["Value"]) for t in tags] == [
        ("alpha", "v"),
        ("mid", "w"),
        ("zeta", "v"),
        ("beta", "new"),
    ]
