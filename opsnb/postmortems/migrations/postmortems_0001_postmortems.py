"""postmortems: postmortems, their versions and action items

Revision ID: postmortems_0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from opsnb.store.types import UTCDateTime

revision = "postmortems_0001"
down_revision = None
branch_labels = ("postmortems",)
depends_on = None

_SEQ = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.create_table(
        "postmortems",
        sa.Column("seq", _SEQ, primary_key=True, autoincrement=True),
        sa.Column("incident_id", sa.String(64), nullable=False),
        sa.Column("template", sa.String(200), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("authors", sa.Text, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_postmortems_incident_id", "postmortems", ["incident_id"], unique=True)
    op.create_table(
        "postmortem_versions",
        sa.Column("seq", _SEQ, primary_key=True, autoincrement=True),
        sa.Column("postmortem_seq", _SEQ, sa.ForeignKey("postmortems.seq", ondelete="CASCADE"), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_postmortem_versions_postmortem_seq", "postmortem_versions", ["postmortem_seq"])
    op.create_table(
        "postmortem_action_items",
        sa.Column("id", _SEQ, primary_key=True, autoincrement=True),
        sa.Column("postmortem_seq", _SEQ, sa.ForeignKey("postmortems.seq", ondelete="CASCADE"), nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("type", sa.String(20), nullable=False),
        sa.Column("owner", sa.String(200), nullable=True),
        sa.Column("due", UTCDateTime(), nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("link", sa.Text, nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_postmortem_action_items_postmortem_seq", "postmortem_action_items", ["postmortem_seq"])


def downgrade() -> None:
    op.drop_table("postmortem_action_items")
    op.drop_table("postmortem_versions")
    op.drop_table("postmortems")
