"""Fill a database with images and versions straight through the store's tables (benchmark only).

Seeding a million versions through the HTTP API would take most of an hour; bulk inserts into the
very schema the server uses (created by ``open_database``, which runs the migrations) take a minute.
Every image gets the same number of versions, all settled (CREATED), with distinct creation times.
"""

from __future__ import annotations

import sqlalchemy as sa

from sagemaker_images.store import open_database
from sagemaker_images.store.tables import image_versions, images

ACCOUNT = "000000000000"
REGION = "us-east-1"
ROLE_ARN = "arn:aws:iam::000000000000:role/bench"
BASE_IMAGE = "000000000000.dkr.ecr.us-east-1.amazonaws.com/bench:latest"
EPOCH = 1_700_000_000.0
BATCH = 50_000


def image_name(index: int) -> str:
    return f"bench-{index:05d}"


def seeded_versions(url: str) -> int:
    """How many versions the database at ``url`` holds (0 if it has no schema yet)."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(sa.select(sa.func.count()).select_from(image_versions)).scalar_one()
    except sa.exc.OperationalError:
        return 0
    finally:
        engine.dispose()


def seed(url: str, images_count: int, versions_per_image: int) -> None:
    """Create ``images_count`` images named ``bench-NNNNN`` with ``versions_per_image`` versions each."""
    database = open_database(url)
    try:
        with database.engine.connect() as conn:
            # A benchmark fixture, rebuilt if lost: no need to fsync every batch.
            conn.exec_driver_sql("PRAGMA synchronous=OFF")
            conn.exec_driver_sql("BEGIN")
            image_rows = []
            for index in range(images_count):
                created = EPOCH + index
                image_rows.append(
                    {
                        "id": index + 1,
                        "account": ACCOUNT,
                        "region": REGION,
                        "name": image_name(index),
                        "name_key": image_name(index),
                        "role_arn": ROLE_ARN,
                        "display_name": None,
                        "description": "benchmark image",
                        "created_at": created,
                        "modified_at": created,
                        "settles_at": created,
                        "status": "CREATED",
                        "next_status": "CREATED",
                        "failure_reason": None,
                        "version_counter": versions_per_image,
                    }
                )
            conn.execute(sa.insert(images), image_rows)
            batch: list[dict] = []
            for index in range(images_count):
                for version in range(1, versions_per_image + 1):
                    created = EPOCH + index + version / 1000
                    batch.append(
                        {
                            "image_id": index + 1,
                            "version": version,
                            "client_token": f"seed-{version}",
                            "base_image": BASE_IMAGE,
                            "vendor_guidance": None,
                            "job_type": None,
                            "ml_framework": None,
                            "programming_lang": None,
                            "processor": None,
                            "horovod": None,
                            "release_notes": None,
                            "created_at": created,
                            "modified_at": created,
                            "settles_at": created,
                            "status": "CREATED",
                            "next_status": "CREATED",
                            "failure_reason": None,
                        }
                    )
                    if len(batch) >= BATCH:
                        conn.execute(sa.insert(image_versions), batch)
                        batch = []
            if batch:
                conn.execute(sa.insert(image_versions), batch)
            conn.commit()
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        database.dispose()


if __name__ == "__main__":
    import sys
    import time

    started = time.monotonic()
    seed(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
    print(f"seeded in {time.monotonic() - started:.1f} s")
