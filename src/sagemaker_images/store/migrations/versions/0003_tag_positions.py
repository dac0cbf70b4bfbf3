"""Tags keep the order they were added in: a position per tag within its resource.

Existing tags were listed by key, so that order becomes their position.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tags") as batch:
        batch.add_column(sa.Column("position", sa.Integer, nullable=False, server_default="0"))
    op.execute(
        "UPDATE tags SET position = (SELECT count(*) FROM tags AS earlier"
        " WHERE earlier.image_id = tags.image_id AND earlier.version = tags.version"
        " AND earlier.key < tags.key)"
    )
    op.create_index("ix_tags_position", "tags", ["image_id", "version", "position"])


def downgrade() -> None:
    op.drop_index("ix_tags_position", table_name="tags")
    with op.batch_alter_table("tags") as batch:
        batch.drop_column("position")
