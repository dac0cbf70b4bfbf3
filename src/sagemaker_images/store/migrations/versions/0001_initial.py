"""Images, versions, aliases and tags.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "images",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("account", sa.String(12), nullable=False),
        sa.Column("region", sa.String(32), nullable=False),
        sa.Column("name", sa.String(63), nullable=False),
        sa.Column("name_key", sa.String(63), nullable=False),
        sa.Column("role_arn", sa.String(2048), nullable=False),
        sa.Column("display_name", sa.String(128)),
        sa.Column("description", sa.String(512)),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("modified_at", sa.Float, nullable=False),
        sa.Column("settles_at", sa.Float, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("next_status", sa.String(16), nullable=False),
        sa.Column("failure_reason", sa.String(1024)),
        sa.Column("version_counter", sa.Integer, nullable=False, server_default="0"),
        sa.UniqueConstraint("account", "region", "name_key", name="uq_images_tenant_name"),
    )
    op.create_index("ix_images_tenant_created", "images", ["account", "region", "created_at", "id"])
    op.create_index("ix_images_tenant_settles", "images", ["account", "region", "settles_at", "id"])
    op.create_table(
        "image_versions",
        sa.Column("image_id", Id, sa.ForeignKey("images.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("client_token", sa.String(36), nullable=False),
        sa.Column("base_image", sa.String(255), nullable=False),
        sa.Column("vendor_guidance", sa.String(32)),
        sa.Column("job_type", sa.String(32)),
        sa.Column("ml_framework", sa.String(128)),
        sa.Column("programming_lang", sa.String(128)),
        sa.Column("processor", sa.String(8)),
        sa.Column("horovod", sa.Boolean),
        sa.Column("release_notes", sa.String(255)),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("modified_at", sa.Float, nullable=False),
        sa.Column("settles_at", sa.Float, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("next_status", sa.String(16), nullable=False),
        sa.Column("failure_reason", sa.String(1024)),
        sa.UniqueConstraint("image_id", "client_token", name="uq_image_versions_client_token"),
    )
    op.create_index("ix_image_versions_created", "image_versions", ["image_id", "created_at", "version"])
    op.create_index("ix_image_versions_settles", "image_versions", ["image_id", "settles_at", "version"])
    op.create_table(
        "image_aliases",
        sa.Column("image_id", Id, primary_key=True),
        sa.Column("alias", sa.String(128), primary_key=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.ForeignKeyConstraint(
            ["image_id", "version"],
            ["image_versions.image_id", "image_versions.version"],
            ondelete="CASCADE",
            name="fk_image_aliases_version",
        ),
    )
    op.create_index("ix_image_aliases_version", "image_aliases", ["image_id", "version", "alias"])
    op.create_table(
        "tags",
        sa.Column("image_id", Id, sa.ForeignKey("images.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("key", sa.String(128), primary_key=True),
        sa.Column("value", sa.String(256), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("tags")
    op.drop_table("image_aliases")
    op.drop_table("image_versions")
    op.drop_table("images")
