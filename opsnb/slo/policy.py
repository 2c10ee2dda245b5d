"""Multi-window, multi-burn-rate alert policies and their evaluation over history.

A tier fires at minute t when the error ratio over its long window AND over its
short window (both ending at t) exceed ``burn_rate * B``; it resets when that stops
being true. Evaluation is exact at a one-minute step, vectorised over the whole
history with cumulative sums.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from opsnb.errors import ValidationError
from opsnb.slo import math as sm
from opsnb.slo.spec import EXTENSION, AlertPolicySpec, Duration, Tier, workbook_tiers


@dataclass
class TierDef:
    """A tier as written: a burn rate, or a budget fraction resolved against the SLO's period."""

    name: str
    severity: str
    long: Duration
    short: Duration | None
    burn_rate: float | None = None
    fraction: float | None = None

    def resolve(self, period_s: float) -> Tier:
        br = self.burn_rate if self.burn_rate is not None else sm.threshold(float(self.fraction or 0),
                                                                             period_s, self.long.seconds)
        return Tier(self.name, self.severity, self.long, self.short, float(br))


@dataclass
class Policy:
    """A named set of tiers (a Workbook policy, a single window, or your own)."""

    name: str
    tiers: list[TierDef] = field(default_factory=list)

    def resolve(self, period_s: float) -> list[Tier]:
        return [t.resolve(period_s) for t in self.tiers]

    @classmethod
    def from_spec(cls, spec: AlertPolicySpec) -> Policy:
        return cls(spec.name, [TierDef(t.name, t.severity, t.long, t.short,
                                       None if f is not None else t.burn_rate, f)
                               for t, f in zip(spec.tiers, spec.fractions, strict=True)])

    def to_openslo(self, period_s: float | None = None) -> dict[str, Any]:
        """This policy as an OpenSLO AlertPolicy using the ``x-opsnb-multiwindow`` extension."""
        first = self.tiers[0]
        first_br = first.burn_rate if first.burn_rate is not None else (
            first.resolve(period_s).burn_rate if period_s else 1.0)
        tiers = []
        for t in self.tiers:
            d: dict[str, Any] = {"name": t.name, "severity": t.severity, "longWindow": str(t.long)}
            if t.short:
                d["shortWindow"] = str(t.short)
            if t.burn_rate is not None:
                d["burnRate"] = t.burn_rate
            else:
                d["budgetFraction"] = t.fraction
            tiers.append(d)
        return {"apiVersion": "openslo/v1", "kind": "AlertPolicy", "metadata": {"name": self.name},
                "spec": {"alertWhenBreaching": True, "conditions": [{
                    "kind": "AlertCondition", "metadata": {"name": first.name},
                    "spec": {"severity": first.severity, "condition": {
                        "kind": "burnrate", "op": "gt", "threshold": float(first_br),
                        "lookbackWindow": str(first.long)}}}],
                    EXTENSION: {"tiers": tiers}}}


def workbook(name: str = "workbook") -> Policy:
    """The SRE Workbook's four tiers: page 1h/5m (2 %), 6h/30m (5 %); ticket 1d/2h (10 %), 3d/6h (10 %)."""
    return Policy(name, [TierDef(n, sev, lo, sh, None, f) for n, sev, lo, sh, f in workbook_tiers()])


def single_window(window: str = "1h", *, burn_rate: float | None = None, fraction: float | None = 0.02,
                  severity: str = "page", name: str | None = None) -> Policy:
    """One window, no short window: fires as soon as the window burns above the threshold."""
    w = Duration.parse(window, "window")
    return Policy(name or f"single-{window}", [TierDef(f"{severity}-{window}", severity, w, None, burn_rate,
                                                       None if burn_rate is not None else fraction)])


def custom(name: str, tiers: list[dict[str, Any]]) -> Policy:
    """A policy from dicts: ``{"name", "severity", "long", "short", "burn_rate" | "fraction"}``."""
    out = []
    for i, t in enumerate(tiers):
        if ("burn_rate" in t) == ("fraction" in t):
            raise ValidationError(f"policy {name!r} tier {i}: give burn_rate or fraction", field=f"tiers[{i}]")
        long_ = Duration.parse(t["long"], f"tiers[{i}].long")
        short = Duration.parse(t["short"], f"tiers[{i}].short") if t.get("short") else None
        if long_.seconds < 60 or (short and short.seconds < 60):
            raise ValidationError(f"policy {name!r} tier {i}: windows must be at least the 1m evaluation step",
                                  field=f"tiers[{i}]")
        out.append(TierDef(str(t.get("name", f"tier-{i}")), str(t.get("severity", "page")), long_, short,
                           t.get("burn_rate"), t.get("fraction")))
    return Policy(name, out)


def tier_firing(units: sm.Units, target: float, tier: Tier) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(firing, long error ratio, short error ratio) at every minute of ``units``."""
    need = tier.burn_rate * sm.budget_fraction(target)
    el = units.error_ratio_series(tier.long.seconds // 60)
    es = units.error_ratio_series(tier.short.seconds // 60) if tier.short else el
    with np.errstate(invalid="ignore"):
        firing = (el > need) & (es > need)
    return np.nan_to_num(firing, nan=0).astype(bool), el, es


def evaluate(units: sm.Units, target: float, tiers: list[Tier], from_minute: int,
             policy: str = "") -> pd.DataFrame:
    """Episodes of every tier firing from ``from_minute`` to the end of ``units``.

    Returns:
        DataFrame: policy, tier, severity, fired_at, reset_at (NaT while still firing at
        the end), duration_s, burn_rate, long_window, short_window, peak_burn.
    """
    rows = []
    off = max(from_minute - units.start_minute, 0)
    n = len(units.good)
    b = sm.budget_fraction(target)
    for tier in tiers:
        firing, el, _ = tier_firing(units, target, tier)
        for i, j in sm.episodes(firing[off:]):
            a, z = i + off, j + off
            # minute index k is the window ending at the end of minute k: fire at its end
            fired = datetime.fromtimestamp((units.start_minute + a + 1) * 60, UTC)
            reset = datetime.fromtimestamp((units.start_minute + z + 1) * 60, UTC) if z < n else None
            rows.append({"policy": policy, "tier": tier.name, "severity": tier.severity, "fired_at": fired,
                         "reset_at": reset, "duration_s": ((reset or fired) - fired).total_seconds() if reset else None,
                         "burn_rate": tier.burn_rate, "long_window": str(tier.long),
                         "short_window": str(tier.short) if tier.short else "",
                         "peak_burn": float(np.nanmax(el[a:z])) / b})
    cols = ["policy", "tier", "severity", "fired_at", "reset_at", "duration_s", "burn_rate", "long_window",
            "short_window", "peak_burn"]
    df = pd.DataFrame(rows, columns=cols)
    for c in ("fired_at", "reset_at"):
        df[c] = pd.to_datetime(df[c], utc=True)
    return df.sort_values(["fired_at", "tier"], ignore_index=True)
