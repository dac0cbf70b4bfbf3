"""Hot statements compiled once per database dialect and run on the driver's own cursor.

Each statement is still written once, as a SQLAlchemy Core expression in ``queries``. What this
skips is SQLAlchemy's per-execution work — building the parameter dict of the compiled form,
cache keys, result metadata and row objects — which costs several times what SQLite takes to
answer a point query by index (measured: 35 µs against 12 µs for the image lookup). Results are
plain dicts, with the column types' own result conversions applied (SQLite's 0/1 to booleans), and
driver errors are re-raised as SQLAlchemy's, so callers see exactly what ``Connection.execute``
would have given them (tests/unit/test_prepared.py compares the two).

Because these statements bypass SQLAlchemy's execution events, every one is listed in ``REGISTERED``
and each run is reported to the ``observers`` (none while serving): ``benchmarks/plans.py`` explains
them all from there.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Dialect


@dataclass(frozen=True, slots=True)
class _Compiled:
    sql: str
    # Positional drivers (SQLite's "?") take the values in this order; named ones (psycopg) a dict.
    order: tuple[str, ...] | None
    # Values of the binds the statement carries itself (literals), if any.
    constants: dict[str, Any]
    columns: tuple[Any, ...]  # the result columns, whose types convert what the driver returns


@dataclass(frozen=True, slots=True)
class _Results:
    names: tuple[str, ...]
    convert: tuple[tuple[int, Any], ...]  # (column index, conversion) of the columns that have one


# Called with (SQL, parameters) before each run of a prepared statement.
Observer = Callable[[str, Any], None]
observers: list[Observer] = []
# Every prepared statement made so far (module-level ones at import, listing shapes when first used).
REGISTERED: list[Prepared] = []


class Prepared:
    def __init__(self, statement: sa.Select[Any] | sa.Update | sa.Insert) -> None:
        self.statement = statement
        self._by_dialect: dict[str, _Compiled] = {}
        self._results: dict[str, _Results] = {}
        REGISTERED.append(self)

    def sql(self, dialect: Dialect) -> str:
        compiled = self._by_dialect.get(dialect.name) or self._compile(dialect)
        return compiled.sql

    def first(self, conn: Connection, **params: Any) -> dict[str, Any] | None:
        rows = self._run(conn, params, one=True)
        return rows[0] if rows else None

    def all(self, conn: Connection, **params: Any) -> list[dict[str, Any]]:
        return self._run(conn, params, one=False)

    def execute(self, conn: Connection, **params: Any) -> None:
        """Run a statement that returns no rows (an INSERT)."""
        self._run(conn, params, one=None)

    def _run(self, conn: Connection, params: dict[str, Any], *, one: bool | None) -> list[dict[str, Any]]:
        dialect = conn.dialect
        compiled = self._by_dialect.get(dialect.name) or self._compile(dialect)
        if compiled.constants:
            params = {**compiled.constants, **params}
        args: Any = [params[name] for name in compiled.order] if compiled.order is not None else params
        driver: Any = conn.connection.driver_connection
        if observers:
            for observe in observers:
                observe(compiled.sql, args)
        try:
            cursor = driver.execute(compiled.sql, args)
            if one is None:
                return []
            if one:
                row = cursor.fetchone()
                fetched = () if row is None else (row,)
            else:
                fetched = cursor.fetchall()
        except dialect.loaded_dbapi.Error as exc:
            raise sa.exc.DBAPIError.instance(
                compiled.sql, args, exc, dialect.loaded_dbapi.Error, dialect=dialect
            ) from exc
        if not fetched:
            return []
        results = self._results.get(dialect.name) or self._describe(dialect, compiled, cursor.description)
        names, convert = results.names, results.convert
        if not convert:
            return [dict(zip(names, row, strict=True)) for row in fetched]
        rows = []
        for row in fetched:
            values = list(row)
            for index, conversion in convert:
                values[index] = conversion(values[index])
            rows.append(dict(zip(names, values, strict=True)))
        return rows

    def _compile(self, dialect: Dialect) -> _Compiled:
        compiled = self.statement.compile(dialect=dialect)
        columns = list(self.statement.exported_columns)
        result = _Compiled(
            sql=str(compiled),
            order=tuple(compiled.positiontup or ()) if compiled.positional else None,
            constants={name: bind.value for name, bind in compiled.binds.items() if not bind.required},
            columns=tuple(columns),
        )
        self._by_dialect[dialect.name] = result
        return result

    def _describe(self, dialect: Dialect, compiled: _Compiled, description: Any) -> _Results:
        """Conversions by the driver's own type codes, known once a cursor has described the result."""
        conversions = [
            column.type.dialect_impl(dialect).result_processor(dialect, described[1])
            for column, described in zip(compiled.columns, description, strict=True)
        ]
        results = _Results(
            names=tuple(column.key for column in compiled.columns),
            convert=tuple((index, f) for index, f in enumerate(conversions) if f is not None),
        )
        self._results[dialect.name] = results
        return results
