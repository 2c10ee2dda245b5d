"""What other domains write into alerts inside their own unit of work (see :mod:`opsnb.incidents.hooks`).

A hook runs only inside the caller's unit of work (``with ops.db.session():``); the caller
checked the role of the action causing it and audits that action.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import update

from opsnb.alerts.models import Alert

if TYPE_CHECKING:
    from opsnb.workbench import Workbench


def set_incident(ops: Workbench, fingerprint: str, incident_id: str) -> None:
    """Record that an alert belongs to an incident (the incidents domain calls this when linking)."""
    s = ops.db.require_unit("alerts.hooks.set_incident")
    s.execute(update(Alert).where(Alert.fingerprint == fingerprint).values(incident_id=incident_id))
