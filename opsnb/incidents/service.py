"""The incidents service (``ops.incidents``): lifecycle, roles, links, timeline, milestones, metrics.

The timeline is the source of truth and append-only: every change (status,
severity, roles, milestones, links, notes) adds a typed entry in the same
transaction as the change and its audit record. Other domains add their own
entries through :meth:`Incidents.add_timeline` (runbook runs, pages, acks, deploys).
Paging through ``ops.oncall`` (``create(policy=)``, :meth:`Incidents.page`, and status changes
acknowledging or ending an escalation) is in :mod:`opsnb.incidents.paging`.
"""

from __future__ import annotations

import builtins
import html
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from opsnb.errors import NotFound, ValidationError
from opsnb.incidents import lifecycle, paging
from opsnb.incidents.lifecycle import MILESTONES, OPEN, STATUS_MILESTONE
from opsnb.incidents.models import IncidentCounter, IncidentLink, IncidentRow, TimelineEntry
from opsnb.store.types import utcnow
from opsnb.timeparse import InstantLike, parse_instant

if TYPE_CHECKING:
    import pandas as pd

    from opsnb.workbench import Workbench

KINDS: tuple[str, ...] = ("created", "alert", "status", "severity", "role", "note", "milestone", "link",
                          "runbook_run", "deploy", "page", "ack", "escalation", "notification", "merge", "update",
                          "postmortem")
LINK_KINDS: tuple[str, ...] = ("alert", "deploy", "run", "slo", "server", "service")
ROLES: tuple[str, ...] = ("commander", "scribe", "communications")
MAX_DATA = 65_536
_ID = re.compile(r"^INC-(\d{1,9})$")
LIST_COLUMNS = ["id", "title", "severity", "status", "service", "commander", "created_at", "impact_start",
                "detected_at", "paged_at", "acknowledged_at", "mitigated_at", "resolved_at", "closed_at"]


def _text(value: Any, name: str, *, limit: int, required: bool = True) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        raise ValidationError(f"{name} must be a non-empty string", field=name)
    if len(value) > limit or "\x00" in value:
        raise ValidationError(f"{name} must be at most {limit} characters without NUL", field=name)
    return value


def _aware(t: Any, name: str) -> datetime:
    # every time argument speaks the one grammar; a naive time means UTC
    return parse_instant(t, name=name)


def normalise_id(incident_id: str) -> str:
    """An incident id as stored: ``inc-7``, `` INC-7 `` and ``7`` all mean ``INC-7``; anything else unchanged."""
    text = str(incident_id).strip()
    m = re.fullmatch(r"(?i:inc-)?(\d{1,9})", text)
    return f"INC-{m.group(1)}" if m else text


def _jsonable(data: Any, name: str = "data") -> dict[str, Any]:
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise ValidationError(f"{name} must be a mapping", field=name)
    try:
        text = json.dumps(dict(data), default=lambda v: v.isoformat() if isinstance(v, datetime) else str(v),
                          allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"{name} is not JSON-serializable: {exc}", field=name) from None
    if len(text) > MAX_DATA or "\\u0000" in text:
        raise ValidationError(f"{name} must be under {MAX_DATA} bytes of JSON without NUL", field=name)
    return json.loads(text)


@dataclass
class Incident:
    """One incident with its milestones, links and timeline (``ops.incidents.get("INC-7")``)."""

    id: str
    title: str
    severity: str
    status: str
    service: str
    services: list[str]
    summary: str
    commander: str
    scribe: str
    communications: str
    responders: list[str]
    created_at: datetime
    created_by: str
    updated_at: datetime
    merged_into: str | None
    milestones: dict[str, datetime | None]
    links: list[dict[str, Any]] = field(default_factory=list)
    timeline: Any = None  # pandas DataFrame

    @property
    def started_at(self) -> datetime:
        """When impact started (else when it was detected, else created)."""
        return self.milestones.get("impact_start") or self.milestones.get("detected") or self.created_at

    @property
    def is_open(self) -> bool:
        return self.status in OPEN

    def linked(self, kind: str) -> list[str]:
        """Refs linked of one kind (``inc.linked("slo")``)."""
        return [ln["ref"] for ln in self.links if ln["kind"] == kind]

    def as_dict(self) -> dict[str, Any]:
        d = {k: v for k, v in self.__dict__.items() if k != "timeline"}
        d["timeline"] = [] if self.timeline is None else self.timeline.to_dict(orient="records")
        return d

    def _repr_html_(self) -> str:
        color = {"SEV1": "#922b21", "SEV2": "#c0392b", "SEV3": "#d68910", "SEV4": "#7f8c8d"}.get(self.severity)
        e = html.escape
        ms = "".join(f"<tr><th style='text-align:left'>{e(m)}</th><td style='text-align:left'>"
                     f"{t:%Y-%m-%d %H:%M:%S}Z</td></tr>" for m, t in self.milestones.items() if t is not None)
        roles = ", ".join(f"{r}: {e(getattr(self, r))}" for r in ROLES if getattr(self, r))
        tl = ""
        if self.timeline is not None and len(self.timeline):
            rows = "".join(
                f"<tr><td style='text-align:left'>{r.at:%m-%d %H:%M:%S}</td><td style='text-align:left'>{e(r.kind)}"
                f"</td><td style='text-align:left'>{e(str(r.actor))}</td><td style='text-align:left'>"
                f"{_what_html(r.kind, r.data)}</td></tr>" for r in self.timeline.itertuples())
            tl = f"<table><tr><th>at (UTC)</th><th>kind</th><th>actor</th><th>what</th></tr>{rows}</table>"
        return (f"<div><h4 style='margin:0'><span style='color:{color}'>{e(self.severity)}</span> {e(self.id)}: "
                f"{e(self.title)}</h4><b>{e(self.status)}</b> &middot; service {e(self.service)}"
                f"{' &middot; ' + roles if roles else ''}<table>{ms}</table>{tl}</div>")


