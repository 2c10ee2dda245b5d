"""Alertmanager's grouping semantics as a pure engine, and a replay for measuring alert fatigue.

A group is the set of alerts sharing the values of the ``group_by`` labels. A new
group waits ``group_wait`` before its first flush; after each flush it is
checked again every ``group_interval``. At a flush, silenced and inhibited alerts
are left out, then Alertmanager's notification-log rule decides
(``DedupStage.needsUpdate``): notify when a firing alert is new since the last
notification, when every alert has resolved after a notification named some
firing, when the resolved set grew (``send_resolved``), or when
``repeat_interval`` has passed; never when nothing has been notified and nothing
fires (so a group that flaps within ``group_wait`` sends nothing). Resolved
alerts leave the group after a flush; an empty group closes.

The same :class:`GroupState` methods run inside :meth:`Alerts.tick` (state in the
database) and in :func:`replay` (state in memory), so the fatigue figures
measure the code that notifies.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

ALL_LABELS = "..."


@dataclass(frozen=True)
class Policy:
    """Grouping and timing, as an Alertmanager route has them.

    Args:
        group_by: Label names; ``("...",)`` groups by every label (one group per alert).
        group_wait: Wait before a new group's first notification.
        group_interval: Wait between flushes of a group after its first.
        repeat_interval: Re-notify an unchanged firing group after this long.
        send_resolved: Notify when alerts resolve.
    """

    group_by: tuple[str, ...] = ("alertname", "service")
    group_wait: timedelta = timedelta(seconds=30)
    group_interval: timedelta = timedelta(minutes=5)
    repeat_interval: timedelta = timedelta(hours=4)
    send_resolved: bool = True

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> Policy:
        """The policy the ``alerts_*`` settings describe.

        Raises:
            ConfigError: A negative or zero interval, or a label name that cannot be one.
        """
        from opsnb.alerts.matchers import LABEL_NAME
        from opsnb.errors import ConfigError

        by = tuple(p.strip() for p in str(settings["alerts_group_by"]).split(",") if p.strip())
        for label in by:
            if label != ALL_LABELS and not LABEL_NAME.match(label):
                raise ConfigError(f"alerts_group_by: {label!r} is not a label name", setting="alerts_group_by")
        for name in ("alerts_group_wait", "alerts_group_interval", "alerts_repeat_interval"):
            if float(settings[name]) < (0 if name == "alerts_group_wait" else 1):
                raise ConfigError(f"{name} must be {'>= 0' if name == 'alerts_group_wait' else '>= 1'} seconds, "
                                  f"got {settings[name]}", setting=name)
        return cls(group_by=by, group_wait=timedelta(seconds=float(settings["alerts_group_wait"])),
                   group_interval=timedelta(seconds=float(settings["alerts_group_interval"])),
                   repeat_interval=timedelta(seconds=float(settings["alerts_repeat_interval"])))


def group_labels(labels: Mapping[str, str], group_by: Sequence[str]) -> dict[str, str]:
    """The labels that identify an alert's group."""
    if ALL_LABELS in group_by:
        return dict(sorted(labels.items()))
    return {k: labels[k] for k in sorted(group_by) if labels.get(k)}


def group_key(labels: Mapping[str, str], group_by: Sequence[str]) -> str:
    """A stable key for the group, written as Alertmanager writes a label set (``{alertname="X", service="Y"}``:
    sorted names, quoted values, ``", "`` between pairs), so keys compare with Alertmanager's logs and API."""
    import json

    gl = group_labels(labels, group_by)
    inner = ", ".join(f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in gl.items())
    key = "{" + inner + "}"
    if len(key) > 500:  # keys are stored; long label values are hashed, not truncated into collisions
        import hashlib

        key = "{#" + hashlib.sha256(key.encode()).hexdigest() + "}"
    return key


@dataclass
class AlertView:
    """What the engine needs of an alert."""

    fingerprint: str
    labels: dict[str, str]
    status: str  # firing | acknowledged | resolved
    starts_at: datetime


@dataclass(frozen=True)
class Notification:
    """One notification decided by a flush."""

    group_key: str
    group_labels: dict[str, str]
    at: datetime
    status: str  # firing | resolved
    reason: str  # new | changed | resolved | repeat
    firing: tuple[str, ...]
    resolved: tuple[str, ...]


