"""The live demo: each tick appends only its own interval, and the world's deploys and incidents happen."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from opsnb.demo.live import Live, for_workspace, live_schedule
from opsnb.demo.world import SERVICES
from opsnb.workbench import Workbench, connect


def _count(ops: Workbench, table: str) -> int:
    return int(ops.lake.query(f"SELECT count(*) AS n FROM {table}", tables=[table])["n"].iloc[0])


def _live(ops: Workbench) -> Live:
    live = for_workspace(ops, tick=60)
    assert live is not None
    return live


def test_ticks_append_their_interval_only(demo_copy: Workbench) -> None:
    ops = demo_copy
    live = _live(ops)
    before = {t: _count(ops, t) for t in ("logs", "spans", "metrics")}
    t0 = live.last
    bounds = [t0 + timedelta(seconds=s) for s in (90, 150, 330)]  # mid-minute ends on purpose
    wrote: list[dict[str, int]] = []
    for end in bounds:
        wrote.append(live.step(end))
    after = {t: _count(ops, t) for t in ("logs", "spans", "metrics")}
    for table in ("logs", "spans", "metrics"):
        assert after[table] - before[table] == sum(w.get(table, 0) for w in wrote), table
    assert wrote[0]["logs"] > 0 and wrote[2]["logs"] > wrote[1]["logs"]  # 3 minutes write more than 1
    # metrics: one sample per host, metric and whole minute that started inside the ticks
    m = ops.lake.query("SELECT \"Timestamp\" AS ts, \"HostName\" AS h, \"MetricName\" AS m FROM metrics "
                       f"WHERE \"Timestamp\" >= TIMESTAMPTZ '{t0.isoformat()}'", tables=["metrics"])
    assert not m.duplicated().any()
    minutes = m["ts"].drop_duplicates()
    assert len(m) == len(minutes) * 13 * 3 and len(minutes) in (5, 6)
    # logs: every new line lies in [t0, last tick's end) and none repeats an old one
    lg = ops.lake.query("SELECT min(\"Timestamp\") AS lo, max(\"Timestamp\") AS hi, count(*) AS n, "
                        "count(DISTINCT (\"Timestamp\", \"SpanId\", \"Body\")) AS d FROM logs "
                        f"WHERE \"Timestamp\" >= TIMESTAMPTZ '{t0.isoformat()}'", tables=["logs"])
    assert pd.Timestamp(lg["lo"].iloc[0]) >= pd.Timestamp(t0) and pd.Timestamp(lg["hi"].iloc[0]) < pd.Timestamp(bounds[-1])
    assert int(lg["n"].iloc[0]) == sum(w.get("logs", 0) for w in wrote)
    assert live.step(bounds[-1]) == {}  # no time passed: nothing written
    live.stop()


def test_same_seed_and_tick_instants_give_the_same_rows(demo_workspace: Path, tmp_path: Path) -> None:
    sums = []
    for name in ("a", "b"):
        shutil.copytree(demo_workspace, tmp_path / name)
        with connect(tmp_path / name) as ops:
            live = _live(ops)
            t0 = live.last
            for s in (60, 200):
                live.step(t0 + timedelta(seconds=s))
            df = ops.lake.query("SELECT count(*) AS n, sum(hash(t)::HUGEINT) AS h FROM logs t "
                                f"WHERE \"Timestamp\" >= TIMESTAMPTZ '{t0.isoformat()}'", tables=["logs"])
            sums.append((int(df["n"].iloc[0]), str(df["h"].iloc[0]), [h.key for h in live.happened]))
            live.stop()
    assert sums[0] == sums[1] and sums[0][0] > 0


def test_the_schedule_is_seeded_and_has_deploys_and_incidents() -> None:
    start = datetime(2026, 3, 2, tzinfo=UTC)
    args: dict[str, Any] = {"start": start, "end": start + timedelta(days=1), "services": SERVICES,
                            "versions": {s: "1.2.3" for s in SERVICES}}
    a, b, c = live_schedule(seed=7, **args), live_schedule(seed=7, **args), live_schedule(seed=8, **args)
    assert [(h.at, h.kind, h.key) for h in a.happenings] == [(h.at, h.kind, h.key) for h in b.happenings]
    assert [h.at for h in a.happenings] != [h.at for h in c.happenings]
    kinds = [h.kind for h in a.happenings]
    assert kinds.count("deploy") >= 10 and kinds.count("incident.open") >= 3
    assert kinds.count("incident.open") == kinds.count("incident.resolve") or \
        kinds.count("incident.open") == kinds.count("incident.resolve") + 1  # the last may end after the day
    first = next(h for h in a.happenings if h.kind == "incident.open")
    assert first.at - start < timedelta(hours=1)  # a demo session sees one soon
    for key in {h.key for h in a.happenings if h.kind.startswith("incident")}:
        times = [h.at for h in a.happenings if h.key == key]
        assert times == sorted(times)
    assert {e.service for e in a.effects} and all(e.start < e.mitigated < e.recovered for e in a.effects)


def test_an_incident_fires_pages_rolls_back_and_recovers(demo_copy: Workbench) -> None:
    ops = demo_copy
    live = _live(ops)
    live.scale = 5.0  # the small test world has a request every few minutes per service: too few to count errors
    deploys_before, incidents_before = len(ops.deploys.list()), len(ops.incidents.list())
    first = next(h for h in live.schedule.happenings if h.kind == "incident.open")
    resolve = next(h for h in live.schedule.happenings if h.kind == "incident.resolve" and h.key == first.key)
    mitigate = next(h for h in live.schedule.happenings if h.kind == "incident.mitigate" and h.key == first.key)
    # open it: the alerts fire and on-call is paged
    live.step(first.at + timedelta(seconds=30))
    iid = live.incidents[first.key]
    inc = ops.incidents.get(iid)
    assert inc.status == "triggered" and inc.service == first.data["service"]
    assert inc.linked("alert") and not live.errors
    assert len(ops.oncall.escalations(iid)) == 1
    firing = ops.alerts.list(status="firing")
    assert len(firing) >= 1
    # then time goes on in minute ticks to its resolution
    t = live.last
    while t < resolve.at + timedelta(minutes=1):
        t += timedelta(minutes=7)
        live.step(t)
    assert not live.errors, live.errors
    inc = ops.incidents.get(iid)
    assert inc.status == "resolved" and inc.milestones.get("acknowledged") and inc.milestones.get("mitigated")
    own = set(inc.linked("alert"))
    assert own and not own & set(ops.alerts.list(status="firing")["fingerprint"])  # its alerts resolved
    new_deploys = ops.deploys.list().iloc[deploys_before:] if len(ops.deploys.list()) > deploys_before else None
    assert new_deploys is not None and len(ops.deploys.list()) > deploys_before
    assert len(ops.incidents.list()) == incidents_before + 1
    if first.data["cause"] == "bad-deploy":
        bad = ops.deploys.get(live.deploys[first.data["deploy"]])
        assert bad.status == "rolled_back"
    # the errors of the incident are in the rendered traffic
    svc = first.data["service"]
    err = ops.lake.query(
        "SELECT avg(CASE WHEN \"HttpStatus\" >= 500 THEN 1 ELSE 0 END) AS r FROM logs WHERE \"ServiceName\" = "
        f"'{svc}' AND \"HttpStatus\" IS NOT NULL AND \"Timestamp\" >= TIMESTAMPTZ '{first.data['impact_start'].isoformat()}' "
        f"AND \"Timestamp\" < TIMESTAMPTZ '{mitigate.at.isoformat()}'", tables=["logs"])
    assert float(err["r"].iloc[0]) > 0.05
    live.stop()
