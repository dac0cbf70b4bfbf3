"""Engines, transactions and schema upgrades for SQLite (embedded default) and PostgreSQL.

SQLite runs in WAL mode with ``synchronous=FULL``: a commit is on disk before the client hears
about it, so an acknowledged write survives ``kill -9`` and power loss alike. Write transactions
start with ``BEGIN IMMEDIATE`` so two writers never deadlock upgrading a read lock; they queue on
the file lock (``busy_timeout``) instead. Concurrent writes of one process are group-committed
(``group_commit``): one COMMIT, one fsync, for all of them, each still answered only once it is on disk.

On PostgreSQL (any number of replicas on one database):

- Writes run at READ COMMITTED and first lock the image row they change (``SELECT ... FOR UPDATE``).
  That serialises exactly the writers of one image, and because every later statement of a READ
  COMMITTED transaction reads the newest committed data, the writer that waited sees what the one
  before it committed (its version number, client token, aliases). REPEATABLE READ or SERIALIZABLE
  would instead abort every writer that waited for the lock with a serialization failure, turning
  ordinary contention into retries. Races that have no row to lock yet (two replicas creating one
  image name) are settled by unique constraints: the loser's INSERT waits for the winner's commit,
  then fails, and the domain answers ResourceInUse.
- Reads run at REPEATABLE READ, READ ONLY: one snapshot for all statements of an operation (a
  version and its image, a page and its count), never blocked, never aborted by writers.
- Deadlocks and serialization failures are rolled back by PostgreSQL; ``retrying`` runs such an
  operation again, a bounded number of times, with jittered back-off. Nothing is retried after a
  commit was attempted, so an acknowledged write is never applied twice.
- A database that is away (refusing connections, restarting, a lock held past ``lock_timeout``)
  answers ServiceUnavailable (HTTP 503, which AWS SDKs retry); the pool drops broken connections and
  checks each one before use (``pool_pre_ping``), so service resumes by itself once it is back.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import random
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import URL, Connection, Engine, make_url

from sagemaker_images.errors import ServiceUnavailable
from sagemaker_images.store.group_commit import GroupCommit
from sagemaker_images.store.queries import Queries

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"
# The newest revision in migrations/versions (a unit test holds it to Alembic's own answer). A schema
# already there needs no Alembic at all, which saves a quarter of a second of imports at start-up.
SCHEMA_REVISION = "0009"
# Alembic's record of the revision, as Alembic creates it (for a schema made without Alembic).
_ALEMBIC_VERSION = sa.Table(
    "alembic_version",
    sa.MetaData(),
    sa.Column("version_num", sa.String(32), nullable=False),
    sa.PrimaryKeyConstraint("version_num", name="alembic_version_pkc"),
)

# How often an operation that PostgreSQL rolled back (deadlock, serialization failure) is run again.
RETRY_ATTEMPTS = 4
# PostgreSQL session settings of every pooled connection (see ``open_database``).
POSTGRES_OPTIONS = {
    # A replica that hangs mid-transaction must not hold image locks for ever.
    "idle_in_transaction_session_timeout": "60s",
    # A lock wait this long means something is stuck: answer 503 rather than hold the client.
    "lock_timeout": "30s",
}

_UNAVAILABLE = "The service is unavailable. Please try again later."

P = ParamSpec("P")
R = TypeVar("R")


class TransientConflict(ServiceUnavailable):
    """PostgreSQL rolled the transaction back (deadlock, serialization failure): run it again.

    ``Database.retrying`` does; anywhere else it reaches the client as ServiceUnavailable.
    """


class Database:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.is_sqlite = engine.dialect.name == "sqlite"
        self.group_commit = GroupCommit(engine) if self.is_sqlite else None
        # SQLite reads: each thread keeps one connection of its own (see ``read``), and the event
        # loop's thread shares a snapshot per turn of the loop (``read_in_turns``).
        self._readers = threading.local()
        self._turns: tuple[int | None, asyncio.AbstractEventLoop | None] = (None, None)
        self._held: list[Connection] = []
        self._held_lock = threading.Lock()

    def write(self) -> contextlib.AbstractContextManager[Queries]:
        """One write transaction: committed when the block ends, rolled back if it raises."""
        if self.group_commit is not None:
            return _SqliteWrite(self.group_commit.write())
        return self._postgres_write()

    @contextlib.contextmanager
    def _postgres_write(self) -> Iterator[Queries]:
        with self._connection() as conn:
            conn.begin()
            try:
                yield Queries(conn, postgres=True)
            except BaseException:
                conn.rollback()
                raise
            conn.commit()

    async def write_on_loop(self, operation: Callable[[], R]) -> R:
        """``operation`` run now, on the event loop, its writes joining SQLite's current group commit;
        returns once they are committed (``group_commit.GroupCommit.run_on_loop``). ``WouldBlock``:
        another process holds the write lock and nothing was done; run it on a thread instead."""
        assert self.group_commit is not None
        try:
            return await self.group_commit.run_on_loop(operation)
        except _DATABASE_AWAY as exc:
            raise _unavailable(getattr(exc, "orig", None) or exc) from None

    def after_commit(self, work: Callable[[], None]) -> None:
        """Run ``work`` once the COMMIT of the current operation's writes has returned (to wake a
        worker that will read them, or to end what lasts as long as the call): at once, unless they
        wait for a group COMMIT on the event loop."""
        if self.group_commit is None:
            work()
        else:
            self.group_commit.after_commit(work)

    def read(self, *, one_statement: bool = False) -> contextlib.AbstractContextManager[Queries]:
        """A read-only snapshot (one transaction), so multi-statement reads are consistent.

        ``one_statement``: the block runs a single statement, which sees one moment by itself; no
        transaction is opened around it (on SQLite no BEGIN/ROLLBACK, on PostgreSQL no BEGIN/ROLLBACK
        round trips). Anything that runs two statements needs the snapshot.
        """
        if self.is_sqlite:
            reader: _SqliteRead | None = getattr(self._readers, "reader", None)
            if reader is None or reader.stale():
                turns = self._turns[1] if self._turns[0] == threading.get_ident() else None
                reader = self._readers.reader = _SqliteRead(self._reader(), turns)
            return reader.snapshot(not one_statement)
        return self._postgres_read(one_statement)

    def read_in_turns(self, loop: asyncio.AbstractEventLoop) -> None:
        """SQLite reads on this thread, ``loop``'s, share one snapshot per turn of the loop.

        Call on the loop's thread (the server does as it starts). A snapshot that ends with the turn it
        began in is as fresh as a client can tell: an answer leaves at the end of a later turn than
        the one its COMMIT returned in (``group_commit``, and the HTTP layer writes at a turn's end),
        so a request sent after any answer arrives in a turn whose snapshot includes that write.
        """
        self._turns = (threading.get_ident(), loop)
        self._readers.reader = None  # made again, reading in turns

    @contextlib.contextmanager
    def _postgres_read(self, one_statement: bool) -> Iterator[Queries]:
        with self._connection() as conn:
            if one_statement:
                # No transaction: the driver runs the statement by itself (autocommit).
                conn.execution_options(isolation_level="AUTOCOMMIT")
                yield Queries(conn, postgres=True)
                return
            # Applied by psycopg in the BEGIN itself: no extra round trip.
            conn.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
            conn.begin()
            try:
                yield Queries(conn, postgres=True)
            finally:
                conn.rollback()

    def _reader(self) -> Connection:
        # A read is answered on the thread that asks (the event loop, mostly) over that thread's own
        # connection, held open: no pool checkout and return (docs/performance.md).
        conn = self.engine.connect()
        with self._held_lock:
            self._held.append(conn)
        return conn

    def retrying(self, operation: Callable[P, R]) -> Callable[P, R]:
        """``operation`` (one transaction), run again while PostgreSQL rolls it back as a conflict.

        Only for callables whose whole effect is one ``write()`` or ``read()`` block: running them
        again is running that transaction again. When the attempts are used up the caller gets
        ServiceUnavailable, which AWS clients retry with their own back-off. SQLite never rolls a
        transaction back by itself (writers queue on its lock), so there ``operation`` is returned as
        it is.
        """
        if self.is_sqlite:
            return operation

        @functools.wraps(operation)
        def run(*args: P.args, **kwargs: P.kwargs) -> R:
            for attempt in range(1, RETRY_ATTEMPTS + 1):
                try:
                    return operation(*args, **kwargs)
                except TransientConflict as conflict:
                    if attempt == RETRY_ATTEMPTS:
                        log.warning("giving up after %d attempts: %s", attempt, conflict)
                        break
                    # Jittered, growing back-off so the transactions that collided do not collide again.
                    time.sleep(random.uniform(0, 0.01 * 2**attempt))
            raise ServiceUnavailable(_UNAVAILABLE)

        return run

    @contextlib.contextmanager
    def _connection(self) -> Iterator[Connection]:
        with self._unavailable_on_error(), self.engine.connect() as conn:
            yield conn

    @contextlib.contextmanager
    def _unavailable_on_error(self) -> Iterator[None]:
        try:
            yield
        except _DATABASE_AWAY as exc:
            raise _unavailable(getattr(exc, "orig", None) or exc) from None

    def upgrade(self) -> None:
        """Bring the schema to the newest Alembic revision (idempotent, safe across replicas)."""
        revision = self.schema_revision()
        if revision == SCHEMA_REVISION:
            return
        if revision is None and self.is_sqlite and self._create_if_empty():
            return
        from alembic import command
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        with self.engine.connect() as conn:
            if not self.is_sqlite:
                # Replicas starting together take turns; the first migrates, the others find it done.
                conn.exec_driver_sql("SELECT pg_advisory_lock(727201)")
            try:
                config.attributes["connection"] = conn
                command.upgrade(config, "head")
                conn.commit()
            finally:
                if not self.is_sqlite:
                    conn.rollback()  # a failed migration leaves the transaction aborted
                    conn.exec_driver_sql("SELECT pg_advisory_unlock(727201)")
                    conn.commit()

    def _create_if_empty(self) -> bool:
        """A new SQLite database (no tables at all) gets the newest schema straight from ``tables.py``,
        stamped with its revision, in one transaction: what the migrations would build, without
        importing Alembic or running nine migrations (a test holds the two to the same schema). Each
        test server and in-process registry starts from such a database. False if it is not empty.
        """
        from sagemaker_images.store.tables import metadata

        with self.engine.connect() as conn:
            # Two processes opening one new file: the second waits here, then finds the tables.
            conn.exec_driver_sql("BEGIN IMMEDIATE")
            try:
                if sa.inspect(conn).get_table_names():
                    conn.rollback()
                    return False
                metadata.create_all(conn, checkfirst=False)
                _ALEMBIC_VERSION.create(conn)
                conn.execute(_ALEMBIC_VERSION.insert().values(version_num=SCHEMA_REVISION))
                conn.commit()
            except BaseException:
                conn.rollback()
                raise
        return True

    def schema_revision(self) -> str | None:
        """The Alembic revision the database is at (None before the first migration)."""
        with self.engine.connect() as conn:
            try:
                return conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
            except sa.exc.DBAPIError:  # no alembic_version table yet
                return None

    def ping(self) -> None:
        """One round trip to the database; ServiceUnavailable if it does not answer (readiness)."""
        with self._connection() as conn:
            conn.exec_driver_sql("SELECT 1").scalar()

    def pool_figures(self) -> dict[str, int]:
        """This process's connection pool: its size, connections lent out now, idle, and overflow."""
        pool = self.engine.pool
        figures = {}
        for state, reading in (
            ("size", "size"),
            ("checked_out", "checkedout"),
            ("idle", "checkedin"),
            ("overflow", "overflow"),
        ):
            method = getattr(pool, reading, None)
            if callable(method):
                # QueuePool counts overflow from -size (no overflow connection yet); report them as 0.
                figures[state] = max(int(method()), 0)
        return figures

    def describe(self) -> str:
        """Where the state lives, for logs (no password)."""
        return self.engine.url.render_as_string(hide_password=True)

    def dispose(self) -> None:
        if self.group_commit is not None:
            self.group_commit.close()
        with self._held_lock:
            held, self._held = self._held, []
        for conn in held:
            with contextlib.suppress(sa.exc.SQLAlchemyError):
                conn.close()
        self.engine.dispose()


class _SqliteWrite:
    """A write block on SQLite (a savepoint of the group commit), its database errors told as the
    server tells them (ServiceUnavailable). A plain class: every write request enters one."""

    __slots__ = ("block",)

    def __init__(self, block: contextlib.AbstractContextManager[Connection]) -> None:
        self.block = block

    def __enter__(self) -> Queries:
        try:
            return Queries(self.block.__enter__(), postgres=False)
        except _DATABASE_AWAY as exc:
            raise _unavailable(getattr(exc, "orig", None) or exc) from None

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: Any) -> bool:
        try:
            suppressed = bool(self.block.__exit__(kind, error, tb))
        except _DATABASE_AWAY as exc:
            raise _unavailable(getattr(exc, "orig", None) or exc) from None
        if not suppressed and isinstance(error, _DATABASE_AWAY):
            raise _unavailable(getattr(error, "orig", None) or error) from None
        return suppressed


