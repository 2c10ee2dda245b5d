"""Incident statuses, the transitions allowed between them, and milestone order.

::

    triggered ─► acknowledged ─► mitigated ─► resolved ─► closed
        │  └────────────┴──► resolved  ▲          │
        │                 mitigated ─► acknowledged (work resumed)
        └─► declined (not an incident)   resolved ─► triggered (reopened)
    any open status ─► merged (into another incident)
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from opsnb.errors import Conflict, ValidationError

STATUSES: tuple[str, ...] = ("triggered", "acknowledged", "mitigated", "resolved", "closed", "declined", "merged")
OPEN: tuple[str, ...] = ("triggered", "acknowledged", "mitigated")
SEVERITIES: tuple[str, ...] = ("SEV1", "SEV2", "SEV3", "SEV4")

TRANSITIONS: dict[str, frozenset[str]] = {
    "triggered": frozenset({"acknowledged", "mitigated", "resolved", "declined", "merged"}),
    "acknowledged": frozenset({"mitigated", "resolved", "declined", "merged"}),
    "mitigated": frozenset({"acknowledged", "resolved", "merged"}),
    "resolved": frozenset({"closed", "triggered"}),
    "closed": frozenset(),
    "declined": frozenset(),
    "merged": frozenset(),
}

# Milestones in the order they must keep (each column is "<name>_at", except impact_start).
MILESTONES: tuple[str, ...] = ("impact_start", "detected", "paged", "acknowledged", "mitigated", "resolved",
                               "closed")
# Entering a status sets this milestone (when not set yet).
STATUS_MILESTONE: dict[str, str] = {"acknowledged": "acknowledged", "mitigated": "mitigated",
                                    "resolved": "resolved", "closed": "closed"}


def column(milestone: str) -> str:
    """The incidents-table column of a milestone."""
    check_milestone(milestone)
    return milestone if milestone == "impact_start" else f"{milestone}_at"


def check_milestone(name: str) -> None:
    if name not in MILESTONES:
        raise ValidationError(f"unknown milestone {name!r}; milestones are {', '.join(MILESTONES)}",
                              field="milestone", value=str(name)[:100])


def check_status(status: str) -> None:
    if status not in STATUSES:
        raise ValidationError(f"unknown status {status!r}; statuses are {', '.join(STATUSES)}", field="status")


def check_severity(severity: str) -> None:
    if severity not in SEVERITIES:
        raise ValidationError(f"severity {severity!r} must be one of {', '.join(SEVERITIES)}", field="severity")


def check_transition(incident_id: str, old: str, new: str) -> None:
    """Raise :class:`Conflict` unless ``old -> new`` is allowed."""
    check_status(new)
    if new == old:
        raise Conflict(f"{incident_id} is {old} already", kind="incident", key=incident_id)
    if new not in TRANSITIONS[old]:
        allowed = ", ".join(sorted(TRANSITIONS[old])) or "nothing (final)"
        raise Conflict(f"{incident_id} cannot go from {old} to {new}; from {old} it can go to {allowed}",
                       kind="incident", key=incident_id)


def order_problems(milestones: Mapping[str, datetime | None]) -> list[str]:
    """Every pair of set milestones that is out of order (empty when in order)."""
    seen: list[tuple[str, datetime]] = [(m, t) for m in MILESTONES if (t := milestones.get(m)) is not None]
    problems = []
    for i, (a, ta) in enumerate(seen):
        for b, tb in seen[i + 1:]:
            if tb < ta:
                problems.append(f"{b} ({tb:%Y-%m-%d %H:%M:%S}Z) is before {a} ({ta:%Y-%m-%d %H:%M:%S}Z)")
    return problems