@dataclass
class GroupState:
    """An aggregation group plus its notification-log entry."""

    key: str
    labels: dict[str, str]
    created_at: datetime
    next_flush_at: datetime
    open: bool = True
    flushed: bool = False
    notified: bool = False
    last_notified_at: datetime | None = None
    last_firing: frozenset[str] = frozenset()
    last_resolved: frozenset[str] = frozenset()

    @classmethod
    def start(cls, key: str, labels: dict[str, str], now: datetime, policy: Policy,
              previous: GroupState | None = None) -> GroupState:
        """A new (or reopened) group; the notification log of a closed one is kept, as Alertmanager's is."""
        g = cls(key=key, labels=labels, created_at=now, next_flush_at=now + policy.group_wait)
        if previous is not None:
            g.notified, g.last_notified_at = previous.notified, previous.last_notified_at
            g.last_firing, g.last_resolved = previous.last_firing, previous.last_resolved
        return g

    def on_alert(self, alert: AlertView, now: datetime, policy: Policy) -> None:
        """An alert joined or changed: an old alert in a group never flushed is sent at once (as AM does)."""
        if not self.flushed and alert.status != "resolved" and alert.starts_at + policy.group_wait < now:
            self.next_flush_at = min(self.next_flush_at, now)

    def needs_update(self, firing: frozenset[str], resolved: frozenset[str], now: datetime,
                     policy: Policy) -> str | None:
        """Alertmanager's DedupStage rule; returns the reason to notify, or None."""
        if not self.notified:
            return "new" if firing else None
        if not firing <= self.last_firing:
            return "changed"
        if not firing:
            return "resolved" if self.last_firing else None
        if policy.send_resolved and not resolved <= self.last_resolved:
            return "resolved"
        if self.last_notified_at is not None and self.last_notified_at <= now - policy.repeat_interval:
            return "repeat"
        return None

    def flush(self, alerts: Iterable[AlertView], muted: Callable[[AlertView], bool], now: datetime,
              policy: Policy) -> tuple[Notification | None, list[str]]:
        """Flush the group at ``now``.

        Args:
            alerts: The alerts currently in the group.
            muted: Whether an alert is silenced or inhibited now (left out of notifications).

        Returns:
            The notification to send (or None) and the fingerprints that leave the group
            (resolved ones).
        """
        alerts = list(alerts)
        live = [a for a in alerts if not muted(a)]
        firing = frozenset(a.fingerprint for a in live if a.status != "resolved")
        resolved = frozenset(a.fingerprint for a in live if a.status == "resolved")
        note = None
        reason = self.needs_update(firing, resolved, now, policy) if live else None
        if reason:
            note = Notification(self.key, dict(self.labels), now, "firing" if firing else "resolved", reason,
                                tuple(sorted(firing)), tuple(sorted(resolved)))
            self.notified, self.last_notified_at = True, now
            self.last_firing, self.last_resolved = firing, resolved
        self.flushed = True
        self.next_flush_at = now + policy.group_interval
        leaving = [a.fingerprint for a in alerts if a.status == "resolved"]
        if len(leaving) == len(alerts):
            self.open = False
        return note, leaving


# --------------------------------------------------------------------------------------------
# Replay: the whole pipeline in memory over a recorded or synthetic stream.


@dataclass(frozen=True)
class StreamEvent:
    """One alert as received: labels, status, time (fingerprint defaults to the labels')."""

    at: datetime
    labels: dict[str, str]
    status: str = "firing"
    fingerprint: str | None = None


@dataclass
class FatigueReport:
    """What a replayed alert stream would have cost in notifications.

    ``reduction`` is ``1 - notifications / received``; the stage figures show what
    each mechanism contributes: ``after_dedup`` (one notification per state change),
    ``after_grouping`` (grouping and dedup, no silences) and ``notifications`` (everything).
    """

    received: int
    unique_alerts: int
    deduped: int
    after_dedup: int
    groups: int
    after_grouping: int
    silenced: int
    inhibited: int
    notifications: int
    notes: list[Notification] = field(default_factory=list, repr=False)

    @property
    def reduction(self) -> float:
        return 0.0 if not self.received else 1.0 - self.notifications / self.received

    @property
    def reduction_pct(self) -> float:
        return round(100.0 * self.reduction, 1)

    def as_dict(self) -> dict[str, Any]:
        return {"received": self.received, "unique_alerts": self.unique_alerts, "deduped": self.deduped,
                "after_dedup": self.after_dedup, "groups": self.groups, "after_grouping": self.after_grouping,
                "silenced": self.silenced, "inhibited": self.inhibited, "notifications": self.notifications,
                "reduction_pct": self.reduction_pct}

    def _repr_html_(self) -> str:
        rows = [("alerts received", self.received), ("after dedup (state changes)", self.after_dedup),
                ("after grouping", self.after_grouping), ("after silences & inhibition", self.notifications)]
        body = "".join(f"<tr><td style='text-align:left'>{k}</td><td>{v:,}</td></tr>" for k, v in rows)
        return (f"<b>Alert fatigue</b>: {self.reduction_pct} % fewer notifications than alerts"
                f"<table>{body}</table>")


