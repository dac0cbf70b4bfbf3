"""Tags of AppImageConfigs, in the order they were added.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "app_image_config_tags",
        sa.Column(
            "config_id", Id, sa.ForeignKey("app_image_configs.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column("key", sa.String(128), primary_key=True),
        sa.Column("value", sa.String(256), nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
    )
    op.create_index("ix_app_image_config_tags_position", "app_image_config_tags", ["config_id", "position"])


def downgrade() -> None:
    op.drop_table("app_image_config_tags")
