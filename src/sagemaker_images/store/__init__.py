"""Persistence: SQLAlchemy Core tables, transactions and queries for SQLite and PostgreSQL.

Every invariant (unique names per tenant, version numbers, one alias per image, idempotency tokens) is
a constraint or a row lock here, never a Python lock, so any number of processes may share one database.
"""

from sagemaker_images.store.database import Database, open_database

__all__ = ["Database", "open_database"]