@dataclass(frozen=True)
class AlertIncident:
    """The incident an alert opened (``created``) or joined."""

    id: str
    title: str
    created: bool


def _when(v: Any) -> str:
    """An ISO time from a timeline entry's data as ``2026-12-05 20:17:00Z`` (or as given)."""
    try:
        t = datetime.fromisoformat(str(v))
    except ValueError:
        return str(v)
    return f"{t:%Y-%m-%d %H:%M:%S}Z" if t.tzinfo is not None else str(v)


def _people(items: Any) -> str:
    return ", ".join(str(x.get("person") or x.get("user") or x) if isinstance(x, Mapping) else str(x)
                     for x in items or [])


def _describe(kind: str, data: Mapping[str, Any]) -> str:
    """A timeline entry as one sentence (the ``what`` column): ``paged alice by slack (level 1)``."""
    text, _ = _sentence(kind, data)
    return text


def _sentence(kind: str, data: Mapping[str, Any]) -> tuple[str, tuple[str, str] | None]:
    """The sentence for an entry, and the (text, API path) of the one thing in it worth a link."""
    d = data
    why = f" ({d['reason']})" if d.get("reason") else ""
    if kind == "note":
        return str(d.get("text", "")), None
    if kind == "created":
        who = f", commander {d['commander']}" if d.get("commander") else ""
        return f"opened {d.get('severity', '')} “{d.get('title', '')}” on {d.get('service', '')}{who}", None
    if kind in ("status", "severity"):
        return f"{kind} {d.get('from')} → {d.get('to')}{why}", None
    if kind == "role":
        to = _people(d["to"]) if isinstance(d.get("to"), list) else d.get("to") or "nobody"
        return f"{d.get('role')}: {d.get('from') or 'nobody'} → {to}", None
    if kind == "update":
        return f"{d.get('field')} set to {str(d.get('to'))[:200]}", None
    if kind == "milestone":
        old = _when(d["old"]) if d.get("old") else "unset"
        new = _when(d["new"]) if d.get("new") else "unset"
        return f"milestone {d.get('name')}: {old} → {new}{why}", None
    if kind == "alert":
        labels = d.get("labels") or {}
        name = labels.get("alertname") or d.get("alertname") or "alert"
        return f"alert {name} {d.get('status', '')}".rstrip() + (f" ({d['fingerprint']})" if d.get("fingerprint")
                                                                 else ""), None
    if kind in ("link", "deploy") and "ref" in d:
        ref, what = str(d["ref"]), str(d.get("kind", kind))
        path = {"run": f"/runs/{ref}", "slo": f"/slos/{ref}/report"}.get(what)
        return f"linked {what} {ref}", (ref, path) if path else None
    if kind == "deploy":
        return f"{d.get('action', 'deploy')} of {d.get('deploy', '')}{why}", None
    if kind == "runbook_run":
        run = str(d.get("run_id", ""))
        return f"runbook {d.get('runbook', '')} run {run}: {d.get('status', '')}", (run, f"/runs/{run}")
    if kind == "page":
        if d.get("user"):
            via = f" by {d['channel']}" if d.get("channel") else ""
            return f"paged {d['user']}{via} (level {d.get('level', 1)})", None
        reached = _people(d.get("notified"))
        failed = "; ".join(f"{r.get('person') or r.get('target')}: {r['error']}" for r in d.get("result") or []
                           if isinstance(r, Mapping) and r.get("error"))
        head = f"page round {d.get('round', 1)}, level {d.get('level', 1)}: "
        return head + (f"reached {reached}" if reached else "reached nobody") + (f" ({failed})" if failed else ""), None
    if kind == "ack":
        if d.get("user"):
            return f"acknowledged by {d['user']}", None
        again = f"; pages again at {_when(d['retrigger_at'])}" if d.get("retrigger_at") else ""
        return f"acknowledged; {d.get('cancelled', 0)} pending page(s) cancelled{again}", None
    if kind == "merge":
        other = str(d.get("merged", ""))
        return f"merged {other} “{d.get('title', '')}” into this one", (other, f"/incidents/{other}")
    if kind == "postmortem":
        if d.get("event") == "draft_failed":
            return f"postmortem draft failed: {d.get('error', '')}", None
        return f"postmortem v{d.get('version', '')} drafted: {d.get('path', '')}", None
    if kind in ("escalation", "notification"):
        event = str(d.get("event", kind)).replace("_", " ")
        err = f": {d['error']}" if d.get("error") else ""
        return f"{event}{err}", None
    return ", ".join(f"{k} {v}" for k, v in d.items())[:300], None


