"""``opsnb audit``: read and verify the audit trail."""

from __future__ import annotations

import click

from opsnb.cliutil import emit, format_option, pass_ops
from opsnb.workbench import Workbench


@click.group("audit")
def cli() -> None:
    """Read and verify the audit trail.

    \b
    Example:
        opsnb audit list --action 'fleet.*' --format json
    """


@cli.command("list")
@click.option("--actor", help="Only this user's actions.")
@click.option("--action", help="Action name; '*' is a wildcard (fleet.*).")
@click.option("--target", help="Only actions on this target.")
@click.option("--limit", type=click.IntRange(1, 100_000), default=50, show_default=True)
@format_option
@pass_ops
def list_cmd(ops: Workbench, actor: str | None, action: str | None, target: str | None, limit: int,
             fmt: str) -> None:
    """List audit records, newest first.

    \b
    Example:
        opsnb audit list --actor alice --limit 20
    """
    emit(ops.audit.list(actor=actor, action=action, target=target, limit=limit), fmt)


@cli.command("anchor")
@format_option
@pass_ops
def anchor_cmd(ops: Workbench, fmt: str) -> None:
    """Checkpoint the chain's head in the anchor file, which 'opsnb audit verify' compares against.

    The scheduler (and so 'opsnb up') does this every 'audit_anchor_interval'; keep the file
    (setting 'audit_anchor_file') on other storage than the database, or copy it off the machine.

    \b
    Example:
        opsnb audit anchor && cp data/workspace/audit-anchors.jsonl /mnt/worm/
    """
    entry = ops.audit.anchor()
    emit(entry or {"seq": None, "hash": None, "at": None, "note": "the head is anchored already"}, fmt)


@cli.command("verify")
@format_option
@pass_ops
def verify_cmd(ops: Workbench, fmt: str) -> None:
    """Recompute the hash chain; exit 1 if any record was altered or removed.

    \b
    Example:
        opsnb audit verify
    """
    result = ops.audit.verify()
    emit({"ok": result.ok, "checked": result.checked, "broken_at": result.broken_at, "reason": result.reason}, fmt)
    if not result.ok:
        raise SystemExit(1)
