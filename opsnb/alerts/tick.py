"""What :meth:`Alerts.tick` does: open or join incidents by rule (and page), flush due groups, notify.

:class:`AlertTicker` is a part of :class:`opsnb.alerts.service.Alerts`. Alerts that changed since the
last tick are matched against the incident rules; a rule that opens a new incident and names an
escalation policy starts paging (``ops.oncall.escalate``) right after the transaction that opened
the incident commits (oncall runs its own transactions and takes no session). So that a process
dying in between loses no page, the request is written to ``alert_pages`` in the transaction that
opens the incident (an outbox); every tick starts the pending ones. A page that cannot start is
never silent: it is logged, marked failed with its error, written to the incident's timeline
(kind ``escalation``) and reported in :class:`TickReport.pages`.
"""

from __future__ import annotations

import builtins
import logging
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from opsnb.alerts.grouping import AlertView, GroupState, Notification, Policy
from opsnb.alerts.matchers import matches_all, parse_matchers
from opsnb.alerts.models import Alert, AlertGroup, AlertNotification, AlertPage, IncidentRule
from opsnb.alerts.results import TickReport
from opsnb.alerts.rules import inhibit_specs, silence_specs
from opsnb.alerts.silences import make_muter
from opsnb.incidents import hooks as incident_hooks
from opsnb.notify import hooks as notify_hooks
from opsnb.store.types import utcnow

if TYPE_CHECKING:
    import pandas as pd

    from opsnb.workbench import Workbench

log = logging.getLogger(__name__)


def view(row: Any) -> AlertView:
    return AlertView(row.fingerprint, row.labels, row.status, row.starts_at)


def dview(d: Mapping[str, Any]) -> AlertView:
    return AlertView(d["fingerprint"], d["labels"], d["status"], d["starts_at"])



def state_of(g: AlertGroup) -> GroupState:
    return GroupState(key=g.key, labels=dict(g.labels), created_at=g.created_at, next_flush_at=g.next_flush_at,
                      open=g.state == "open", flushed=g.flushed, notified=g.notified,
                      last_notified_at=g.last_notified_at, last_firing=frozenset(g.last_firing),
                      last_resolved=frozenset(g.last_resolved))


def save_state(g: AlertGroup, st: GroupState) -> None:
    g.labels, g.state, g.created_at, g.next_flush_at = st.labels, "open" if st.open else "closed", \
        st.created_at, st.next_flush_at
    g.flushed, g.notified, g.last_notified_at = st.flushed, st.notified, st.last_notified_at
    g.last_firing, g.last_resolved = sorted(st.last_firing), sorted(st.last_resolved)


