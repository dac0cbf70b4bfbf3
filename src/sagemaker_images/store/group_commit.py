"""Group commit for SQLite: the write transactions of concurrent requests share one COMMIT (one fsync).

SQLite runs one write transaction at a time, and with ``synchronous=FULL`` every COMMIT waits for an
fsync of the WAL (a few milliseconds on ordinary disks). Committed one by one, durable writes top out
at a few hundred a second whatever the CPU. Here writers take turns on one connection inside one
open transaction, each in its own SAVEPOINT, so one that fails undoes only its own changes. Until the
group's COMMIT returned, no member of the group returns either. So every acknowledged write is on
disk, exactly as before, and a group is never held open waiting for writers that are not already
queued.

Writers come in two kinds, and share groups:

- A thread (the request worker, the background checks, or a request handed to the thread pool)
  takes its turn on a lock, and the writer that finds nobody waiting for a turn commits the group.
- A request answered on the event loop (``run_on_loop``) takes its turn without waiting for the lock
  (it awaits it instead), runs its statements at once, and awaits the COMMIT, which a committing
  thread makes once the loop has run every writer that was ready: one hand-off per group instead of
  one per request, and a group as large as the writers that arrived meanwhile. Should another
  process hold the database's write lock, the request is handed to the thread pool instead
  (``WouldBlock``): the loop never waits for a lock.

If the COMMIT fails, every member of the group fails with it (none was acknowledged), even one whose
own block had raised: its answer may rest on a group member's write that was never committed.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from sqlalchemy.engine import Connection, Engine

# A bound on the writers sharing one COMMIT of threads, so the first of them never waits for long.
MAX_GROUP = 64
# The wait for another process's write lock, for writers on threads (the connection's busy_timeout).
BUSY_TIMEOUT_MS = 30000

R = TypeVar("R")


class WouldBlock(Exception):
    """The database's write lock is another process's: this write cannot start without waiting."""


class _Group:
    """The writers of one transaction, and how it ended."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.members = 0
        self.committed = threading.Event()
        self.failure: BaseException | None = None
        # Members on the event loop: resolved (from whichever thread commits) once the COMMIT returned.
        self.on_loop: list[asyncio.Future[None]] = []
        self.handed_off = False  # its COMMIT has been handed to the committing thread
        # Work waiting for the group's COMMIT to return (waking a worker that will read its writes).
        self.after: list[Callable[[], None]] = []


