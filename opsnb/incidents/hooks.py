"""What other domains write into incidents inside their own unit of work.

The alerts ticker opening an incident for a firing alert, on-call acknowledging one whose page
was acknowledged, a runbook run landing on an incident's timeline: each is a write that must
commit or roll back with the caller's own change, so it runs in the caller's unit of work
(``with ops.db.session():``) and never outside one. The caller has checked the role of the
action that causes it and audits that action, so a hook checks no role and writes no audit
record of its own. Notebooks use :class:`~opsnb.incidents.service.Incidents` instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from opsnb.incidents.service import AlertIncident
    from opsnb.workbench import Workbench


def add_timeline(ops: Workbench, incident_id: str, *, kind: str, at: datetime | None = None,
                 actor: str | None = None, data: Mapping[str, Any] | None = None) -> int:
    """Append a typed entry (``runbook_run``, ``page``, ``ack``, ``alert``, ...) in the caller's unit.

    Raises:
        ValidationError: Unknown kind, naive time, data that is not JSON.
        NotFound: No such incident.
        StoreError: No unit of work is open.
    """
    s = ops.db.require_unit("incidents.hooks.add_timeline")
    return ops.incidents._add_timeline(s, incident_id, kind=kind, at=at, actor=actor, data=data)


def link(ops: Workbench, incident_id: str, *, actor: str, at: datetime | None = None,
         **refs: str) -> None:
    """Link alerts, deploys, runs, SLOs, servers or services (``alert="fp"``) in the caller's unit."""
    s = ops.db.require_unit("incidents.hooks.link")
    svc = ops.incidents
    pairs = svc._link_pairs(refs)
    svc._row(s, incident_id)
    svc._link(s, str(incident_id), pairs, actor, at)


def create(ops: Workbench, *, title: str, service: str, severity: str = "SEV3", actor: str,
           impact_start: datetime | None = None, detected_at: datetime | None = None, commander: str = "",
           reason: str = "", id: str | None = None) -> str:
    """Open an incident in the caller's unit (imports and the demo). Returns its id."""
    s = ops.db.require_unit("incidents.hooks.create")
    return ops.incidents._create(s, title, service, severity, (), "", impact_start, detected_at, commander,
                                 reason, id, actor)


def open_or_join_for_alert(ops: Workbench, alert: Mapping[str, Any], *, severity: str, rule: str,
                           join_open: bool) -> AlertIncident:
    """Open an incident for a firing alert, or join its service's open one (``join_open``).

    Says whether the incident was opened now: the alerts domain pages only for a new incident.
    """
    s = ops.db.require_unit("incidents.hooks.open_or_join_for_alert")
    return ops.incidents._open_or_join_for_alert(s, alert, severity=severity, rule=rule, join_open=join_open)


def acknowledge_from_page(ops: Workbench, incident_id: str, *, by: str, at: datetime) -> str | None:
    """Acknowledge a still triggered incident whose page was acknowledged.

    Returns:
        The status afterwards, or None for an incident id opsnb does not track.
    """
    from opsnb.incidents import paging
    from opsnb.incidents.service import _aware

    s = ops.db.require_unit("incidents.hooks.acknowledge_from_page")
    return paging.acknowledge_from_page(ops, ops.incidents, s, incident_id, by=by, at=_aware(at, "at"))
