"""Schedules: cron expressions with a time zone, and intervals; one execution per job across schedulers.

Cron (``m h dom mon dow``, ranges, steps, lists, names, ``@hourly``/``@daily``/``@weekly``/
``@monthly``/``@yearly``) is evaluated on local wall-clock time in the schedule's IANA
zone: ``0 9 * * *`` in Europe/Paris fires at 09:00 Paris time in winter and summer.
A local time that does not exist (spring forward) is skipped; one that happens twice
(fall back) fires once, at its first occurrence. Day-of-month and day-of-week combine
with OR when both are restricted, as in Vixie cron.

Exactly once across schedulers: each schedule row holds ``next_run_at``; a scheduler
reads the due rows and moves them to their next fire in one transaction that holds them
(SQLite ``BEGIN IMMEDIATE``, PostgreSQL ``FOR UPDATE SKIP LOCKED``), so of several
schedulers only one sees a given fire as due. Leadership for the once-per-tick work (calling
``tick(now)`` on alerts, on-call, notify and SLOs) is a lease row with an expiry.

Missed runs (the scheduler was down past a fire time by more than ``MISSED_GRACE``):
``skip`` moves on to the next fire; ``catchup`` runs once, then moves on. ``jitter_s``
adds a random delay to each fire so many schedules on the hour do not all start at once.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import random
import re
import socket
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import bindparam, select, update

from opsnb.errors import Conflict, NotFound, ValidationError
from opsnb.runbooks.models import Lease, ScheduleRecord
from opsnb.store.types import utcnow
from opsnb.timeparse import DurationLike

if TYPE_CHECKING:
    import pandas as pd

    from opsnb.workbench import Workbench

log = logging.getLogger(__name__)
MISSED_GRACE = timedelta(seconds=60)
SERVICE_TICKS: tuple[str, ...] = ("alerts", "oncall", "notify", "slos", "audit", "postmortems")
_ALIASES = {"@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *",
            "@weekly": "0 0 * * 0", "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *"}
_MONTHS = {m: i + 1 for i, m in enumerate(["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"])}
_DAYS = {d: i for i, d in enumerate(["sun", "mon", "tue", "wed", "thu", "fri", "sat"])}
_BOUNDS = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7))
_FIELD = ("minute", "hour", "day of month", "month", "day of week")


# ----------------------------------------------------------------------------- cron


@dataclass(frozen=True)
class Cron:
    """A parsed cron expression."""

    expr: str
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday
    dom_any: bool
    dow_any: bool

    def _day_ok(self, d: datetime) -> bool:
        dow = (d.weekday() + 1) % 7
        if self.dom_any or self.dow_any:
            return (self.dom_any or d.day in self.days) and (self.dow_any or dow in self.weekdays)
        return d.day in self.days or dow in self.weekdays

    def next_after(self, after: datetime, tz: ZoneInfo) -> datetime:
        """The first fire time strictly after ``after`` (aware), as aware UTC."""
        local = after.astimezone(tz).replace(tzinfo=None, second=0, microsecond=0) + timedelta(minutes=1)
        hours, minutes = sorted(self.hours), sorted(self.minutes)
        day = local.date()
        for _ in range(366 * 5):
            if day.month in self.months and self._day_ok(datetime(day.year, day.month, day.day)):
                h0, m0 = (local.hour, local.minute) if day == local.date() else (0, 0)
                for h in hours:
                    if h < h0:
                        continue
                    for m in minutes:
                        if h == h0 and m < m0:
                            continue
                        t = datetime(day.year, day.month, day.day, h, m)
                        utc = t.replace(tzinfo=tz, fold=0).astimezone(UTC)
                        # A wall-clock time skipped by a DST change does not round-trip: skip it.
                        if utc.astimezone(tz).replace(tzinfo=None) == t and utc > after:
                            return utc
            day += timedelta(days=1)
        raise ValidationError(f"cron {self.expr!r} never fires", field="cron")


def _field(text: str, i: int) -> frozenset[int]:
    lo, hi = _BOUNDS[i]
    names = _MONTHS if i == 3 else _DAYS if i == 4 else {}
    out: set[int] = set()

    def num(s: str) -> int:
        s = s.strip().lower()
        if s in names:
            return names[s]
        if not s.isdigit():
            raise ValueError(f"{s!r} is not a number")
        return int(s)

    for part in text.split(","):
        step = 1
        if "/" in part:
            part, st = part.split("/", 1)
            step = num(st)
            if step < 1:
                raise ValueError("step must be at least 1")
        if part in ("*", ""):
            a, b = lo, hi
        elif "-" in part:
            a, b = (num(x) for x in part.split("-", 1))
        else:
            a = num(part)
            b = hi if step > 1 else a
        if not (lo <= a <= hi and lo <= b <= hi) or a > b:
            raise ValueError(f"{part!r} is outside {lo}-{hi}")
        out.update(range(a, b + 1, step))
    if i == 4 and 7 in out:  # 7 is Sunday too
        out.discard(7)
        out.add(0)
    return frozenset(out)


@lru_cache(maxsize=4096)
def parse_cron(expr: str) -> Cron:
    """Parse a cron expression.

    Raises:
        ValidationError: Naming the field that is wrong.
    """
    if not isinstance(expr, str) or len(expr) > 200:
        raise ValidationError("cron must be a string of at most 200 characters", field="cron")
    text = _ALIASES.get(expr.strip().lower(), expr.strip())
    parts = text.split()
    if len(parts) != 5:
        raise ValidationError(f"cron {expr!r} must have 5 fields (minute hour day-of-month month day-of-week)",
                              field="cron")
    fields = []
    for i, p in enumerate(parts):
        try:
            fields.append(_field(p, i))
        except ValueError as exc:
            raise ValidationError(f"cron {expr!r}: {_FIELD[i]} {p!r}: {exc}", field="cron") from None
    return Cron(expr, fields[0], fields[1], fields[2], fields[3], fields[4],
                dom_any=parts[2] == "*", dow_any=parts[4] == "*")


def parse_every(text: Any) -> float:
    """A schedule interval in the time grammar (``30s``, ``5m``, ``2h``, ``1d``) as seconds; at least 1 s."""
    from opsnb.timeparse import parse_duration

    value = parse_duration(text, name="every").total_seconds()
    if value < 1:
        raise ValidationError(f"interval {text!r} must be at least 1 second", field="every")
    return value


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationError(f"unknown time zone {name!r} (use an IANA name like Europe/Paris)",
                              field="timezone") from None


def _id_in(ids: list[int], pg: bool) -> Any:
    """``id`` is one of ``ids``, as ONE bind parameter whatever their number.

    ``IN (:p1, ..., :p1000)`` costs more to render and send than the update itself, and meets
    SQLite's bind limit: PostgreSQL gets ``id = ANY(:array)``, SQLite ``id IN (SELECT value FROM
    json_each(:json))``.
    """
    if pg:
        from sqlalchemy import ARRAY, Integer, any_

        return ScheduleRecord.id == any_(bindparam("ids", ids, type_=ARRAY(Integer)))
    from sqlalchemy import func

    each = func.json_each(bindparam("ids", json.dumps(ids))).table_valued("value")
    return ScheduleRecord.id.in_(select(each.c.value))


def _next_memo(memo: dict[tuple[str, str, datetime], datetime], rec: Any, after: datetime) -> datetime:
    """:func:`next_fire`, computed once per (cron, zone, instant) within one claim: many schedules share them."""
    if rec.interval_s:
        return after + timedelta(seconds=float(rec.interval_s))
    key = (rec.cron, rec.timezone, after)
    hit = memo.get(key)
    if hit is None:
        hit = memo[key] = next_fire(rec, after)
    return hit


def next_fire(rec: Any, after: datetime) -> datetime:
    """The nominal next fire of a schedule strictly after ``after`` (no jitter)."""
    if rec.interval_s:
        return after + timedelta(seconds=float(rec.interval_s))
    return parse_cron(rec.cron).next_after(after, _zone(rec.timezone))


# ----------------------------------------------------------------------------- schedules


def _as_dict(r: ScheduleRecord) -> dict[str, Any]:
    return {"id": r.id, "name": r.name, "runbook": r.runbook, "cron": r.cron, "timezone": r.timezone,
            "interval_s": r.interval_s, "params": dict(r.params or {}), "dry_run": r.dry_run, "missed": r.missed,
            "jitter_s": r.jitter_s, "enabled": r.enabled, "next_run_at": r.next_run_at,
            "last_fired_at": r.last_fired_at, "last_run_id": r.last_run_id, "created_by": r.created_by}


class Schedules:
    """Schedules of runbooks (``ops.runbooks.schedules``)."""

    def __init__(self, wb: Workbench) -> None:
        self._wb = wb

    def create(self, name: str, runbook: str, *, cron: str | None = None, timezone: str = "UTC",
               every: DurationLike | None = None, params: dict[str, Any] | None = None, dry_run: bool | None = None,
               missed: str = "skip", jitter: float = 0.0, reason: str = "", from_strings: bool = False,
               now: datetime | None = None) -> dict[str, Any]:
        """Schedule a runbook. Exactly one of ``cron`` and ``every``.

        The parameters are validated now; a real (``dry_run=False``) schedule needs the
        runbook's role and a reason, checked now because the runs act as their creator.

        Raises:
            ValidationError: Bad expression, zone, parameters, policy; Conflict: name taken.
        """
        if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,199}", name):
            raise ValidationError(f"schedule name {name!r} must be letters, digits, '-', '_', '.', ':'", field="name")
        if (cron is None) == (every is None):
            raise ValidationError("give exactly one of cron= and every=", field="cron")
        if missed not in ("skip", "catchup"):
            raise ValidationError(f"missed must be 'skip' or 'catchup', got {missed!r}", field="missed")
        if isinstance(jitter, bool) or not isinstance(jitter, int | float) or not 0 <= jitter <= 3600:
            raise ValidationError("jitter must be 0-3600 seconds", field="jitter")
        tz = _zone(timezone)
        interval = None
        if cron is not None:
            parse_cron(cron)
        else:
            interval = parse_every(every)
        svc = self._wb.runbooks
        rb, values, dry = svc.prepare(runbook, dict(params or {}), dry_run=dry_run, from_strings=from_strings)
        if rb.mutating and not dry and not reason.strip():
            raise ValidationError(f"a schedule of real runs of {runbook!r} needs a reason", field="reason")
        start = now or utcnow()
        with self._wb.db.session() as s:
            svc._authorize(rb, dry, reason)
            if s.scalar(select(ScheduleRecord.id).where(ScheduleRecord.name == name)) is not None:
                raise Conflict(f"schedule {name!r} exists already", kind="schedule", key=name)
            # Only what was given: the runbook's defaults may improve later.
            stored = {k: values[k] for k in (params or {}) if k in values and k != "dry_run"}
            rec = ScheduleRecord(name=name, runbook=runbook, cron=cron or "", timezone=tz.key, interval_s=interval,
                                 params=stored, dry_run=dry, missed=missed, jitter_s=float(jitter), enabled=True,
                                 next_run_at=start, created_by=self._wb.user, created_at=utcnow(), reason=reason)
            rec.next_run_at = next_fire(rec, start) + timedelta(seconds=random.uniform(0, float(jitter)))
            s.add(rec)
            s.flush()
            self._wb.audit.record(action="runbook.schedule.create", target=name,
                                  params={"runbook": runbook, "cron": cron, "timezone": tz.key,
                                          "interval_s": interval, "dry_run": dry, **stored}, reason=reason)
            return _as_dict(rec)

    def list(self) -> pd.DataFrame:
        import pandas as pd

        with self._wb.db.session() as s:
            rows = [_as_dict(r) for r in s.scalars(select(ScheduleRecord).order_by(ScheduleRecord.name))]
        cols = ["id", "name", "runbook", "cron", "timezone", "interval_s", "dry_run", "missed", "jitter_s", "enabled",
                "next_run_at", "last_fired_at", "last_run_id", "created_by", "params"]
        df = pd.DataFrame(rows, columns=cols)
        for c in ("next_run_at", "last_fired_at"):
            df[c] = pd.to_datetime(df[c], utc=True)
        return df

    def get(self, name: str) -> dict[str, Any]:
        with self._wb.db.session() as s:
            r = s.scalar(select(ScheduleRecord).where(ScheduleRecord.name == name))
            if r is None:
                raise NotFound(f"no schedule {name!r}", kind="schedule", key=name)
            return _as_dict(r)

    def update(self, name: str, *, enabled: bool | None = None, reason: str = "") -> dict[str, Any]:
        """Enable or disable a schedule."""
        with self._wb.db.session() as s:
            self._wb.access.require("responder", action="runbook.schedule.update")
            r = s.scalar(select(ScheduleRecord).where(ScheduleRecord.name == name))
            if r is None:
                raise NotFound(f"no schedule {name!r}", kind="schedule", key=name)
            if enabled is not None:
                r.enabled = bool(enabled)
                if enabled:
                    r.next_run_at = next_fire(r, utcnow())
            self._wb.audit.record(action="runbook.schedule.update", target=name,
                                  params={"enabled": enabled}, reason=reason)
            return _as_dict(r)

    def delete(self, name: str, *, reason: str = "") -> None:
        with self._wb.db.session() as s:
            self._wb.access.require("responder", action="runbook.schedule.delete")
            r = s.scalar(select(ScheduleRecord).where(ScheduleRecord.name == name))
            if r is None:
                raise NotFound(f"no schedule {name!r}", kind="schedule", key=name)
            s.delete(r)
            self._wb.audit.record(action="runbook.schedule.delete", target=name, params={}, reason=reason)


# ----------------------------------------------------------------------------- leases


def acquire_lease(wb: Workbench, name: str, holder: str, ttl: float, now: datetime | None = None) -> bool:
    """Take or renew a named lease; False when another holder's lease has not expired."""
    from sqlalchemy.exc import IntegrityError

    now = now or utcnow()
    try:
        with wb.db.session() as s:
            row = s.get(Lease, name, with_for_update=True)
            if row is None:
                s.add(Lease(name=name, holder=holder, expires_at=now + timedelta(seconds=ttl)))
                return True
            if row.holder != holder and row.expires_at > now:
                return False
            row.holder, row.expires_at = holder, now + timedelta(seconds=ttl)
            return True
    except IntegrityError:  # two first-ever acquirers: the other one inserted first
        return False


