"""Cron with time zones, intervals, missed-run policy, jitter, and exactly-once across schedulers."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from opsnb.errors import Conflict, PermissionDenied, ValidationError
from opsnb.runbooks.models import ScheduleRecord
from opsnb.runbooks.scheduler import Scheduler, acquire_lease, parse_cron, parse_every

PARIS = ZoneInfo("Europe/Paris")
NY = ZoneInfo("America/New_York")


def test_cron_fields_names_steps_and_aliases() -> None:
    c = parse_cron("*/15 9-17 * * mon-fri")
    assert c.minutes == {0, 15, 30, 45} and c.hours == set(range(9, 18)) and c.weekdays == {1, 2, 3, 4, 5}
    assert parse_cron("@daily").minutes == {0} and parse_cron("0 0 * * 7").weekdays == {0}
    for bad, where in [("* * *", "5 fields"), ("61 * * * *", "minute"), ("* 24 * * *", "hour"),
                       ("* * * foo *", "month"), ("*/0 * * * *", "minute"), ("5-1 * * * *", "minute")]:
        with pytest.raises(ValidationError, match=where):
            parse_cron(bad)
    assert parse_every("5m") == 300 and parse_every("1h") == 3600
    with pytest.raises(ValidationError):
        parse_every("soon")


def test_cron_follows_local_wall_clock_across_dst() -> None:
    c = parse_cron("0 9 * * *")
    winter = c.next_after(datetime(2026, 1, 10, 12, tzinfo=UTC), PARIS)
    summer = c.next_after(datetime(2026, 7, 10, 12, tzinfo=UTC), PARIS)
    assert winter == datetime(2026, 1, 11, 8, tzinfo=UTC) and summer == datetime(2026, 7, 11, 7, tzinfo=UTC)
    # 02:30 does not exist on the spring-forward day in Paris (29 March 2026): skipped to the next day.
    spring = parse_cron("30 2 * * *").next_after(datetime(2026, 3, 28, 12, tzinfo=UTC), PARIS)
    assert spring.astimezone(PARIS).day == 30 and spring.astimezone(PARIS).hour == 2
    # 01:30 happens twice when New York falls back (1 November 2026): fired once.
    c130 = parse_cron("30 1 * * *")
    first = c130.next_after(datetime(2026, 11, 1, 0, tzinfo=NY), NY)
    second = c130.next_after(first, NY)
    assert first == datetime(2026, 11, 1, 5, 30, tzinfo=UTC)
    assert second.astimezone(NY).day == 2
    # day-of-month OR day-of-week when both are restricted
    both = parse_cron("0 0 13 * fri").next_after(datetime(2026, 2, 1, tzinfo=UTC), ZoneInfo("UTC"))
    assert both == datetime(2026, 2, 6, tzinfo=UTC)


def _make(ops: Any, name: str = "every-min", **kw: Any) -> dict[str, Any]:
    kw.setdefault("cron", "* * * * *")
    return ops.runbooks.schedules.create(name, "trivial", params={"x": 4}, now=kw.pop("now", None), **kw)


def test_schedule_create_validates_and_audits(rops: Any) -> None:
    with pytest.raises(ValidationError, match="unknown parameter"):
        rops.runbooks.schedules.create("s1", "trivial", cron="* * * * *", params={"nope": 1})
    with pytest.raises(ValidationError, match="exactly one"):
        rops.runbooks.schedules.create("s1", "trivial")
    with pytest.raises(ValidationError, match="time zone"):
        rops.runbooks.schedules.create("s1", "trivial", cron="* * * * *", timezone="Mars/Olympus")
    with pytest.raises(ValidationError, match="needs a reason"):
        rops.runbooks.schedules.create("s1", "fix-thing", cron="* * * * *", dry_run=False)
    s = _make(rops, timezone="Europe/Paris")
    assert s["timezone"] == "Europe/Paris" and s["dry_run"] is False and s["params"] == {"x": 4}
    with pytest.raises(Conflict):
        _make(rops)
    rops.access.grant("vic", "viewer")
    rops.user = "vic"
    with pytest.raises(PermissionDenied):
        _make(rops, name="by-viewer")
    rops.user = "tester"
    assert rops.audit.list(action="runbook.schedule.create")["target"].tolist() == ["every-min"]
    assert list(rops.runbooks.schedules.list()["name"]) == ["every-min"]


def test_due_schedule_fires_once_across_two_schedulers(rops: Any) -> None:
    t0 = datetime(2026, 5, 1, 10, 0, 30, tzinfo=UTC)
    _make(rops, now=t0)
    a, b = Scheduler(rops, holder="a"), Scheduler(rops, holder="b")
    assert a.tick(t0 + timedelta(seconds=10), services=False) == []  # not due yet
    due = t0 + timedelta(seconds=31)
    results: list[list[dict[str, Any]]] = []
    barrier = threading.Barrier(2)

    def go(s: Scheduler) -> None:
        barrier.wait()
        results.append(s.tick(due, wait=True, services=False))

    threads = [threading.Thread(target=go, args=(s,)) for s in (a, b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    fired = [e for r in results for e in r]
    assert len(fired) == 1 and fired[0]["fired"] and fired[0]["status"] == "succeeded"
    hist = rops.runbooks.history("trivial")
    assert len(hist) == 1 and hist["trigger"].iloc[0] == "schedule" and hist["params"].iloc[0]["x"] == 4
    sched = rops.runbooks.schedules.get("every-min")
    assert sched["next_run_at"] == datetime(2026, 5, 1, 10, 2, tzinfo=UTC)
    assert sched["last_run_id"] == hist["id"].iloc[0] == fired[0]["run_id"] and sched["last_fired_at"] == due


def test_missed_runs_skip_or_catch_up_once(rops_sqlite: Any) -> None:
    t0 = datetime(2026, 5, 1, 10, 0, 30, tzinfo=UTC)
    _make(rops_sqlite, name="skipper", now=t0, missed="skip")
    _make(rops_sqlite, name="catcher", now=t0, missed="catchup")
    later = t0 + timedelta(hours=3)  # the scheduler was down for three hours
    fired = {e["schedule"]: e for e in Scheduler(rops_sqlite).tick(later, wait=True, services=False)}
    assert fired["skipper"]["missed"] and not fired["skipper"]["fired"] and fired["skipper"]["run_id"] is None
    assert fired["catcher"]["missed"] and fired["catcher"]["fired"] and fired["catcher"]["status"] == "succeeded"
    assert len(rops_sqlite.runbooks.history()) == 1  # caught up once, not 180 times
    for e in fired.values():
        assert e["next_run_at"] > later


def test_interval_and_jitter(rops_sqlite: Any) -> None:
    t0 = datetime(2026, 5, 1, 10, 0, 0, tzinfo=UTC)
    s = rops_sqlite.runbooks.schedules.create("iv", "trivial", every="10m", jitter=30, now=t0)
    assert t0 + timedelta(minutes=10) <= s["next_run_at"] <= t0 + timedelta(minutes=10, seconds=30)
    fired = Scheduler(rops_sqlite).tick(s["next_run_at"], submit=False, services=False)
    assert len(fired) == 1 and fired[0]["next_run_at"] >= s["next_run_at"] + timedelta(minutes=10)
    rops_sqlite.runbooks.schedules.update("iv", enabled=False)
    with rops_sqlite.db.session() as sess:
        assert sess.query(ScheduleRecord).one().enabled is False


def test_lease_has_one_holder_until_it_expires(rops: Any) -> None:
    now = datetime(2026, 5, 1, tzinfo=UTC)
    assert acquire_lease(rops, "x", "a", 30, now)
    assert not acquire_lease(rops, "x", "b", 30, now + timedelta(seconds=10))
    assert acquire_lease(rops, "x", "a", 30, now + timedelta(seconds=10))  # renew
    assert acquire_lease(rops, "x", "b", 30, now + timedelta(seconds=41))  # expired: taken over


def test_services_tick_only_on_the_leader(rops_sqlite: Any) -> None:
    calls: list[str] = []

    class Fake:
        def tick(self, now: datetime) -> None:
            calls.append("tick")

    rops_sqlite._services["alerts"] = Fake()
    now = datetime(2026, 5, 1, tzinfo=UTC)
    a, b = Scheduler(rops_sqlite, holder="a"), Scheduler(rops_sqlite, holder="b")
    out_a = a.service_ticks(now)
    out_b = b.service_ticks(now)
    assert out_a.get("alerts") == "ok" and out_b == {} and calls == ["tick"]


def _bulk(ops: Any, n: int, due: datetime, **kw: Any) -> None:
    """``n`` schedules due at ``due``, inserted directly (create() validates one by one: slow for hundreds)."""
    exprs = ["*/5 * * * *", "0 * * * *", "30 9 * * mon-fri"]
    with ops.db.session() as s:
        s.add_all([ScheduleRecord(name=f"b{i:04d}", runbook="trivial", cron=exprs[i % len(exprs)],
                                  timezone="Europe/Paris", params={}, dry_run=True, missed="skip", jitter_s=0.0,
                                  enabled=True, next_run_at=due, created_by="tester", created_at=due, reason="",
                                  **kw) for i in range(n)])


def test_many_due_schedules_are_claimed_once_across_two_schedulers(rops: Any) -> None:
    due = datetime(2026, 6, 1, 11, 59, 50, tzinfo=UTC)
    now = datetime(2026, 6, 1, 12, 0, 10, tzinfo=UTC)
    _bulk(rops, 1200, due)  # more than one IN (...) chunk per group
    results: list[list[dict[str, Any]]] = []
    barrier = threading.Barrier(2)

    def go(s: Scheduler) -> None:
        barrier.wait()
        results.append(s.tick(now, submit=False, services=False))

    threads = [threading.Thread(target=go, args=(Scheduler(rops, holder=h),)) for h in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    fired = [e["schedule"] for r in results for e in r]
    assert len(fired) == len(set(fired)) == 1200
    with rops.db.session() as s:
        rows = {r.name: r for r in s.query(ScheduleRecord)}
    paris = now.astimezone(PARIS)
    expected = {"*/5 * * * *": paris.replace(minute=5, second=0), "0 * * * *": paris.replace(hour=15, minute=0, second=0),
                "30 9 * * mon-fri": (paris + timedelta(days=1)).replace(hour=9, minute=30, second=0)}
    for r in rows.values():
        assert r.next_run_at == expected[r.cron] and r.last_fired_at == now, r.name
    assert Scheduler(rops).tick(now, submit=False, services=False) == []


def test_claim_writes_jittered_missed_and_grouped_fires(rops: Any) -> None:
    t0 = datetime(2026, 5, 1, 10, 0, 0, tzinfo=UTC)
    for i in range(3):
        rops.runbooks.schedules.create(f"grp{i}", "trivial", cron="*/10 * * * *", now=t0)
    for i in range(3):
        rops.runbooks.schedules.create(f"jit{i}", "trivial", cron="*/10 * * * *", jitter=60, now=t0)
    rops.runbooks.schedules.create("late", "trivial", cron="0 * * * *", now=t0 - timedelta(hours=2))
    rops.runbooks.schedules.create("iv", "trivial", every="1h", now=t0)  # due 11:00, not yet
    before = {n: rops.runbooks.schedules.get(n) for n in ("late", "iv")}
    now = t0 + timedelta(minutes=11)  # every jittered fire is due, none is past the missed grace
    fired = {e["schedule"]: e for e in Scheduler(rops).tick(now, submit=False, services=False)}
    assert set(fired) == {"grp0", "grp1", "grp2", "jit0", "jit1", "jit2", "late"}
    assert fired["late"]["missed"] and not fired["late"]["fired"]
    after = {n: rops.runbooks.schedules.get(n) for n in fired}
    for n in ("grp0", "grp1", "grp2"):
        assert after[n]["next_run_at"] == t0 + timedelta(minutes=20) and after[n]["last_fired_at"] == now
    for n in ("jit0", "jit1", "jit2"):
        nxt = after[n]["next_run_at"]
        assert t0 + timedelta(minutes=20) <= nxt <= t0 + timedelta(minutes=21) and after[n]["last_fired_at"] == now
        assert nxt == fired[n]["next_run_at"]
    # A skipped (missed) fire moves on and keeps its last_fired_at; a schedule not due is untouched.
    assert after["late"]["next_run_at"] == t0 + timedelta(hours=1) and after["late"]["last_fired_at"] is None
    assert rops.runbooks.schedules.get("iv") == before["iv"]
