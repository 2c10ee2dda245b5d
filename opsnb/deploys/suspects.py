"""Suspect changes of an incident: every deploy and other change before impact, scored, with its reasons.

Score (higher ranks first), each part a reason shown to the responder:

- ``same service`` (+40) or ``upstream in the trace graph`` (+25: a service the incident's
  service calls, in the hour before impact);
- ``N min before impact`` (up to +20, halving every 30 minutes);
- ``prod`` (+20): only production reaches the traffic that failed; staging is evidence;
- ``error ratio stepped`` (+30): the changed service's error ratio in the 10 minutes after the
  change is at least 2 points and twice what it was in the 10 minutes before;
- ``later rolled back`` (+15): someone already judged it bad.

A configuration change or flag flip counts like a deploy (same service, time, env, error step).
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from opsnb.errors import OpsnbError

if TYPE_CHECKING:
    import pandas as pd

    from opsnb.workbench import Workbench

PROD_ENVS = ("prod", "production")
COLUMNS = ["rank", "score", "kind", "id", "service", "env", "version", "summary", "at", "minutes_before",
           "reasons", "status", "rolled_back"]
STEP_WINDOW = timedelta(minutes=10)


def _upstream(wb: Workbench, service: str, impact: datetime) -> set[str]:
    """Services ``service`` calls (its dependencies) in the hour before impact; empty without spans."""
    try:
        g = wb.traces.service_graph(impact - timedelta(hours=1), impact + timedelta(minutes=10))
    except (OpsnbError, FileNotFoundError, ValueError):
        return set()
    if g is None or g.empty:
        return set()
    seen, todo = set(), [service]
    while todo:  # dependencies of dependencies are upstream too
        cur = todo.pop()
        for callee in g.loc[g["caller"] == cur, "callee"]:
            if callee not in seen and callee != service:
                seen.add(str(callee))
                todo.append(str(callee))
    return seen


def _error_step(wb: Workbench, service: str, at: datetime) -> tuple[float, float] | None:
    """Error ratio of ``service`` in the windows before and after ``at``; None without requests."""
    try:
        # minute buckets: 10-minute ones sit on the clock's boundaries, so "before" could hold minutes
        # after the change (a change at :17 put :10-:20 before it) and the step went unseen
        df = wb.logs.service_metrics(since=at - STEP_WINDOW, until=at + STEP_WINDOW, service=service,
                                     step="1m")
    except (OpsnbError, FileNotFoundError, ValueError):
        return None
    if df is None or df.empty:
        return None

    def ratio(part: Any) -> float | None:
        req = float(part["requests"].sum())
        return float(part["errors"].sum()) / req if req else None

    import pandas as pd

    t = pd.Timestamp(at)
    whole_before = df["time"] + pd.Timedelta(minutes=1) <= t  # the minute of the change counts after it
    before, after = ratio(df[whole_before]), ratio(df[~whole_before])
    if before is None or after is None:
        return None
    return before, after


def rank(wb: Workbench, incident_id: str, *, within: Any = "6h") -> pd.DataFrame:
    """The scored suspects of one incident (see the module docstring)."""
    import pandas as pd

    from opsnb.timeparse import parse_duration

    inc = wb.incidents.get(incident_id)
    impact = inc.started_at
    span = parse_duration(within, name="within")
    affected = {inc.service, *inc.services}
    upstream = set().union(*(_upstream(wb, s, impact) for s in affected)) - affected
    lo, hi = impact - span, impact + timedelta(microseconds=1)
    rows: list[dict[str, Any]] = []
    deps = wb.deploys.list(since=lo, until=hi)
    for d in deps.itertuples():
        # a deploy counts from when it took effect (finished); a running one from its start
        at = d.finished_at if not pd.isna(d.finished_at) else d.started_at
        rows.append({"kind": "rollback" if isinstance(d.rollback_of, str) else "deploy", "id": d.id,
                     "service": d.service, "env": d.env, "version": d.version,
                     "summary": f"{d.service} {'?' if pd.isna(d.previous_version) else d.previous_version}"
                                f" -> {d.version}",
                     "at": at.to_pydatetime(), "status": d.status, "rolled_back": d.status == "rolled_back"})
    try:
        changes = wb.changes.list(since=lo, until=hi)
    except (OpsnbError, AttributeError):
        changes = None
    if changes is not None:
        for c in changes.itertuples():
            rows.append({"kind": c.kind, "id": c.id, "service": c.service, "env": c.env, "version": None,
                         "summary": c.summary, "at": c.at.to_pydatetime(), "status": "", "rolled_back": False})
    out: list[dict[str, Any]] = []
    for r in rows:
        if r["at"] > impact:
            continue
        score, reasons = 0.0, []
        minutes = (impact - r["at"]).total_seconds() / 60.0
        if r["service"] in affected:
            score += 40
            reasons.append("same service")
        elif r["service"] in upstream:
            score += 25
            reasons.append(f"upstream of {inc.service} in the trace graph")
        score += 20 * math.pow(0.5, minutes / 30.0)
        reasons.append(f"{minutes:.0f} min before impact")
        if str(r["env"]).lower() in PROD_ENVS:
            score += 20
            reasons.append("prod")
        if r["rolled_back"]:
            score += 15
            reasons.append("later rolled back")
        r.update(score=score, reasons=reasons, minutes_before=round(minutes, 2))
        out.append(r)
    # the error-ratio step is a lake query per candidate: only for the ten best so far
    out.sort(key=lambda r: -r["score"])
    for r in out[:10]:
        if str(r["env"]).lower() not in PROD_ENVS:
            continue
        step = _error_step(wb, r["service"], r["at"])
        if step is not None and step[1] - step[0] >= 0.02 and step[1] >= 2 * step[0]:
            r["score"] += 30
            r["reasons"].append(f"error ratio stepped {step[0]:.1%} -> {step[1]:.1%} right after")
    out.sort(key=lambda r: (-r["score"], r["minutes_before"], r["id"]))
    df = pd.DataFrame(out, columns=[c for c in COLUMNS if c != "rank"])
    df["score"] = df["score"].astype(float).round(1)
    df["at"] = pd.to_datetime(df["at"], utc=True)
    df.insert(0, "rank", range(1, len(df) + 1))
    df.attrs["incident"] = inc.id
    df.attrs["impact_start"] = impact
    return df.reset_index(drop=True)
