"""postmortems: owner, reviewers, review checklist, the published version; action item closing; draft runs

Revision ID: postmortems_0002
Revises: postmortems_0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from opsnb.store.types import UTCDateTime

revision = "postmortems_0002"
down_revision = "postmortems_0001"
branch_labels = None
depends_on = None

_SEQ = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("postmortems") as batch:
        batch.add_column(sa.Column("owner", sa.String(200), nullable=False, server_default=""))
        batch.add_column(sa.Column("reviewers", sa.JSON, nullable=True))
        batch.add_column(sa.Column("checklist", sa.JSON, nullable=True))
        batch.add_column(sa.Column("published_version", sa.Integer, nullable=True))
        batch.add_column(sa.Column("published_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("published_by", sa.String(200), nullable=True))
    with op.batch_alter_table("postmortem_action_items") as batch:
        batch.add_column(sa.Column("closed_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("updated_at", UTCDateTime(), nullable=True))
    op.create_table(
        "postmortem_runs",
        sa.Column("id", _SEQ, primary_key=True, autoincrement=True),
        sa.Column("incident_id", sa.String(64), nullable=False),
        sa.Column("template", sa.String(200), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("version", sa.Integer, nullable=True),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("timings", sa.JSON, nullable=True),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
    )
    op.create_index("ix_postmortem_runs_incident_id", "postmortem_runs", ["incident_id"])


def downgrade() -> None:
    op.drop_table("postmortem_runs")
    with op.batch_alter_table("postmortem_action_items") as batch:
        batch.drop_column("updated_at")
        batch.drop_column("closed_at")
    with op.batch_alter_table("postmortems") as batch:
        for c in ("published_by", "published_at", "published_version", "checklist", "reviewers", "owner"):
            batch.drop_column(c)
