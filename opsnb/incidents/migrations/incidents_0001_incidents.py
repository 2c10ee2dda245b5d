"""incidents: incidents with milestones, links, append-only timeline

Revision ID: incidents_0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from opsnb.store.types import UTCDateTime

revision = "incidents_0001"
down_revision = None
branch_labels = ("incidents",)
depends_on = None

MILESTONES = ("impact_start", "detected_at", "paged_at", "acknowledged_at", "mitigated_at", "resolved_at",
              "closed_at")


def upgrade() -> None:
    ident = sa.BigInteger().with_variant(sa.Integer, "sqlite")
    counter = op.create_table(
        "incident_counter",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("last", sa.Integer, nullable=False),
    )
    op.bulk_insert(counter, [{"id": 1, "last": 0}])
    op.create_table(
        "incidents",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("number", sa.Integer, nullable=False, unique=True),
        sa.Column("title", sa.String(500), nullable=False),
        sa.Column("severity", sa.String(4), nullable=False, index=True),
        sa.Column("status", sa.String(20), nullable=False, index=True),
        sa.Column("service", sa.String(200), nullable=False, index=True),
        sa.Column("services", sa.JSON, nullable=False),
        sa.Column("summary", sa.Text, nullable=False),
        sa.Column("commander", sa.String(200), nullable=False),
        sa.Column("scribe", sa.String(200), nullable=False),
        sa.Column("communications", sa.String(200), nullable=False),
        sa.Column("responders", sa.JSON, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False, index=True),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("merged_into", sa.String(40), nullable=True),
        *[sa.Column(m, UTCDateTime(), nullable=True) for m in MILESTONES],
    )
    op.create_table(
        "incident_links",
        sa.Column("id", ident, primary_key=True, autoincrement=True),
        sa.Column("incident_id", sa.String(40), nullable=False, index=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("ref", sa.String(255), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.UniqueConstraint("incident_id", "kind", "ref", name="uq_incident_links_ref"),
    )
    op.create_table(
        "incident_timeline",
        sa.Column("id", ident, primary_key=True, autoincrement=True),
        sa.Column("incident_id", sa.String(40), nullable=False, index=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False, index=True),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("data", sa.JSON, nullable=False),
        sa.Column("recorded_at", UTCDateTime(), nullable=False),
    )
    if op.get_bind().dialect.name == "sqlite":
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER incident_timeline_no_{verb.lower()} BEFORE {verb} ON incident_timeline "
                "BEGIN SELECT RAISE(ABORT, 'the incident timeline is append-only'); END"
            )
    else:
        op.execute(
            "CREATE FUNCTION incident_timeline_append_only() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'the incident timeline is append-only'; END $$"
        )
        op.execute(
            "CREATE TRIGGER incident_timeline_append_only BEFORE UPDATE OR DELETE ON incident_timeline "
            "FOR EACH ROW EXECUTE FUNCTION incident_timeline_append_only()"
        )


def downgrade() -> None:
    for t in ("incident_timeline", "incident_links", "incidents", "incident_counter"):
        op.drop_table(t)