class _SqliteRead:
    """The SQLite reads of one thread, over the connection that thread holds (see ``Database.read``).

    BEGIN and ROLLBACK go straight to the driver, not through SQLAlchemy's execution machinery: they
    cost more CPU than SQLite's answer to a point query. In WAL mode each BEGIN sees the newest commit.
    On the event loop's thread (``turns``) the reads of one turn of the loop share one snapshot, begun
    by the first and ended when the turn is over: each read transaction of SQLite takes and releases a
    lock of its shared memory (system calls that cost what the lookup itself costs).
    A plain class rather than a generator context manager: this is entered on every read.
    """

    __slots__ = ("conn", "driver", "open", "queries", "transaction", "turns")

    def __init__(self, conn: Connection, turns: asyncio.AbstractEventLoop | None) -> None:
        self.conn = conn
        self.driver: Any = conn.connection.driver_connection
        self.queries = Queries(conn, postgres=False)
        self.transaction = True
        self.turns = turns
        self.open = False  # a snapshot of this turn is open

    def stale(self) -> bool:
        return self.conn.closed or self.conn.invalidated

    def snapshot(self, transaction: bool) -> _SqliteRead:
        self.transaction = transaction
        return self

    def __enter__(self) -> Queries:
        if self.turns is not None:
            if not self.open:
                self._begin()
                self.open = True
                self.turns.call_soon(self.end_turn)
        elif self.transaction:
            self._begin()
        return self.queries

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, _tb: Any) -> None:
        if self.turns is None:
            self._end()
        elif isinstance(error, _DATABASE_AWAY):
            self.end_turn()
        if isinstance(error, _DATABASE_AWAY):
            raise _unavailable(getattr(error, "orig", None) or error) from None

    def end_turn(self) -> None:
        if self.open:
            self.open = False
            with contextlib.suppress(sa.exc.SQLAlchemyError, sqlite3.Error):
                self._end()

    def _begin(self) -> None:
        try:
            self.driver.execute("BEGIN")
        except sqlite3.Error as exc:
            raise _unavailable(exc) from None

    def _end(self) -> None:
        if self.conn.in_transaction():  # a statement went through SQLAlchemy: end its transaction too
            self.conn.rollback()
        elif self.transaction or self.turns is not None:
            self.driver.rollback()


