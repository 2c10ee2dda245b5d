"""The alerts service (``ops.alerts``): ingest, dedup, grouping, silences, rules, tick, replay.

Silences and rules management live in :mod:`opsnb.alerts.rules`, the periodic work
(incident rules, paging, flushing groups) in :mod:`opsnb.alerts.tick`; :class:`Alerts`
combines them with ingest, reading and replay here.

Ingest stores the raw payload and the deduplicated alert state in one
transaction before the caller answers 202; a bad payload raises before anything
is written. Notifications are not sent at ingest: :meth:`Alerts.tick` (run every
second by the API server, or by a scheduler) flushes the groups that are due,
following Alertmanager's timing, opens or joins incidents by rule, and triggers
runbooks.
"""

from __future__ import annotations

import builtins
import functools
import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Table, bindparam, func, insert, or_, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from opsnb.alerts import payloads
from opsnb.alerts.grouping import FatigueReport, GroupState, Policy, StreamEvent
from opsnb.alerts.grouping import group_key as make_group_key
from opsnb.alerts.grouping import group_labels as make_group_labels
from opsnb.alerts.grouping import replay as replay_stream
from opsnb.alerts.matchers import matches_all, parse_matchers
from opsnb.alerts.models import Alert, AlertGroup, AlertNotification, AlertReceipt, Silence
from opsnb.alerts.payloads import NormalizedAlert  # noqa: F401 - re-exported for callers
from opsnb.alerts.results import AlertInfo, IngestResult, Prepared, TickReport  # noqa: F401 - re-exported
from opsnb.alerts.rules import SEVERITIES, AlertRules, inhibit_specs, silence_specs  # noqa: F401 - re-exported
from opsnb.alerts.silences import make_muter, silence_spec
from opsnb.alerts.tick import AlertTicker, dview, save_state, state_of
from opsnb.errors import NotFound, ValidationError
from opsnb.store.types import utcnow
from opsnb.timeparse import InstantLike, parse_instant

if TYPE_CHECKING:
    import pandas as pd

    from opsnb.workbench import Workbench

log = logging.getLogger(__name__)
ALERT_COLUMNS = ["fingerprint", "status", "alertname", "service", "severity", "summary", "labels", "starts_at",
                 "ends_at", "last_received_at", "receive_count", "group_key", "incident_id", "source", "silenced"]


# Columns read for an alert at ingest, and those an ingest update writes back.
_LOADED = ("id", "fingerprint", "status", "labels", "annotations", "starts_at", "ends_at", "receive_count",
           "generator_url", "group_key", "grouped", "pending")
_WRITTEN = ("status", "labels", "annotations", "starts_at", "ends_at", "last_received_at", "generator_url",
            "last_payload", "last_receipt_id", "group_key", "grouped")



@functools.cache
def _statements() -> dict[str, Any]:
    """The ingest statements, built once per process."""
    rt, at = cast(Table, AlertReceipt.__table__), cast(Table, Alert.__table__)
    return {
        "receipt": insert(rt).returning(rt.c.id, sort_by_parameter_order=True),
        "load": select(*(at.c[c] for c in _LOADED)).where(at.c.fingerprint.in_(bindparam("fps", expanding=True))),
        "insert": insert(at),
        "update_full": update(at).where(at.c.id == bindparam("b_id")).values(
            {**{at.c[k]: bindparam("b_" + k) for k in _WRITTEN},
             at.c.receive_count: at.c.receive_count + bindparam("b_inc"),
             at.c.pending: or_(at.c.pending, bindparam("b_changed"))}),
        "update_repeat": update(at).where(at.c.id == bindparam("b_id")).values(
            {at.c.receive_count: at.c.receive_count + bindparam("b_inc"),
             at.c.last_received_at: bindparam("b_last_received_at"),
             at.c.last_payload: bindparam("b_last_payload"),
             at.c.last_receipt_id: bindparam("b_last_receipt_id")}),
    }


