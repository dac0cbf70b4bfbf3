"""Moving all state between databases (SQLite ⇄ PostgreSQL) as one JSON Lines stream.

``export`` writes a header line, then every row of every table, parents before children (the
metadata's dependency order)::

    {"format": "sagemaker-images-state", "version": 1, "revision": "0001", "tables": ["images", ...]}
    {"table": "images", "row": {"id": 1, "account": "000000000000", ...}}

``import`` loads such a stream into an empty database in one transaction (all or nothing), keeping
every primary key and counter as it was — ids, ``version_counter`` (so version numbers are never
reused), lifecycle columns — and moves PostgreSQL's id sequences past the imported ids. The test
tools' load (``import_state(..., replace=True)``) deletes the state it replaces inside that same
transaction: a stream that breaks off or does not fit leaves the database as it was.

Tables are found by iterating ``tables.metadata``, so a table added to the schema later travels
without a change here. Both ends must be at the same schema revision: the export is read at the
source's revision and refused unless it is the newest, and import migrates the target to it first.
"""

from __future__ import annotations

import base64
import datetime
import decimal
import uuid
from collections.abc import Iterable, Iterator
from typing import IO, Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from sagemaker_images.store.database import SCHEMA_REVISION, Database
from sagemaker_images.store.tables import INSTALLATION_TABLES, metadata

FORMAT = "sagemaker-images-state"
FORMAT_VERSION = 1
BATCH = 1000


class TransferError(Exception):
    """The stream or the database is not fit for the transfer; the message says why."""


def export_state(database: Database, out: IO[bytes]) -> dict[str, int]:
    """Write every row to ``out``, from one consistent snapshot; returns rows per table."""
    counts: dict[str, int] = {}
    with database.read() as q:
        conn = q.conn
        revision = _revision(conn)
        if revision != SCHEMA_REVISION:
            raise TransferError(
                f"the database is at schema revision {revision}, this version writes {SCHEMA_REVISION}: "
                "run `sagemaker-images db upgrade` on it first"
            )
        _refuse_unknown_tables(conn)
        tables = _state_tables()
        header = {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "revision": revision,
            "tables": [t.name for t in tables],
        }
        out.write(orjson.dumps(header) + b"\n")
        for table in tables:
            counts[table.name] = 0
            query = sa.select(table).order_by(*table.primary_key.columns)
            result = conn.execution_options(yield_per=BATCH).execute(query)
            for row in result.mappings():
                line = {"table": table.name, "row": dict(row)}
                # Column names may be str subclasses (quoted_name), which orjson needs told about.
                out.write(orjson.dumps(line, default=_encode, option=orjson.OPT_NON_STR_KEYS) + b"\n")
                counts[table.name] += 1
    return counts


def import_state(database: Database, lines: Iterable[bytes], *, replace: bool = False) -> dict[str, int]:
    """Load an export into ``database``; returns rows per table.

    The database must hold no state yet, unless ``replace``: then its state is deleted first, in the
    same transaction, so an export that turns out to be broken halfway leaves the old state as it was.
    """
    stream = iter(lines)
    header = _header(next(stream, b""))
    counts: dict[str, int] = {}
    with database.write() as q:
        conn = q.conn
        revision = _revision(conn)
        if header["revision"] != revision:
            raise TransferError(
                f"the export is at schema revision {header['revision']}, the database at {revision}: "
                "export and import with the same version of sagemaker-images"
            )
        _refuse_unknown_tables(conn)
        if replace:
            _delete_state(conn)
        for table in _state_tables():
            if conn.execute(sa.select(sa.literal(1)).select_from(table).limit(1)).first() is not None:
                raise TransferError(f"table {table.name} is not empty: import needs an empty database")
        try:
            _load_rows(conn, stream, counts)
        except sa.exc.IntegrityError as error:
            raise TransferError(f"the export's rows do not fit together: {error.orig}") from None
        if not database.is_sqlite:
            _advance_sequences(conn)
    return counts


