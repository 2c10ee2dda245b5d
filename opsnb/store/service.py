"""``ops.store``: the maintenance of what the workspace stores, as audited actions.

The lake itself (:class:`opsnb.store.lake.Lake`, ``ops.lake``) is a library with no notion of
users; deleting a day of logs is an action someone takes, so it needs a role and leaves an
audit record like every other change.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from opsnb.workbench import Workbench


class Store:
    """Lake maintenance for a workbench (``ops.store``)."""

    def __init__(self, wb: Workbench) -> None:
        self._wb = wb

    def compact(self, *, tables: Sequence[str] = (), min_segments: int | None = None,
                reason: str = "") -> dict[str, int]:
        """Merge the small segments of closed days (safe while others read and write). Needs operator.

        Returns:
            Per table, the days compacted.
        """
        n = int(min_segments or self._wb.settings.lake_compact_min_segments)
        self._wb.access.require("operator", action="lake.compact")
        done = self._wb.lake.maintain(tables=list(tables) or None, min_segments=n, retention_days=None)
        out = {t: int(r["compacted"]) for t, r in done.items()}
        self._wb.audit.record(action="lake.compact", target=",".join(done) or "lake",
                              params={"min_segments": n, "compacted": out}, reason=reason)
        return out

    def retain(self, *, days: int | None = None, tables: Sequence[str] = (), reason: str = "") -> dict[str, Any]:
        """Delete whole day partitions older than ``days`` (default the setting). Needs operator.

        Returns:
            Per table, the days deleted (ISO dates).
        """
        keep = int(days or self._wb.settings.retention_days)
        self._wb.access.require("operator", action="lake.retain")
        with self._wb.db.session():  # the check, the deletion's record and nothing else in one unit
            done = self._wb.lake.maintain(tables=list(tables) or None, min_segments=None, retention_days=keep)
            out = {t: [d.isoformat() for d in r["deleted"]] for t, r in done.items()}
            self._wb.audit.record(action="lake.retain", target=",".join(done) or "lake",
                                  params={"days": keep, "deleted": out}, reason=reason)
        return out
