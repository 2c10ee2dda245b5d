"""``ops.slos``: the SLOs of a workspace, their reports, alerts, backtests and budget policies.

SLO definitions are OpenSLO YAML files in the workspace's ``slos_dir``; run-time
state (exclusions, budget-policy steps taken, tier state) is in the state database.
Per-minute good/total counts are fetched once per source query and every window,
burn rate and alert is computed from their cumulative sums.
"""

from __future__ import annotations

import builtins
import html
import shutil
import threading
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
from sqlalchemy import select

from opsnb.errors import NotFound, OpsnbError, ValidationError
from opsnb.slo import math as sm
from opsnb.slo import policy as pol
from opsnb.slo.backtest import Incident, incidents_of, score
from opsnb.slo.models import Exclusion
from opsnb.slo.report import SLOReport, compute
from opsnb.slo.sources import Counts, source_of
from opsnb.slo.spec import Catalog, SLOSpec, Tier, dump, load_paths, parse_text
from opsnb.store.types import utcnow
from opsnb.timeparse import DurationLike, parse_duration, parse_instant

if TYPE_CHECKING:
    from opsnb.workbench import Workbench

LOOKBACK_MIN = 3 * 1440  # the longest default burn window (3d)
DEMO_INCIDENTS = "demo-incidents.json"


def _as_utc(t: Any, default: datetime | None = None, field: str = "at") -> datetime:
    """An instant of the time grammar (ISO 8601, naive means UTC; ``now``, ``-1h``), or ``default``."""
    if t is None:
        if default is None:
            raise ValidationError(f"{field}: a time is required", field=field)
        return default
    return parse_instant(t, name=field)


