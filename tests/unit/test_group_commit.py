"""Group commit on SQLite: concurrent writers share a COMMIT, and each one's effect is its own."""

from __future__ import annotations

import asyncio
import sqlite3
import threading

import pytest
import sqlalchemy as sa

from sagemaker_images.images.lifecycle import DELETED
from sagemaker_images.store import open_database
from sagemaker_images.store.group_commit import WouldBlock
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


def _stored(path) -> set[str]:
    with sqlite3.connect(path) as conn:  # another connection: only what is committed
        return {name for (name,) in conn.execute("SELECT name FROM images")}


def test_writes_on_the_event_loop_join_groups_with_threads_and_fail_alone(tmp_path):
    path = tmp_path / "state.db"
    database = open_database(f"sqlite:///{path}")
    outcomes: dict[str, str] = {}

    def operation(name: str, fails: bool) -> str:
        with database.write() as q:
            q.insert_image(_image(name))
            if fails:
                raise ValueError("this request fails after its insert")
        return name

    async def on_loop(index: int) -> None:
        name = f"loop-{index}"
        try:
            await database.write_on_loop(lambda: operation(name, index % 5 == 0))
        except ValueError:
            outcomes[name] = "failed"
            return
        # Answered only once committed: another connection sees it now.
        assert name in _stored(path)
        outcomes[name] = "ok"

    def on_thread(index: int) -> None:
        name = f"thread-{index}"
        try:
            operation(name, index % 4 == 0)
            outcomes[name] = "ok"
        except ValueError:
            outcomes[name] = "failed"

    async def main() -> None:
        loop = asyncio.get_running_loop()
        threads = [loop.run_in_executor(None, on_thread, i) for i in range(8)]
        await asyncio.gather(*(on_loop(i) for i in range(40)), *threads)

    asyncio.run(main())
    group = database.group_commit
    assert group is not None
    database.dispose()
    assert len(outcomes) == 48
    assert _stored(path) == {name for name, outcome in outcomes.items() if outcome == "ok"}
    assert sum(outcome == "failed" for outcome in outcomes.values()) == 8 + 2
    assert group.commits < group.committed_writes  # writes shared COMMITs


def test_the_event_loop_never_waits_for_another_process_write_lock(tmp_path):
    path = tmp_path / "state.db"
    database = open_database(f"sqlite:///{path}")
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # as another process writing now

    def operation() -> None:
        with database.write() as q:
            q.insert_image(_image("waits"))

    with pytest.raises(WouldBlock):
        asyncio.run(database.write_on_loop(operation))
    other.execute("ROLLBACK")
    # Nothing was written, and the next write on the loop goes through.
    asyncio.run(database.write_on_loop(operation))
    other.close()
    database.dispose()
    assert _stored(path) == {"waits"}


def test_work_after_a_commit_on_the_event_loop_waits_for_it(tmp_path):
    path = tmp_path / "state.db"
    database = open_database(f"sqlite:///{path}")
    seen: list[set[str]] = []

    def operation() -> None:
        with database.write() as q:
            q.insert_image(_image("woken"))
        database.after_commit(lambda: seen.append(_stored(path)))
        assert not seen  # not before the COMMIT

    asyncio.run(database.write_on_loop(operation))
    database.dispose()
    assert seen == [{"woken"}]
