"""What the incidents domain calls in postmortems: the draft when an incident is resolved.

``opsnb incident update INC-1 --status resolved`` of an incident whose severity is in the
``postmortem_auto_draft`` setting (default ``SEV1,SEV2``; empty turns it off) drafts its
postmortem and adds a ``postmortem`` entry with the working copy's path to the incident's
timeline. Like paging (:func:`opsnb.incidents.paging.after_status`), it runs right after the
incident change commits: drafting starts a kernel and takes seconds, far too long to hold the
incident's transaction. The draft checks the role and is audited itself (reason
``auto-draft on resolve``); a failure is logged and written to the timeline, and never undoes
the status change.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING

from opsnb.store.types import utcnow

if TYPE_CHECKING:
    from opsnb.workbench import Workbench

log = logging.getLogger(__name__)


def auto_draft_severities(ops: Workbench) -> set[str]:
    """The severities drafted on resolve, from the ``postmortem_auto_draft`` setting."""
    return {s.strip().upper() for s in str(ops.settings.postmortem_auto_draft or "").split(",") if s.strip()}


def after_status(ops: Workbench, incident_id: str, old: str, new: str, *, severity: str,
                 at: datetime | None = None) -> str | None:
    """Draft the postmortem of an incident that has just been resolved (committed), when configured.

    Returns:
        The working copy's path, or None when nothing was drafted (not resolved now, a severity
        not configured, a postmortem past draft, or a failure recorded on the timeline).
    """
    if new != "resolved" or old == "resolved" or severity.upper() not in auto_draft_severities(ops):
        return None
    from opsnb.incidents import hooks as incident_hooks

    when = at or utcnow()
    try:
        try:
            current = ops.postmortems.get(incident_id)
        except LookupError:
            current = None
        if current is not None and current.status != "draft":
            return None  # in review or published: a person re-drafts it on purpose
        pm = ops.postmortems.draft(incident_id, reason="auto-draft on resolve")
    except Exception as exc:  # the incident is resolved whatever happens here; say what did not follow
        error = f"{type(exc).__name__}: {exc}"[:1000]
        log.error("auto-draft of %s's postmortem failed: %s", incident_id, error)
        try:
            with ops.db.session():
                incident_hooks.add_timeline(ops, incident_id, kind="postmortem", at=when, actor="opsnb-postmortems",
                                            data={"event": "draft_failed", "error": error})
        except Exception:  # noqa: BLE001 - the log line above is what is left
            log.exception("recording the failed auto-draft of %s failed too", incident_id)
        return None
    rel = pm.path
    with ops.db.session():
        incident_hooks.add_timeline(ops, incident_id, kind="postmortem", at=when, actor="opsnb-postmortems",
                                    data={"event": "drafted", "version": pm.current_version, "path": rel,
                                          "template": pm.template})
    return rel