def _load_rows(conn: Connection, stream: Iterator[bytes], counts: dict[str, int]) -> None:
    """Insert the rows after the header, in batches; ``counts`` gets the rows per table."""
    current: sa.Table | None = None
    batch: list[dict[str, Any]] = []
    for number, raw in enumerate(stream, start=2):
        if not raw.strip():
            continue
        try:
            item = orjson.loads(raw)
            name, row = item["table"], item["row"]
        except (orjson.JSONDecodeError, KeyError, TypeError):
            raise TransferError(f"line {number}: not a row of a sagemaker-images export") from None
        if current is None or name != current.name:
            _insert(conn, current, batch)
            batch = []
            current = metadata.tables.get(name) if name not in INSTALLATION_TABLES else None
            if current is None:
                raise TransferError(f"line {number}: unknown table {name!r}")
        batch.append(_decode(current, row, number))
        counts[name] = counts.get(name, 0) + 1
        if len(batch) >= BATCH:
            _insert(conn, current, batch)
            batch = []
    _insert(conn, current, batch)


def _header(raw: bytes) -> dict[str, Any]:
    try:
        header = orjson.loads(raw)
    except orjson.JSONDecodeError:
        header = None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise TransferError("the input is not a sagemaker-images export (first line: the format header)")
    if header.get("version") != FORMAT_VERSION:
        raise TransferError(f"export format version {header.get('version')} is not supported")
    return header


def _insert(conn: Connection, table: sa.Table | None, rows: list[dict[str, Any]]) -> None:
    if table is not None and rows:
        conn.execute(sa.insert(table), rows)


def _revision(conn: Connection) -> str | None:
    """The schema revision Alembic recorded (read directly: Alembic is not imported for transfers)."""
    if not sa.inspect(conn).has_table("alembic_version"):
        return None
    return conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()


def _state_tables() -> list[sa.Table]:
    """The tables an export carries: all but the installation's own secrets."""
    return [table for table in metadata.sorted_tables if table.name not in INSTALLATION_TABLES]


def _refuse_unknown_tables(conn: Connection) -> None:
    """A table this version does not know would be silently left behind: stop instead."""
    present = set(sa.inspect(conn).get_table_names()) - {"alembic_version"}
    unknown = sorted(present - set(metadata.tables))
    if unknown:
        raise TransferError(f"the database has tables this version does not know: {', '.join(unknown)}")


def _advance_sequences(conn: Connection) -> None:
    """Explicit ids do not move PostgreSQL's sequences: set each past the largest imported id."""
    for table in metadata.sorted_tables:
        column = table.autoincrement_column
        if column is None:
            continue
        sequence = conn.execute(
            sa.select(sa.func.pg_get_serial_sequence(table.name, column.name))
        ).scalar_one_or_none()
        if sequence is None:
            continue
        largest = conn.execute(sa.select(sa.func.max(column))).scalar_one_or_none()
        # is_called=false: the next nextval() returns exactly this value.
        conn.execute(sa.select(sa.func.setval(sequence, (largest or 0) + 1, False)))


def _encode(value: Any) -> Any:
    """JSON for the values orjson does not write by itself; ``_decode`` reads them back by column type."""
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode()
    if isinstance(value, decimal.Decimal):
        return str(value)
    raise TypeError(f"cannot export a value of type {type(value).__name__}")


def _decode(table: sa.Table, row: dict[str, Any], number: int) -> dict[str, Any]:
    unknown = set(row) - set(table.columns.keys())
    if unknown:
        raise TransferError(f"line {number}: table {table.name} has no column {sorted(unknown)[0]!r}")
    values = {}
    for name, value in row.items():
        kind = table.columns[name].type
        if value is not None and isinstance(value, str):
            if isinstance(kind, sa.LargeBinary):
                value = base64.b64decode(value)
            elif isinstance(kind, sa.DateTime):
                value = datetime.datetime.fromisoformat(value)
            elif isinstance(kind, sa.Date):
                value = datetime.date.fromisoformat(value)
            elif isinstance(kind, sa.Uuid):
                value = uuid.UUID(value)
            elif isinstance(kind, sa.Numeric) and not isinstance(kind, sa.Float):
                value = decimal.Decimal(value)
        values[name] = value
    return values


def clear_state(database: Database) -> None:
    """Delete all state, children first, in one transaction; the schema and the installation's own
    secrets stay (as export leaves them behind), so replicas and tokens already issued keep their key."""
    with database.write() as q:
        _delete_state(q.conn)


def _delete_state(conn: Connection) -> None:
    for table in reversed(_state_tables()):
        conn.execute(table.delete())