class GroupCommit:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._turn = threading.Lock()  # one writer at a time on the group's connection
        self._queue = threading.Lock()  # guards _waiting and _loop_waiters
        self._waiting = 0
        self._loop_waiters: list[asyncio.Future[None]] = []
        self._group: _Group | None = None
        # The connection every group uses in turn, kept between groups (a pool checkout and return
        # per group cost more than the statements of a small group); replaced after a failed COMMIT.
        self._conn: Connection | None = None
        # While a request on the event loop holds the turn: the loop's thread, and the group it joined.
        self._loop_thread: int | None = None
        self._loop_group: _Group | None = None
        self._committer: ThreadPoolExecutor | None = None
        # Figures for /metrics, only changed by the writer holding the turn.
        self.commits = 0
        self.committed_writes = 0
        self.failed_commits = 0
        self.largest_group = 0

    # -- writers on threads -----------------------------------------------------------------------

    def write(self) -> contextlib.AbstractContextManager[Connection]:
        """A savepoint in the current group's transaction; returns once the group is committed (for a
        request on the event loop, which holds the turn: once its operation is, see ``run_on_loop``)."""
        if self._loop_thread == threading.get_ident():
            return _LoopMember(self)
        return self._thread_write()

    @contextlib.contextmanager
    def _thread_write(self) -> Iterator[Connection]:
        with self._queue:
            self._waiting += 1
        self._turn.acquire()
        try:
            with self._queue:
                self._waiting -= 1
            group = self._group or self._begin()
            group.members += 1
            error: BaseException | None = None
            try:
                with self._savepoint(group.conn):
                    yield group.conn
            except BaseException as exc:
                error = exc
            finally:
                with self._queue:
                    last = self._waiting == 0 or group.members >= MAX_GROUP
                if last:
                    self._commit(group)
        finally:
            self._release_turn()
        group.committed.wait()
        if group.failure is not None:
            raise group.failure
        if error is not None:
            raise error

    def after_commit(self, work: Callable[[], None]) -> None:
        """Run ``work`` once the COMMIT of what this writer wrote has returned (whatever it answered):
        at once for a writer on a thread, whose ``write`` returned after it; with the COMMIT for a
        request on the event loop, on the committing thread."""
        group = self._loop_group if self._loop_thread == threading.get_ident() else None
        if group is None:
            work()
        else:
            group.after.append(work)

    # -- requests on the event loop ---------------------------------------------------------------

    async def run_on_loop(self, operation: Callable[[], R]) -> R:
        """``operation`` (whose writes join the current group) run now on the event loop; returns
        once the group it wrote in is committed. ``WouldBlock``: nothing was written, run it on a
        thread instead."""
        loop = asyncio.get_running_loop()
        await self._loop_turn(loop)
        self._loop_thread = threading.get_ident()
        error: BaseException | None = None
        try:
            result = operation()
        except BaseException as exc:
            error = exc
        finally:
            group, self._loop_group, self._loop_thread = self._loop_group, None, None
            done: asyncio.Future[None] | None = None
            if group is not None:
                done = loop.create_future()
                group.on_loop.append(done)
                if not group.handed_off:
                    group.handed_off = True
                    # After every writer already ready on the loop has had its turn.
                    loop.call_soon(self._hand_off, group)
            self._release_turn()
        if done is not None:
            await done
            if group is not None and group.failure is not None:
                raise group.failure
        if error is not None:
            raise error
        return result

    async def _loop_turn(self, loop: asyncio.AbstractEventLoop) -> None:
        """Take the turn without blocking the loop: await it while a thread (or a COMMIT) has it."""
        while True:
            with self._queue:
                if self._turn.acquire(blocking=False):
                    return
                waiter: asyncio.Future[None] = loop.create_future()
                self._loop_waiters.append(waiter)
            await waiter

    def _hand_off(self, group: _Group) -> None:
        if self._committer is None:
            self._committer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="group-commit")
        self._committer.submit(self._commit_in_turn, group)

    def _commit_in_turn(self, group: _Group) -> None:
        """The committing thread: the open group's COMMIT (``group``'s, unless a writer on a thread
        committed that one already)."""
        with self._queue:
            self._waiting += 1  # a writer on a thread that comes meanwhile leaves the COMMIT to this
        self._turn.acquire()
        try:
            with self._queue:
                self._waiting -= 1
            # Whatever group is open: its writers are all done (this thread has the turn), and
            # writers on threads that came meanwhile left the COMMIT to this one.
            if self._group is not None:
                self._commit(self._group)
        finally:
            self._release_turn()

    # -- the group --------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _savepoint(self, conn: Connection) -> Iterator[None]:
        # Savepoints go straight to the driver: SQLAlchemy tracks no nesting here, and its execution
        # machinery would cost more than SQLite takes for them.
        driver: Any = conn.connection.driver_connection
        driver.execute("SAVEPOINT request")
        try:
            yield
        except BaseException:
            driver.execute("ROLLBACK TO request")
            driver.execute("RELEASE request")
            raise
        driver.execute("RELEASE request")

    def _begin(self, *, wait: bool = True) -> _Group:
        conn = self._conn
        if conn is None or conn.closed or conn.invalidated:
            conn = self._conn = self.engine.connect()
        driver: Any = conn.connection.driver_connection
        try:
            if wait:
                driver.execute("BEGIN IMMEDIATE")
            else:
                # On the event loop: never wait for another process's lock (busy_timeout 0 for this).
                driver.execute("PRAGMA busy_timeout=0")
                try:
                    driver.execute("BEGIN IMMEDIATE")
                except sqlite3.OperationalError as exc:
                    if exc.sqlite_errorcode & 0xFF != sqlite3.SQLITE_BUSY:
                        raise
                    raise WouldBlock(str(exc)) from None
                finally:
                    driver.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        except WouldBlock:
            raise
        except BaseException:
            self._discard()
            raise
        self._group = _Group(conn)
        return self._group

    def _commit(self, group: _Group) -> None:
        self._group = None
        self.commits += 1
        self.largest_group = max(self.largest_group, group.members)
        conn = group.conn
        try:
            if conn.in_transaction():  # a statement went through SQLAlchemy: end its transaction too
                conn.commit()
            else:
                conn.connection.driver_connection.commit()  # type: ignore[union-attr]
            self.committed_writes += group.members
        except BaseException as exc:
            self.failed_commits += 1
            group.failure = exc
            self._discard()
        group.committed.set()
        for work in group.after:
            work()
        if group.on_loop:
            _resolve(group.on_loop)

    def _release_turn(self) -> None:
        """Give the turn up, and let the requests on the event loop that wait for it try again."""
        self._turn.release()
        with self._queue:
            waiters, self._loop_waiters = self._loop_waiters, []
        if waiters:
            _resolve(waiters)

    def _discard(self) -> None:
        """Roll back and close the group connection (after a failure); the next group opens another."""
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.rollback()
                conn.connection.driver_connection.rollback()  # type: ignore[union-attr]
            with contextlib.suppress(Exception):
                conn.close()

    def close(self) -> None:
        """Close the group connection and the committing thread (the database is being disposed of)."""
        if self._committer is not None:
            self._committer.shutdown(wait=True)
            self._committer = None
        with self._turn:
            self._discard()


class _LoopMember:
    """One write block of a request on the event loop, in its own savepoint of the open group (a
    plain class: a write request enters one or more of these)."""

    __slots__ = ("commits", "driver")

    def __init__(self, commits: GroupCommit) -> None:
        self.commits = commits
        self.driver: Any = None

    def __enter__(self) -> Connection:
        commits = self.commits
        group = commits._group or commits._begin(wait=False)
        group.members += 1
        commits._loop_group = group
        conn = group.conn
        self.driver = conn.connection.driver_connection
        self.driver.execute("SAVEPOINT request")
        return conn

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, _tb: Any) -> None:
        if error is not None:
            self.driver.execute("ROLLBACK TO request")
        self.driver.execute("RELEASE request")


def _resolve(futures: list[asyncio.Future[None]]) -> None:
    """Resolve ``futures`` from any thread: each on its own loop, one call per loop."""
    by_loop: dict[asyncio.AbstractEventLoop, list[asyncio.Future[None]]] = {}
    for future in futures:
        by_loop.setdefault(future.get_loop(), []).append(future)
    for loop, waiting in by_loop.items():
        with contextlib.suppress(RuntimeError):  # a loop closed meanwhile: nobody waits there
            loop.call_soon_threadsafe(_set_results, waiting)


def _set_results(futures: list[asyncio.Future[None]]) -> None:
    for future in futures:
        if not future.done():  # cancelled: its request went away (the write stands)
            future.set_result(None)
