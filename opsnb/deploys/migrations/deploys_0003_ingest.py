"""deploys: commit time and source of a deploy, webhook receipts

Revision ID: deploys_0003
Revises: deploys_0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from opsnb.store.types import UTCDateTime

revision = "deploys_0003"
down_revision = "deploys_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("deploys") as b:
        b.add_column(sa.Column("committed_at", UTCDateTime(), nullable=True))
        b.add_column(sa.Column("source", sa.String(50), nullable=False, server_default=""))
    op.create_table(
        "deploy_receipts",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("provider", sa.String(20), nullable=False),
        sa.Column("delivery", sa.String(200), nullable=False, unique=True),
        sa.Column("event", sa.String(50), nullable=False),
        sa.Column("deploy_id", sa.String(64), nullable=True),
        sa.Column("outcome", sa.String(20), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("deploy_receipts")
    with op.batch_alter_table("deploys") as b:
        b.drop_column("source")
        b.drop_column("committed_at")
