"""AppImageConfigs: their table and every statement that reads or writes it.

An AppImageConfig has no status (the API is synchronous), so a row is simply there or not. Its three
app configurations are stored as the JSON the API carries: they are read and written whole, and
never searched inside.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from sagemaker_images.store.keyset import Keyset, Page, Sort, by_columns, cut, order_and_bound
from sagemaker_images.store.queries import Conflict, Queries, TimeRange
from sagemaker_images.store.tables import Id, metadata
from sagemaker_images.store.tag_sets import TagSet

app_image_configs = sa.Table(
    "app_image_configs",
    metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column("account", sa.String(12), nullable=False),
    sa.Column("region", sa.String(32), nullable=False),
    sa.Column("name", sa.String(63), nullable=False),
    # Unique case-insensitively, as images are: the ARN lowercases the name.
    sa.Column("name_key", sa.String(63), nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("modified_at", sa.Float, nullable=False),
    sa.Column("kernel_gateway_image_config", sa.Text),
    sa.Column("jupyter_lab_app_image_config", sa.Text),
    sa.Column("code_editor_app_image_config", sa.Text),
    sa.UniqueConstraint("account", "region", "name_key", name="uq_app_image_configs_tenant_name"),
    sa.Index("ix_app_image_configs_tenant_created", "account", "region", "created_at", "id"),
    sa.Index("ix_app_image_configs_tenant_modified", "account", "region", "modified_at", "id"),
)

# Tags of a config, in the order they were added (``tag_sets``); they go with the config.
app_image_config_tags = sa.Table(
    "app_image_config_tags",
    metadata,
    sa.Column("config_id", Id, sa.ForeignKey("app_image_configs.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("key", sa.String(128), primary_key=True),
    sa.Column("value", sa.String(256), nullable=False),
    sa.Column("position", sa.Integer, nullable=False),
    sa.Index("ix_app_image_config_tags_position", "config_id", "position"),
)

# The columns ordering the listing, the tie-breaker last (a position holds their values).
_ORDERS = {
    Sort.CREATED: (app_image_configs.c.created_at, app_image_configs.c.id),
    Sort.MODIFIED: (app_image_configs.c.modified_at, app_image_configs.c.id),
    Sort.NAME: (app_image_configs.c.name_key,),
}
_POSITIONS = {sort: by_columns([c.key for c in columns]) for sort, columns in _ORDERS.items()}


class AppImageConfigQueries:
    """The statements of one transaction (the connection of a ``Database.read()``/``write()`` block)."""

    def __init__(self, queries: Queries) -> None:
        self.conn: Connection = queries.conn
        self.postgres = queries.postgres

    def get(
        self, account: str, region: str, name_key: str, *, lock: bool = False
    ) -> Mapping[str, Any] | None:
        query = sa.select(app_image_configs).where(
            app_image_configs.c.account == account,
            app_image_configs.c.region == region,
            app_image_configs.c.name_key == name_key,
        )
        if lock and self.postgres:
            query = query.with_for_update()
        return cast("Mapping[str, Any] | None", self.conn.execute(query).mappings().first())

    def insert(self, values: dict[str, Any]) -> int:
        statement = sa.insert(app_image_configs).values(values).returning(app_image_configs.c.id)
        try:
            return int(self.conn.execute(statement).scalar_one())
        except sa.exc.IntegrityError as exc:
            raise Conflict(str(exc.orig)) from None

    def update(self, config_id: int, values: dict[str, Any]) -> None:
        self.conn.execute(
            sa.update(app_image_configs).where(app_image_configs.c.id == config_id).values(values)
        )

    def tag_set(self, config_id: int) -> TagSet:
        return TagSet(self.conn, app_image_config_tags, {"config_id": config_id})

    def delete(self, config_id: int) -> None:
        self.conn.execute(sa.delete(app_image_configs).where(app_image_configs.c.id == config_id))

    def list(
        self, account: str, region: str, *, name_contains: str | None, when: TimeRange, keyset: Keyset
    ) -> Page[Mapping[str, Any]]:
        order, after = order_and_bound(_ORDERS[keyset.sort], keyset.descending, keyset.after)
        query = sa.select(app_image_configs).where(
            app_image_configs.c.account == account, app_image_configs.c.region == region, *after
        )
        # Inclusive bounds, as the API documents.
        for column, low, high in (
            (app_image_configs.c.created_at, when.created_after, when.created_before),
            (app_image_configs.c.modified_at, when.modified_after, when.modified_before),
        ):
            if low is not None:
                query = query.where(column >= low)
            if high is not None:
                query = query.where(column <= high)
        if name_contains:
            query = query.where(app_image_configs.c.name_key.contains(name_contains.lower(), autoescape=True))
        rows = self.conn.execute(query.order_by(*order).limit(keyset.limit)).mappings().all()
        return cut(cast("Sequence[Mapping[str, Any]]", rows), keyset, _POSITIONS[keyset.sort])