def release_lease(wb: Workbench, name: str, holder: str) -> None:
    with wb.db.session() as s:
        row = s.get(Lease, name)
        if row is not None and row.holder == holder:
            s.delete(row)


# ----------------------------------------------------------------------------- the scheduler


class Scheduler:
    """Evaluates schedules and runs what is due; leads the services' ticks when it holds the lease.

    Args:
        wb: The workbench.
        interval: Seconds between ticks.
        holder: This scheduler's identity for leases (default host:pid:object id).
    """

    def __init__(self, wb: Workbench, interval: float = 5.0, holder: str | None = None) -> None:
        self._wb = wb
        self.interval = float(interval)
        self.holder = holder or f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def due(self, now: datetime) -> list[ScheduleRecord]:
        """Every enabled schedule whose next fire has come (detached rows)."""
        with self._wb.db.session() as s:
            return list(s.scalars(select(ScheduleRecord).where(ScheduleRecord.enabled.is_(True),
                                                               ScheduleRecord.next_run_at <= now)))

    def claim(self, now: datetime, submit: bool = True, wait: bool = False) -> list[dict[str, Any]]:
        """Claim and fire every due schedule; each fire is claimed by exactly one scheduler.

        The due rows are read and moved to their next fire in one transaction that holds
        them: SQLite's ``BEGIN IMMEDIATE`` takes the write lock first; PostgreSQL locks the
        rows (``FOR UPDATE SKIP LOCKED``, so a second scheduler skips them instead of waiting).

        Cheap at scale (1,000 due in a few tens of milliseconds): plain column rows instead of
        ORM objects, the next fire computed once per (expression, zone, instant), and the moves
        written as one ``UPDATE ... WHERE id IN (...)`` per distinct new value.
        """
        fired: list[dict[str, Any]] = []
        t = ScheduleRecord
        cols = [t.id, t.name, t.runbook, t.cron, t.timezone, t.interval_s, t.missed, t.jitter_s, t.next_run_at]
        if submit:  # what a run needs; JSON decoding of params is not free, so only when firing
            cols += [t.params, t.dry_run, t.reason, t.created_by]
        q = select(*cols).where(t.enabled.is_(True), t.next_run_at <= now)
        if self._wb.db.dialect == "postgresql":
            q = q.with_for_update(skip_locked=True)
        plans: list[tuple[Any, bool, bool, datetime]] = []
        with self._wb.db.session() as s:
            conn = s.connection()  # Core statements: no ORM compile state or session sync to pay for
            due = conn.execute(q).all()
            if not due:
                return fired
            memo: dict[tuple[str, str, datetime], datetime] = {}
            groups: dict[tuple[datetime, bool], list[int]] = {}
            cutoff = now - MISSED_GRACE
            for r in due:
                rid, due_at, interval, jitter = r.id, r.next_run_at, r.interval_s, r.jitter_s
                missed = due_at < cutoff
                # Intervals keep their phase (no drift) unless the scheduler was away.
                nxt = _next_memo(memo, r, due_at if interval and not missed else now)
                if nxt <= now:
                    nxt = _next_memo(memo, r, now)
                if jitter:
                    nxt += timedelta(seconds=random.uniform(0, jitter))
                run = not missed or r.missed == "catchup"
                plans.append((r, run, missed, nxt))
                key = (nxt, run)
                if key in groups:
                    groups[key].append(rid)
                else:
                    groups[key] = [rid]
            pg = self._wb.db.dialect == "postgresql"
            singles: dict[bool, list[dict[str, Any]]] = {True: [], False: []}
            for (nxt, run), ids in groups.items():
                if len(ids) == 1:  # jittered fires are all different: batched below instead
                    singles[run].append({"rid": ids[0], "nxt": nxt})
                    continue
                values: dict[str, Any] = {"next_run_at": nxt}
                if run:  # a skipped (missed) fire keeps its last_fired_at
                    values["last_fired_at"] = now
                conn.execute(update(t).where(_id_in(ids, pg)).values(**values))
            for run, rows in singles.items():
                if rows:  # one executemany per kind
                    stmt = update(t).where(t.id == bindparam("rid")).values(next_run_at=bindparam("nxt"))
                    conn.execute(stmt.values(last_fired_at=now) if run else stmt, rows)
        run_ids: list[dict[str, Any]] = []
        for r, run, missed, nxt in plans:
            entry = {"schedule": r.name, "runbook": r.runbook, "due": r.next_run_at, "missed": missed,
                     "fired": run, "next_run_at": nxt, "run_id": None, "status": None, "error": ""}
            if run and submit:
                try:
                    res = self._wb.runbooks.run(
                        r.runbook, params=dict(r.params or {}), dry_run=r.dry_run, reason=r.reason or f"schedule {r.name}",
                        trigger="schedule", trigger_ref=r.name, actor=r.created_by, wait=wait, _authorized=True)
                    entry["run_id"], entry["status"] = res.id, res.status
                    run_ids.append({"rid": r.id, "run_id": res.id})
                except Exception as exc:  # noqa: BLE001 - one bad schedule must not stop the others
                    entry["error"] = f"{type(exc).__name__}: {exc}"
                    log.warning("schedule %s: %s", r.name, exc)
            fired.append(entry)
        if run_ids:  # one executemany for every run started this tick
            with self._wb.db.session() as s:
                s.connection().execute(
                    update(t).where(t.id == bindparam("rid")).values(last_run_id=bindparam("run_id")), run_ids)
        return fired

    def service_ticks(self, now: datetime) -> dict[str, str]:
        """Call ``tick(now)`` of the workbench services that define it (leader only)."""
        out: dict[str, str] = {}
        if not acquire_lease(self._wb, "scheduler:services", self.holder, ttl=max(30.0, self.interval * 3), now=now):
            return out
        for name in SERVICE_TICKS:
            try:
                svc = getattr(self._wb, name)
                tick = getattr(svc, "tick", None)
                if callable(tick):
                    tick(now)
                    out[name] = "ok"
            except Exception as exc:  # noqa: BLE001 - one service failing must not stop the scheduler
                out[name] = f"{type(exc).__name__}: {exc}"
                log.warning("%s.tick failed: %s", name, exc)
        return out

    def tick(self, now: datetime | None = None, *, wait: bool = False, submit: bool = True,
             services: bool = True) -> list[dict[str, Any]]:
        """One scheduler tick: fire due schedules, then the services' ticks (when leading)."""
        now = now or utcnow()
        fired = self.claim(now, submit=submit, wait=wait)
        if services:
            self.service_ticks(now)
        return fired

    def run_forever(self) -> None:
        """Tick every ``interval`` seconds until :meth:`stop`."""
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception as exc:  # noqa: BLE001 - keep scheduling through a transient DB error
                log.warning("scheduler tick failed: %s", exc)
            self._stop.wait(self.interval)
        with contextlib.suppress(Exception):
            release_lease(self._wb, "scheduler:services", self.holder)

    def start(self) -> Scheduler:
        # A scheduler starting owns runs from now on: end the runs a dead process left "running".
        try:
            self._wb.runbooks.recover()
        except Exception as exc:  # noqa: BLE001 - recovery failing must not stop scheduling
            log.warning("run recovery failed: %s", exc)
        self._thread = threading.Thread(target=self.run_forever, daemon=True, name="opsnb-scheduler")
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)


def start_background(ops: Workbench, interval: float = 5.0) -> Scheduler:
    """Start a scheduler thread inside this process (``opsnb up`` calls this); ``.stop()`` ends it."""
    return Scheduler(ops, interval=interval).start()
