"""Change records beside deploys (``ops.changes``): config changes, feature-flag flips, maintenance toggles.

So that "what changed before this incident" covers more than binaries. A record is shaped like a
PagerDuty change event (``summary``, ``timestamp``, ``source``, ``custom_details``, ``links``);
:meth:`Changes.record` takes it as keyword arguments, :meth:`Changes.from_event` takes the event
body itself (what ``POST /changes`` receives). ``ops.deploys.suspects("INC-1")`` ranks these
with the deploys.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from opsnb.changes.models import KINDS, Change, ChangeRow
from opsnb.errors import NotFound, ValidationError
from opsnb.store.types import utcnow

if TYPE_CHECKING:
    import pandas as pd

    from opsnb.workbench import Workbench

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,99}$")
BAD = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
COLUMNS = ["id", "kind", "service", "env", "summary", "source", "actor", "at", "details", "links"]
MAX_DETAILS = 16_384
EVENT_FIELDS = ("routing_key", "payload", "links", "images", "kind", "service", "env")


def _check(*, kind: Any, service: Any, env: Any, summary: Any, source: Any, actor: Any, at: Any,
           details: Any, links: Any) -> list[str]:
    problems: list[str] = []
    if kind not in KINDS:
        problems.append(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
    for name, value in (("service", service), ("env", env)):
        if not isinstance(value, str) or not NAME.match(value):
            problems.append(f"{name} must be 1-100 letters, digits, '.', '_', '/' or '-', got {value!r}")
    if not isinstance(summary, str) or not summary.strip() or len(summary) > 1024 or BAD.search(summary):
        problems.append("summary must be 1-1024 printable characters")
    if not isinstance(source, str) or len(source) > 200 or BAD.search(source):
        problems.append("source must be up to 200 printable characters")
    if actor is not None and (not isinstance(actor, str) or not actor.strip() or len(actor) > 200):
        problems.append("actor must be 1-200 characters")
    if not isinstance(at, datetime) or at.tzinfo is None:
        problems.append(f"at must be a timezone-aware datetime, got {at!r}")
    if not isinstance(details, Mapping):
        problems.append("details must be a mapping")
    else:
        try:
            text = json.dumps(dict(details), default=str, allow_nan=False)
            if len(text) > MAX_DETAILS or "\\u0000" in text:
                problems.append(f"details must be under {MAX_DETAILS} bytes of JSON without NUL")
        except (TypeError, ValueError) as exc:
            problems.append(f"details is not JSON-serializable: {exc}")
    if not isinstance(links, Sequence) or isinstance(links, str) or not all(
            isinstance(x, Mapping) and isinstance(x.get("href"), str) for x in links):
        problems.append("links must be a list of {href, text} objects")
    return problems


class Changes:
    """Change records of a workbench (``ops.changes``)."""

    def __init__(self, wb: Workbench) -> None:
        self._wb = wb

    def record(self, *, kind: str, service: str, summary: str, env: str = "prod", at: Any = None,
               source: str = "", actor: str | None = None, details: Mapping[str, Any] | None = None,
               links: Sequence[Mapping[str, Any]] = (), id: str | None = None, reason: str = "",
               _via_api: bool = False) -> Change:
        """Record a change. Needs responder (the API's token stands for the sender); audited ``change.record``.

        Args:
            kind: ``config``, ``feature_flag``, ``maintenance``, ``infrastructure`` or ``other``.
            service: Service changed. ``env``: its environment.
            summary: What changed, one line (``flag checkout.new-cart on for 100 %``).
            at: When (a datetime, ISO text, ``-5m``; default now).
            source: The system that changed it (``launchdarkly``, ``consul``).
            actor: Who (default the acting user).
            details: Free-form details (PagerDuty ``custom_details``), up to 16 KB of JSON.
            links: ``[{"href": ..., "text": ...}]``.
            id: Your id; default ``CHG-<n>``.
            reason: For the audit trail.

        Raises:
            ValidationError: Every bad field, listed. PermissionDenied: not a responder.
        """
        from opsnb.timeparse import parse_instant

        when = utcnow() if at is None else parse_instant(at, name="at")
        details = {} if details is None else details
        problems = _check(kind=kind, service=service, env=env, summary=summary, source=source, actor=actor,
                          at=when, details=details, links=links)
        if id is not None and (not isinstance(id, str) or not re.match(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$", id)):
            problems.append(f"id must be 1-64 letters, digits, '.', '_', ':' or '-', got {id!r}")
        if problems:
            raise ValidationError("bad change:", problems, field="change")
        with self._wb.db.session() as s:
            if not _via_api:
                self._wb.access.require("responder", action="change.record")
            if id is not None and s.scalar(select(ChangeRow.seq).where(ChangeRow.id == id)) is not None:
                from opsnb.errors import Conflict

                raise Conflict(f"change {id} already exists", kind="change", key=id)
            row = ChangeRow(id=id or f"tmp-{uuid.uuid4().hex}", kind=kind, service=service, env=env,
                            summary=summary, source=source, actor=actor or self._wb.user, at=when,
                            details=json.loads(json.dumps(dict(details), default=str)),
                            links=[{"href": str(x["href"]), "text": str(x.get("text", ""))} for x in links],
                            created_at=utcnow())
            s.add(row)
            s.flush()
            if id is None:
                row.id = f"CHG-{row.seq}"
                s.flush()
            ch = Change.of(row)
            self._wb.audit.record(action="change.record", target=ch.id, reason=reason,
                                  params={"kind": kind, "service": service, "env": env, "summary": summary,
                                          "source": source, "at": when})
            return ch

    def from_event(self, body: Any, *, _via_api: bool = False) -> Change:
        """Record a PagerDuty-shaped change event: ``{"payload": {"summary", "timestamp"?, "source"?,
        "custom_details"?}, "links"?, "kind"?, "service"?, "env"?}``.

        ``kind``, ``service`` and ``env`` may also sit in ``custom_details``; ``routing_key`` is
        accepted and dropped (it is a credential, never stored).
        """
        if not isinstance(body, Mapping):
            raise ValidationError("body must be a JSON object", field="body")
        problems = [f"{k}: unknown field (allowed: {', '.join(EVENT_FIELDS)})" for k in body if k not in EVENT_FIELDS]
        payload = body.get("payload")
        if not isinstance(payload, Mapping):
            problems.append("payload: missing or not an object")
        if problems:
            raise ValidationError("bad change event:", problems, field="body")
        assert isinstance(payload, Mapping)
        details = payload.get("custom_details") or {}
        if not isinstance(details, Mapping):
            raise ValidationError("payload.custom_details must be an object", field="payload.custom_details")
        details = dict(details)

        def pick(name: str, default: Any = None) -> Any:
            return body.get(name, details.pop(name, default))

        kind, service, env = pick("kind", "config"), pick("service"), pick("env", "prod")
        if service is None:
            raise ValidationError("bad change event: service is missing (top level or payload.custom_details)",
                                  field="service")
        if "summary" not in payload:
            raise ValidationError("bad change event: payload.summary is missing", field="payload.summary")
        return self.record(kind=kind, service=service, env=env, summary=payload["summary"],
                           at=payload.get("timestamp"), source=payload.get("source", "") or "",
                           details=details, links=body.get("links") or [], _via_api=_via_api)

    def get(self, id: str) -> Change:
        """The change ``id``. Raises :class:`NotFound`."""
        with self._wb.db.session() as s:
            row = s.scalar(select(ChangeRow).where(ChangeRow.id == id))
            if row is None:
                raise NotFound(f"no change {id}", kind="change", key=id)
            return Change.of(row)

    def list(self, *, service: str | None = None, env: str | None = None, kind: str | None = None,
             since: Any = None, until: Any = None, limit: int = 10_000) -> pd.DataFrame:
        """Changes, newest first (``since``/``until`` in the time grammar; ``since`` ``1h`` means an hour ago)."""
        import pandas as pd

        from opsnb.timeparse import parse_instant

        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
            raise ValidationError(f"limit must be a positive integer, got {limit!r}", field="limit")
        q = select(ChangeRow).order_by(ChangeRow.at.desc(), ChangeRow.seq.desc()).limit(limit)
        if service:
            q = q.where(ChangeRow.service == service)
        if env:
            q = q.where(ChangeRow.env == env)
        if kind:
            q = q.where(ChangeRow.kind == kind)
        if since is not None:
            q = q.where(ChangeRow.at >= parse_instant(since, name="since", ago=True))
        if until is not None:
            q = q.where(ChangeRow.at < parse_instant(until, name="until"))
        with self._wb.db.session() as s:
            rows = [Change.of(r).as_dict() for r in s.scalars(q)]
        df = pd.DataFrame(rows, columns=COLUMNS)
        df["at"] = pd.to_datetime(df["at"], utc=True)
        return df
