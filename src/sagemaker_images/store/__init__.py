"""Persistence: SQLAlchemy Core tables, transactions and queries for SQLite and PostgreSQL.

Every invariant (unique names per tenant, version numbers, one alias per image, idempotency tokens) is
a constraint or a row lock here, never a Python lock, so any number of processes may share one database.
"""

# Each domain's tables join the one ``tables.metadata`` when their module is imported; importing them
# here means every user of the store (migrations, export/import) sees the whole schema.
from sagemaker_images.store import app_image_configs as _app_image_configs  # noqa: F401
from sagemaker_images.store.database import Database, open_database

__all__ = ["Database", "open_database"]
