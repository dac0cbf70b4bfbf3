"""Group commit on SQLite: concurrent writers share a COMMIT, and each one's effect is its own."""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa

from sagemaker_images.images.lifecycle import DELETED
from sagemaker_images.store import open_database
from sagemaker_images.store.tables import images


def _image(name: str) -> dict:
    return {
        "account": "000000000000",
        "region": "us-east-1",
        "name": name,
        "name_key": name,
        "role_arn": "arn:aws:iam::000000000000:role/r",
        "created_at": 0.0,
        "modified_at": 0.0,
        "settles_at": 0.0,
        "status": "CREATED",
        "next_status": "CREATED",
    }


def test_concurrent_writes_are_all_committed_and_a_failing_one_undoes_only_itself(tmp_path):
    database = open_database(f"sqlite:///{tmp_path / 'state.db'}")
    start = threading.Barrier(16)
    outcomes: dict[int, str] = {}

    def writer(index: int) -> None:
        start.wait()
        try:
            with database.write() as q:
                q.insert_image(_image(f"image-{index}"))
                if index % 4 == 0:
                    raise ValueError("this request fails after its insert")
            outcomes[index] = "ok"
        except ValueError:
            outcomes[index] = "failed"

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    database.dispose()

    # What a fresh connection (another process after a crash, say) finds on disk.
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'state.db'}")
    with engine.connect() as conn:
        stored = set(conn.execute(sa.select(images.c.name)).scalars())
    engine.dispose()
    assert stored == {f"image-{i}" for i, outcome in outcomes.items() if outcome == "ok"}
    assert sorted(outcomes) == list(range(16))
    assert sum(outcome == "failed" for outcome in outcomes.values()) == 4


def test_a_write_is_visible_to_readers_only_once_acknowledged(tmp_path):
    database = open_database(f"sqlite:///{tmp_path / 'state.db'}")
    with database.write() as q:
        q.insert_image(_image("first"))
    with database.read() as q:
        assert q.image("000000000000", "us-east-1", "first", 1.0, DELETED) is not None
    with pytest.raises(RuntimeError), database.write() as q:
        q.insert_image(_image("second"))
        raise RuntimeError("rolled back")
    with database.read() as q:
        assert q.image("000000000000", "us-east-1", "second", 1.0, DELETED) is None
    database.dispose()
