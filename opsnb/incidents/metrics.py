"""Incident time metrics, each defined by two named milestones.

========  ===========================  ==============================================
metric    definition                   fallback when the later milestone is missing
========  ===========================  ==============================================
MTTD      detected − impact_start      (none: incident left out of MTTD)
MTTA      acknowledged − paged         paged ← detected when no page was recorded
MTTM      mitigated − impact_start     mitigated ← resolved (resolving mitigates)
MTTR      resolved − impact_start      (none: unresolved incidents are left out)
========  ===========================  ==============================================

Reported in minutes with count, mean, median and p90 (linear interpolation, as
``pandas.Series.quantile``), per service and severity or any other grouping.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

METRICS: dict[str, tuple[str, str]] = {
    "MTTD": ("impact_start", "detected_at"),
    "MTTA": ("paged_at", "acknowledged_at"),
    "MTTM": ("impact_start", "mitigated_at"),
    "MTTR": ("impact_start", "resolved_at"),
}
COLUMNS = ["metric", "n", "mean_min", "median_min", "p90_min"]


def durations(incidents: pd.DataFrame) -> pd.DataFrame:
    """Per incident, each metric's duration in minutes (NaN when a milestone is missing)."""
    df = incidents.copy()
    for col in ("impact_start", "detected_at", "paged_at", "acknowledged_at", "mitigated_at", "resolved_at"):
        df[col] = pd.to_datetime(df[col], utc=True).astype("datetime64[us, UTC]")  # one unit for fillna
    df["paged_at"] = df["paged_at"].fillna(df["detected_at"])
    df["mitigated_at"] = df["mitigated_at"].fillna(df["resolved_at"])
    out = df[[c for c in ("id", "service", "severity", "status") if c in df.columns]].copy()
    for name, (start, end) in METRICS.items():
        out[name] = (df[end] - df[start]).dt.total_seconds() / 60.0
    return out


def summarize(incidents: pd.DataFrame, by: Sequence[str] = ("service", "severity")) -> pd.DataFrame:
    """Long table: one row per group and metric with n, mean, median and p90 (minutes)."""
    by = list(by)
    d = durations(incidents)
    long = d.melt(id_vars=[c for c in d.columns if c not in METRICS], value_vars=list(METRICS),
                  var_name="metric", value_name="minutes").dropna(subset=["minutes"])
    if long.empty:
        return pd.DataFrame(columns=[*by, *COLUMNS])
    g = long.groupby([*by, "metric"], sort=True)["minutes"]
    res = pd.DataFrame({"n": g.count(), "mean_min": g.mean(), "median_min": g.median(),
                        "p90_min": g.quantile(0.9)}).reset_index()
    order = {m: i for i, m in enumerate(METRICS)}
    res = res.sort_values([*by, "metric"], key=lambda s: s.map(order) if s.name == "metric" else s)
    return res[[*by, *COLUMNS]].reset_index(drop=True)