def normalise_url(url: str) -> URL:
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def open_database(url: str, *, pool_size: int = 8, upgrade: bool = True) -> Database:
    parsed = normalise_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = _sqlite_engine(parsed)
    elif parsed.get_backend_name() == "postgresql":
        options = " ".join(f"-c {name}={value}" for name, value in POSTGRES_OPTIONS.items())
        engine = sa.create_engine(
            parsed,
            # The URL's own query parameters (connect_timeout=..., options=...) win over these.
            connect_args={"connect_timeout": 10, "options": options, **parsed.query},
            pool_size=pool_size,
            max_overflow=pool_size,
            pool_pre_ping=True,
            pool_recycle=1800,
        )
    else:
        raise ValueError(f"unsupported database URL {url!r}: use sqlite:///PATH or postgresql://...")
    database = Database(engine)
    if upgrade:
        database.upgrade()
    return database


# Errors that say the database cannot answer now (not that a statement is wrong): through
# SQLAlchemy, or from SQLite's driver itself for what goes to it directly (BEGIN, SAVEPOINT, COMMIT).
_DATABASE_AWAY = (
    sa.exc.OperationalError,
    sa.exc.InterfaceError,
    sqlite3.OperationalError,
    sqlite3.InterfaceError,
)


def _unavailable(cause: BaseException) -> ServiceUnavailable:
    """What a client is told when the database failed a statement: to retry."""
    if _is_transaction_rollback(cause):
        log.info("transaction rolled back by the database, to be retried: %s", cause)
        return TransientConflict(_UNAVAILABLE)
    # The database is away (restarting, unreachable, a lock held too long): a retryable error, and
    # the pool discards the broken connection on its own.
    log.warning("database unavailable: %s", cause)
    return ServiceUnavailable(_UNAVAILABLE)


def _is_transaction_rollback(exc: BaseException) -> bool:
    """A deadlock or serialization failure (SQLSTATE class 40): the database undid it, nothing applied."""
    sqlstate = getattr(exc, "sqlstate", None)
    return isinstance(sqlstate, str) and sqlstate.startswith("40")


_sqlite_setup_lock = threading.Lock()


def _sqlite_engine(url: URL) -> Engine:
    # A ``file:`` URI (``?uri=true``, e.g. ``mode=ro``) names its file itself: no directory to make.
    if url.database and url.database != ":memory:" and not url.query.get("uri"):
        Path(url.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(
        url,
        # Transactions are begun explicitly (BEGIN / BEGIN IMMEDIATE) in Database, not by the driver.
        connect_args={"isolation_level": None, "check_same_thread": False, "timeout": 30},
        pool_size=8,
        max_overflow=8,
    )

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection: Any, _record: Any) -> None:
        with _sqlite_setup_lock:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

    return engine
