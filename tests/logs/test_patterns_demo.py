"""Patterns and error fingerprints on the demo world's logs, checked against its injected incidents."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from opsnb.errors import NotFound
from opsnb.logs.fingerprints import new_since
from opsnb.logs.patterns import patterns_frame
from opsnb.workbench import Workbench


def _incidents(ops: Workbench) -> list[dict[str, Any]]:
    from opsnb.demo.generate import info

    data = info(ops.workspace)
    assert data is not None, "the demo fixture wrote demo.json"
    return list(data["incidents"])


def test_disk_full_incident_brings_new_errors_and_new_templates(demo_ops: Workbench) -> None:
    incs = [i for i in _incidents(demo_ops) if i["cause"] == "disk-full"]
    assert incs, "the demo injects a disk-full incident"
    inc = incs[0]
    start, end = datetime.fromisoformat(inc["impact_start"]), datetime.fromisoformat(inc["resolved_at"])
    new = new_since(demo_ops, start, start - timedelta(hours=6), end)
    assert len(new) > 0
    assert (new["first_seen"] >= start).all()
    mine = new[new["services"].map(lambda s: inc["service"] in s)]
    assert len(mine) > 0, new[["label", "services"]]
    # sampled traces of those errors open, and pass through a service that logged the error
    opened = 0
    for row in mine.itertuples():
        for tid in row.sample_trace_ids[:1]:
            try:
                tr = demo_ops.traces.get(tid, around=start)
            except NotFound:
                continue  # tail sampling may drop a trace whose log lines were kept
            assert set(tr.services) & set(row.services), (row.label, tr.services)
            opened += 1
    assert opened > 0
    diff = patterns_frame(demo_ops, start, end, start - timedelta(hours=6), service=inc["service"])
    fresh = diff[diff["status"].isin(["new", "spiking"])]
    assert len(fresh) > 0, diff
    assert (fresh["after"] > fresh["before"]).all()
    # the same error labels show up as new templates: errors and patterns agree
    words = {w for lab in mine["label"] for w in lab.split() if len(w) > 4 and "<" not in w}
    assert any(any(w in t for w in words) for t in fresh["template"])
