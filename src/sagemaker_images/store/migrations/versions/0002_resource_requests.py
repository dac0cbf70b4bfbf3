"""Cloud Control resource requests.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "resource_requests",
        sa.Column("request_token", sa.String(36), primary_key=True),
        sa.Column("account", sa.String(12), nullable=False),
        sa.Column("region", sa.String(32), nullable=False),
        sa.Column("type_name", sa.String(196), nullable=False),
        sa.Column("operation", sa.String(8), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("identifier", sa.String(1024)),
        sa.Column("active_key", sa.String(1100)),
        sa.Column("client_token", sa.String(128)),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("desired_state", sa.Text),
        sa.Column("previous_state", sa.Text),
        sa.Column("resource_model", sa.Text),
        sa.Column("handler_state", sa.Text, nullable=False),
        sa.Column("status_message", sa.Text),
        sa.Column("error_code", sa.String(32)),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("event_time", sa.Float, nullable=False),
        sa.Column("retry_after", sa.Float),
        sa.Column("lease_owner", sa.String(36)),
        sa.Column("lease_until", sa.Float),
        sa.UniqueConstraint("account", "region", "client_token", name="uq_resource_requests_client_token"),
        sa.UniqueConstraint("account", "region", "active_key", name="uq_resource_requests_active_key"),
    )
    op.create_index(
        "ix_resource_requests_tenant_created",
        "resource_requests",
        ["account", "region", "created_at", "request_token"],
    )
    op.create_index("ix_resource_requests_status_retry", "resource_requests", ["status", "retry_after"])


def downgrade() -> None:
    op.drop_table("resource_requests")
