"""deploys: freezes

Revision ID: deploys_0002
Revises: deploys_0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from opsnb.store.types import UTCDateTime

revision = "deploys_0002"
down_revision = "deploys_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "deploy_freezes",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("service", sa.String(100), nullable=False, index=True),
        sa.Column("env", sa.String(50), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("until", UTCDateTime(), nullable=True),
        sa.Column("lifted_at", UTCDateTime(), nullable=True),
        sa.Column("lifted_by", sa.String(200), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("deploy_freezes")
