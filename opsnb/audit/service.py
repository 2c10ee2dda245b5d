"""Append to, read and verify the audit trail."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update

from opsnb.audit.models import AuditHead, AuditRecord
from opsnb.errors import AuditError
from opsnb.redact import redact
from opsnb.store.types import utcnow

if TYPE_CHECKING:
    import pandas as pd

    from opsnb.workbench import Workbench

GENESIS = "0" * 64


def _digest(seq: int, at: datetime, actor: str, action: str, target: str,
            params: Any, reason: str, prev_hash: str) -> str:
    body = json.dumps(
        [seq, at.isoformat(timespec="microseconds"), actor, action, target, params, reason, prev_hash],
        sort_keys=True, separators=(",", ":"), ensure_ascii=False,
    )
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class AuditVerification:
    """The outcome of :meth:`Audit.verify`."""

    ok: bool
    checked: int
    broken_at: int | None = None
    reason: str = ""

    def _repr_html_(self) -> str:
        if self.ok:
            return f"<b style='color:#1e8449'>audit chain intact</b>: {self.checked} records verified"
        return f"<b style='color:#c0392b'>audit chain broken at #{self.broken_at}</b>: {self.reason}"


class Audit:
    """The audit trail of a workbench (``ops.audit``)."""

    def __init__(self, wb: Workbench) -> None:
        self._wb = wb

    def record(self, *, action: str, target: str, params: dict[str, Any] | None = None,
               reason: str = "", actor: str | None = None,
               secret_keys: frozenset[str] = frozenset()) -> AuditRecord:
        """Append a record in the caller's unit of work, so it commits with the change it audits.

        Called inside ``with ops.db.session():`` (every service's mutating method is), the record
        joins that transaction; outside one it is a transaction of its own.

        Args:
            action: Dotted verb, e.g. ``incident.update`` or ``fleet.run``.
            target: What was acted on, e.g. ``INC-7`` or ``role=web``.
            params: Parameters of the action; secrets are redacted before storing.
            reason: Why, as the actor said.
            actor: Who; default the workbench's user.
            secret_keys: Extra parameter names to redact.
        """
        clean = json.loads(json.dumps(redact(params or {}, secret_keys=secret_keys), default=str))
        with self._wb.db.session() as session:
            # Updating the head first takes the write lock (row lock on PostgreSQL,
            # database lock on SQLite), so concurrent appends form one chain.
            head = session.execute(
                update(AuditHead).where(AuditHead.id == 1).values(seq=AuditHead.seq + 1)
                .returning(AuditHead.seq, AuditHead.hash)
            ).one()
            seq, prev = int(head.seq), str(head.hash)
            at = utcnow()
            who = actor or self._wb.user
            digest = _digest(seq, at, who, action, target, clean, reason, prev)
            rec = AuditRecord(seq=seq, at=at, actor=who, action=action, target=target, params=clean,
                              reason=reason, prev_hash=prev, hash=digest)
            session.add(rec)
            session.execute(update(AuditHead).where(AuditHead.id == 1).values(hash=digest))
            return rec

    def list(self, *, actor: str | None = None, action: str | None = None, target: str | None = None,
             since: datetime | None = None, limit: int = 1000) -> pd.DataFrame:
        """Audit records, newest first, as a DataFrame."""
        import pandas as pd

        q = select(AuditRecord).order_by(AuditRecord.seq.desc()).limit(limit)
        if actor:
            q = q.where(AuditRecord.actor == actor)
        if action:
            q = q.where(AuditRecord.action.like(action.replace("*", "%")))
        if target:
            q = q.where(AuditRecord.target == target)
        if since:
            q = q.where(AuditRecord.at >= since)
        with self._wb.db.session() as s:
            rows = [
                {"seq": r.seq, "at": r.at, "actor": r.actor, "action": r.action, "target": r.target,
                 "params": r.params, "reason": r.reason}
                for r in s.scalars(q)
            ]
        df = pd.DataFrame(rows, columns=["seq", "at", "actor", "action", "target", "params", "reason"])
        df["at"] = pd.to_datetime(df["at"], utc=True)
        return df

    def verify(self, *, strict: bool = False) -> AuditVerification:
        """Recompute the hash chain; report the first record that does not verify.

        Args:
            strict: Raise :class:`AuditError` instead of returning a failed result.
        """
        prev, n, result = GENESIS, 0, None
        with self._wb.db.session() as s:
            for r in s.execute(select(AuditRecord).order_by(AuditRecord.seq)).scalars().yield_per(5000):
                n += 1
                if r.seq != n:
                    result = AuditVerification(False, n - 1, n, f"record #{n} is missing (next is #{r.seq})")
                    break
                if r.prev_hash != prev:
                    result = AuditVerification(False, n - 1, r.seq, f"record #{r.seq} does not link to #{n - 1}")
                    break
                if _digest(r.seq, r.at, r.actor, r.action, r.target, r.params, r.reason, r.prev_hash) != r.hash:
                    result = AuditVerification(False, n - 1, r.seq, f"record #{r.seq} was altered")
                    break
                prev = r.hash
            if result is None:
                head = s.get(AuditHead, 1)
                if head is None or head.seq != n or head.hash != prev:
                    result = AuditVerification(False, n, n + 1, "records after the last one were deleted")
                else:
                    result = AuditVerification(True, n)
        if strict and not result.ok:
            raise AuditError(f"audit chain broken at #{result.broken_at}: {result.reason}", seq=result.broken_at)
        return result
