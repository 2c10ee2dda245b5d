"""Deploy freezes: while one is active, new deploys of its service and environment are refused.

Rollbacks stay allowed (they are the remedy), and an operator can deploy through
a freeze with ``override_freeze=True`` and a reason, which the audit trail keeps.
Error budget policies freeze a service when its budget runs low and lift their
own freeze when the condition clears (``source="slo:<name>"``).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from opsnb.deploys.models import FreezeRow
from opsnb.errors import Conflict, NotFound, ValidationError
from opsnb.store.types import utcnow

if TYPE_CHECKING:
    import pandas as pd

    from opsnb.workbench import Workbench

COLUMNS = ["id", "service", "env", "reason", "source", "created_by", "created_at", "until", "lifted_at",
           "lifted_by"]
# How each face overrides a freeze: a refusal names the way of the face that was used, so a CLI user
# is not told about a Python argument and an API client not about a flag.
OVERRIDE = {
    "python": "override_freeze=True with a reason",
    "cli": '--override-freeze --reason "..."',
    "api": 'send "override_freeze": true with a "reason" in the body',
}


def refusal(blocking: FreezeRow, *, service: str, env: str, face: str = "python", why: str = "") -> Conflict:
    """The :class:`Conflict` a freeze answers a deploy with, naming ``face``'s override (see :data:`OVERRIDE`)."""
    return Conflict(f"deploys of {service} to {env} are frozen since {blocking.created_at:%Y-%m-%d %H:%M}Z"
                    f" by {blocking.created_by}: {blocking.reason} (freeze {blocking.id}){why}; to deploy anyway,"
                    f" {OVERRIDE[face]}", kind="freeze", key=str(blocking.id))


def in_face(exc: Conflict, face: str) -> str:
    """A freeze refusal raised by the library, reworded for ``face`` (``cli`` or ``api``)."""
    return str(exc).replace(OVERRIDE["python"], OVERRIDE[face])


def active(s: Session, *, service: str, env: str, at: datetime | None = None) -> FreezeRow | None:
    """The freeze that blocks a deploy of ``service`` to ``env`` now, if any."""
    now = at or utcnow()
    q = (select(FreezeRow)
         .where(FreezeRow.lifted_at.is_(None), FreezeRow.env == env,
                or_(FreezeRow.service == service, FreezeRow.service == "*"),
                or_(FreezeRow.until.is_(None), FreezeRow.until > now))
         .order_by(FreezeRow.id).limit(1))
    return s.scalars(q).first()


def freeze(wb: Workbench, *, service: str, env: str = "prod", reason: str, until: datetime | None = None,
           source: str = "") -> int:
    """Freeze deploys of ``service`` (``*`` for all) to ``env``. Needs operator; audited. Returns the freeze id."""
    problems = []
    if not isinstance(service, str) or not service.strip() or len(service) > 100:
        problems.append(f"service must be a service name or '*', got {service!r}")
    if not isinstance(reason, str) or not reason.strip():
        problems.append("a freeze needs a reason")
    if until is not None and (until.tzinfo is None or until <= utcnow()):
        problems.append(f"until must be a timezone-aware time in the future, got {until!r}")
    if problems:
        raise ValidationError("bad freeze:", problems, field="freeze")
    with wb.db.session() as s:
        wb.access.require("operator", action="deploy.freeze")
        row = FreezeRow(service=service, env=env, reason=reason, source=source, created_by=wb.user,
                        created_at=utcnow(), until=until)
        s.add(row)
        s.flush()
        wb.audit.record(action="deploy.freeze", target=f"{service}@{env}",
                        params={"id": row.id, "until": until, "source": source}, reason=reason)
        return int(row.id)


def unfreeze(wb: Workbench, *, id: int | None = None, service: str | None = None, env: str = "prod",
             source: str | None = None, reason: str = "") -> int:
    """Lift one freeze by id, or every active one of ``service``/``env`` (optionally only from ``source``).

    Returns:
        How many freezes were lifted.
    """
    if id is None and service is None:
        raise ValidationError("unfreeze needs a freeze id or a service", field="id")
    with wb.db.session() as s:
        wb.access.require("operator", action="deploy.unfreeze")
        q = select(FreezeRow).where(FreezeRow.lifted_at.is_(None))
        if id is not None:
            q = q.where(FreezeRow.id == id)
        else:
            q = q.where(FreezeRow.service == service, FreezeRow.env == env)
            if source is not None:
                q = q.where(FreezeRow.source == source)
        rows = list(s.scalars(q))
        if id is not None and not rows:
            raise NotFound(f"no active deploy freeze {id}", kind="freeze", key=str(id))
        for row in rows:
            row.lifted_at, row.lifted_by = utcnow(), wb.user
            wb.audit.record(action="deploy.unfreeze", target=f"{row.service}@{row.env}",
                            params={"id": row.id, "source": row.source}, reason=reason)
        return len(rows)


def frame(wb: Workbench, *, active_only: bool = True) -> pd.DataFrame:
    """Freezes as a DataFrame, newest first."""
    import pandas as pd

    now = utcnow()
    with wb.db.session() as s:
        q = select(FreezeRow).order_by(FreezeRow.id.desc())
        if active_only:
            q = q.where(FreezeRow.lifted_at.is_(None), or_(FreezeRow.until.is_(None), FreezeRow.until > now))
        rows = [{c: getattr(r, c) for c in COLUMNS} for r in s.scalars(q)]
    return pd.DataFrame(rows, columns=COLUMNS)
