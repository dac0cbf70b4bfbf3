"""When an image version set TO_BE_ARCHIVED reads ARCHIVED.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("image_versions") as batch:
        batch.add_column(sa.Column("archives_at", sa.Float))
    # When a version already TO_BE_ARCHIVED was set so is not recorded; its last change is the latest
    # it can have been, so it archives the default three months after that.
    op.execute(
        "UPDATE image_versions SET archives_at = modified_at + 7776000"
        " WHERE vendor_guidance = 'TO_BE_ARCHIVED'"
    )


def downgrade() -> None:
    with op.batch_alter_table("image_versions") as batch:
        batch.drop_column("archives_at")
