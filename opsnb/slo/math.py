"""Exact SLI, error-budget and burn-rate math (formulas in ``shared/reference/slo.md``).

Notation: T target, B = 1 - T the budget fraction, P the SLO period, G / N good /
valid events. Scalars first, then the array form used on per-minute counts:
every window is a difference of cumulative sums, so any window at any minute
costs O(1) after one O(n) pass.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def budget_fraction(target: float) -> float:
    """B = 1 - T."""
    if not 0 < target < 1:
        raise ValueError(f"target {target} must be strictly between 0 and 1")
    return 1.0 - target


def sli(good: float, total: float) -> float:
    """G / N (a ratio of sums). NaN when there were no valid events: never a silent 100 %."""
    return good / total if total > 0 else float("nan")


def consumed(sli_value: float, target: float) -> float:
    """Fraction of the budget consumed: (1 - SLI) / B (above 1 when overspent)."""
    return (1.0 - sli_value) / budget_fraction(target)


def burn_rate(error_ratio: float, target: float) -> float:
    """BR = error ratio / B; 1 spends exactly the budget over the period."""
    return error_ratio / budget_fraction(target)


def budget_spent(burn: float, window_s: float, period_s: float) -> float:
    """Fraction of the budget spent burning at ``burn`` for ``window_s``: BR * w / P."""
    return burn * window_s / period_s


def threshold(fraction: float, period_s: float, long_s: float) -> float:
    """Burn rate that spends ``fraction`` of the budget within the long window: p * P / L."""
    return fraction * period_s / long_s


def time_to_exhaustion(burn: float, period_s: float, remaining: float = 1.0) -> float:
    """Seconds until ``remaining`` (fraction of the whole budget) is gone at ``burn``: r * P / BR."""
    if burn <= 0:
        return float("inf")
    return max(remaining, 0.0) * period_s / burn


def detection_time(burn_threshold: float, target: float, long_s: float, error_ratio: float = 1.0,
                   short_s: float | None = None) -> float:
    """Seconds a tier needs to fire after errors start at a constant ``error_ratio`` (traffic constant).

    The long window's error ratio after t seconds is e * t / L; it must exceed BR* * B.
    """
    need = burn_threshold * budget_fraction(target)
    if error_ratio <= need:
        return float("inf")
    t = need * long_s / error_ratio
    if short_s:
        t = max(t, need * short_s / error_ratio)
    return t


# ------------------------------------------------------------------- budgeting methods
def occurrences(good: np.ndarray, total: np.ndarray) -> float:
    """SLI by Occurrences: sum(good) / sum(total)."""
    return sli(float(np.sum(good)), float(np.sum(total)))


def ratio_timeslices(good: np.ndarray, total: np.ndarray) -> float:
    """SLI by RatioTimeslices: the mean of the slices' ratios (slices without events skipped)."""
    t = np.asarray(total, dtype=float)
    m = t > 0
    return float(np.mean(np.asarray(good, dtype=float)[m] / t[m])) if m.any() else float("nan")


def timeslices(good: np.ndarray, total: np.ndarray, slice_target: float) -> float:
    """SLI by Timeslices: good slices / slices; a slice is good when its own ratio >= ``slice_target``."""
    t = np.asarray(total, dtype=float)
    m = t > 0
    if not m.any():
        return float("nan")
    return float(np.mean((np.asarray(good, dtype=float)[m] / t[m]) >= slice_target))


@dataclass
class Units:
    """Per-minute good/total 'units' on which every window is computed.

    For Occurrences a unit is an event; for the slice methods a unit is a slice,
    booked at the slice's last minute (good = 1 or 0 for Timeslices, the slice's ratio
    for RatioTimeslices). Then SLI, burn rates and budget are the same sums for all.
    """

    start_minute: int  # epoch minute of index 0
    good: np.ndarray
    total: np.ndarray
    cg: np.ndarray  # cumulative sums with a leading 0
    ct: np.ndarray

    @classmethod
    def of(cls, start_minute: int, good: np.ndarray, total: np.ndarray) -> Units:
        g = np.asarray(good, dtype=np.float64)
        t = np.asarray(total, dtype=np.float64)
        return cls(start_minute, g, t, np.concatenate(([0.0], np.cumsum(g))), np.concatenate(([0.0], np.cumsum(t))))

    def sums(self, lo: int, hi: int) -> tuple[float, float]:
        """Good and total over epoch minutes [lo, hi)."""
        i = min(max(lo - self.start_minute, 0), len(self.good))
        j = min(max(hi - self.start_minute, 0), len(self.good))
        return float(self.cg[j] - self.cg[i]), float(self.ct[j] - self.ct[i])

    def error_ratio_series(self, window_min: int) -> np.ndarray:
        """Error ratio over the ``window_min`` minutes ending at (and including) each minute; NaN if no events."""
        n = len(self.good)
        idx = np.arange(1, n + 1)
        lo = np.maximum(idx - window_min, 0)
        g = self.cg[idx] - self.cg[lo]
        t = self.ct[idx] - self.ct[lo]
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(t > 0, (t - g) / np.where(t > 0, t, 1.0), np.nan)


def to_units(good: np.ndarray, total: np.ndarray, method: str, slice_minutes: int = 1,
             slice_target: float | None = None, start_minute: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Per-minute event counts -> per-minute units of the budgeting method (see :class:`Units`).

    Slices are aligned on epoch minutes divisible by ``slice_minutes``.
    """
    g = np.asarray(good, dtype=np.float64)
    t = np.asarray(total, dtype=np.float64)
    if method == "Occurrences":
        return g, t
    k = max(int(slice_minutes), 1)
    n = len(g)
    slice_id = (np.arange(n) + start_minute) // k
    uniq, first = np.unique(slice_id, return_index=True)
    sg = np.add.reduceat(g, first) if n else g
    st = np.add.reduceat(t, first) if n else t
    last = np.append(first[1:], n) - 1 if n else first
    out_g = np.zeros(n)
    out_t = np.zeros(n)
    has = st > 0
    ratio = np.where(has, sg / np.where(has, st, 1.0), 0.0)
    if method == "RatioTimeslices":
        unit_g = ratio
    elif method == "Timeslices":
        unit_g = (ratio >= float(slice_target if slice_target is not None else 1.0)).astype(float)
    else:
        raise ValueError(f"unknown budgeting method {method!r}")
    out_g[last[has]] = unit_g[has]
    out_t[last[has]] = 1.0
    del uniq
    return out_g, out_t


def episodes(firing: np.ndarray) -> list[tuple[int, int]]:
    """Runs of True as (first index, index after the last) pairs."""
    f = np.asarray(firing, dtype=bool)
    if not f.any():
        return []
    d = np.diff(np.concatenate(([0], f.astype(np.int8), [0])))
    starts = np.flatnonzero(d == 1)
    ends = np.flatnonzero(d == -1)
    return list(zip(starts.tolist(), ends.tolist(), strict=True))