Muter = Callable[[AlertView, datetime, Mapping[str, AlertView]], str | None]


def _muted_at(is_muted: Callable[[AlertView, datetime], str | None], at: datetime) -> Callable[[AlertView], bool]:
    return lambda a: is_muted(a, at) is not None


def simulate(events: Iterable[StreamEvent], policy: Policy, *, muter: Muter | None = None,
             until: datetime | None = None) -> tuple[list[Notification], dict[str, int]]:
    """Run the grouping engine over ``events`` (any order; sorted by time here).

    Args:
        muter: ``(alert, now, all_alerts) -> "silenced" | "inhibited" | None``.
        until: Keep flushing until this time (default: the last event plus group_wait and group_interval).

    Returns:
        The notifications, and counters (received, unique, deduped, state_changes, groups,
        silenced, inhibited: received alerts muted when they arrived).
    """
    from opsnb.alerts.payloads import fingerprint as fp_of

    evs = sorted(events, key=lambda e: e.at)
    alerts: dict[str, AlertView] = {}
    members: dict[str, set[str]] = {}
    groups: dict[str, GroupState] = {}
    heap: list[tuple[datetime, str]] = []
    notes: list[Notification] = []
    c = {"received": 0, "unique": 0, "deduped": 0, "state_changes": 0, "groups": 0, "silenced": 0,
         "inhibited": 0}

    def is_muted(a: AlertView, now: datetime) -> str | None:
        return muter(a, now, alerts) if muter else None

    def flush_until(t: datetime) -> None:
        while heap and heap[0][0] <= t:
            at, key = heapq.heappop(heap)
            g = groups.get(key)
            if g is None or not g.open or g.next_flush_at != at:
                continue  # a stale heap entry
            note, leaving = g.flush([alerts[f] for f in members[key]], _muted_at(is_muted, at),
                                    at, policy)
            if note:
                notes.append(note)
            for f in leaving:
                members[key].discard(f)
            if g.open:
                heapq.heappush(heap, (g.next_flush_at, key))

    for e in evs:
        flush_until(e.at)
        fp = e.fingerprint or fp_of(e.labels)
        c["received"] += 1
        old = alerts.get(fp)
        starts = e.at if old is None or old.status == "resolved" else old.starts_at
        a = AlertView(fp, dict(e.labels), e.status, starts)
        if e.status != "resolved":
            why = is_muted(a, e.at)
            if why:
                c[why] += 1  # received while silenced / inhibited
        if old is None:
            c["unique"] += 1
        elif old.status == e.status:
            c["deduped"] += 1
            continue
        c["state_changes"] += 1
        alerts[fp] = a
        key = group_key(e.labels, policy.group_by)
        g = groups.get(key)
        if g is None or not g.open:
            if e.status == "resolved" and fp not in members.get(key, set()):
                continue  # resolving an alert no group holds: nothing to notify about
            g = GroupState.start(key, group_labels(e.labels, policy.group_by), e.at, policy, previous=g)
            groups[key] = g
            members[key] = set()
            c["groups"] += 1
            heapq.heappush(heap, (g.next_flush_at, key))
        members[key].add(fp)
        before = g.next_flush_at
        g.on_alert(a, e.at, policy)
        if g.next_flush_at != before:
            heapq.heappush(heap, (g.next_flush_at, key))
    if evs:
        end = until or evs[-1].at + policy.group_wait + policy.group_interval
        flush_until(end)
    return notes, c


def replay(events: Iterable[StreamEvent], policy: Policy, *, muter: Muter | None = None,
           until: datetime | None = None) -> FatigueReport:
    """Measure alert fatigue: notifications sent vs alerts received for a stream.

    Runs the stream twice: without muting (grouping + dedup alone) and with ``muter``
    (silences, maintenance windows, inhibition).
    """
    evs = list(events)
    plain, c0 = simulate(evs, policy, until=until)
    notes, c = simulate(evs, policy, muter=muter, until=until) if muter else (plain, c0)
    return FatigueReport(received=c["received"], unique_alerts=c["unique"], deduped=c["deduped"],
                         after_dedup=c["state_changes"], groups=c["groups"], after_grouping=len(plain),
                         silenced=c["silenced"], inhibited=c["inhibited"], notifications=len(notes), notes=notes)
