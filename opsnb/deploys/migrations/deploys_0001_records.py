"""deploys: deployment records

Revision ID: deploys_0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from opsnb.store.types import UTCDateTime

revision = "deploys_0001"
down_revision = None
branch_labels = ("deploys",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "deploys",
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("service", sa.String(100), nullable=False),
        sa.Column("env", sa.String(50), nullable=False),
        sa.Column("version", sa.String(100), nullable=False),
        sa.Column("previous_version", sa.String(100), nullable=True),
        sa.Column("commit", sa.String(64), nullable=True),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
        sa.Column("rollback_of", sa.String(64), nullable=True),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_deploys_id", "deploys", ["id"], unique=True)
    op.create_index("ix_deploys_service", "deploys", ["service"])
    op.create_index("ix_deploys_env", "deploys", ["env"])
    op.create_index("ix_deploys_started_at", "deploys", ["started_at"])


def downgrade() -> None:
    op.drop_table("deploys")