class AlertTicker:
    """The periodic work of ``ops.alerts`` (part of :class:`opsnb.alerts.service.Alerts`)."""

    _wb: Workbench
    policy: Policy

    def tick(self, now: datetime | None = None) -> TickReport:
        """Do what is due: incident rules for changed alerts, flush due groups, send, trigger runbooks.

        A notification is queued with ``ops.notify`` (channel ``alerts_channel``) in the same
        transaction as the flush that decided it, then attempted after commit, so none is lost
        or sent twice. Safe to call often and from several processes (a due group is claimed by one).
        An incident opened by a rule with a ``policy`` is paged through ``ops.oncall.escalate``
        (escalation starting at ``now``); the outcome is in :attr:`TickReport.pages`.
        """
        now = now or utcnow()
        rep = TickReport(at=now)
        # Services used inside the transactions below are loaded first: a first import (pandas)
        # inside one held the SQLite write lock for most of a second while webhooks waited.
        self._wb.incidents, self._wb.notify  # noqa: B018 - loads them
        triggers: builtins.list[dict[str, Any]] = []
        deliveries: builtins.list[int] = []
        # Small transactions, so webhooks arriving meanwhile wait for the write lock only briefly.
        while True:
            with self._wb.db.session() as s:
                if self._process_pending(s, now, rep, triggers, limit=50) < 50:
                    break
        self._start_pages(now, rep)  # after commit: ops.oncall runs its own transactions
        for _ in range(100):  # bounded: a zero group_interval must not spin forever
            with self._wb.db.session() as s:
                if self._flush_due(s, now, rep, deliveries, limit=50) < 50:
                    break
        if deliveries:
            try:
                self._wb.notify.attempt(deliveries, now=now)
            except Exception as exc:  # queued deliveries are retried by ops.notify.tick()
                log.warning("notification attempt failed: %s", exc)
        if triggers:
            runbooks = self._wb.runbooks
            if _has_triggers(runbooks):
                for t in triggers:
                    try:
                        runbooks.trigger_for_alert(t)
                        rep.runbooks += 1
                    except Exception as exc:  # a runbook failing to start must not stop alert processing
                        log.warning("runbook trigger for alert %s failed: %s", t.get("fingerprint"), exc)
        return rep

    def _process_pending(self, s: Session, now: datetime, rep: TickReport,
                         triggers: builtins.list[dict[str, Any]], *, limit: int) -> int:
        pending = list(s.scalars(select(Alert).where(Alert.pending.is_(True)).order_by(Alert.id).limit(limit)))
        if not pending:
            return 0
        rules = [(r, parse_matchers(r.matchers)) for r in s.scalars(select(IncidentRule).order_by(IncidentRule.id))]
        for a in pending:
            info = {"fingerprint": a.fingerprint, "status": a.status, "labels": a.labels,
                    "annotations": a.annotations, "starts_at": a.starts_at, "ends_at": a.ends_at,
                    "source": a.source, "incident_id": a.incident_id}
            if a.incident_id:
                incident_hooks.add_timeline(self._wb, a.incident_id, kind="alert",
                                            at=a.ends_at if a.status == "resolved" else now, actor="opsnb-alerts",
                                            data={"fingerprint": a.fingerprint, "status": a.status,
                                                  "labels": a.labels})
            elif a.status == "firing":
                rule = next((r for r, ms in rules if matches_all(ms, a.labels)), None)
                if rule is not None:
                    opened = incident_hooks.open_or_join_for_alert(self._wb, info, severity=rule.severity,
                                                                   rule=rule.name, join_open=rule.join_open)
                    a.incident_id = info["incident_id"] = opened.id
                    if a.incident_id not in rep.incidents:
                        rep.incidents.append(a.incident_id)
                    if opened.created and rule.policy:  # an alert joining an open incident pages nobody
                        s.add(_page_request(opened.id, opened.title, rule, a, now))
            if a.status == "firing":
                triggers.append(info)
            a.pending = False
        return len(pending)

    def _flush_due(self, s: Session, now: datetime, rep: TickReport, deliveries: builtins.list[int], *,
                   limit: int) -> int:
        q = (select(AlertGroup).where(AlertGroup.state == "open", AlertGroup.next_flush_at <= now)
             .order_by(AlertGroup.next_flush_at).limit(limit))
        if self._wb.db.dialect == "postgresql":
            q = q.with_for_update(skip_locked=True)  # another ticking process takes the rest
        due = list(s.scalars(q))
        if not due:
            return 0
        silences, inhibits = silence_specs(s, now), inhibit_specs(s)
        everyone: dict[str, AlertView] = {}
        if inhibits:
            everyone = {r.fingerprint: view(r) for r in s.scalars(select(Alert).where(Alert.status != "resolved"))}
        muter = make_muter(silences, inhibits)
        channel = str(self._wb.settings.alerts_channel)
        notify = bool(channel)
        # Members of every due group in one query of the columns a flush reads (not one ORM load a
        # group): this transaction holds the write lock that webhooks wait for.
        members_of: dict[str, builtins.list[Any]] = {g.key: [] for g in due}
        cols = (Alert.fingerprint, Alert.labels, Alert.annotations, Alert.status, Alert.starts_at, Alert.group_key)
        for r in s.execute(select(*cols).where(Alert.group_key.in_(list(members_of)), Alert.grouped.is_(True))):
            members_of[r.group_key].append(r)
        for g in due:
            members = members_of[g.key]
            st = state_of(g)
            note, leaving = st.flush([view(m) for m in members],
                                     lambda v: muter(v, now, everyone) is not None, now, self.policy)
            save_state(g, st)
            rep.flushed += 1
            if leaving:
                s.execute(update(Alert).where(Alert.fingerprint.in_(leaving), Alert.group_key == g.key)
                          .values(grouped=False))
            if note is None:
                continue
            rep.notifications.append(note)
            row = AlertNotification(at=now, group_key=g.key, status=note.status, reason=note.reason,
                                    firing=list(note.firing), resolved=list(note.resolved), channel=channel,
                                    delivery="recorded" if not channel else "unavailable",
                                    error="")
            s.add(row)
            if notify:
                s.flush()  # the delivery's dedup key names the row's id
                subject, body = self._render(note, {m.fingerprint: m for m in members})
                try:
                    with s.begin_nested():  # a bad channel fails this notification, not the flush
                        did = notify_hooks.record(
                            self._wb, channel=channel, subject=subject, body=body,
                            dedup_key=f"alert-notification-{row.id}",
                            context={"group_key": note.group_key, "status": note.status, "reason": note.reason,
                                     "firing": list(note.firing), "resolved": list(note.resolved),
                                     "labels": note.group_labels}, now=now)
                    row.delivery = f"queued:{did}"
                    deliveries.append(int(did))
                except Exception as exc:
                    row.delivery, row.error = "failed", f"{type(exc).__name__}: {exc}"[:2000]
        return len(due)

    def _start_pages(self, now: datetime, rep: TickReport) -> None:
        """Start every pending page (those of this tick, and any a dead process left behind)."""
        with self._wb.db.session() as s:
            todo = list(s.scalars(select(AlertPage.id).where(AlertPage.state == "pending")
                                  .order_by(AlertPage.id).limit(100)))
        for pid in todo:
            self._start_page(pid, now, rep)

    def _start_page(self, pid: int, now: datetime, rep: TickReport) -> None:
        with self._wb.db.session() as s:
            page = s.get(AlertPage, pid)
            if page is None or page.state != "pending":
                return  # another ticking process took it
            iid, policy, rule = page.incident_id, page.policy, page.rule
            subject, body, context = page.subject, page.body, dict(page.context)
        out: dict[str, Any] = {"incident_id": iid, "policy": policy, "rule": rule, "escalation": None, "error": None}
        try:
            # idempotent per incident: two processes starting the same page get one escalation
            out["escalation"] = int(self._wb.oncall.escalate(policy=policy, incident_id=iid, subject=subject,
                                                             body=body, at=now, context=context))
        except Exception as exc:  # the incident stays open: say loudly that nobody was paged
            out["error"] = f"{type(exc).__name__}: {exc}"[:1000]
            log.error("paging %s under escalation policy %r failed: %s", iid, policy, out["error"])
        try:
            with self._wb.db.session() as s:
                s.execute(update(AlertPage).where(AlertPage.id == pid).values(
                    state="failed" if out["error"] else "started", started_at=now,
                    escalation_id=out["escalation"], error=out["error"] or ""))
                if out["error"]:
                    data = {"event": "page_failed", "policy": policy, "rule": rule, "error": out["error"]}
                    self._wb.audit.record(action="alerts.page_failed", target=iid, actor="opsnb-alerts",
                                          params=data)
                    try:
                        with s.begin_nested():  # the failure stays recorded here even if this fails
                            incident_hooks.add_timeline(self._wb, iid, kind="escalation", at=now,
                                                        actor="opsnb-alerts", data=data)
                    except Exception:
                        log.exception("putting the failed page of %s on its timeline failed", iid)
        except Exception:
            log.exception("recording the page of %s failed", iid)
        rep.pages.append(out)

    def pages(self, *, state: str | None = None, incident_id: str | None = None) -> pd.DataFrame:
        """Pages incident rules asked for, oldest first: ``state`` pending, started or failed (with ``error``)."""
        import pandas as pd

        q = select(AlertPage).order_by(AlertPage.id)
        if state is not None:
            q = q.where(AlertPage.state == state)
        if incident_id is not None:
            q = q.where(AlertPage.incident_id == incident_id)
        cols = ["id", "incident_id", "policy", "rule", "state", "requested_at", "started_at", "escalation_id",
                "error", "subject"]
        with self._wb.db.session() as s:
            rows = [{c: getattr(r, c) for c in cols} for r in s.scalars(q)]
        df = pd.DataFrame(rows, columns=cols)
        for c in ("requested_at", "started_at"):
            df[c] = pd.to_datetime(df[c], utc=True)
        return df

    @staticmethod
    def _render(note: Notification, rows: Mapping[str, Any]) -> tuple[str, str]:
        label = " ".join(f"{k}={v}" for k, v in note.group_labels.items())
        n = len(note.firing) if note.status == "firing" else len(note.resolved)
        subject = f"[{note.status.upper()}:{n}] {label}".strip()
        lines = []
        for title, group in (("Firing", note.firing), ("Resolved", note.resolved)):
            if group:
                lines.append(f"{title}:")
                for f in group:
                    r = rows.get(f)
                    if r is not None:
                        summary = r.annotations.get("summary", "") or ", ".join(f"{k}={v}" for k, v in r.labels.items())
                        lines.append(f"- {summary} (since {r.starts_at:%Y-%m-%d %H:%M}Z)")
        return subject, "\n".join(lines)


