"""The SLO report: one typed object per SLO and time, computed from per-minute units."""

from __future__ import annotations

import html
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from opsnb.slo import math as sm
from opsnb.slo.spec import SLOSpec, Tier, fmt_seconds

# Windows whose burn rate every report shows (plus the SLO's own window).
BURN_WINDOWS: tuple[tuple[str, int], ...] = (("5m", 5), ("30m", 30), ("1h", 60), ("2h", 120), ("6h", 360),
                                             ("1d", 1440), ("3d", 4320))
AT_RISK = 0.25  # less budget left than this: status "at risk"
MIN_EVENTS = 100  # fewer valid events than this in the window: the SLI is flagged as statistically weak


@dataclass
class SLOReport:
    """Where an SLO's error budget stands at ``at``.

    Fractions are of the whole budget; ``budget_remaining`` goes negative when overspent.
    Counts are events for Occurrences and slices for the Timeslices methods (``unit``).
    """

    name: str
    service: str
    at: datetime
    window: str
    window_start: datetime
    window_end: datetime
    method: str
    target: float
    status: str  # ok | at risk (< 25 % left) | burning (a tier fires) | breached (budget spent) | no data
    sli: float | None
    unit: str
    events_total: float
    events_good: float
    events_bad: float
    budget_events_total: float | None
    budget_events_consumed: float
    budget_events_remaining: float | None
    budget_consumed: float | None
    budget_remaining: float | None
    budget_time_total_s: float
    budget_time_consumed_s: float | None
    budget_time_remaining_s: float | None
    burn_rates: dict[str, float | None]
    exhaustion_remaining_s: float | None
    exhaustion_total_s: float | None
    excluded_minutes: int
    excluded_events: float
    firing: list[str]
    data_quality: dict[str, Any] = field(default_factory=dict)
    issues: list[str] = field(default_factory=list)
    exhausted_at: datetime | None = None  # when this window's budget ran out, while it is overspent

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for k in ("at", "window_start", "window_end", "exhausted_at"):
            d[k] = d[k].isoformat() if d[k] is not None else None
        return {k: _clean(v) for k, v in d.items()}

    def _repr_html_(self) -> str:
        e = html.escape
        color = {"ok": "#1e8449", "at risk": "#d4ac0d", "burning": "#d68910", "breached": "#c0392b"}.get(self.status, "#7f8c8d")

        def pct(v: float | None) -> str:
            return "n/a" if v is None else f"{v * 100:.2f} %"

        rows = [
            ("SLI / target", f"{pct(self.sli)} / {self.target * 100:g} %"),
            ("window", f"{e(self.window)}: {self.window_start:%Y-%m-%d %H:%M} → {self.window_end:%Y-%m-%d %H:%M} UTC"),
            (f"{self.unit} (good / bad)", f"{self.events_total:,.0f} ({self.events_good:,.0f} / {self.events_bad:,.0f})"),
            ("budget remaining", f"{pct(self.budget_remaining)} — {fmt_seconds(self.budget_time_remaining_s or 0)}"
                                 f" of {fmt_seconds(self.budget_time_total_s)}"),
            ("budget consumed", f"{pct(self.budget_consumed)} ({self.budget_events_consumed:,.0f} of "
                                f"{0 if self.budget_events_total is None else self.budget_events_total:,.1f} {self.unit})"),
            ("burn rates", " · ".join(f"{k} {('n/a' if v is None else f'{v:.2f}')}" for k, v in self.burn_rates.items())),
            self._exhaustion_row(),
            ("excluded", f"{self.excluded_minutes} min, {self.excluded_events:,.0f} {self.unit}"),
            ("firing", e(", ".join(self.firing) or "none")),
        ]
        body = "".join(f"<tr><th style='text-align:left'>{e(k)}</th><td style='text-align:left'>{v}</td></tr>"
                       for k, v in rows)
        issues = "".join(f"<li>{e(i)}</li>" for i in self.issues)
        return (f"<div><b>{e(self.name)}</b> ({e(self.service)}) "
                f"<span style='color:{color};font-weight:bold'>{e(self.status)}</span><table>{body}</table>"
                f"{'<ul>' + issues + '</ul>' if issues else ''}</div>")


    def exhaustion(self) -> str:
        """When the budget runs out, in words: ``exhausted 3.2h ago``, ``in 2.5d at the 1h burn rate``, ``never``."""
        if self.budget_remaining is not None and self.budget_remaining <= 0:
            if self.exhausted_at is None:
                return "exhausted"
            ago = (self.at - self.exhausted_at).total_seconds()
            return f"exhausted {fmt_seconds(ago)} ago ({self.exhausted_at:%Y-%m-%d %H:%M} UTC)"
        left = _inf(self.exhaustion_remaining_s)
        return "never at the 1h burn rate" if left == float("inf") else f"in {fmt_seconds(left)} at the 1h burn rate"

    def _exhaustion_row(self) -> tuple[str, str]:
        whole = _inf(self.exhaustion_total_s)
        lasts = f" · a whole budget lasts {fmt_seconds(whole)} at the 1h burn rate" if whole != float("inf") else ""
        return ("exhaustion", html.escape(self.exhaustion() + lasts))


def _exhausted_at(units: sm.Units, i0: int, budget_events: float) -> datetime | None:
    """The end of the minute at which the window's bad units first exceeded its budget."""
    bad = np.cumsum(units.total[i0:] - units.good[i0:])
    over = np.flatnonzero(bad > budget_events)
    if not len(over):
        return None
    return datetime.fromtimestamp((units.start_minute + i0 + int(over[0]) + 1) * 60, UTC)


def _inf(v: float | None) -> float:
    return float("inf") if v is None else v


