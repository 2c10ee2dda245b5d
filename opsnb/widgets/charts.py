"""Dashboard charts built from the public opsnb API: an SLO's budget burn-down, MTTx by month.

Each chart has a frame function (the numbers, tested on their own) and a figure function (Plotly,
with hover text that says what each line means).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

STEPS_MIN = (1, 5, 15, 30, 60, 120, 180, 360, 720, 1440)


def step_for(span: timedelta, points: int = 240) -> int:
    """The bucket (minutes, one of :data:`STEPS_MIN`) that draws ``span`` in at most ``points`` points."""
    minutes = span.total_seconds() / 60
    for s in STEPS_MIN:
        if minutes / s <= points:
            return s
    return STEPS_MIN[-1]


def burndown_frame(slo: Any, end: datetime, *, points: int = 240) -> tuple[Any, datetime, datetime]:
    """The error budget of ``slo`` over its own window (rolling: the one ending at ``end``; calendar:
    the period holding ``end``), bucket by bucket.

    The budget is the bad events the target allows over the window (``(1 - target) * total``; a
    calendar period's total projected from the share gone, as the SLO report does); ``remaining`` is 1 minus the bad events up to each bucket over that
    budget, so it ends at the SLO's budget remaining. ``ideal`` is the constant burn that would use
    the whole budget exactly at the window's end; ``below`` marks buckets whose SLI missed the target.

    Returns:
        (DataFrame time, good, total, sli, bad, remaining, ideal, below; window start; window end).
    """
    import pandas as pd

    lo, hi = slo.spec.window.bounds(end)
    until = min(hi, end)
    step = step_for(hi - lo, points)
    h = slo.history(lo, until, freq=f"{step}m").reset_index()
    target = float(slo.spec.target)
    allowed = 1.0 - target
    bad = (h["total"] - h["good"]).clip(lower=0)
    span = (hi - lo).total_seconds()
    # a calendar period's budget is that of the whole period: the events so far, scaled up by the share of
    # the period gone (as the SLO report counts it), so the last point is the report's budget remaining
    counted = (h["time"].iloc[-1] - pd.Timestamp(lo)).total_seconds() if len(h) else 0.0  # whole buckets only
    share = 1.0 if slo.spec.window.rolling else min(max(counted / span, 1e-12), 1.0)
    budget = allowed * float(h["total"].sum()) / share
    cum = bad.cumsum()
    remaining = 1.0 - cum / budget if budget > 0 else pd.Series(float("nan"), index=h.index)
    ideal = 1.0 - (h["time"] - pd.Timestamp(lo)).dt.total_seconds() / span
    below = h["total"].gt(0) & h["sli"].lt(target)
    out = h.assign(bad=bad, remaining=remaining, ideal=ideal, below=below)
    return out[["time", "good", "total", "sli", "bad", "remaining", "ideal", "below"]], lo, hi


def below_spans(frame: Any, step: timedelta) -> list[tuple[Any, Any]]:
    """Runs of consecutive buckets below target, as (start, end) pairs (a bucket ends at its time)."""
    spans: list[tuple[Any, Any]] = []
    for t, b in zip(frame["time"], frame["below"], strict=True):
        if not b:
            continue
        if spans and spans[-1][1] == t - step:
            spans[-1] = (spans[-1][0], t)
        else:
            spans.append((t - step, t))
    return spans


def burndown_figure(name: str, frame: Any, lo: datetime, hi: datetime, target: float, *, height: int = 300) -> Any:
    """The burn-down chart: budget remaining, the ideal line from 100 % at the window start to 0 at its end,
    and the buckets below target shaded."""
    import plotly.graph_objects as go

    from opsnb.viz import figures as viz

    fig = go.Figure()
    if len(frame) > 1:
        step = frame["time"].iloc[1] - frame["time"].iloc[0]
        # the shapes add_vrect makes, set at once: add_vrect validates every shape so far at each call
        # (40 spans: 2 s, the whole SLO page's first chart waited on it; at once: 10 ms)
        fig.update_layout(shapes=[below_shape(a, b) for a, b in below_spans(frame, step)])
    fig.add_trace(go.Scatter(
        x=frame["time"], y=frame["remaining"], name="budget remaining", mode="lines", line={"color": "#2874a6"},
        customdata=list(zip(frame["ideal"], frame["sli"], frame["bad"], strict=True)),
        hovertemplate=("%{x|%Y-%m-%d %H:%M} UTC<br>budget remaining <b>%{y:.1%}</b> of the window's error budget"
                       "<br>a constant burn would leave %{customdata[0]:.1%} here"
                       "<br>SLI in this bucket %{customdata[1]:.3%} (" + f"target {target:.2%}" + ")"
                       "<br>bad events in this bucket %{customdata[2]:.0f}<extra></extra>")))
    fig.add_trace(go.Scatter(
        x=[lo, hi], y=[1.0, 0.0], name="ideal constant burn", mode="lines", line={"dash": "dash", "color": "#7f8c8d"},
        hovertemplate=("%{x|%Y-%m-%d %H:%M} UTC<br>ideal %{y:.0%}: burning at exactly the allowed rate uses the "
                       "whole budget at the window's end<extra></extra>")))
    fig.add_trace(go.Scatter(x=[None], y=[None], mode="markers", name="below target (shaded)",
                             marker={"color": "rgba(231,76,60,0.4)", "symbol": "square", "size": 12},
                             hoverinfo="skip"))
    fig.update_layout(title=f"{name}: budget burn-down, {lo:%Y-%m-%d %H:%M} → {hi:%Y-%m-%d %H:%M} UTC",
                      height=height, yaxis_tickformat=".0%", xaxis_range=[lo, hi], **viz.LAYOUT)
    return fig


def below_shape(start: Any, end: Any) -> dict[str, Any]:
    """The shaded band of one run below target, from ``start`` to ``end``, the plot's whole height
    (what ``fig.add_vrect(x0=start, x1=end, fillcolor="#e74c3c", opacity=0.15, line_width=0, layer="below")``
    adds to a one-plot figure)."""
    return {"type": "rect", "x0": start, "x1": end, "xref": "x", "y0": 0, "y1": 1, "yref": "y domain",
            "fillcolor": "#e74c3c", "opacity": 0.15, "line": {"width": 0}, "layer": "below"}


def month_starts(end: datetime, months: int) -> list[datetime]:
    """The first instants (UTC) of the ``months`` calendar months up to the one holding ``end``, oldest first."""
    first = end.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    out = [first]
    for _ in range(months - 1):
        prev = (out[-1] - timedelta(days=1)).replace(day=1)
        out.append(prev)
    return out[::-1]


def mttx_by_month(incidents: Any, end: datetime, months: int = 12, *, service: str | None = None) -> Any:
    """MTTD, MTTA, MTTM and MTTR (minutes) per calendar month, from ``ops.incidents.metrics``
    (only ``service``'s incidents when given).

    Returns:
        DataFrame month (``YYYY-MM``), metric, n, mean_min, median_min, p90_min; months without
        incidents are left out.
    """
    import pandas as pd

    starts = month_starts(end, months)
    parts = []
    for i, start in enumerate(starts):
        stop = starts[i + 1] if i + 1 < len(starts) else (start + timedelta(days=32)).replace(day=1)
        if service:
            m = incidents.metrics(start=start, end=stop, by=("service",))
            m = m[m["service"] == service].drop(columns="service") if len(m) else m
        else:
            m = incidents.metrics(start=start, end=stop, by=())
        if len(m) and "n" in m.columns:
            m = m[m["n"] > 0]
        if len(m):
            parts.append(m.assign(month=f"{start:%Y-%m}"))
    if not parts:
        return pd.DataFrame(columns=["month", "metric", "n", "mean_min", "median_min", "p90_min"])
    df = pd.concat(parts, ignore_index=True)
    return df[["month", *[c for c in df.columns if c != "month"]]]


def mttx_figure(df: Any, *, height: int = 320) -> Any:
    """One line per metric: its median minutes by month (hover: mean, p90 and how many incidents)."""
    import plotly.graph_objects as go

    from opsnb.viz import figures as viz

    meaning = {"MTTD": "impact start → detected", "MTTA": "paged → acknowledged",
               "MTTM": "impact start → mitigated", "MTTR": "impact start → resolved"}
    fig = go.Figure()
    for metric, g in df.groupby("metric", sort=False):
        fig.add_trace(go.Scatter(
            x=g["month"], y=g["median_min"], name=str(metric), mode="lines+markers",
            customdata=list(zip(g["mean_min"], g["p90_min"], g["n"], strict=True)),
            hovertemplate=(f"<b>{metric}</b> ({meaning.get(str(metric), '')})<br>%{{x}}: median %{{y:.0f}} min"
                           "<br>mean %{customdata[0]:.0f} min, p90 %{customdata[1]:.0f} min"
                           "<br>%{customdata[2]} incident(s)<extra></extra>")))
    fig.update_layout(title="time to detect, acknowledge, mitigate, resolve: median minutes by month", height=height,
                      xaxis_type="category", yaxis_title="minutes", **viz.LAYOUT)
    return fig
