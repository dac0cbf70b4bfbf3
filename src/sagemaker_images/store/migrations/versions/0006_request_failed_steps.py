"""Cloud Control requests: count failing steps; identifiers as text of any length.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("resource_requests") as batch:
        batch.add_column(sa.Column("failed_steps", sa.Integer, nullable=False, server_default="0"))
        batch.alter_column("identifier", type_=sa.Text, existing_type=sa.String(1024))


def downgrade() -> None:
    with op.batch_alter_table("resource_requests") as batch:
        batch.alter_column("identifier", type_=sa.String(1024), existing_type=sa.Text)
        batch.drop_column("failed_steps")
