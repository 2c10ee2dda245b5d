"""Backtest alert policies against known incident windows (alert quality, SRE Workbook).

For each policy: precision (fire episodes that fell in an incident), recall
(incidents some tier caught), detection time (first fire - impact start), reset
time (last reset - incident end), budget spent at first fire, and pages per week.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from opsnb.errors import ValidationError


@dataclass
class Incident:
    """A known incident window (ground truth): impact from ``start`` to ``end``."""

    id: str
    start: datetime
    end: datetime
    service: str | None = None
    slos: list[str] = field(default_factory=list)

    def concerns(self, slo: str, service: str) -> bool:
        return slo in self.slos if self.slos else (self.service is None or self.service == service)


def _ts(v: Any, where: str) -> datetime:
    try:
        t = pd.Timestamp(v)
    except (ValueError, TypeError):
        raise ValidationError(f"{where}: {v!r} is not a time", field=where) from None
    if t is pd.NaT:
        raise ValidationError(f"{where}: missing time", field=where)
    if t.tzinfo is None:
        raise ValidationError(f"{where}: {v!r} has no time zone; give UTC times (e.g. 2026-11-02T10:00Z)", field=where)
    return t.tz_convert("UTC").to_pydatetime()


def incidents_of(items: Any) -> list[Incident]:
    """Incidents from DemoIncident objects, dicts, a DataFrame, or a JSON file path.

    Dicts and rows use ``start``/``end`` (or ``impact_start``/``mitigated_at``), optional
    ``id``, ``service`` and ``slos``.
    """
    if isinstance(items, str | Path):
        try:
            items = json.loads(Path(items).read_text())
        except (OSError, ValueError) as exc:
            raise ValidationError(f"incidents file {items}: {exc}", field="incidents") from None
    if isinstance(items, pd.DataFrame):
        items = items.to_dict(orient="records")
    out = []
    for i, it in enumerate(items or []):
        d = it if isinstance(it, dict) else vars(it)
        start = d.get("start", d.get("impact_start"))
        end = d.get("end", d.get("mitigated_at", d.get("resolved_at")))
        inc = Incident(str(d.get("id", f"incident-{i + 1}")), _ts(start, f"incidents[{i}].start"),
                       _ts(end, f"incidents[{i}].end"), d.get("service"), list(d.get("slos") or []))
        if inc.end <= inc.start:
            raise ValidationError(f"incidents[{i}] ({inc.id}): end {inc.end} is not after start {inc.start}",
                                  field=f"incidents[{i}].end")
        out.append(inc)
    return out


def score(episodes: pd.DataFrame, incidents: Iterable[Incident], *, start: datetime, end: datetime,
          grace: timedelta = timedelta(hours=1),
          spent: Callable[[str, datetime, datetime], float] | None = None,
          policies: Iterable[str] | None = None) -> pd.DataFrame:
    """Alert quality per policy.

    Args:
        episodes: Fire episodes with columns slo, service, policy, tier, severity, fired_at, reset_at.
        incidents: Ground truth; an episode is a true positive when it fires within
            [incident start, incident end + grace] of an incident concerning its SLO.
        start, end: The span evaluated (for pages per week).
        grace: How late after an incident's end a fire still counts as caused by it.
        spent: ``spent(slo, t0, t1)`` fraction of the budget burnt in [t0, t1).
        policies: Policy names to report (a policy that never fired still gets a row).

    Returns:
        One row per policy: episodes, pages, true_positives, precision, incidents, detected,
        recall, detection_median_s, detection_max_s, reset_median_s, budget_at_first_fire_median,
        pages_per_week.
    """
    incs = list(incidents)
    weeks = max((end - start).total_seconds() / 604800, 1e-9)
    rows = []
    names = list(policies) if policies is not None else (
        list(dict.fromkeys(episodes["policy"])) if len(episodes) else [])
    for pol in names:
        ep = episodes[episodes["policy"] == pol]
        tp = 0
        detect, resets, budget = [], [], []
        detected = 0
        hit = np.zeros(len(ep), dtype=bool)
        for inc in incs:
            lo, hi = pd.Timestamp(inc.start), pd.Timestamp(inc.end + grace)
            rel = ep.apply(lambda r, inc=inc: inc.concerns(r["slo"], r["service"]), axis=1) if len(ep) else ep
            m = (rel.to_numpy(dtype=bool) if len(ep) else np.zeros(0, bool)) & \
                (ep["fired_at"] >= lo).to_numpy() & (ep["fired_at"] <= hi).to_numpy()
            hit |= m
            if not m.any():
                continue
            detected += 1
            first = ep[m].sort_values("fired_at").iloc[0]
            detect.append((first["fired_at"] - lo).total_seconds())
            last_reset = ep[m]["reset_at"].max()
            if pd.notna(last_reset):
                resets.append((last_reset - pd.Timestamp(inc.end)).total_seconds())
            if spent is not None:
                budget.append(spent(first["slo"], inc.start, first["fired_at"].to_pydatetime()))
        tp = int(hit.sum())
        pages = int((ep["severity"] == "page").sum())
        rows.append({
            "policy": pol, "episodes": len(ep), "pages": pages, "true_positives": tp,
            "precision": tp / len(ep) if len(ep) else float("nan"),
            "incidents": len(incs), "detected": detected,
            "recall": detected / len(incs) if incs else float("nan"),
            "detection_median_s": float(np.median(detect)) if detect else float("nan"),
            "detection_max_s": float(np.max(detect)) if detect else float("nan"),
            "reset_median_s": float(np.median(resets)) if resets else float("nan"),
            "budget_at_first_fire_median": float(np.median(budget)) if budget else float("nan"),
            "pages_per_week": pages / weeks,
        })
    return pd.DataFrame(rows, columns=["policy", "episodes", "pages", "true_positives", "precision", "incidents",
                                       "detected", "recall", "detection_median_s", "detection_max_s",
                                       "reset_median_s", "budget_at_first_fire_median", "pages_per_week"])
