"""What other domains write into notify inside their own unit of work (see :mod:`opsnb.incidents.hooks`).

A hook runs only inside the caller's unit of work (``with ops.db.session():``); the caller
checked the role of the action causing it and audits that action.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from opsnb.store.types import utcnow

if TYPE_CHECKING:
    from opsnb.workbench import Workbench


def record(ops: Workbench, *, channel: str, subject: str, body: str = "", target: str | None = None,
           dedup_key: str | None = None, context: dict[str, Any] | None = None,
           now: datetime | None = None) -> int:
    """Record a notification in the caller's unit; nothing is tried until it commits.

    Paging records its pages in the transaction that claims the timer, so a page is recorded
    exactly when its timer fired: call ``ops.notify.attempt([id])`` after commit, or let
    ``ops.notify.tick()`` of any process send it.

    Returns:
        The delivery id (that of the first delivery with the same channel, target and ``dedup_key``).

    Raises:
        NotFound: No such channel.
        ValidationError: Bad subject, body, target, dedup key or context; nothing recorded.
        NotifyError: The channel is disabled.
    """
    s = ops.db.require_unit("notify.hooks.record")
    return ops.notify._record(s, channel=channel, subject=subject, body=body, target=target, dedup_key=dedup_key,
                              context=context, now=now or utcnow())[0]
