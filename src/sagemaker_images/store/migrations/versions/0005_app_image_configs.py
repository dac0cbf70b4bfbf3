"""AppImageConfigs.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "app_image_configs",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("account", sa.String(12), nullable=False),
        sa.Column("region", sa.String(32), nullable=False),
        sa.Column("name", sa.String(63), nullable=False),
        sa.Column("name_key", sa.String(63), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("modified_at", sa.Float, nullable=False),
        sa.Column("kernel_gateway_image_config", sa.Text),
        sa.Column("jupyter_lab_app_image_config", sa.Text),
        sa.Column("code_editor_app_image_config", sa.Text),
        sa.UniqueConstraint("account", "region", "name_key", name="uq_app_image_configs_tenant_name"),
    )
    op.create_index(
        "ix_app_image_configs_tenant_created", "app_image_configs", ["account", "region", "created_at", "id"]
    )
    op.create_index(
        "ix_app_image_configs_tenant_modified",
        "app_image_configs",
        ["account", "region", "modified_at", "id"],
    )


def downgrade() -> None:
    op.drop_table("app_image_configs")
