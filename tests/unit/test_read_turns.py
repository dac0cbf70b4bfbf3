"""SQLite reads on the event loop share one snapshot per turn of the loop, never longer."""

from __future__ import annotations

import asyncio
import sqlite3

from sagemaker_images.images.lifecycle import DELETED
from sagemaker_images.store import open_database
from tests.unit.test_group_commit import _image


def test_reads_of_one_turn_share_a_snapshot_and_the_next_turn_sees_new_commits(tmp_path):
    path = tmp_path / "state.db"
    database = open_database(f"sqlite:///{path}")
    other = sqlite3.connect(path, isolation_level=None)
    columns = ", ".join(_image("x"))

    def commit_elsewhere(name: str) -> None:
        values = _image(name)
        other.execute(
            f"INSERT INTO images ({columns}) VALUES ({', '.join('?' * len(values))})", list(values.values())
        )

    def visible(name: str) -> bool:
        with database.read(one_statement=True) as q:
            return q.image("000000000000", "us-east-1", name, 1.0, DELETED) is not None

    async def main() -> tuple[bool, bool, bool]:
        database.read_in_turns(asyncio.get_running_loop())
        assert not visible("first")  # this turn's snapshot begins here
        commit_elsewhere("first")
        same_turn = visible("first")
        await asyncio.sleep(0)  # the turn ends
        next_turn = visible("first")
        commit_elsewhere("second")
        await asyncio.sleep(0)
        return same_turn, next_turn, visible("second")

    same_turn, next_turn, later = asyncio.run(main())
    other.close()
    database.dispose()
    assert (same_turn, next_turn, later) == (False, True, True)
