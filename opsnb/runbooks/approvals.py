"""Approval steps of interactive runs: the kernel asks, a human (CLI or API) decides, the kernel goes on.

A run started with ``interactive=True`` (``opsnb runbook run`` on a terminal) lets
:func:`opsnb.runbooks.confirm` pause instead of failing: the kernel writes a pending
approval to the state database and waits; ``ops.runbooks.decide(run_id, approve=True)``
(the CLI prompt, or ``POST /runs/<id>/approvals``) answers it. Imported only by kernels
that reach such a step, so runbooks stay light otherwise.
"""

from __future__ import annotations

import time

from opsnb.runbooks.models import ApprovalRecord
from opsnb.store.types import utcnow


def request_and_wait(run_id: str, step: str, *, timeout: float = 600.0, poll: float = 0.25) -> bool:
    """Record a pending approval for ``step`` and wait for the decision (False when denied or expired)."""
    from opsnb.workbench import connect

    ops = connect()  # the run's workspace and database, from the kernel's environment
    try:
        with ops.db.session() as s:
            rec = ApprovalRecord(run_id=run_id, step=step[:500], status="pending", requested_at=utcnow(),
                                 decided_by="", reason="")
            s.add(rec)
            s.flush()
            approval_id = rec.id
        print(f"waiting for approval: {step}", flush=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with ops.db.session() as s:
                row = s.get(ApprovalRecord, approval_id)
                status = row.status if row is not None else "denied"
                who = row.decided_by if row is not None else ""
            if status in ("approved", "denied"):
                print(f"{status} by {who}: {step}", flush=True)
                return status == "approved"
            time.sleep(poll)
        with ops.db.session() as s:
            row = s.get(ApprovalRecord, approval_id)
            if row is not None and row.status == "pending":
                row.status, row.decided_at = "expired", utcnow()
        return False
    finally:
        ops.close()