class Alerts(AlertRules, AlertTicker):
    """Alerts of a workbench (``ops.alerts``).

    Attributes:
        policy: Grouping and timing (from the ``alerts_*`` settings); assign to change it.
    """

    def __init__(self, wb: Workbench) -> None:
        self._wb = wb
        self.policy = Policy.from_settings(wb.settings)

    # ---------------------------------------------------------------- ingest

    def ingest_alertmanager(self, payload: Any, *, _via_api: bool = False) -> IngestResult:
        """Store an Alertmanager webhook payload (version "4").

        Args:
            payload: The body: bytes, text or a parsed mapping.

        Raises:
            ParseError: Not JSON. ValidationError: Listing every bad field; nothing written.

        Example:
            >>> ops.alerts.ingest_alertmanager(body)            # doctest: +SKIP
        """
        return self.store([self.prepare_alertmanager(payload)], _via_api=_via_api)[0]

    def ingest_events(self, payload_or_list: Any, *, _via_api: bool = False) -> IngestResult:
        """Store one Events-v2-style event or a list of them (trigger / acknowledge / resolve).

        A bad event refuses the whole list. The ``routing_key`` is removed from the stored
        raw payload (it is a credential). ``fingerprints`` in the result holds each event's
        ``dedup_key`` (generated for a trigger without one).
        """
        return self.store([self.prepare_events(payload_or_list)], _via_api=_via_api)[0]

    def ingest_slo(self, *, slo: str, tier: str, burn_rate: float, window: str, firing: bool,
                   service: str | None = None, _via_api: bool = False) -> IngestResult:
        """Store an SLO burn-rate alert (the SLO domain calls this when a tier starts or stops firing).

        Labels: ``alertname=SLOBurnRate``, ``slo``, ``tier``, ``window``, ``severity``
        (critical for ``page``, else warning) and ``service`` when given.
        """
        prepared = self.prepare_slo(slo=slo, tier=tier, burn_rate=burn_rate, window=window, firing=firing,
                                    service=service)
        return self.store([prepared], _via_api=_via_api)[0]

    @staticmethod
    def prepare_alertmanager(payload: Any) -> Prepared:
        """Parse and validate an Alertmanager body without storing it (raises like :meth:`ingest_alertmanager`)."""
        body, raw = payloads.load_json(payload, "alertmanager")
        return Prepared("alertmanager", raw, payloads.parse_alertmanager(body))

    @staticmethod
    def prepare_events(payload_or_list: Any) -> Prepared:
        """Parse and validate events without storing them."""
        body, _ = payloads.load_json(payload_or_list, "events")
        alerts = payloads.parse_events(body)
        raw = json.dumps([a.raw for a in alerts] if isinstance(body, list) else alerts[0].raw,
                         ensure_ascii=False, default=str)
        return Prepared("events", raw, alerts)

    @staticmethod
    def prepare_slo(*, slo: Any, tier: Any, burn_rate: Any, window: Any, firing: Any,
                    service: Any = None) -> Prepared:
        """Validate an SLO burn-rate alert without storing it."""
        alert = payloads.parse_slo(slo=slo, tier=tier, burn_rate=burn_rate, window=window, firing=firing,
                                   service=service)
        return Prepared("slo", json.dumps(alert.raw, ensure_ascii=False), [alert])

    def store(self, batch: Sequence[Prepared], *, _via_api: bool = False) -> builtins.list[IngestResult]:
        """Store prepared payloads in one transaction (each keeps its own raw receipt), in order.

        The API server batches concurrent webhooks through this (group commit): every sender
        still gets its 202 only after the transaction holding its payload committed.
        """
        if not _via_api:
            self._wb.access.require("responder", action="alerts.ingest")
        for attempt in range(3):
            try:
                with self._wb.db.session() as s:
                    return self._store_batch(s, batch, utcnow())
            except DBAPIError as exc:
                # PostgreSQL: two writers created the same alert or group at once (unique violation),
                # or a deadlock / serialization failure; redo on fresh state.
                retry = isinstance(exc, IntegrityError) or getattr(exc.orig, "sqlstate", "") in ("40P01", "40001")
                if not retry or attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _store_batch(self, s: Session, batch: Sequence[Prepared], now: datetime) -> builtins.list[IngestResult]:
        # Core statements built once, on the session's connection, one per kind of write for the whole
        # batch: ingest is the hot path, and building statements cost more than running them.
        st_ = _statements()
        conn = s.connection()
        ids = conn.execute(st_["receipt"], [{"received_at": now, "source": p.source, "alerts": len(p.alerts),
                                             "body": p.raw} for p in batch]).scalars().all()
        wanted = list({a.fingerprint for p in batch for a in p.alerts})
        state: dict[str, dict[str, Any]] = {}
        for i in range(0, len(wanted), 900):
            for r in conn.execute(st_["load"], {"fps": wanted[i:i + 900]}).mappings():
                state[r["fingerprint"]] = {**r, "_op": None, "_inc": 0, "_changed": False, "_full": False}
        touched: dict[str, tuple[dict[str, Any], bool]] = {}  # group key -> (an alert that joined/changed, joined?)
        out = [self._apply(p, int(rid), now, state, touched) for p, rid in zip(batch, ids, strict=True)]
        # rows are written in key order so concurrent writers lock them in the same order (no deadlock)
        ordered = sorted(state.values(), key=lambda st: st["fingerprint"])
        new = [{k: v for k, v in st.items() if not k.startswith("_")} for st in ordered if st["_op"] == "insert"]
        if new:
            conn.execute(st_["insert"], new)
        full = [{"b_" + k: st[k] for k in _WRITTEN} | {"b_id": st["id"], "b_inc": st["_inc"],
                                                        "b_changed": st["_changed"]}
                for st in ordered if st["_op"] == "update" and st["_full"]]
        if full:
            conn.execute(st_["update_full"], full)
        # the common case, a re-sent alert with nothing new: touch only what a repeat changes
        repeats = [{"b_id": st["id"], "b_inc": st["_inc"], "b_last_received_at": now,
                    "b_last_payload": st["last_payload"], "b_last_receipt_id": st["last_receipt_id"]}
                   for st in ordered if st["_op"] == "update" and not st["_full"]]
        if repeats:
            conn.execute(st_["update_repeat"], repeats)
        self._touch_groups(s, touched, now)
        return out

    def _apply(self, p: Prepared, rid: int, now: datetime, state: dict[str, dict[str, Any]],
               touched: dict[str, tuple[dict[str, Any], bool]]) -> IngestResult:
        """Fold one payload's alerts into the batch's alert state (dedup, status changes, group membership)."""
        res = IngestResult(receipt_id=rid, received=len(p.alerts))
        for a in p.alerts:
            res.fingerprints.append(a.fingerprint)
            st = state.get(a.fingerprint)
            if st is None:
                if a.source == "events" and a.status != "firing":
                    res.ignored += 1  # acknowledge / resolve of an unknown dedup_key changes nothing
                    continue
                st = {"fingerprint": a.fingerprint, "source": a.source, "status": a.status, "labels": a.labels,
                      "annotations": a.annotations, "starts_at": a.starts_at or now,
                      "ends_at": (a.ends_at or now) if a.status == "resolved" else a.ends_at,
                      "first_received_at": now, "last_received_at": now, "receive_count": 1,
                      "generator_url": a.generator_url, "last_payload": a.raw, "last_receipt_id": rid,
                      "group_key": make_group_key(a.labels, self.policy.group_by), "grouped": a.status != "resolved",
                      "pending": True, "incident_id": None, "_op": "insert", "_inc": 0, "_changed": True}
                state[a.fingerprint] = st
                res.new += 1
                if st["grouped"]:
                    touched[st["group_key"]] = (st, True)
                continue
            if st["_op"] is None:
                st["_op"] = "update"
            if st["_op"] == "update":
                st["_inc"] += 1
            else:
                st["receive_count"] += 1
            st["last_received_at"], st["last_payload"], st["last_receipt_id"] = now, a.raw, rid
            for key, value in (("labels", a.labels), ("annotations", a.annotations),
                               ("generator_url", a.generator_url)):
                if value and value != st[key]:
                    st[key], st["_full"] = value, True
            if a.status == st["status"] or (a.status == "acknowledged" and st["status"] == "resolved"):
                res.deduped += 1  # an acknowledgement of a resolved alert changes nothing either
                if a.ends_at is not None and a.status != "resolved" and a.ends_at != st["ends_at"]:
                    st["ends_at"], st["_full"] = a.ends_at, True
                continue
            res.changed += 1
            st["_changed"] = st["pending"] = st["_full"] = True
            was, st["status"] = st["status"], a.status
            if a.status == "resolved":
                st["ends_at"] = a.ends_at or now
                if st["grouped"]:
                    touched.setdefault(st["group_key"], (st, False))
            elif was == "resolved":  # fires again: a new episode of the same alert
                st["starts_at"], st["ends_at"] = a.starts_at or now, None
                if not st["grouped"]:
                    st["group_key"] = make_group_key(st["labels"], self.policy.group_by)
                    st["grouped"] = True
                touched[st["group_key"]] = (st, True)
        return res

    def _touch_groups(self, s: Session, touched: dict[str, tuple[dict[str, Any], bool]], now: datetime) -> None:
        if touched:
            s.flush()
            q = select(AlertGroup).where(AlertGroup.key.in_(sorted(touched))).order_by(AlertGroup.key)
            if self._wb.db.dialect == "postgresql":
                q = q.with_for_update()  # the group's flush state is read-modify-write
            groups = {g.key: g for g in s.scalars(q)}
            for key, (row, joined) in sorted(touched.items()):
                g = groups.get(key)
                if g is not None and g.state == "open":
                    st = state_of(g)
                    st.on_alert(dview(row), now, self.policy)
                    save_state(g, st)
                    continue
                if not joined:
                    continue
                st = GroupState.start(key, make_group_labels(row["labels"], self.policy.group_by), now,
                                      self.policy, previous=state_of(g) if g is not None else None)
                st.on_alert(dview(row), now, self.policy)
                if g is None:
                    g = AlertGroup(key=key)
                    s.add(g)
                save_state(g, st)

    # ---------------------------------------------------------------- reading

    def list(self, *, status: str | Sequence[str] | None = None, since: InstantLike | None = None,
             labels: Any = None, limit: int = 10_000) -> pd.DataFrame:
        """Alerts, most recently received first.

        Args:
            status: ``firing``, ``acknowledged``, ``resolved`` (or several).
            since: Only alerts received at or after this time.
            labels: Matchers (``'service="checkout",severity=~"crit.*"'``, a list, or a dict of equalities).
        """
        import pandas as pd

        ms = parse_matchers(labels) if labels else ()
        q = select(Alert).order_by(Alert.last_received_at.desc(), Alert.id.desc()).limit(limit)
        if status:
            q = q.where(Alert.status.in_([status] if isinstance(status, str) else list(status)))
        if since is not None:
            q = q.where(Alert.last_received_at >= parse_instant(since, name="since", ago=True))
        now = utcnow()
        with self._wb.db.session() as s:
            silences = silence_specs(s, now)
            out = []
            for r in s.scalars(q):
                if ms and not matches_all(ms, r.labels):
                    continue
                out.append({"fingerprint": r.fingerprint, "status": r.status,
                            "alertname": r.labels.get("alertname", ""), "service": r.labels.get("service", ""),
                            "severity": r.labels.get("severity", ""),
                            "summary": str(r.annotations.get("summary", "")), "labels": r.labels,
                            "starts_at": r.starts_at, "ends_at": r.ends_at, "last_received_at": r.last_received_at,
                            "receive_count": r.receive_count, "group_key": r.group_key,
                            "incident_id": r.incident_id, "source": r.source,
                            "silenced": any(sp.silences(r.labels, now) for sp in silences)})
        df = pd.DataFrame(out, columns=ALERT_COLUMNS)
        for c in ("starts_at", "ends_at", "last_received_at"):
            df[c] = pd.to_datetime(df[c], utc=True)
        return df

    def get(self, fingerprint: str) -> AlertInfo:
        """One alert by fingerprint (or Events v2 ``dedup_key``).

        Raises:
            NotFound: No such alert.
        """
        with self._wb.db.session() as s:
            r = s.scalar(select(Alert).where(Alert.fingerprint == fingerprint))
            if r is None:
                raise NotFound(f"no alert with fingerprint {fingerprint!r}", kind="alert", key=fingerprint)
            return AlertInfo(r.fingerprint, r.status, r.labels, r.annotations, r.starts_at, r.ends_at, r.source,
                             r.receive_count, r.first_received_at, r.last_received_at, r.group_key, r.incident_id,
                             r.generator_url, r.last_payload)

    def receipts(self, *, since: InstantLike | None = None, limit: int = 1000) -> pd.DataFrame:
        """Raw payloads as received, newest first (id, received_at, source, alerts, body)."""
        import pandas as pd

        q = select(AlertReceipt).order_by(AlertReceipt.id.desc()).limit(limit)
        if since is not None:
            q = q.where(AlertReceipt.received_at >= parse_instant(since, name="since", ago=True))
        with self._wb.db.session() as s:
            rows = [{"id": r.id, "received_at": r.received_at, "source": r.source, "alerts": r.alerts,
                     "body": r.body} for r in s.scalars(q)]
        df = pd.DataFrame(rows, columns=["id", "received_at", "source", "alerts", "body"])
        df["received_at"] = pd.to_datetime(df["received_at"], utc=True)
        return df

    def notifications(self, *, since: InstantLike | None = None) -> pd.DataFrame:
        """Notifications the grouping engine decided, oldest first."""
        import pandas as pd

        q = select(AlertNotification).order_by(AlertNotification.id)
        if since is not None:
            q = q.where(AlertNotification.at >= parse_instant(since, name="since", ago=True))
        cols = ["id", "at", "group_key", "status", "reason", "firing", "resolved", "channel", "delivery", "error"]
        with self._wb.db.session() as s:
            rows = [{c: getattr(r, c) for c in cols} for r in s.scalars(q)]
        df = pd.DataFrame(rows, columns=cols)
        df["at"] = pd.to_datetime(df["at"], utc=True)
        return df

    def counts(self) -> dict[str, int]:
        """Row counts of the alert tables (alerts, receipts, groups, notifications, silences)."""
        with self._wb.db.session() as s:
            return {name: int(s.scalar(select(func.count()).select_from(model)) or 0)
                    for name, model in (("alerts", Alert), ("receipts", AlertReceipt), ("groups", AlertGroup),
                                        ("notifications", AlertNotification), ("silences", Silence))}

    # ---------------------------------------------------------------- fatigue

    def replay(self, stream: Iterable[StreamEvent | Mapping[str, Any]] | None = None, *,
               policy: Policy | None = None, since: InstantLike | None = None, until: InstantLike | None = None,
               use_silences: bool = True) -> FatigueReport:
        """Replay an alert stream through grouping, dedup, silences and inhibition; count notifications.

        Args:
            stream: StreamEvents or mappings ``{at, labels, status, fingerprint?}``; default: every
                receipt stored since ``since``.
            policy: Default :attr:`policy`.
            use_silences: Apply the stored silences, maintenance windows and inhibition rules.

        Example:
            >>> ops.alerts.replay(since=now - timedelta(days=1)).reduction_pct   # doctest: +SKIP
        """
        since = parse_instant(since, name="since", ago=True) if since is not None else None
        until = parse_instant(until, name="until") if until is not None else None
        events = list(self._receipt_stream(since, until)) if stream is None else \
            [e if isinstance(e, StreamEvent) else _stream_event(e) for e in stream]
        muter = None
        if use_silences:
            with self._wb.db.session() as s:
                q = select(Silence)
                silences = [silence_spec(r) for r in s.scalars(q)]
                inhibits = inhibit_specs(s)
            if silences or inhibits:
                muter = make_muter(silences, inhibits)
        return replay_stream(events, policy or self.policy, muter=muter, until=until)

    def _receipt_stream(self, since: datetime | None, until: datetime | None) -> Iterable[StreamEvent]:
        q = select(AlertReceipt).order_by(AlertReceipt.id)
        if since is not None:
            q = q.where(AlertReceipt.received_at >= since)
        if until is not None:
            q = q.where(AlertReceipt.received_at < until)
        with self._wb.db.session() as s:
            receipts = [(r.received_at, r.source, r.body) for r in s.scalars(q)]
        known: dict[str, dict[str, str]] = {}
        for at, source, body in receipts:
            try:
                obj = json.loads(body)
                if source == "alertmanager":
                    alerts = payloads.parse_alertmanager(obj)
                elif source == "events":
                    alerts = [payloads.parse_event({**e, "routing_key": "-"}) for e in
                              (obj if isinstance(obj, list) else [obj])]
                else:
                    alerts = [payloads.parse_slo(**{k: obj.get(k) for k in
                                                    ("slo", "tier", "burn_rate", "window", "firing", "service")})]
            except (ValueError, TypeError):
                continue
            for a in alerts:
                labels = a.labels or known.get(a.fingerprint, {})
                known.setdefault(a.fingerprint, labels)
                if labels:
                    yield StreamEvent(at=at, labels=labels,
                                      status="resolved" if a.status == "resolved" else "firing",
                                      fingerprint=a.fingerprint)


def _stream_event(e: Mapping[str, Any]) -> StreamEvent:
    at = e.get("at")
    labels = e.get("labels")
    if not isinstance(at, datetime) or at.tzinfo is None or not isinstance(labels, Mapping):
        raise ValidationError("a stream event needs 'at' (aware datetime) and 'labels' (mapping)", field="stream")
    status = str(e.get("status", "firing"))
    if status not in ("firing", "resolved"):
        raise ValidationError(f"stream event status {status!r} must be firing or resolved", field="status")
    return StreamEvent(at=at, labels=dict(labels), status=status, fingerprint=e.get("fingerprint"))

