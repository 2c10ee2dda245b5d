"""Incidents and on-call paging kept in step (the glue between ``ops.incidents`` and ``ops.oncall``).

* Paging an incident starts an ``ops.oncall`` escalation under a policy (:func:`page`).
* An incident entering ``acknowledged`` acknowledges its pages (pending ones are cancelled);
  entering mitigated / resolved / closed / declined / merged ends its escalation, so no
  ack-timeout re-trigger fires; reopening a resolved incident pages again under the policy of
  its last escalation (:func:`after_status`).
* An acknowledgement made on the on-call side (``opsnb oncall ack INC-7``) moves a still
  triggered incident to acknowledged, in the same transaction (:func:`acknowledge_from_page`).

Each side only moves the other when it is not already there, so the two never call each
other in a loop. ``ops.oncall`` runs its own transactions (its API takes no session), so
the calls of :func:`after_status` happen right after the incident change commits; a failure
there is logged and written to the timeline (kind ``escalation``), never swallowed.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from opsnb.incidents.models import IncidentRow
from opsnb.store.types import utcnow

if TYPE_CHECKING:
    from opsnb.incidents.service import Incidents
    from opsnb.workbench import Workbench

log = logging.getLogger(__name__)

# Entering one of these ends the incident's escalation (nobody needs paging any more).
STOPS_PAGING: frozenset[str] = frozenset({"mitigated", "resolved", "closed", "declined", "merged"})


def subject_of(row: IncidentRow) -> str:
    return f"{row.id} [{row.severity}] {row.title}"[:1000]


def body_of(row: IncidentRow) -> str:
    lines = [row.summary.strip(), f"Service: {row.service}; status {row.status}."]
    return "\n".join(x for x in lines if x)[:100_000]


def page(ops: Workbench, incidents: Incidents, incident_id: str, *, policy: str, at: datetime | None = None,
         reason: str = "") -> int:
    """Start paging an incident under an escalation policy (idempotent while one is open).

    Returns:
        The escalation id.
    """
    with ops.db.session() as s:
        row = incidents._row(s, incident_id)
        subject, body, iid = subject_of(row), body_of(row), row.id
    context = {"source": "incidents.page", **({"reason": reason} if reason else {})}
    return int(ops.oncall.escalate(policy=policy, incident_id=iid, subject=subject, body=body, at=at,
                                   context=context))


def after_status(ops: Workbench, incidents: Incidents, incident_id: str, old: str, new: str, *, by: str,
                 at: datetime) -> None:
    """Bring the incident's escalation in step with a status change that has committed."""
    if old == new:
        return
    try:
        if new == "acknowledged":
            ops.oncall.acknowledge(incident_id, by=by, at=at)
        elif new in STOPS_PAGING:
            ops.oncall.resolve(incident_id, by=by, at=at)
        elif old == "resolved" and new == "triggered":
            last = ops.oncall.escalations(incident_id)
            if len(last):
                page(ops, incidents, incident_id, policy=str(last["policy"].iloc[0]), at=at,
                     reason="incident reopened")
    except Exception as exc:  # the status change stands; say that paging did not follow
        error = f"{type(exc).__name__}: {exc}"[:1000]
        log.error("on-call did not follow %s going %s -> %s: %s", incident_id, old, new, error)
        record_failure(ops, incidents, incident_id, f"{new}_failed", error, at)


def record_failure(ops: Workbench, incidents: Incidents, incident_id: str, event: str, error: str,
                    at: datetime) -> None:
    try:
        with ops.db.session() as s:
            incidents._append(s, incident_id, "escalation", at, "opsnb-incidents", {"event": event, "error": error})
            ops.audit.record(action="incident.paging_failed", target=incident_id, actor="opsnb-incidents",
                             params={"event": event, "error": error})
    except Exception:
        log.exception("recording the paging failure of %s failed too", incident_id)


def acknowledge_from_page(ops: Workbench, incidents: Incidents, s: Session, incident_id: str, *, by: str,
                          at: datetime) -> str | None:
    """Acknowledge a still triggered incident because its page was acknowledged (caller's transaction).

    Returns:
        The incident's status afterwards, or None when opsnb does not track that incident id.
    """
    q = select(IncidentRow).where(IncidentRow.id == str(incident_id))
    if ops.db.dialect == "postgresql":
        q = q.with_for_update()
    row = s.scalar(q)
    if row is None:
        return None
    if row.status != "triggered":
        return row.status  # acknowledged already (maybe by this very change), or past it
    incidents._transition(s, row, "acknowledged", at, by, "page acknowledged")
    row.updated_at = utcnow()
    ops.audit.record(action="incident.update", target=row.id, actor=by,
                     params={"status": "acknowledged", "via": "oncall.acknowledge"}, reason="page acknowledged")
    return row.status