def _what_html(kind: str, data: Mapping[str, Any]) -> str:
    """The ``what`` sentence as HTML (escaped), its run, SLO or incident linked to the API."""
    from opsnb.web import API_PREFIX

    text, link = _sentence(kind, data)
    out = html.escape(text)
    if link is not None:
        ref, path = link
        a = f"<a href='{html.escape(API_PREFIX + path, quote=True)}' target='_blank'>{html.escape(ref)}</a>"
        out = out.replace(html.escape(ref), a, 1)
    return out


class Incidents:
    """Incidents of a workbench (``ops.incidents``)."""

    def __init__(self, wb: Workbench) -> None:
        self._wb = wb

    # ---------------------------------------------------------------- create / read

    def create(self, *, title: str, service: str, severity: str = "SEV3", services: Sequence[str] = (),
               summary: str = "", impact_start: datetime | None = None, detected_at: datetime | None = None,
               commander: str = "", reason: str = "", id: str | None = None,
               actor: str | None = None, policy: str | None = None) -> Incident:
        """Open an incident (status triggered). Needs responder.

        Args:
            title, service, severity: What, where and how bad (SEV1..SEV4).
            impact_start: When impact began (default: ``detected_at``).
            detected_at: When it was detected (default now).
            id: An explicit ``INC-<n>`` (imports and the demo); default the next number.
            policy: Page it at once under this ``ops.oncall`` escalation policy (see :meth:`page`);
                not inside an open unit of work (paging runs its own transactions, after the
                incident commits). A policy that does not exist is refused before anything is written.

        Example:
            >>> inc = ops.incidents.create(title="Checkout 5xx", service="checkout", severity="SEV2",
            ...                            policy="default")  # doctest: +SKIP
        """
        if policy is not None and self._wb.db.current() is not None:
            raise ValidationError("policy= cannot be used inside an open unit of work: page after it commits",
                                  field="policy")
        with self._wb.db.session() as s:
            self._wb.access.require("responder", action="incident.create")
            if policy is not None:
                self._check_policy(s, policy)
            iid = self._create(s, title, service, severity, services, summary, impact_start, detected_at,
                               commander, reason, id, actor)
        if policy is not None:
            self._page_or_record(iid, policy, reason)
        return self.get(iid)

    def _create(self, s: Session, title: str, service: str, severity: str, services: Sequence[str], summary: str,
                impact_start: datetime | None, detected_at: datetime | None, commander: str, reason: str,
                iid: str | None, actor: str | None) -> str:
        title = _text(title, "title", limit=500)
        service = _text(service, "service", limit=200)
        summary = _text(summary, "summary", limit=MAX_DATA, required=False)
        commander = _text(commander, "commander", limit=200, required=False)
        lifecycle.check_severity(severity)
        svcs = [service, *[_text(x, "services", limit=200) for x in services if x != service]]
        now = utcnow()
        detected = _aware(detected_at, "detected_at") if detected_at is not None else now
        impact = _aware(impact_start, "impact_start") if impact_start is not None else detected
        problems = lifecycle.order_problems({"impact_start": impact, "detected": detected})
        if problems:
            raise ValidationError("milestones out of order:", problems=problems, field="impact_start")
        last = s.execute(update(IncidentCounter).where(IncidentCounter.id == 1)
                         .values(last=IncidentCounter.last + 1).returning(IncidentCounter.last)).scalar_one()
        if iid is not None:
            m = _ID.match(str(iid))
            if not m:
                raise ValidationError(f"incident id {iid!r} must look like INC-7", field="id")
            number = int(m.group(1))
            if s.get(IncidentRow, iid) is not None:
                from opsnb.errors import Conflict

                raise Conflict(f"incident {iid} exists already", kind="incident", key=iid)
            if number > last:
                s.execute(update(IncidentCounter).where(IncidentCounter.id == 1).values(last=number))
        else:
            number = int(last)
            while s.scalar(select(IncidentRow.id).where(IncidentRow.number == number)) is not None:
                number += 1  # an explicit id took this number earlier
            s.execute(update(IncidentCounter).where(IncidentCounter.id == 1).values(last=number))
            iid = f"INC-{number}"
        who = actor or self._wb.user
        s.add(IncidentRow(id=iid, number=number, title=title, severity=severity, status="triggered",
                          service=service, services=svcs, summary=summary, commander=commander, scribe="",
                          communications="", responders=[], created_at=now, created_by=who, updated_at=now,
                          merged_into=None, impact_start=impact, detected_at=detected))
        s.flush()
        self._append(s, iid, "created", detected, who, {"title": title, "severity": severity, "service": service,
                                                        "commander": commander})
        self._wb.audit.record(action="incident.create", target=iid, actor=who,
                              params={"title": title, "severity": severity, "service": service}, reason=reason)
        return iid

    def get(self, incident_id: str) -> Incident:
        """One incident with its links and timeline.

        Raises:
            NotFound: No such incident.
        """
        with self._wb.db.session() as s:
            return self._load(s, incident_id, with_timeline=True)

    def _row(self, s: Session, incident_id: str, *, lock: bool = False) -> IncidentRow:
        iid = normalise_id(incident_id)
        q = select(IncidentRow).where(IncidentRow.id == iid)
        if lock and self._wb.db.dialect == "postgresql":
            q = q.with_for_update()
        row = s.scalar(q)
        if row is None:
            newest = s.scalar(select(IncidentRow.id).order_by(IncidentRow.created_at.desc()).limit(1))
            hint = f"; the newest is {newest}" if newest else "; there are no incidents yet"
            raise NotFound(f"no incident {iid}{hint}", kind="incident", key=iid)
        return row

    def _load(self, s: Session, incident_id: str, *, with_timeline: bool) -> Incident:
        r = self._row(s, incident_id)
        links = [{"kind": ln.kind, "ref": ln.ref, "at": ln.at, "actor": ln.actor}
                 for ln in s.scalars(select(IncidentLink).where(IncidentLink.incident_id == r.id)
                                     .order_by(IncidentLink.id))]
        inc = Incident(
            id=r.id, title=r.title, severity=r.severity, status=r.status, service=r.service,
            services=list(r.services), summary=r.summary, commander=r.commander, scribe=r.scribe,
            communications=r.communications, responders=list(r.responders), created_at=r.created_at,
            created_by=r.created_by, updated_at=r.updated_at, merged_into=r.merged_into,
            milestones={m: getattr(r, lifecycle.column(m)) for m in MILESTONES}, links=links)
        if with_timeline:
            inc.timeline = self._timeline_df(s, r.id)
        return inc

    def list(self, *, status: str | Sequence[str] | None = None, service: str | None = None,
             severity: str | None = None, since: InstantLike | None = None, limit: int = 10_000) -> pd.DataFrame:
        """Incidents, newest first. ``status="open"`` means triggered, acknowledged or mitigated."""
        import pandas as pd

        q = select(IncidentRow).order_by(IncidentRow.created_at.desc(), IncidentRow.number.desc()).limit(limit)
        if status:
            wanted = list(OPEN) if status == "open" else ([status] if isinstance(status, str) else list(status))
            for st in wanted:
                lifecycle.check_status(st)
            q = q.where(IncidentRow.status.in_(wanted))
        if service:
            q = q.where(IncidentRow.service == service)
        if severity:
            q = q.where(IncidentRow.severity == severity)
        if since is not None:
            q = q.where(IncidentRow.created_at >= parse_instant(since, name="since", ago=True))
        with self._wb.db.session() as s:
            rows = [{c: getattr(r, c) for c in LIST_COLUMNS} for r in s.scalars(q)]
        df = pd.DataFrame(rows, columns=LIST_COLUMNS)
        for c in LIST_COLUMNS[6:]:
            df[c] = pd.to_datetime(df[c], utc=True)
        return df

    # ---------------------------------------------------------------- change

    def update(self, incident_id: str, *, status: str | None = None, severity: str | None = None,
               title: str | None = None, summary: str | None = None, commander: str | None = None,
               scribe: str | None = None, communications: str | None = None,
               responders: Sequence[str] | None = None, at: datetime | None = None, reason: str = "") -> Incident:
        """Change status (validated transition), severity, title, summary or roles. Needs responder.

        Entering acknowledged / mitigated / resolved / closed sets that milestone to ``at``
        (default now) unless it is set already; reopening clears ``resolved``.

        Example:
            >>> ops.incidents.update("INC-7", status="acknowledged", commander="alice")  # doctest: +SKIP
        """
        when = _aware(at, "at") if at is not None else utcnow()
        with self._wb.db.session() as s:
            self._wb.access.require("responder", action="incident.update")
            r = self._row(s, incident_id, lock=True)
            who, old_status, iid = self._wb.user, r.status, r.id
            changes: dict[str, Any] = {}
            if severity is not None and severity != r.severity:
                lifecycle.check_severity(severity)
                self._append(s, r.id, "severity", when, who, {"from": r.severity, "to": severity, "reason": reason})
                changes["severity"] = (r.severity, severity)
                r.severity = severity
            for name, value, limit in (("title", title, 500), ("summary", summary, MAX_DATA)):
                if value is not None and value != getattr(r, name):
                    _text(value, name, limit=limit, required=name == "title")
                    self._append(s, r.id, "update", when, who, {"field": name, "to": value})
                    changes[name] = value
                    setattr(r, name, value)
            for role, person in (("commander", commander), ("scribe", scribe), ("communications", communications)):
                if person is not None and person != getattr(r, role):
                    _text(person, role, limit=200, required=False)
                    self._append(s, r.id, "role", when, who, {"role": role, "from": getattr(r, role), "to": person})
                    changes[role] = person
                    setattr(r, role, person)
            if responders is not None:
                people = [_text(p, "responders", limit=200) for p in responders]
                if people != list(r.responders):
                    self._append(s, r.id, "role", when, who, {"role": "responders", "from": list(r.responders),
                                                              "to": people})
                    changes["responders"] = people
                    r.responders = people
            if status is not None:
                self._transition(s, r, status, when, who, reason)
                changes["status"] = status
            if not changes:
                raise ValidationError("nothing to change: give status, severity, title, summary or a role",
                                      field="update")
            r.updated_at = utcnow()
            self._wb.audit.record(action="incident.update", target=r.id, params=changes, reason=reason)
        if status is not None:
            paging.after_status(self._wb, self, iid, old_status, status, by=who, at=when)
            # the postmortem is drafted once the change has committed (a kernel run takes seconds)
            from opsnb.postmortems import hooks as postmortem_hooks

            postmortem_hooks.after_status(self._wb, iid, old_status, status, severity=r.severity, at=when)
        return self.get(incident_id)

    def _transition(self, s: Session, r: IncidentRow, status: str, when: datetime, who: str, reason: str) -> None:
        lifecycle.check_transition(r.id, r.status, status)
        old = r.status
        ms = {m: getattr(r, lifecycle.column(m)) for m in MILESTONES}
        if old == "resolved" and status == "triggered":
            ms["resolved"], ms["closed"] = None, None
        target = STATUS_MILESTONE.get(status)
        if target and ms[target] is None:
            ms[target] = when
            problems = lifecycle.order_problems(ms)
            if problems:
                raise ValidationError(f"{r.id}: {status} at {when:%Y-%m-%d %H:%M:%S}Z would put milestones out "
                                      "of order:", problems=problems, field="at")
        for m in MILESTONES:
            setattr(r, lifecycle.column(m), ms[m])
        r.status = status
        self._append(s, r.id, "status", when, who, {"from": old, "to": status, "reason": reason})

    def add_note(self, incident_id: str, text: str, *, at: datetime | None = None) -> int:
        """Add a note to the timeline. Needs responder. Returns the entry id."""
        text = _text(text, "text", limit=MAX_DATA)
        when = _aware(at, "at") if at is not None else utcnow()
        with self._wb.db.session() as s:
            self._wb.access.require("responder", action="incident.note")
            r = self._row(s, incident_id)
            eid = self._append(s, r.id, "note", when, self._wb.user, {"text": text})
            self._wb.audit.record(action="incident.note", target=r.id, params={"entry": eid})
        return eid

    def add_timeline(self, incident_id: str, *, kind: str, at: datetime | None = None, actor: str | None = None,
                     data: Mapping[str, Any] | None = None) -> int:
        """Append a typed entry (``note``, ``runbook_run``, ``page``, ``ack``, ``deploy``, ...). Needs responder.

        Other domains writing in their own unit of work use :func:`opsnb.incidents.hooks.add_timeline`.

        Raises:
            ValidationError: Unknown kind, naive time, data that is not JSON.
            NotFound: No such incident.
        """
        with self._wb.db.session() as s:
            self._wb.access.require("responder", action="incident.timeline")
            eid = self._add_timeline(s, incident_id, kind=kind, at=at, actor=actor, data=data)
            self._wb.audit.record(action="incident.timeline", target=normalise_id(incident_id),
                                  params={"kind": kind, "entry": eid})
        return eid

    def _add_timeline(self, s: Session, incident_id: str, *, kind: str, at: datetime | None,
                      actor: str | None, data: Mapping[str, Any] | None) -> int:
        if kind not in KINDS:
            raise ValidationError(f"unknown timeline kind {kind!r}; kinds are {', '.join(KINDS)}", field="kind")
        when = _aware(at, "at") if at is not None else utcnow()
        clean = _jsonable(data)
        who = _text(actor, "actor", limit=200) if actor is not None else self._wb.user
        r = self._row(s, incident_id)
        self._paged(r, kind, when, clean)
        return self._append(s, r.id, kind, when, who, clean)

    @staticmethod
    def _paged(r: IncidentRow, kind: str, when: datetime, data: Mapping[str, Any]) -> None:
        """A page that reached someone sets the ``paged`` milestone (MTTA counts from it), once."""
        if kind != "page" or r.paged_at is not None or data.get("notified") == []:
            return
        ms = {m: getattr(r, lifecycle.column(m)) for m in MILESTONES}
        ms["paged"] = when
        if not lifecycle.order_problems(ms):  # a late or replayed page must not break the milestone order
            r.paged_at = when

    def _append(self, s: Session, iid: str, kind: str, at: datetime, actor: str, data: dict[str, Any]) -> int:
        e = TimelineEntry(incident_id=iid, kind=kind, at=at, actor=actor, data=_jsonable(data),
                          recorded_at=utcnow())
        s.add(e)
        s.flush()
        return int(e.id)

    def timeline(self, incident_id: str, *, suspects: int = 0) -> pd.DataFrame:
        """The timeline in time order: at, kind, actor, data, what (a one-line description).

        Args:
            incident_id: The incident.
            suspects: Also the ``suspects`` best-ranked suspect changes of
                ``ops.deploys.suspects(incident_id)``, as rows of kind ``suspect`` at the change's
                time (``what``: ``suspect #1: deploy DEP-3 checkout 1.0 -> 1.1 (same service; ...)``,
                ``data``: rank, score, change, id, service, env, reasons). They are computed from the
                deploys and changes, not stored, so their ``id`` is empty; 0 (the default) leaves them
                out, since ranking reads the lake.
        """
        with self._wb.db.session() as s:
            df = self._timeline_df(s, self._row(s, incident_id).id)
        return self._with_suspects(df, incident_id, suspects) if suspects else df

    def _with_suspects(self, df: pd.DataFrame, incident_id: str, n: int) -> pd.DataFrame:
        """``df`` with the top ``n`` suspect changes merged in by time (through the deploys service)."""
        import pandas as pd

        top = self._wb.deploys.suspects(incident_id).head(n)
        rows = []
        for c in top.itertuples(index=False):
            reasons = [str(r) for r in c.reasons]
            change = f"{c.kind} {c.id}" + (f" {c.summary}" if c.summary else "")
            rows.append({"id": None, "at": c.at, "kind": "suspect", "actor": "",
                         "data": {"rank": int(c.rank), "score": float(c.score), "change": str(c.kind),
                                  "ref": str(c.id), "service": str(c.service), "env": str(c.env),
                                  "reasons": reasons},
                         "what": f"suspect #{int(c.rank)}: {change} ({'; '.join(reasons)})", "recorded_at": None})
        if not rows:
            return df
        extra = pd.DataFrame(rows, columns=list(df.columns))
        extra["at"] = pd.to_datetime(extra["at"], utc=True)
        extra["recorded_at"] = pd.to_datetime(extra["recorded_at"], utc=True)
        out = pd.concat([df, extra], ignore_index=True) if len(df) else extra
        return out.sort_values("at", kind="stable").reset_index(drop=True)

    def _timeline_df(self, s: Session, iid: str) -> pd.DataFrame:
        import pandas as pd

        rows = [{"id": e.id, "at": e.at, "kind": e.kind, "actor": e.actor, "data": e.data,
                 "what": _describe(e.kind, e.data), "recorded_at": e.recorded_at}
                for e in s.scalars(select(TimelineEntry).where(TimelineEntry.incident_id == iid)
                                   .order_by(TimelineEntry.at, TimelineEntry.id))]
        df = pd.DataFrame(rows, columns=["id", "at", "kind", "actor", "data", "what", "recorded_at"])
        df["at"] = pd.to_datetime(df["at"], utc=True)
        df["recorded_at"] = pd.to_datetime(df["recorded_at"], utc=True)
        return df

    def set_milestone(self, incident_id: str, name: str, at: datetime | None, *, reason: str = "") -> Incident:
        """Set or correct a milestone (None clears it); order is enforced, the edit audited. Needs responder.

        Example:
            >>> ops.incidents.set_milestone("INC-7", "impact_start", t0, reason="from the logs")  # doctest: +SKIP
        """
        lifecycle.check_milestone(name)
        when = _aware(at, "at") if at is not None else None
        with self._wb.db.session() as s:
            self._wb.access.require("responder", action="incident.milestone")
            r = self._row(s, incident_id, lock=True)
            col = lifecycle.column(name)
            old = getattr(r, col)
            ms = {m: getattr(r, lifecycle.column(m)) for m in MILESTONES}
            ms[name] = when
            problems = lifecycle.order_problems(ms)
            if problems:
                raise ValidationError(f"{r.id}: milestones would be out of order:", problems=problems,
                                      field=name)
            setattr(r, col, when)
            r.updated_at = utcnow()
            self._append(s, r.id, "milestone", utcnow(), self._wb.user,
                         {"name": name, "old": old, "new": when, "reason": reason})
            self._wb.audit.record(action="incident.milestone", target=r.id,
                                  params={"name": name, "old": old, "new": when}, reason=reason)
        return self.get(incident_id)

    def link(self, incident_id: str, *, alert: str | None = None, deploy: str | None = None,
             run: str | None = None, slo: str | None = None, server: str | None = None,
             service: str | None = None, reason: str = "", at: datetime | None = None) -> None:
        """Link alerts, deploys, runbook runs, SLOs, servers or services (each once). Needs responder.

        ``at`` dates the timeline entry (default now).
        """
        pairs = self._link_pairs({"alert": alert, "deploy": deploy, "run": run, "slo": slo, "server": server,
                                  "service": service})
        when = _aware(at, "at") if at is not None else None
        with self._wb.db.session() as s:
            self._wb.access.require("responder", action="incident.link")
            iid = self._row(s, incident_id).id
            self._link(s, iid, pairs, self._wb.user, when)
            self._wb.audit.record(action="incident.link", target=iid,
                                  params=dict(pairs), reason=reason)

    @staticmethod
    def _link_pairs(refs: Mapping[str, str | None]) -> builtins.list[tuple[str, str]]:
        unknown = sorted(set(refs) - set(LINK_KINDS))
        if unknown:
            raise ValidationError(f"cannot link {', '.join(unknown)}; kinds are {', '.join(LINK_KINDS)}",
                                  field="link")
        pairs = [(k, v) for k, v in refs.items() if v is not None]
        if not pairs:
            raise ValidationError("name something to link: alert, deploy, run, slo, server or service", field="link")
        for k, v in pairs:
            _text(v, k, limit=255)
        return pairs

    def _link(self, s: Session, iid: str, pairs: Sequence[tuple[str, str]], who: str,
              at: datetime | None = None) -> None:
        from opsnb.alerts import hooks as alert_hooks

        now = at or utcnow()
        for kind, ref in pairs:
            exists = s.scalar(select(IncidentLink.id).where(IncidentLink.incident_id == iid,
                                                            IncidentLink.kind == kind, IncidentLink.ref == ref))
            if exists is not None:
                continue
            s.add(IncidentLink(incident_id=iid, kind=kind, ref=ref, at=now, actor=who))
            self._append(s, iid, "deploy" if kind == "deploy" else "link", now, who, {"kind": kind, "ref": ref})
            if kind == "alert":
                alert_hooks.set_incident(self._wb, ref, iid)

    def merge(self, incident_id: str, *, into: str, reason: str = "") -> Incident:
        """Merge an open incident into another: its links move over, status becomes merged. Needs responder."""
        if normalise_id(incident_id) == normalise_id(into):
            raise ValidationError("an incident cannot be merged into itself", field="into")
        with self._wb.db.session() as s:
            self._wb.access.require("responder", action="incident.merge")
            src, dst = self._row(s, incident_id, lock=True), self._row(s, into, lock=True)
            if dst.status not in OPEN and dst.status != "resolved":
                from opsnb.errors import Conflict

                raise Conflict(f"cannot merge into {dst.id}, which is {dst.status}", kind="incident", key=dst.id)
            now = utcnow()
            old_status, src_id = src.status, src.id
            self._transition(s, src, "merged", now, self._wb.user, reason)
            src.merged_into, src.updated_at = dst.id, now
            pairs = [(ln.kind, ln.ref) for ln in s.scalars(select(IncidentLink)
                                                           .where(IncidentLink.incident_id == src.id))]
            self._link(s, dst.id, pairs, self._wb.user)
            self._append(s, dst.id, "merge", now, self._wb.user, {"merged": src.id, "title": src.title})
            self._wb.audit.record(action="incident.merge", target=src.id, params={"into": dst.id}, reason=reason)
        paging.after_status(self._wb, self, src_id, old_status, "merged", by=self._wb.user, at=now)
        return self.get(into)

    def decline(self, incident_id: str, *, reason: str) -> Incident:
        """Mark as not an incident (from triggered or acknowledged). Needs responder and a reason."""
        _text(reason, "reason", limit=10_000)
        return self.update(incident_id, status="declined", reason=reason)

    # ---------------------------------------------------------------- paging (ops.oncall)

    def page(self, incident_id: str, *, policy: str, at: datetime | None = None, reason: str = "") -> int:
        """Page an incident under an ``ops.oncall`` escalation policy (needs responder).

        Level 1 is notified at once; later levels by ``ops.oncall.tick()``. Acknowledging the
        incident (``update(status="acknowledged")``) cancels pending pages; mitigating, resolving,
        declining or merging it ends the escalation. While an escalation of the incident is open,
        paging again returns its id and starts nothing.

        Returns:
            The escalation id.

        Raises:
            NotFound: No such incident or policy.

        Example:
            >>> ops.incidents.page("INC-7", policy="default")  # doctest: +SKIP
        """
        when = _aware(at, "at") if at is not None else None
        return paging.page(self._wb, self, incident_id, policy=policy, at=when, reason=reason)

    def _check_policy(self, s: Session, policy: Any) -> None:
        if not isinstance(policy, str) or not policy.strip() or len(policy) > 100:
            raise ValidationError("policy must be the name of an escalation policy", field="policy")
        self._wb.oncall.policy(policy)  # NotFound before the incident is written

    def _page_or_record(self, iid: str, policy: str, reason: str) -> None:
        """Page a just-created incident; a failure keeps the incident and is put on its timeline."""
        try:
            paging.page(self._wb, self, iid, policy=policy, reason=reason)
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"[:1000]
            paging.log.error("paging %s under escalation policy %r failed: %s", iid, policy, error)
            paging.record_failure(self._wb, self, iid, "page_failed", error, utcnow())

    # ---------------------------------------------------------------- alerts

    def _open_or_join_for_alert(self, session: Session, alert: Mapping[str, Any], *, severity: str, rule: str,
                                join_open: bool) -> AlertIncident:
        """Open an incident for a firing alert or join its service's open one; says whether it was opened now."""
        labels = dict(alert.get("labels") or {})
        service = labels.get("service") or labels.get("job") or "unknown"
        fp = str(alert["fingerprint"])
        who = f"rule:{rule}"[:200]
        found = None
        if join_open:
            found = session.execute(select(IncidentRow.id, IncidentRow.title)
                                    .where(IncidentRow.service == service, IncidentRow.status.in_(OPEN))
                                    .order_by(IncidentRow.created_at.desc()).limit(1)).first()
        if found is None:
            summary = str((alert.get("annotations") or {}).get("summary", ""))
            title = (summary or f"{labels.get('alertname', 'alert')} on {service}")[:500]
            iid = self._create(session, title, service, severity, (), "", None,
                               alert.get("starts_at") or utcnow(), "", f"opened by incident rule {rule}", None, who)
            opened = AlertIncident(iid, title, True)
        else:
            opened = AlertIncident(str(found[0]), str(found[1]), False)
        self._link(session, opened.id, [("alert", fp)], who)
        self._append(session, opened.id, "alert", alert.get("starts_at") or utcnow(), who,
                     {"fingerprint": fp, "status": alert.get("status"), "labels": labels, "rule": rule})
        return opened

    # ---------------------------------------------------------------- SLO impact and metrics

    def slo_impact(self, incident_id: str) -> pd.DataFrame:
        """Per linked SLO, the error budget burned during the impact window (impact_start to resolved/now).

        Computed by the SLO domain (``ops.slos[name].budget_burned``); a row carries ``error`` when that fails.
        """
        import pandas as pd

        inc = self.get(incident_id)
        start = inc.started_at
        end = inc.milestones.get("resolved") or utcnow()
        cols = ["slo", "start", "end", "budget_burned", "bad_events", "total_events", "error"]
        rows: list[dict[str, Any]] = []
        names = inc.linked("slo")
        for name in names:
            row: dict[str, Any] = {"slo": name, "start": start, "end": end}
            try:
                burn = self._wb.slos[name].budget_burned(start=start, end=end)
                row.update(budget_burned=burn.budget_burned, bad_events=burn.bad_events,
                           total_events=burn.total_events)
            except Exception as exc:  # one bad SLO must not hide the others' impact
                row["error"] = f"{type(exc).__name__}: {exc}"
            rows.append(row)
        return pd.DataFrame(rows, columns=cols)

    def metrics(self, *, start: InstantLike | None = None, end: InstantLike | None = None,
                by: Sequence[str] = ("service", "severity")) -> pd.DataFrame:
        """MTTD, MTTA, MTTM, MTTR (minutes): n, mean, median, p90 per group, for incidents whose impact
        started in ``[start, end)``. Declined and merged incidents are left out. See
        :mod:`opsnb.incidents.metrics` for the definitions.
        """
        import pandas as pd

        from opsnb.incidents import metrics as m

        bad = [b for b in by if b not in ("service", "severity", "status")]
        if bad:
            raise ValidationError(f"cannot group by {bad}; use service, severity or status", field="by")
        q = select(IncidentRow).where(IncidentRow.status.notin_(("declined", "merged")))
        with self._wb.db.session() as s:
            rows = [{"id": r.id, "service": r.service, "severity": r.severity, "status": r.status,
                     **{c: getattr(r, c) for c in ("impact_start", "detected_at", "paged_at", "acknowledged_at",
                                                   "mitigated_at", "resolved_at")}} for r in s.scalars(q)]
        df = pd.DataFrame(rows, columns=["id", "service", "severity", "status", "impact_start", "detected_at",
                                         "paged_at", "acknowledged_at", "mitigated_at", "resolved_at"])
        for c in df.columns[4:]:
            df[c] = pd.to_datetime(df[c], utc=True)
        if start is not None:
            df = df[df["impact_start"] >= pd.Timestamp(parse_instant(start, name="start", ago=True))]
        if end is not None:
            df = df[df["impact_start"] < pd.Timestamp(parse_instant(end, name="end"))]
        return m.summarize(df, by)

