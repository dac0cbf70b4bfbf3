"""Secrets shared by every replica: created once in the database, read by every process at start-up."""

from __future__ import annotations

import secrets

import sqlalchemy as sa

from sagemaker_images.store.database import Database
from sagemaker_images.store.tables import server_secrets


def shared_secret(database: Database, name: str, size: int = 32) -> bytes:
    """The secret called ``name``; the first process to ask creates it, every later one reads it."""
    # The dialect's own INSERT (for ON CONFLICT), imported for the database in use only: importing
    # SQLAlchemy's PostgreSQL dialect is a noticeable part of an SQLite server's start-up.
    if database.is_sqlite:
        from sqlalchemy.dialects import sqlite

        insert: sa.Insert = sqlite.insert(server_secrets).on_conflict_do_nothing(index_elements=["name"])
    else:
        from sqlalchemy.dialects import postgresql

        insert = postgresql.insert(server_secrets).on_conflict_do_nothing(index_elements=["name"])
    with database.write() as q:
        # Replicas starting together race here: the first insert wins, the others insert nothing.
        q.conn.execute(insert.values(name=name, value=secrets.token_hex(size)))
        value = q.conn.execute(
            sa.select(server_secrets.c.value).where(server_secrets.c.name == name)
        ).scalar_one()
    return bytes.fromhex(value)