def _minute(t: datetime) -> int:
    return int(t.timestamp() // 60)


@dataclass
class Series:
    """Raw per-minute counts of one SLO over epoch minutes [start, start + len)."""

    start: int
    good: np.ndarray
    total: np.ndarray


class Loaded(builtins.list[str]):
    """The SLO names a load brought in, with ``notes`` on what opsnb cannot evaluate."""

    notes: builtins.list[str]

    def __init__(self, names: Any = ()) -> None:
        super().__init__(names)
        self.notes = []


@dataclass(frozen=True)
class BudgetBurn:
    """The error budget one SLO burned between two instants.

    Attributes:
        start, end: The window [start, end).
        budget_burned: Bad units in the window over the budget of the SLO period ending at
            ``end`` (target's complement x valid units of that period): 0.25 is a quarter of it.
        bad_events, total_events: Bad and valid units in the window (events, or minutes for a
            time-slice SLO).
    """

    start: datetime
    end: datetime
    budget_burned: float
    bad_events: float
    total_events: float


class SLO:
    """One SLO (``ops.slos["checkout-availability"]``)."""

    def __init__(self, slos: SLOs, spec: SLOSpec) -> None:
        self._slos = slos
        self.spec = spec
        self.name = spec.name

    def __repr__(self) -> str:
        return f"<SLO {self.name} {self.spec.target:g} over {self.spec.window} ({self.spec.method})>"

    def _repr_html_(self) -> str:
        return (f"<b>SLO {html.escape(self.name)}</b>: {self.spec.target * 100:g} % of "
                f"{html.escape(self.spec.service)} over {html.escape(str(self.spec.window))}, {self.spec.method}")

    @property
    def period_s(self) -> float:
        return self.spec.window.period_seconds(utcnow())

    def policy(self) -> pol.Policy:
        """The SLO's alert policy (all tiers of its AlertPolicies), else the Workbook's four tiers."""
        if not self.spec.alert_policies:
            return pol.workbook()
        cat = self._slos.catalog()
        tiers = []
        for name in self.spec.alert_policies:
            tiers.extend(pol.Policy.from_spec(cat.policy(name)).tiers)
        return pol.Policy("+".join(self.spec.alert_policies), tiers)

    def tiers(self, policy: pol.Policy | None = None, at: datetime | None = None) -> list[Tier]:
        return (policy or self.policy()).resolve(self.spec.window.period_seconds(at or utcnow()))

    def report(self, at: datetime | str | None = None) -> SLOReport:
        """SLI, budget (events and time), burn rates, exhaustion and data quality at ``at`` (default now)."""
        return self._slos._reports([self], _as_utc(at, utcnow()))[0]

    def budget_burned(self, *, start: datetime | str, end: datetime | str) -> BudgetBurn:
        """The share of the error budget burned in [start, end): an incident's SLO impact.

        The budget is that of the SLO period ending at ``end`` (for a calendar SLO, the
        period that holds ``end``), so a burn of 1.0 used up a whole period's budget.
        """
        end_t = _as_utc(end, utcnow(), "end")
        start_t = _as_utc(start, end_t, "start")
        if start_t >= end_t:
            raise ValidationError(f"budget_burned: start {start_t} is not before end {end_t}", field="start")
        period = timedelta(seconds=float(self.spec.window.period_seconds(end_t)))
        u, _, _, _ = self.units(min(start_t, end_t - period), end_t)
        g_imp, t_imp = u.sums(_minute(start_t), _minute(end_t))
        g_per, t_per = u.sums(_minute(end_t - period), _minute(end_t))
        budget = sm.budget_fraction(self.spec.target) * t_per
        bad = float(t_imp - g_imp)
        return BudgetBurn(start=start_t, end=end_t, budget_burned=bad / budget if budget > 0 else float("nan"),
                          bad_events=bad, total_events=float(t_imp))

    def units(self, start: datetime, end: datetime) -> tuple[sm.Units, np.ndarray, np.ndarray, int]:
        """Units over [start, end) with exclusions applied: (units, raw totals, excluded mask, good>total minutes)."""
        s0, s1 = _minute(start), _minute(end)
        raw = self._slos._fetch([self.spec], s0, s1)[self.name]
        return self._slos._units(self.spec, raw, s0, s1)

    def history(self, start: datetime | str | None = None, end: datetime | str | None = None,
                freq: DurationLike = "1h") -> pd.DataFrame:
        """SLI, burn rate and budget remaining (rolling SLO window) at every ``freq`` step.

        Returns:
            DataFrame indexed by bucket end (UTC): good, total, sli (per bucket), burn_rate
            (per bucket), window_sli and budget_remaining (the SLO window ending there).
        """
        end_t = _as_utc(end, utcnow(), "end")
        start_t = _as_utc(start, end_t - timedelta(days=7), "start")
        if start_t >= end_t:
            raise ValidationError(f"history: start {start_t} is not before end {end_t}", field="start")
        step = int(parse_duration(freq, name="freq").total_seconds() // 60)
        if step < 1:
            raise ValidationError(f"history: freq {freq!r} is shorter than the 1-minute evaluation step", field="freq")
        period_min = int(self.spec.window.period_seconds(end_t) // 60)
        u, _, _, _ = self.units(start_t - timedelta(minutes=period_min), end_t)
        b = sm.budget_fraction(self.spec.target)
        s0, s1 = _minute(start_t), _minute(end_t)
        rows = []
        for e in range(s0 + step, s1 + 1, step):
            g, t = u.sums(e - step, e)
            wg, wt = u.sums(e - period_min, e)
            wsli = sm.sli(wg, wt)
            rows.append({"time": datetime.fromtimestamp(e * 60, UTC), "good": g, "total": t, "sli": sm.sli(g, t),
                         "burn_rate": ((t - g) / t) / b if t > 0 else np.nan, "window_sli": wsli,
                         "budget_remaining": 1 - (1 - wsli) / b if wt > 0 else np.nan})
        df = pd.DataFrame(rows, columns=["time", "good", "total", "sli", "burn_rate", "window_sli", "budget_remaining"])
        df["time"] = pd.to_datetime(df["time"], utc=True)
        return df.set_index("time")

    def alerts(self, policy: pol.Policy | str | None = None, start: datetime | str | None = None,
               end: datetime | str | None = None) -> pd.DataFrame:
        """When each tier of ``policy`` (default the SLO's) would have fired and reset over [start, end)."""
        p = self._slos._policy_arg(policy) or self.policy()
        end_t = _as_utc(end, utcnow(), "end")
        start_t = _as_utc(start, end_t - timedelta(days=7), "start")
        tiers = self.tiers(p, end_t)
        look = max([LOOKBACK_MIN, *(t.long.seconds // 60 for t in tiers)])
        u, _, _, _ = self.units(start_t - timedelta(minutes=look), end_t)
        df = pol.evaluate(u, self.spec.target, tiers, _minute(start_t), p.name)
        df.insert(0, "slo", self.name)
        df.insert(1, "service", self.spec.service)
        return df

    def backtest(self, incidents: Any = "demo", policies: Any = None, start: datetime | str | None = None,
                 end: datetime | str | None = None, grace: DurationLike = "1h") -> Backtest:
        """Alert quality of ``policies`` on this SLO against ``incidents`` (see :meth:`SLOs.backtest`)."""
        return self._slos.backtest(incidents=incidents, policies=policies, slos=[self.name], start=start, end=end,
                                   grace=grace)

    def rules(self, policy: pol.Policy | str | None = None) -> str:
        """Prometheus recording and alerting rules (YAML) for this SLO and policy."""
        from opsnb.slo.rules import render

        return render(self.spec, self.tiers(self._slos._policy_arg(policy) or self.policy()))


@dataclass
class Backtest:
    """Result of a backtest: ``summary`` (one row per policy) and every fire ``episodes``."""

    summary: pd.DataFrame
    episodes: pd.DataFrame
    incidents: list[Incident]
    start: datetime
    end: datetime

    def _repr_html_(self) -> str:
        return (f"<b>Backtest</b> {self.start:%Y-%m-%d %H:%M} → {self.end:%Y-%m-%d %H:%M} UTC, "
                f"{len(self.incidents)} incidents<br>" + self.summary.to_html(index=False, float_format="%.3f"))


class SLOs:
    """The SLOs of a workbench (``ops.slos``): a mapping of name → :class:`SLO`."""

    def __init__(self, ops: Workbench) -> None:
        self._ops = ops
        self._lock = threading.Lock()
        self._cat: Catalog | None = None
        self._sig: tuple[Any, ...] = ()
        self._problems: list[str] = []

    # ------------------------------------------------------------------ catalog
    @property
    def directory(self) -> Path:
        d = Path(str(self._ops.settings.slos_dir)).expanduser()
        return d if d.is_absolute() else self._ops.workspace / d

    def catalog(self) -> Catalog:
        """Every OpenSLO object of ``slos_dir``, re-read when a file changes."""
        d = self.directory
        files = sorted([*d.glob("*.yaml"), *d.glob("*.yml")]) if d.is_dir() else []
        sig = tuple((f.name, f.stat().st_mtime_ns, f.stat().st_size) for f in files)
        with self._lock:
            if self._cat is None or sig != self._sig:
                self._cat, self._problems = _tolerant_catalog(files)
                self._sig = sig
            return self._cat

    def problems(self) -> builtins.list[str]:
        """What is wrong in ``slos_dir``: broken files and SLOs are skipped, the others still work."""
        self.catalog()
        return builtins.list(self._problems)

    def __getitem__(self, name: str) -> SLO:
        cat = self.catalog()
        if cat.get("SLO", name) is None:
            hint = f"; {len(self._problems)} problem(s) in the SLO files: see ops.slos.problems()" \
                if self._problems else ""
            raise NotFound(f"no SLO {name!r}; known: {', '.join(cat.names('SLO')) or 'none'} (in {self.directory})"
                           f"{hint}", kind="slo", key=name)
        return SLO(self, cat.slo(name))

    def get(self, name: str) -> SLO:
        """The SLO named ``name`` (NotFound otherwise)."""
        return self[name]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.catalog().get("SLO", name) is not None

    def __iter__(self) -> Iterator[str]:
        return iter(self.catalog().names("SLO"))

    def __len__(self) -> int:
        return len(self.catalog().names("SLO"))

    def list(self) -> pd.DataFrame:
        """Every SLO: name, service, sli kind, source, target, window, method, alert policies, file."""
        cat = self.catalog()
        rows = []
        for n in cat.names("SLO"):
            s = cat.slo(n)
            try:
                source = source_of(s)[0]
            except ValidationError:
                m = s.sli.total or s.sli.metric
                source = f"{m.type if m else '?'} (no source)"
            rows.append({"name": n, "service": s.service, "sli": s.sli.kind, "source": source,
                         "target": s.target, "window": str(s.window), "method": s.method,
                         "alert_policies": ",".join(s.alert_policies) or "(workbook)", "file": Path(s.path).name})
        return pd.DataFrame(rows, columns=["name", "service", "sli", "source", "target", "window", "method",
                                           "alert_policies", "file"])

    def load(self, path: str | Path, *, reason: str = "") -> Loaded:
        """Validate OpenSLO YAML (a file or a directory) and copy it into ``slos_dir``.

        Nothing is copied unless every file validates together with the SLOs already there.
        An SLO whose ``metricSource.type`` no source serves is kept (and exported unchanged);
        the result's ``notes`` say which, and its status reports the same.

        Returns:
            Names of the SLOs in the loaded files, with ``notes``.
        """
        self._ops.access.require("operator", action="slo.load")
        src = Path(path)
        files = sorted([*src.glob("*.yaml"), *src.glob("*.yml")]) if src.is_dir() else [src]
        if not files or not all(f.is_file() for f in files):
            raise NotFound(f"no OpenSLO YAML at {src}", kind="file", key=str(src))
        d = self.directory
        existing = [f for f in ([*d.glob("*.yaml"), *d.glob("*.yml")] if d.is_dir() else [])
                    if f.name not in {x.name for x in files}]
        cat = load_paths([*existing, *files])  # raises, naming file and field, before anything is copied
        names = sorted({n for (k, n), doc in cat.docs.items() if k == "SLO" and Path(doc.source) in files})
        notes: builtins.list[str] = []
        for (k, _), doc in cat.docs.items():
            if k == "SLO" and Path(doc.source) in files:
                try:
                    source = source_of(cat.slo(doc.name))[1]
                except ValidationError as exc:  # a type opsnb has no source for: kept, reported, exported as is
                    notes.append(str(exc))
                    continue
                problems = source.validate(cat.slo(doc.name))
                if problems:
                    raise ValidationError(f"{doc.source}: invalid SLI:", problems=problems, source=doc.source)
        d.mkdir(parents=True, exist_ok=True)
        with self._ops.db.session():
            self._ops.audit.record(action="slo.load", target=",".join(names) or str(src),
                                   params={"files": [f.name for f in files]}, reason=reason)
            for f in files:
                if f.resolve() != (d / f.name).resolve():
                    shutil.copyfile(f, d / f.name)
        out = Loaded(names)
        out.notes = notes
        return out

    def import_file(self, path: str | Path, *, reason: str = "") -> Loaded:
        """Import an SLO spec file: OpenSLO v1 (as :meth:`load`) or Sloth's ``prometheus/v1``.

        A Sloth file is converted to OpenSLO (:mod:`opsnb.slo.sloth` says how each part maps)
        and loaded as ``sloth-<file>.yaml``, so importing it again replaces it. The result's
        ``notes`` say what could not be represented (SLI plugins, SLO plugins, alert labels).

        Returns:
            Names of the SLOs imported, with ``notes``.
        """
        import tempfile

        from opsnb.bounded import load_yaml_all
        from opsnb.slo import sloth

        src = Path(path)
        if not src.is_file():
            raise NotFound(f"no SLO spec file at {src}", kind="file", key=str(src))
        head = load_yaml_all(src.read_bytes(), source=str(src))
        if not any(sloth.is_sloth(d) for d in head):
            return self.load(src, reason=reason)
        self._ops.access.require("operator", action="slo.load")
        target = f"sloth-{src.stem}.yaml"
        known = {n for (k, n), doc in self.catalog().docs.items() if k == "Service" and Path(doc.source).name != target}
        conv = sloth.convert_file(src, known_services=known)
        header = f"# Converted by opsnb from the Sloth spec {src.name}; the notes of the import say what was left out.\n"
        self.directory.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=self.directory.parent, prefix=".slo-import-") as tmp:
            out = Path(tmp) / target
            out.write_text(header + dump(conv.docs), encoding="utf-8")
            loaded = self.load(out, reason=reason)
        loaded.notes = [*conv.notes, *loaded.notes]
        return loaded

    def export(self, name: str) -> str:
        """The SLO and everything it references (SLI, AlertPolicies, conditions, data sources,
        service) as OpenSLO YAML, exactly as loaded."""
        slo = self[name]
        cat = self.catalog()
        docs: builtins.list[dict[str, Any]] = []

        def add(kind: str, n: str) -> None:
            d = cat.get(kind, n)
            if d is not None and d.raw not in docs:
                docs.append(d.raw)

        add("Service", slo.spec.service)
        raw = slo.spec.raw["spec"]
        if "indicatorRef" in raw:
            add("SLI", raw["indicatorRef"])
        for m in (slo.spec.sli.good, slo.spec.sli.bad, slo.spec.sli.total, slo.spec.sli.metric):
            if m is not None and m.ref:
                add("DataSource", m.ref)
        for p in slo.spec.alert_policies:
            pd_ = cat.get("AlertPolicy", p)
            if pd_ is not None and pd_.raw not in raw.get("alertPolicies", []):  # inline ones travel with the SLO
                add("AlertPolicy", p)
            for c in (pd_.raw["spec"]["conditions"] if pd_ else []):
                if "conditionRef" in c:
                    add("AlertCondition", c["conditionRef"])
        docs.append(slo.spec.raw)
        return dump(docs)

    # ------------------------------------------------------------------ data
    def _fetch(self, specs: Sequence[SLOSpec], start_min: int, end_min: int) -> Counts:
        by_src: dict[str, builtins.list[SLOSpec]] = defaultdict(list)
        srcs = {}
        for s in specs:
            t, src = source_of(s)
            by_src[t].append(s)
            srcs[t] = src
        out: Counts = {}
        for t, group in by_src.items():
            out.update(srcs[t].counts(self._ops, group, start_min, end_min))
        return out

    def _exclusions(self) -> builtins.list[Exclusion]:
        with self._ops.db.session() as s:
            return list(s.scalars(select(Exclusion)))

    def _excluded_mask(self, name: str, start_min: int, end_min: int,
                       rows: builtins.list[Exclusion] | None = None) -> np.ndarray:
        n = end_min - start_min
        mask = np.zeros(n, dtype=bool)
        for ex in (rows if rows is not None else self._exclusions()):
            if ex.slo not in ("*", name):
                continue
            for a, z in _occurrences(ex, start_min, end_min):
                mask[max(a - start_min, 0):max(min(z - start_min, n), 0)] = True
        return mask

    def _units(self, spec: SLOSpec, raw: tuple[np.ndarray, np.ndarray], start_min: int, end_min: int,
               exclusions: builtins.list[Exclusion] | None = None) -> tuple[sm.Units, np.ndarray, np.ndarray, int]:
        good, total = raw
        over = good > total
        good = np.minimum(good, total)
        mask = self._excluded_mask(spec.name, start_min, end_min, exclusions)
        g = np.where(mask, 0.0, good)
        t = np.where(mask, 0.0, total)
        ug, ut = sm.to_units(g, t, spec.method, spec.slice_minutes, spec.objective.time_slice_target, start_min)
        return sm.Units.of(start_min, ug, ut), total, mask, int(over.sum())

    def _reports(self, slos: Sequence[SLO], at: datetime) -> builtins.list[SLOReport]:
        end_min = _minute(at)
        plans = []
        for slo in slos:
            tiers = slo.tiers(at=at)
            lo, _ = slo.spec.window.bounds(at)
            look = max([LOOKBACK_MIN, *(t.long.seconds // 60 for t in tiers)])
            plans.append((slo, tiers, min(_minute(lo), end_min - look)))
        start_min = min((p[2] for p in plans), default=end_min)
        raw = self._fetch([s.spec for s in slos], start_min, end_min)
        excl = self._exclusions()
        out = []
        for slo, tiers, s0 in plans:
            g, t = raw[slo.name]
            i = s0 - start_min
            u, rt, mask, over = self._units(slo.spec, (g[i:], t[i:]), s0, end_min, excl)
            lo_i = max(_minute(slo.spec.window.bounds(at)[0]) - s0, 0)
            out.append(compute(slo.spec, u, rt, mask, at, tiers, int(np.sum((g[i:] > t[i:])[lo_i:]))))
            del over
        return out

    # ------------------------------------------------------------------ reports
    def report(self, name: str, at: datetime | str | None = None) -> SLOReport:
        """``ops.slos[name].report(at)``."""
        return self[name].report(at)

    def reports(self, at: datetime | str | None = None, names: Sequence[str] | None = None) -> builtins.list[SLOReport]:
        """Reports of many SLOs at once (one source query per table).

        Without ``names``, every SLO a registered source serves (see :meth:`unserved` for the rest).
        """
        t = _as_utc(at, utcnow())
        chosen = names if names is not None else [n for n in self if n not in self.unserved()]
        return self._reports([self[n] for n in chosen], t)

    def unserved(self) -> dict[str, str]:
        """SLOs whose ``metricSource.type`` no registered source serves: name -> why."""
        out = {}
        for n in self:
            try:
                source_of(self[n].spec)
            except ValidationError as exc:
                out[n] = str(exc)
        return out

    def status(self, at: datetime | str | None = None) -> pd.DataFrame:
        """One row per SLO: status, SLI, budget remaining, burn rates, firing tiers, data issues.

        An SLO no registered source serves has status ``no source``, and the SLOs of a source that
        fails (an unreachable Prometheus) have status ``error``; ``note`` says why. Neither hides
        the other SLOs.
        """
        t = _as_utc(at, utcnow())
        failed = self.unserved()
        by_source: dict[str, builtins.list[str]] = defaultdict(list)
        for n in self:
            if n not in failed:
                by_source[source_of(self[n].spec)[0]].append(n)
        reports: builtins.list[SLOReport] = []
        for names in by_source.values():
            try:
                reports.extend(self._reports([self[n] for n in names], t))
            except OpsnbError as exc:
                failed.update({n: str(exc) for n in names})
        rows = []
        for r in reports:
            rows.append({"name": r.name, "service": r.service, "status": r.status, "target": r.target, "sli": r.sli,
                         "budget_remaining": r.budget_remaining, "burn_1h": r.burn_rates.get("1h"),
                         "burn_6h": r.burn_rates.get("6h"), "burn_1d": r.burn_rates.get("1d"),
                         "burn_3d": r.burn_rates.get("3d"), "events": r.events_total,
                         "exhaustion_s": r.exhaustion_remaining_s, "firing": ",".join(r.firing),
                         "window": r.window, "excluded_minutes": r.excluded_minutes, "issues": len(r.issues),
                         "note": ""})
        for n, why in failed.items():
            spec = self[n].spec
            rows.append({"name": n, "service": spec.service, "status": "no source" if n in self.unserved() else "error",
                         "target": spec.target, "window": str(spec.window), "firing": "", "issues": 1,
                         "note": why[:500]})
        cols = ["name", "service", "status", "target", "sli", "budget_remaining", "burn_1h", "burn_6h", "burn_1d",
                "burn_3d", "events", "exhaustion_s", "firing", "window", "excluded_minutes", "issues", "note"]
        return pd.DataFrame(rows, columns=cols)

    # ------------------------------------------------------------------ exclusions
    def exclude(self, slo: str, *, start: datetime | str, end: datetime | str, every: str = "",
                until: datetime | str | None = None, timezone: str = "UTC", reason: str = "") -> int:
        """Leave a maintenance window out of an SLO's budget (``slo="*"`` for every SLO).

        Args:
            every: ``""`` (once), ``day`` or ``week``: repeat at the same local wall time in ``timezone``.
            until: Last time a recurrence may start (default: forever).

        Returns:
            The exclusion's id.
        """
        self._ops.access.require("operator", action="slo.exclude")
        if slo != "*" and slo not in self:
            raise NotFound(f"no SLO {slo!r}", kind="slo", key=slo)
        a, z = _as_utc(start, field="start"), _as_utc(end, field="end")
        if z <= a:
            raise ValidationError(f"exclusion end {z} must be after start {a}", field="end")
        if every not in ("", "day", "week"):
            raise ValidationError(f"every={every!r}: write '' (once), 'day' or 'week'", field="every")
        if every and (z - a) >= timedelta(days=1 if every == "day" else 7):
            raise ValidationError(f"a window repeating every {every} must be shorter than a {every}", field="end")
        try:
            ZoneInfo(timezone)
        except (KeyError, ValueError):
            raise ValidationError(f"timezone {timezone!r} is not an IANA zone", field="timezone") from None
        u = _as_utc(until, field="until") if until is not None else None
        with self._ops.db.session() as s:
            row = Exclusion(slo=slo, starts_at=a, ends_at=z, every=every, until=u, timezone=timezone,
                            reason=reason, created_by=self._ops.user, created_at=utcnow())
            s.add(row)
            s.flush()
            self._ops.audit.record(action="slo.exclude", target=slo,
                                   params={"id": row.id, "start": a.isoformat(), "end": z.isoformat(),
                                           "every": every, "timezone": timezone}, reason=reason)
            return int(row.id)

    def exclusions(self, slo: str | None = None) -> pd.DataFrame:
        """Maintenance windows (all, or those applying to ``slo``)."""
        rows = [{"id": e.id, "slo": e.slo, "start": e.starts_at, "end": e.ends_at, "every": e.every,
                 "until": e.until, "timezone": e.timezone, "reason": e.reason, "created_by": e.created_by}
                for e in self._exclusions() if slo is None or e.slo in ("*", slo)]
        return pd.DataFrame(rows, columns=["id", "slo", "start", "end", "every", "until", "timezone", "reason",
                                           "created_by"])

    def remove_exclusion(self, exclusion_id: int, *, reason: str = "") -> None:
        """Delete a maintenance window (audited)."""
        self._ops.access.require("operator", action="slo.exclude")
        with self._ops.db.session() as s:
            row = s.get(Exclusion, exclusion_id)
            if row is None:
                raise NotFound(f"no exclusion {exclusion_id}", kind="exclusion", key=str(exclusion_id))
            s.delete(row)
            self._ops.audit.record(action="slo.exclusion.remove", target=row.slo,
                                   params={"id": exclusion_id}, reason=reason)

    # ------------------------------------------------------------------ backtests
    def _policy_arg(self, p: pol.Policy | str | None) -> pol.Policy | None:
        if p is None or isinstance(p, pol.Policy):
            return p
        if p == "workbook":
            return pol.workbook()
        return pol.Policy.from_spec(self.catalog().policy(p))

    def default_policies(self) -> dict[str, pol.Policy]:
        """Workbook four tiers, and single-window 1h and 6h at the same budget fractions."""
        return {"workbook": pol.workbook(),
                "single-1h": pol.single_window("1h", fraction=0.02, name="single-1h"),
                "single-6h": pol.single_window("6h", fraction=0.05, name="single-6h")}

    def demo_incidents(self) -> builtins.list[Incident]:
        """The demo world's injected incidents (written by the SLO demo seed)."""
        path = self.directory / DEMO_INCIDENTS
        if not path.is_file():
            raise NotFound(f"no demo incidents at {path}: build the demo (opsnb demo) or pass incidents=[...]",
                           kind="file", key=str(path))
        return incidents_of(path)

    def backtest(self, incidents: Any = "demo", policies: Any = None, slos: Sequence[str] | None = None,
                 start: datetime | str | None = None, end: datetime | str | None = None,
                 grace: DurationLike = "1h") -> Backtest:
        """Replay alert policies over history and score them against known incidents.

        Args:
            incidents: ``"demo"`` (the demo world's), a list of dicts/objects with start/end
                (optional id, service, slos), a DataFrame, or a JSON file path.
            policies: dict name → :class:`~opsnb.slo.policy.Policy`, a list of policies or of
                AlertPolicy names; default :meth:`default_policies`.
            slos: SLO names (default all).
            start, end: Span replayed (default: the days the lake holds, up to now).
            grace: How long after an incident's end a fire still counts as a detection.

        Returns:
            :class:`Backtest` with ``summary`` (policies side by side) and ``episodes``.
        """
        incs = self.demo_incidents() if isinstance(incidents, str) and incidents == "demo" else incidents_of(incidents)
        if policies is None:
            pols = self.default_policies()
        elif isinstance(policies, dict):
            pols = {k: self._policy_arg(v) for k, v in policies.items()}  # type: ignore[misc]
        else:
            pols = {p.name: p for p in (self._policy_arg(x) for x in policies) if p is not None}
        names = list(slos) if slos is not None else list(self)
        start_t, end_t = self._span(start, end, incs)
        grace_td = parse_duration(grace, name="grace")
        look = LOOKBACK_MIN
        for p in pols.values():
            look = max([look, *(t.long.seconds // 60 for t in p.tiers)])
        s0, s1 = _minute(start_t) - look, _minute(end_t)
        specs = [self[n].spec for n in names]
        raw = self._fetch(specs, s0, s1)
        excl = self._exclusions()
        frames = []
        units: dict[str, tuple[SLOSpec, sm.Units]] = {}
        for spec in specs:
            u, _, _, _ = self._units(spec, raw[spec.name], s0, s1, excl)
            units[spec.name] = (spec, u)
            for pname, p in pols.items():
                df = pol.evaluate(u, spec.target, p.resolve(spec.window.period_seconds(end_t)), _minute(start_t),
                                  pname)
                df.insert(0, "slo", spec.name)
                df.insert(1, "service", spec.service)
                frames.append(df)
        episodes = pd.concat(frames, ignore_index=True) if frames else pol.evaluate(
            sm.Units.of(0, np.zeros(0), np.zeros(0)), 0.999, [], 0)

        def spent(slo: str, t0: datetime, t1: datetime) -> float:
            spec, u = units[slo]
            g, t = u.sums(_minute(t0), _minute(t1))
            per = int(spec.window.period_seconds(t1) // 60)
            _, wt = u.sums(_minute(t1) - per, _minute(t1))
            return (t - g) / (sm.budget_fraction(spec.target) * wt) if wt > 0 else float("nan")

        inc_in = [i for i in incs if i.end > start_t and i.start < end_t]
        summary = score(episodes, inc_in, start=start_t, end=end_t, grace=grace_td, spent=spent, policies=list(pols))
        return Backtest(summary, episodes, inc_in, start_t, end_t)

    def _span(self, start: Any, end: Any, incs: builtins.list[Incident]) -> tuple[datetime, datetime]:
        days = self._ops.lake.days("logs")
        now = utcnow()
        if end is None:
            end_t = min(now, datetime.combine(days[-1], datetime.min.time(), UTC) + timedelta(days=1)) if days else now
        else:
            end_t = _as_utc(end, field="end")
        if start is None:
            start_t = datetime.combine(days[0], datetime.min.time(), UTC) if days else end_t - timedelta(days=7)
        else:
            start_t = _as_utc(start, field="start")
        if start_t >= end_t:
            raise ValidationError(f"backtest: start {start_t} is not before end {end_t}", field="start")
        return start_t, end_t

    # ------------------------------------------------------------------ automation
    def alert_events(self, at: datetime | str | None = None, *, save: bool = True) -> builtins.list[dict[str, Any]]:
        """Trigger/resolve events (PagerDuty Events v2 shape) for tiers whose state changed since last time.

        Args:
            save: Store the new tier states (audited), so the same change is not announced twice.
        """
        from opsnb.slo.budget_policy import save_transitions, tier_transitions

        t = _as_utc(at, utcnow())
        slos = [self[n] for n in self]
        events = tier_transitions(self._ops, self._reports(slos, t), {s.name: s.tiers(at=t) for s in slos})
        if save:
            save_transitions(self._ops, events)
        return events

    def sync_alerts(self, at: datetime | str | None = None) -> builtins.list[dict[str, Any]]:
        """Turn tiers that started or stopped firing into alerts of the alerts domain (when it exists).

        Calls ``ops.alerts.ingest_slo(slo=, tier=<page|ticket>, burn_rate=, window="1h/5m", firing=,
        service=)`` per change (``ops.alerts.ingest_events(events)`` if only that exists). Tier states
        are saved only after delivery, so a failed delivery is retried at the next tick.
        """
        from opsnb.slo.budget_policy import deliver, save_transitions

        events = self.alert_events(at, save=False)
        deliver(self._ops, events)
        save_transitions(self._ops, events)
        return events

    def evaluate_budget_policies(self, at: datetime | str | None = None, *, dry_run: bool = False) -> pd.DataFrame:
        """Evaluate every ErrorBudgetPolicy step; take (record, audit, act on) newly met steps."""
        from opsnb.slo.budget_policy import evaluate

        return evaluate(self._ops, self, _as_utc(at, utcnow()), dry_run=dry_run)

    def steps_taken(self, slo: str | None = None) -> pd.DataFrame:
        """Error-budget-policy steps taken (newest first)."""
        from opsnb.slo.budget_policy import steps_taken

        return steps_taken(self._ops, slo)

    def tick(self, now: datetime) -> dict[str, Any]:
        """Scheduler hook: evaluate budget policies and turn firing tiers into alerts."""
        out: dict[str, Any] = {"budget_steps": 0, "alert_events": 0}
        errors: builtins.list[Exception] = []
        try:  # one failing half (say, a role missing for the budget policy) must not stop the other
            steps = self.evaluate_budget_policies(now)
            out["budget_steps"] = int(steps["taken"].sum()) if len(steps) else 0
        except OpsnbError as exc:
            errors.append(exc)
        try:
            out["alert_events"] = len(self.sync_alerts(now))
        except OpsnbError as exc:
            errors.append(exc)
        if errors:
            raise errors[0]
        return out

    def parse(self, text: str, source: str = "<string>") -> builtins.list[str]:
        """Validate OpenSLO YAML text without storing it; returns the kinds/names found."""
        return [f"{d.kind}/{d.name}" for d in parse_text(text, source)]


def _tolerant_catalog(files: Sequence[Path]) -> tuple[Catalog, list[str]]:
    """Read every file; skip (and report) broken files and SLOs so one typo does not hide the rest."""
    from opsnb.slo.spec import build_policy, build_slo

    try:
        return load_paths(files), []
    except ValidationError:
        pass
    cat = Catalog()
    problems: list[str] = []
    for f in files:
        try:
            docs = parse_text(f.read_text(encoding="utf-8"), str(f))
            for d in docs:
                cat.add(d)
        except (ValidationError, OSError, UnicodeDecodeError) as exc:
            problems.extend(getattr(exc, "problems", None) or [str(exc)])
    for (kind, name), doc in sorted(cat.docs.items()):
        if kind != "SLO":
            continue
        try:
            slo = build_slo(doc, cat)
            for p in slo.alert_policies:
                build_policy(cat.docs[("AlertPolicy", p)].raw, doc.source, cat)
        except (ValidationError, KeyError) as exc:
            problems.append(f"SLO {name!r} skipped: {exc}")
            del cat.docs[(kind, name)]
    return cat, problems


def _occurrences(ex: Exclusion, start_min: int, end_min: int) -> Iterator[tuple[int, int]]:
    """Epoch-minute spans [a, z) of an exclusion overlapping [start_min, end_min)."""
    a, z = ex.starts_at, ex.ends_at
    if not ex.every:
        if _minute(z) > start_min and _minute(a) < end_min:
            yield _minute(a), -(-int(z.timestamp()) // 60)
        return
    zone = ZoneInfo(ex.timezone or "UTC")
    la, lz = a.astimezone(zone).replace(tzinfo=None), z.astimezone(zone).replace(tzinfo=None)
    step = timedelta(days=1 if ex.every == "day" else 7)
    first = datetime.fromtimestamp(start_min * 60, UTC) - (z - a) - step
    k = max(int((first - a) / step), 0)
    while True:
        sa = (la + k * step).replace(tzinfo=zone).astimezone(UTC)
        sz = (lz + k * step).replace(tzinfo=zone).astimezone(UTC)
        if _minute(sa) >= end_min or (ex.until is not None and sa > ex.until):
            return
        if _minute(sz) > start_min:
            yield _minute(sa), -(-int(sz.timestamp()) // 60)
        k += 1

