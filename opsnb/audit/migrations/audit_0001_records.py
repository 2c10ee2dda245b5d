"""audit: append-only hash-chained records

Revision ID: audit_0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from opsnb.store.types import UTCDateTime

revision = "audit_0001"
down_revision = None
branch_labels = ("audit",)
depends_on = None

GENESIS = "0" * 64


def upgrade() -> None:
    seq = sa.BigInteger().with_variant(sa.Integer, "sqlite")
    op.create_table(
        "audit_records",
        sa.Column("seq", seq, primary_key=True, autoincrement=False),
        sa.Column("at", UTCDateTime(), nullable=False, index=True),
        sa.Column("actor", sa.String(200), nullable=False, index=True),
        sa.Column("action", sa.String(100), nullable=False, index=True),
        sa.Column("target", sa.String(500), nullable=False),
        sa.Column("params", sa.JSON, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    head = op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("seq", seq, nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    op.bulk_insert(head, [{"id": 1, "seq": 0, "hash": GENESIS}])
    # Append-only in the database itself, not just by convention.
    if op.get_bind().dialect.name == "sqlite":
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER audit_records_no_{verb.lower()} BEFORE {verb} ON audit_records "
                "BEGIN SELECT RAISE(ABORT, 'audit records are append-only'); END"
            )
    else:
        op.execute(
            "CREATE FUNCTION audit_records_append_only() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'audit records are append-only'; END $$"
        )
        op.execute(
            "CREATE TRIGGER audit_records_append_only BEFORE UPDATE OR DELETE ON audit_records "
            "FOR EACH ROW EXECUTE FUNCTION audit_records_append_only()"
        )


def downgrade() -> None:
    op.drop_table("audit_head")
    op.drop_table("audit_records")