def _clean(v: Any) -> Any:
    if isinstance(v, float) and (v != v or v in (float("inf"), float("-inf"))):
        return None
    if isinstance(v, dict):
        return {k: _clean(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_clean(x) for x in v]
    if isinstance(v, np.generic):
        return v.item()
    return v


def _f(v: float) -> float | None:
    return None if v != v or v in (float("inf"), float("-inf")) else float(v)


def compute(spec: SLOSpec, units: sm.Units, raw_total: np.ndarray, excluded: np.ndarray, at: datetime,
            tiers: list[Tier], bad_minutes: int) -> SLOReport:
    """Build the report of ``spec`` at ``at`` from its units (covering at least the window and 3 days).

    Args:
        units: Per-minute units, excluded minutes already zeroed; the last minute is the one before ``at``.
        raw_total: Per-minute valid events before exclusions (same indexing), for data-quality checks.
        excluded: Per-minute bool mask of excluded minutes.
        bad_minutes: Minutes of the window where good > total was found (and clipped).
    """
    at = at.astimezone(UTC)
    end_min = units.start_minute + len(units.good)
    lo, hi = spec.window.bounds(at)
    lo_min = int(lo.timestamp() // 60)
    period = spec.window.period_seconds(at)
    elapsed = (end_min - lo_min) * 60.0
    b = sm.budget_fraction(spec.target)
    good, total = units.sums(lo_min, end_min)
    bad = total - good
    value = sm.sli(good, total)
    unit = "events" if spec.method == "Occurrences" else "slices"
    # calendar windows: the budget is that of the whole period, spent so far at the elapsed share
    share = 1.0 if spec.window.rolling else min(max(elapsed / period, 1e-12), 1.0)
    cons = (1 - value) / b * share if total > 0 else float("nan")
    budget_events = b * total / share if total > 0 else float("nan")
    burns: dict[str, float | None] = {}
    for label, w in BURN_WINDOWS:
        g, t = units.sums(end_min - w, end_min)
        burns[label] = _f(((t - g) / t) / b) if t > 0 else None
    burns[f"window ({spec.window.duration})"] = _f((bad / total) / b) if total > 0 else None
    br1h = burns["1h"]
    remaining = 1 - cons
    exh_rem = sm.time_to_exhaustion(br1h, period, remaining) if br1h is not None and total > 0 else float("nan")
    if total > 0 and remaining <= 0:
        exh_rem = 0.0  # spent already, whatever the current burn rate (0 burn must not read "never")
    exh_all = sm.time_to_exhaustion(br1h, period) if br1h is not None else float("nan")
    i0 = max(lo_min - units.start_minute, 0)
    ex = excluded[i0:]
    rt = raw_total[i0:]
    minutes = len(rt)
    missing = int(np.sum((rt == 0) & ~ex))
    first = np.flatnonzero(rt > 0)
    coverage = (datetime.fromtimestamp((units.start_minute + i0 + int(first[0])) * 60, UTC).isoformat()
                if len(first) else None)
    dq = {"minutes": minutes, "missing_minutes": missing, "good_gt_total_minutes": bad_minutes,
          "too_few_events": bool(total < MIN_EVENTS), "first_data": coverage}
    issues = []
    if total == 0:
        issues.append("no data: no valid events in the window (the SLI is unknown, not 100 %)")
    elif total < MIN_EVENTS:
        issues.append(f"too few events: {total:,.0f} {unit} in the window (< {MIN_EVENTS}); the SLI is noisy")
    if missing:
        issues.append(f"{missing} of {minutes} minutes of the window have no events")
    if bad_minutes:
        issues.append(f"{bad_minutes} minutes had more good than valid events (clipped to valid): check the filters")
    if coverage and spec.window.rolling and datetime.fromisoformat(coverage) > lo + timedelta(minutes=1):
        issues.append(f"data starts at {coverage}, after the window start {lo.isoformat()}")
    firing = []
    for tier in tiers:
        need = tier.burn_rate * b
        gl, tl = units.sums(end_min - tier.long.seconds // 60, end_min)
        ok = tl > 0 and (tl - gl) / tl > need
        if ok and tier.short is not None:
            gs, ts = units.sums(end_min - tier.short.seconds // 60, end_min)
            ok = ts > 0 and (ts - gs) / ts > need
        if ok:
            firing.append(tier.name)
    ex_events = float(np.sum(raw_total[i0:][ex])) if spec.method == "Occurrences" else 0.0
    if total == 0:
        status = "no data"
    elif remaining < 0:
        status = "breached"
    elif firing:
        status = "burning"
    else:
        status = "at risk" if remaining < AT_RISK else "ok"
    return SLOReport(
        name=spec.name, service=spec.service, at=at, window=str(spec.window), window_start=lo,
        window_end=hi if not spec.window.rolling else at, method=spec.method, target=spec.target, status=status,
        sli=_f(value), unit=unit, events_total=total, events_good=good, events_bad=bad,
        budget_events_total=_f(budget_events), budget_events_consumed=bad,
        budget_events_remaining=_f(budget_events - bad), budget_consumed=_f(cons), budget_remaining=_f(remaining),
        budget_time_total_s=b * period, budget_time_consumed_s=_f(cons * b * period),
        budget_time_remaining_s=_f(remaining * b * period), burn_rates=burns,
        exhaustion_remaining_s=_f(exh_rem), exhaustion_total_s=_f(exh_all),
        excluded_minutes=int(ex.sum()), excluded_events=ex_events, firing=firing, data_quality=dq, issues=issues,
        exhausted_at=_exhausted_at(units, i0, budget_events) if total > 0 and remaining <= 0 else None)