def _page_request(iid: str, title: str, rule: IncidentRule, a: Alert, now: datetime) -> AlertPage:
    """The page to send for an incident a rule opened for alert ``a``."""
    labels = dict(a.labels)
    lines = [str(a.annotations.get("summary") or a.annotations.get("description") or "").strip(),
             "Labels: " + ", ".join(f"{k}={v}" for k, v in sorted(labels.items())),
             f"Firing since {a.starts_at:%Y-%m-%d %H:%M:%S}Z; opened by incident rule {rule.name}."]
    if a.generator_url:
        lines.append(f"Source: {a.generator_url}")
    return AlertPage(incident_id=iid, policy=str(rule.policy), rule=rule.name,
                     subject=f"{iid} [{rule.severity}] {title}"[:1000],
                     body="\n".join(x for x in lines if x)[:100_000],
                     context={"fingerprint": a.fingerprint, "rule": rule.name, "severity": rule.severity,
                              "labels": labels},
                     requested_at=now, state="pending", error="")


def _has_triggers(runbooks: Any) -> bool:
    """Whether any runbook trigger exists (asked once per tick, not once per alert)."""
    trig = getattr(runbooks, "triggers", None)
    lister = getattr(trig, "list", None)
    if not callable(lister):
        return True
    try:
        return len(lister()) > 0
    except Exception:  # unknown API: let trigger_for_alert decide per alert
        return True

