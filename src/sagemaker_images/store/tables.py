"""The schema. Changes go through an Alembic migration in ``migrations/versions`` as well.

Times are epoch seconds as floats (what the wire carries). A resource's lifecycle is stored as data:
``status`` is what it was set to, ``next_status`` what it becomes at ``settles_at`` — so every replica
computes the same answer at the same moment, without a background job. A ``next_status`` equal to
the domain's "gone" status (``DELETED``, ``images/lifecycle.py``) marks a resource that disappears at
``settles_at``; the statements that hide such rows are given that status.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

metadata = sa.MetaData()

# SQLite only gives AUTOINCREMENT semantics to an INTEGER PRIMARY KEY.
Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _check_columns() -> list[sa.Column[Any]]:
    """A transition whose outcome waits for a check in the background (``status = next_status``, in
    progress): attempts so far, when to try next, and who holds it now (see ``store/pending.py``)."""
    return [
        sa.Column("check_attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("check_after", sa.Float),
        sa.Column("lease_owner", sa.String(36)),
        sa.Column("lease_until", sa.Float),
    ]


images = sa.Table(
    "images",
    metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column("account", sa.String(12), nullable=False),
    sa.Column("region", sa.String(32), nullable=False),
    sa.Column("name", sa.String(63), nullable=False),
    # Names are unique case-insensitively: the ARN lowercases them.
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
    # The last version number handed out; only grows, so numbers are never reused.
    sa.Column("version_counter", sa.Integer, nullable=False, server_default="0"),
    *_check_columns(),
    sa.UniqueConstraint("account", "region", "name_key", name="uq_images_tenant_name"),
    sa.Index("ix_images_tenant_created", "account", "region", "created_at", "id"),
    sa.Index("ix_images_tenant_settles", "account", "region", "settles_at", "id"),
    sa.Index("ix_images_pending", "next_status", "check_after"),
)

image_versions = sa.Table(
    "image_versions",
    metadata,
    sa.Column("image_id", Id, sa.ForeignKey("images.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("client_token", sa.String(36), nullable=False),
    sa.Column("base_image", sa.String(255), nullable=False),
    sa.Column("vendor_guidance", sa.String(32)),
    # When a TO_BE_ARCHIVED version reads ARCHIVED (set with the guidance, from ``--archive-after``).
    sa.Column("archives_at", sa.Float),
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
    # The digest-pinned image the BaseImage resolved to; NULL when it was taken as written.
    sa.Column("container_image", sa.String(1024)),
    *_check_columns(),
    sa.UniqueConstraint("image_id", "client_token", name="uq_image_versions_client_token"),
    sa.Index("ix_image_versions_created", "image_id", "created_at", "version"),
    sa.Index("ix_image_versions_settles", "image_id", "settles_at", "version"),
    sa.Index("ix_image_versions_pending", "next_status", "check_after"),
)

image_aliases = sa.Table(
    "image_aliases",
    metadata,
    sa.Column("image_id", Id, primary_key=True),
    sa.Column("alias", sa.String(128), primary_key=True),
    sa.Column("version", sa.Integer, nullable=False),
    sa.ForeignKeyConstraint(
        ["image_id", "version"],
        ["image_versions.image_id", "image_versions.version"],
        ondelete="CASCADE",
        name="fk_image_aliases_version",
    ),
    sa.Index("ix_image_aliases_version", "image_id", "version", "alias"),
)

# Tags of an image (version 0) or of one of its versions; they go with the resource they tag.
# ``position`` keeps the order tags were added in (a changed value keeps its place): clients that
# patch tags by list index (Terraform's awscc provider) compute the index against the order they read.
tags = sa.Table(
    "tags",
    metadata,
    sa.Column("image_id", Id, sa.ForeignKey("images.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("key", sa.String(128), primary_key=True),
    sa.Column("value", sa.String(256), nullable=False),
    sa.Column("position", sa.Integer, nullable=False, server_default="0"),
    sa.Index("ix_tags_position", "image_id", "version", "position"),
)

IMAGE_TAGS = 0

# Cloud Control resource requests (kept 7 days, as AWS keeps them). A request's handler progress is
# data (``handler_state``), so any replica — or this one after a restart — can take the next step.
# ``active_key`` names the resource while a request on it is unfinished: the unique constraint is
# what answers a second mutating request with ConcurrentOperationException, across replicas.
# ``lease_owner``/``lease_until`` claim a request for one step so two replicas never run it twice.
resource_requests = sa.Table(
    "resource_requests",
    metadata,
    sa.Column("request_token", sa.String(36), primary_key=True),
    sa.Column("account", sa.String(12), nullable=False),
    sa.Column("region", sa.String(32), nullable=False),
    sa.Column("type_name", sa.String(196), nullable=False),
    sa.Column("operation", sa.String(8), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    # Text: an identifier a client sent may be stored escaped (store/resource_requests.py).
    sa.Column("identifier", sa.Text),
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
    # Steps claimed since the last recorded outcome: how a request that keeps failing is ended.
    sa.Column("failed_steps", sa.Integer, nullable=False, server_default="0"),
    sa.UniqueConstraint("account", "region", "client_token", name="uq_resource_requests_client_token"),
    sa.UniqueConstraint("account", "region", "active_key", name="uq_resource_requests_active_key"),
    sa.Index("ix_resource_requests_tenant_created", "account", "region", "created_at", "request_token"),
    sa.Index("ix_resource_requests_status_retry", "status", "retry_after"),
)

# Secrets shared by every replica on this database, created once by whichever starts first (the key
# sealing pagination tokens). They belong to the installation, not to its state: export and import
# leave them behind, so each database keeps its own.
server_secrets = sa.Table(
    "server_secrets",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("value", sa.String(128), nullable=False),
)
INSTALLATION_TABLES = frozenset({"server_secrets"})
