"""SQLite's plan for every statement the server runs: ``python -m benchmarks.plans [DB]``.

Runs each measured operation once against the seeded 1,000,000-version database (see ``run.py``),
records the statements it executes — through SQLAlchemy and as prepared statements on the driver's
cursor (``store/prepared.py``) — and prints ``EXPLAIN QUERY PLAN`` for each; then explains every
other registered prepared statement too. Every line should read SEARCH ... USING (COVERING) INDEX /
PRIMARY KEY: a SCAN of a table means cost that grows with it.
"""

from __future__ import annotations

import sys
import uuid
from typing import Any

from sqlalchemy import event

from benchmarks import run, seed
from sagemaker_images.config import Settings
from sagemaker_images.services import build_services
from sagemaker_images.store import open_database, prepared
from sagemaker_images.tenancy import Tenant


def main() -> int:
    path = sys.argv[1] if len(sys.argv) > 1 else str(run.BIG_DATABASE)
    database = open_database(f"sqlite:///{path}")
    services = build_services(Settings(), database)
    sagemaker = services["SageMaker"].handlers
    tenant = Tenant(account=seed.ACCOUNT, region=seed.REGION)
    name = seed.image_name(5000)
    statements: list[tuple[str, Any]] = []

    @event.listens_for(database.engine, "before_cursor_execute")
    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: Any) -> None:
        if statement.lstrip().upper().startswith(("SELECT", "INSERT", "UPDATE", "DELETE")):
            statements.append((statement, parameters))

    # Prepared statements pass their values as a list (SQLite is positional); EXPLAIN takes a tuple.
    prepared.observers.append(lambda statement, parameters: statements.append((statement, tuple(parameters))))

    first = sagemaker["ListImageVersions"](tenant, {"ImageName": name, "MaxResults": run.PAGE_SIZE})
    calls = {
        "DescribeImage": lambda: sagemaker["DescribeImage"](tenant, {"ImageName": name}),
        "DescribeImageVersion (latest)": lambda: sagemaker["DescribeImageVersion"](
            tenant, {"ImageName": name}
        ),
        "DescribeImageVersion (version 3)": lambda: sagemaker["DescribeImageVersion"](
            tenant, {"ImageName": name, "Version": 3}
        ),
        "ListImageVersions (first page)": lambda: sagemaker["ListImageVersions"](
            tenant, {"ImageName": name, "MaxResults": run.PAGE_SIZE}
        ),
        "ListImageVersions (next page)": lambda: sagemaker["ListImageVersions"](
            tenant, {"ImageName": name, "MaxResults": run.PAGE_SIZE, "NextToken": first["NextToken"]}
        ),
        "CreateImageVersion": lambda: sagemaker["CreateImageVersion"](
            tenant,
            {"ImageName": seed.image_name(0), "BaseImage": seed.BASE_IMAGE, "ClientToken": uuid.uuid4().hex},
        ),
    }
    explained: set[str] = set()
    with database.engine.connect() as conn:

        def explain(statement: str, parameters: Any) -> None:
            explained.add(statement)
            print("  " + " ".join(statement.split())[:140])
            for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters):
                print(f"      {row[3]}")

        for label, call in calls.items():
            statements.clear()
            call()
            print(f"== {label}")
            for statement, parameters in statements:
                explain(statement, parameters)
        # The prepared statements no measured call ran (plans do not depend on the values: NULLs).
        print("== every other prepared statement")
        for statement in prepared.REGISTERED:
            sql = statement.sql(conn.dialect)
            if sql not in explained:
                explain(sql, tuple(None for _ in range(sql.count("?"))))
    database.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
