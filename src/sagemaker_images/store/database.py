"""Engines, transactions and schema upgrades for SQLite (embedded default) and PostgreSQL.

SQLite runs in WAL mode with ``synchronous=FULL``: a commit is on disk before the client hears
about it, so an acknowledged write survives ``kill -9`` and power loss alike. Write transactions
start with ``BEGIN IMMEDIATE`` so two writers never deadlock upgrading a read lock; they queue on
the file lock (``busy_timeout``) instead. On PostgreSQL, writes run at READ COMMITTED and take row
locks (``SELECT ... FOR UPDATE``) on the image they change: that serialises exactly the writers that
touch the same image, and unique constraints settle races between replicas.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import URL, Connection, Engine, make_url

from sagemaker_images.errors import ServiceUnavailable
from sagemaker_images.store.queries import Queries

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"


class Database:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.is_sqlite = engine.dialect.name == "sqlite"

    @contextlib.contextmanager
    def write(self) -> Iterator[Queries]:
        """One write transaction: committed when the block ends, rolled back if it raises."""
        with self._connection() as conn:
            if self.is_sqlite:
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            else:
                conn.begin()
            try:
                yield Queries(conn, postgres=not self.is_sqlite)
            except BaseException:
                conn.rollback()
                raise
            conn.commit()

    @contextlib.contextmanager
    def read(self) -> Iterator[Queries]:
        """A read-only snapshot (one transaction), so multi-statement reads are consistent."""
        with self._connection() as conn:
            if self.is_sqlite:
                conn.exec_driver_sql("BEGIN")
            else:
                conn.begin()
            try:
                yield Queries(conn, postgres=not self.is_sqlite)
            finally:
                conn.rollback()

    @contextlib.contextmanager
    def _connection(self) -> Iterator[Connection]:
        try:
            with self.engine.connect() as conn:
                yield conn
        except (sa.exc.OperationalError, sa.exc.InterfaceError) as exc:
            # The database is away (restarting, unreachable, locked for too long): a retryable error,
            # and the pool discards the broken connection on its own.
            log.warning("database unavailable: %s", exc.orig if hasattr(exc, "orig") else exc)
            raise ServiceUnavailable("The service is unavailable. Please try again later.") from None

    def upgrade(self) -> None:
        """Bring the schema to the newest Alembic revision (idempotent, safe across replicas)."""
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
                    conn.exec_driver_sql("SELECT pg_advisory_unlock(727201)")
                    conn.commit()

    def describe(self) -> str:
        """Where the state lives, for logs (no password)."""
        return self.engine.url.render_as_string(hide_password=True)

    def dispose(self) -> None:
        self.engine.dispose()


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
        engine = sa.create_engine(
            parsed,
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


_sqlite_setup_lock = threading.Lock()


def _sqlite_engine(url: URL) -> Engine:
    if url.database and url.database != ":memory:":
        Path(url.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(
        url,
        # Transactions are begun explicitly (BEGIN / BEGIN IMMEDIATE) in Database, not by the driver.
        connect_args={"isolation_level": None, "check_same_thread": False, "timeout": 30},
        pool_size=8,
        max_overflow=8,
    )

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection, _record) -> None:
        with _sqlite_setup_lock:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

    return engine
