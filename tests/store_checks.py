"""Read a database behind a server's back and list every broken invariant (empty: consistent).

Used after fuzzing, crashes and faults: nothing half-written may be visible.
"""

from __future__ import annotations

import sqlalchemy as sa

CHECKS = {
    "version numbers above their image's counter": """
        SELECT i.id, i.version_counter, MAX(v.version) FROM images i JOIN image_versions v ON v.image_id = i.id
        GROUP BY i.id, i.version_counter HAVING MAX(v.version) > i.version_counter""",
    "versions without their image": """
        SELECT v.image_id, v.version FROM image_versions v LEFT JOIN images i ON i.id = v.image_id
        WHERE i.id IS NULL""",
    "aliases of missing versions": """
        SELECT a.image_id, a.alias, a.version FROM image_aliases a
        LEFT JOIN image_versions v ON v.image_id = a.image_id AND v.version = a.version
        WHERE v.image_id IS NULL""",
    "tags of missing images": """
        SELECT t.image_id, t.key FROM tags t LEFT JOIN images i ON i.id = t.image_id WHERE i.id IS NULL""",
    "tags of missing versions": """
        SELECT t.image_id, t.version, t.key FROM tags t
        LEFT JOIN image_versions v ON v.image_id = t.image_id AND v.version = t.version
        WHERE t.version <> 0 AND v.image_id IS NULL""",
    "versions numbered below 1": "SELECT image_id, version FROM image_versions WHERE version < 1",
    "versions to be archived without a time to archive them": """
        SELECT image_id, version FROM image_versions
        WHERE vendor_guidance = 'TO_BE_ARCHIVED' AND archives_at IS NULL""",
    "tags of missing app image configs": """
        SELECT t.config_id, t.key FROM app_image_config_tags t
        LEFT JOIN app_image_configs c ON c.id = t.config_id WHERE c.id IS NULL""",
    "app image configs sharing a name": """
        SELECT account, region, name_key FROM app_image_configs
        GROUP BY account, region, name_key HAVING COUNT(*) > 1""",
}


def _engine(url: str) -> sa.Engine:
    if url.startswith(("postgresql://", "postgres://")):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    return sa.create_engine(url, poolclass=sa.pool.NullPool)


def inconsistencies(url: str) -> list[str]:
    engine = _engine(url)
    problems: list[str] = []
    try:
        with engine.connect() as conn:
            if engine.dialect.name == "sqlite":
                integrity = [row[0] for row in conn.exec_driver_sql("PRAGMA integrity_check")]
                if integrity != ["ok"]:
                    problems.append(f"PRAGMA integrity_check: {integrity}")
                foreign = list(conn.exec_driver_sql("PRAGMA foreign_key_check"))
                if foreign:
                    problems.append(f"PRAGMA foreign_key_check: {foreign[:5]}")
            for name, query in CHECKS.items():
                rows = list(conn.exec_driver_sql(query))
                if rows:
                    problems.append(f"{name}: {rows[:5]}")
    finally:
        engine.dispose()
    return problems


def count_rows(url: str, table: str) -> int:
    engine = _engine(url)
    try:
        with engine.connect() as conn:
            return conn.exec_driver_sql(f"SELECT COUNT(*) FROM {table}").scalar_one()
    finally:
        engine.dispose()
