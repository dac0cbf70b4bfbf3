"""Group commit for SQLite: the write transactions of concurrent requests share one COMMIT (one fsync).

SQLite runs one write transaction at a time, and with ``synchronous=FULL`` every COMMIT waits for an
fsync of the WAL (a few milliseconds on ordinary disks). Committed one by one, durable writes top out
at a few hundred a second whatever the CPU. Here writers take turns on one connection inside one
open transaction, each in its own SAVEPOINT, so one that fails undoes only its own changes. The
writer that finds nobody waiting for a turn commits the whole group; until that COMMIT returned, no
member of the group returns either. So every acknowledged write is on disk, exactly as before, and
a group is never held open waiting for writers that are not already queued.

If the COMMIT fails, every member of the group fails with it (none was acknowledged), even one whose
own block had raised: its answer may rest on a group member's write that was never committed.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

from sqlalchemy.engine import Connection, Engine

# A bound on the writers sharing one COMMIT, so the first of them never waits for long.
MAX_GROUP = 64


class _Group:
    """The writers of one transaction, and how it ended."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.members = 0
        self.committed = threading.Event()
        self.failure: BaseException | None = None


class GroupCommit:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._turn = threading.Lock()  # one writer at a time on the group's connection
        self._queue = threading.Lock()  # guards _waiting
        self._waiting = 0
        self._group: _Group | None = None
        # Figures for /metrics, only changed by the writer holding the turn.
        self.commits = 0
        self.committed_writes = 0
        self.failed_commits = 0
        self.largest_group = 0

    @contextlib.contextmanager
    def write(self) -> Iterator[Connection]:
        """A savepoint in the current group's transaction; returns once the group is committed."""
        with self._queue:
            self._waiting += 1
        with self._turn:
            with self._queue:
                self._waiting -= 1
            group = self._group or self._begin()
            group.members += 1
            conn = group.conn
            conn.exec_driver_sql("SAVEPOINT request")
            error: BaseException | None = None
            try:
                yield conn
                conn.exec_driver_sql("RELEASE request")
            except BaseException as exc:
                error = exc
                conn.exec_driver_sql("ROLLBACK TO request")
                conn.exec_driver_sql("RELEASE request")
            finally:
                with self._queue:
                    last = self._waiting == 0 or group.members >= MAX_GROUP
                if last:
                    self._commit(group)
        group.committed.wait()
        if group.failure is not None:
            raise group.failure
        if error is not None:
            raise error

    def _begin(self) -> _Group:
        conn = self.engine.connect()
        try:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            conn.close()
            raise
        self._group = _Group(conn)
        return self._group

    def _commit(self, group: _Group) -> None:
        self._group = None
        self.commits += 1
        self.largest_group = max(self.largest_group, group.members)
        try:
            group.conn.commit()
            self.committed_writes += group.members
        except BaseException as exc:
            self.failed_commits += 1
            group.failure = exc
            with contextlib.suppress(Exception):
                group.conn.rollback()
        finally:
            group.conn.close()
            group.committed.set()
