"""Background checks: the resolved ContainerImage of a version, and leases on pending transitions.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def _check_columns() -> list[sa.Column[int | float | str]]:
    return [
        sa.Column("check_attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("check_after", sa.Float),
        sa.Column("lease_owner", sa.String(36)),
        sa.Column("lease_until", sa.Float),
    ]


def upgrade() -> None:
    op.add_column("image_versions", sa.Column("container_image", sa.String(1024)))
    for table in ("images", "image_versions"):
        for column in _check_columns():
            op.add_column(table, column)
    op.create_index("ix_images_pending", "images", ["next_status", "check_after"])
    op.create_index("ix_image_versions_pending", "image_versions", ["next_status", "check_after"])


def downgrade() -> None:
    op.drop_index("ix_image_versions_pending", "image_versions")
    op.drop_index("ix_images_pending", "images")
    with op.batch_alter_table("image_versions") as batch:
        for column in ("container_image", "check_attempts", "check_after", "lease_owner", "lease_until"):
            batch.drop_column(column)
    with op.batch_alter_table("images") as batch:
        for column in ("check_attempts", "check_after", "lease_owner", "lease_until"):
            batch.drop_column(column)
