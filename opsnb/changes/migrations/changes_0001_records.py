"""changes: change records (config, feature flags, maintenance)

Revision ID: changes_0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from opsnb.store.types import UTCDateTime

revision = "changes_0001"
down_revision = None
branch_labels = ("changes",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "changes",
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(30), nullable=False),
        sa.Column("service", sa.String(100), nullable=False),
        sa.Column("env", sa.String(50), nullable=False),
        sa.Column("summary", sa.String(1024), nullable=False),
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("details", sa.JSON, nullable=False),
        sa.Column("links", sa.JSON, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_changes_id", "changes", ["id"], unique=True)
    op.create_index("ix_changes_service", "changes", ["service"])
    op.create_index("ix_changes_at", "changes", ["at"])


def downgrade() -> None:
    op.drop_table("changes")
