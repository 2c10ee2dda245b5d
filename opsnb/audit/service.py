"""Append to, read, anchor and verify the audit trail.

Each record's hash covers the one before it, so an edit in the middle breaks the chain. What a
chain alone cannot show is a rewrite of its end: deleting the newest records and rewinding the
head, editing a record and re-chaining everything after it, or emptying the table. Anchors close
that gap: :meth:`Audit.anchor` appends the head (seq and hash) to a file outside the database
(the ``audit_anchor_file`` setting), and :meth:`Audit.verify` checks that every anchored record
still exists with the anchored hash.
"""

from __future__ import annotations

import builtins
import hashlib
import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
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
        via = self._wb.acting_via if actor in (None, self._wb.user) else None
        if via:  # an API request: the record names the credential (token id) as well as the user
            clean = {**clean, "via": via} if isinstance(clean, dict) else clean
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

    @property
    def anchor_path(self) -> Path:
        """The anchor file (the ``audit_anchor_file`` setting, relative to the workspace)."""
        p = Path(str(self._wb.settings.audit_anchor_file)).expanduser()
        return p if p.is_absolute() else self._wb.workspace / p

    def anchors(self) -> builtins.list[dict[str, Any]]:
        """Every checkpoint in the anchor file, oldest first (``seq``, ``hash``, ``at``)."""
        try:
            text = self.anchor_path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        out = []
        for i, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                a = json.loads(line)
                out.append({"seq": int(a["seq"]), "hash": str(a["hash"]), "at": str(a.get("at", ""))})
            except (ValueError, KeyError, TypeError):
                raise AuditError(f"{self.anchor_path}:{i}: not an audit anchor", seq=None) from None
        return out

    def anchor(self, *, min_interval: str | None = None) -> dict[str, Any] | None:
        """Append the chain's head to the anchor file (fsynced), unless it is anchored already.

        Args:
            min_interval: Skip when the newest anchor is younger than this duration (the
                scheduler passes the ``audit_anchor_interval`` setting).

        Returns:
            The anchor written, or None when nothing was written.
        """
        from opsnb.timeparse import parse_duration

        with self._wb.db.session() as s:
            head = s.get(AuditHead, 1)
            seq, digest = (int(head.seq), str(head.hash)) if head is not None else (0, GENESIS)
        known = self.anchors()
        last = known[-1] if known else None
        if last is not None and last["seq"] == seq and last["hash"] == digest:
            return None
        now = utcnow()
        if min_interval is not None and last is not None and last["at"]:
            gap = parse_duration(min_interval, name="audit_anchor_interval")
            if now - datetime.fromisoformat(last["at"]) < gap:
                return None
        entry = {"seq": seq, "hash": digest, "at": now.isoformat()}
        path = self.anchor_path
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            os.write(fd, (json.dumps(entry, sort_keys=True) + "\n").encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        return entry

    def tick(self, now: datetime | None = None) -> dict[str, Any] | None:
        """Scheduler hook: anchor the head at most every ``audit_anchor_interval``."""
        return self.anchor(min_interval=str(self._wb.settings.audit_anchor_interval))

    def verify(self, *, strict: bool = False) -> AuditVerification:
        """Recompute the hash chain, then check it against the anchors; report the first problem.

        Args:
            strict: Raise :class:`AuditError` instead of returning a failed result.
        """
        anchored = {a["seq"]: a["hash"] for a in self.anchors()}
        prev, n, result = GENESIS, 0, None
        with self._wb.db.session() as s:
            for r in s.execute(select(AuditRecord).order_by(AuditRecord.seq)).scalars().yield_per(5000):
                n += 1
                if r.seq in anchored and anchored[r.seq] != r.hash:
                    result = AuditVerification(False, n - 1, r.seq,
                                               f"record #{r.seq} differs from its anchor (rewritten and re-chained)")
                    break
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
                top = max(anchored, default=0)
                if head is None or head.seq != n or head.hash != prev:
                    result = AuditVerification(False, n, n + 1, "records after the last one were deleted")
                elif top > n:
                    result = AuditVerification(False, n, n + 1, f"the chain ends at #{n} but #{top} was anchored: "
                                               "records were deleted and the head rewound")
                else:
                    result = AuditVerification(True, n)
        if strict and not result.ok:
            raise AuditError(f"audit chain broken at #{result.broken_at}: {result.reason}", seq=result.broken_at)
        return result
