"""OpenSLO v1 documents: parse, validate strictly, resolve references, export without loss.

Kinds read: ``Service``, ``SLI``, ``SLO``, ``AlertPolicy``, ``AlertCondition``, ``AlertNotificationTarget``,
``DataSource`` (``apiVersion: openslo/v1``) and opsnb's own ``ErrorBudgetPolicy``
(``apiVersion: opsnb.io/v1``). Every object keeps the mapping it was read from
(``raw``), so export writes back exactly what was loaded.

Extension (documented, the only field OpenSLO does not define): an AlertPolicy may
carry ``spec.x-opsnb-multiwindow.tiers``, a list of multi-window burn-rate tiers
(``name``, ``severity``, ``longWindow``, ``shortWindow``, and ``burnRate`` or
``budgetFraction``). OpenSLO allows one condition per policy and no short window,
so a tool that ignores ``x-`` keys still sees a valid policy with one condition.
"""

from __future__ import annotations

import calendar as _calendar
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from opsnb.bounded import load_yaml_all
from opsnb.errors import ValidationError

OPENSLO = "openslo/v1"
OPSNB = "opsnb.io/v1"
KINDS = ("Service", "SLI", "SLO", "AlertPolicy", "AlertCondition", "AlertNotificationTarget", "DataSource",
         "ErrorBudgetPolicy")
EXTENSION = "x-opsnb-multiwindow"
METHODS = ("Occurrences", "Timeslices", "RatioTimeslices")
OPS = ("lt", "lte", "gt", "gte")
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_DUR = re.compile(r"^(\d+)([smhdwMQY])$")
_FIXED = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
MAX_YEARS = 10  # no SLO window, alert window or time slice is longer
_UNIT_WORD = {"s": "second", "m": "minute", "h": "hour", "d": "day", "w": "week", "M": "month",
              "Q": "quarter", "Y": "year"}


# --------------------------------------------------------------------------- durations
@dataclass(frozen=True)
class Duration:
    """An OpenSLO duration shorthand: ``5m`` (minutes), ``1h``, ``28d``, ``1w``, ``1M`` (month), ``1Q``, ``1Y``."""

    value: int
    unit: str

    @classmethod
    def parse(cls, text: Any, where: str = "duration") -> Duration:
        m = _DUR.match(str(text).strip()) if isinstance(text, str | int) else None
        if not m or int(m.group(1)) <= 0:
            raise ValidationError(
                f"{where}: {text!r} is not a duration; write a positive number and a unit: "
                "s, m (minute), h, d, w, M (month), Q, Y, e.g. 5m, 1h, 28d, 1M", field=where, value=str(text))
        out = cls(int(m.group(1)), m.group(2))
        # checked here, where it is written: a window of 100000000d passed and then broke every status call
        years = out.value * (_FIXED[out.unit] / (365 * 86400) if out.fixed else {"M": 1 / 12, "Q": 0.25, "Y": 1}[out.unit])
        if years > MAX_YEARS:
            raise ValidationError(f"{where}: {text!r} is longer than {MAX_YEARS} years", field=where, value=str(text))
        return out

    @property
    def fixed(self) -> bool:
        return self.unit in _FIXED

    @property
    def seconds(self) -> int:
        if not self.fixed:
            raise ValidationError(f"{self} is a calendar length ({_UNIT_WORD[self.unit]}s), not a fixed time",
                                  field="duration", value=str(self))
        return self.value * _FIXED[self.unit]

    @property
    def td(self) -> timedelta:
        return timedelta(seconds=self.seconds)

    def __str__(self) -> str:
        return f"{self.value}{self.unit}"


def fmt_seconds(sec: float) -> str:
    """A short human form of a number of seconds (``51.8s``, ``2.2m``, ``4.0h``, ``3.5d``)."""
    if sec != sec or sec in (float("inf"), float("-inf")):
        return "never" if sec == float("inf") else "n/a"
    a = abs(sec)
    for size, unit in ((86400, "d"), (3600, "h"), (60, "m")):
        if a >= size:
            return f"{sec / size:.1f}{unit}"
    return f"{sec:.1f}s"


# --------------------------------------------------------------------------- time windows
@dataclass(frozen=True)
class TimeWindow:
    """A rolling window (the last ``duration``) or a calendar one (aligned to ``start`` in ``tz``)."""

    duration: Duration
    rolling: bool
    start: datetime | None = None  # calendar anchor, naive local wall time
    tz: str = "UTC"

    def bounds(self, at: datetime) -> tuple[datetime, datetime]:
        """The window (start, end) in UTC that holds ``at``; a rolling one ends at ``at``."""
        at = at.astimezone(UTC)
        if self.rolling:
            return at - self.duration.td, at
        zone = ZoneInfo(self.tz)
        local = at.astimezone(zone).replace(tzinfo=None)
        anchor = self.start or datetime(2000, 1, 1)
        k = self._guess(anchor, local)
        while self._nth(anchor, k) > local:
            k -= 1
        while self._nth(anchor, k + 1) <= local:
            k += 1
        lo, hi = self._nth(anchor, k), self._nth(anchor, k + 1)
        return lo.replace(tzinfo=zone).astimezone(UTC), hi.replace(tzinfo=zone).astimezone(UTC)

    def _months(self) -> int:
        return {"M": 1, "Q": 3, "Y": 12}[self.duration.unit] * self.duration.value

    def _guess(self, anchor: datetime, local: datetime) -> int:
        if self.duration.fixed:
            return int((local - anchor).total_seconds() // self.duration.seconds)
        months = (local.year - anchor.year) * 12 + local.month - anchor.month
        return months // self._months()

    def _nth(self, anchor: datetime, k: int) -> datetime:
        if self.duration.fixed:  # wall-clock steps: a local day stays midnight-to-midnight across DST
            return anchor + timedelta(seconds=self.duration.seconds * k)
        total = anchor.month - 1 + self._months() * k
        year, month = anchor.year + total // 12, total % 12 + 1
        day = min(anchor.day, _calendar.monthrange(year, month)[1])
        return anchor.replace(year=year, month=month, day=day)

    def period_seconds(self, at: datetime) -> float:
        lo, hi = self.bounds(at)
        return (hi - lo).total_seconds() if not self.rolling else float(self.duration.seconds)

    def __str__(self) -> str:
        return f"{self.duration} rolling" if self.rolling else f"{self.duration} calendar ({self.tz})"


# --------------------------------------------------------------------------- typed objects
@dataclass
class MetricSource:
    """Where a metric comes from: a source type (``lake``, ``prometheus``) and its spec."""

    type: str
    spec: dict[str, Any]
    ref: str | None = None


@dataclass
class SLISpec:
    name: str
    kind: str  # ratio | threshold
    good: MetricSource | None = None
    bad: MetricSource | None = None
    total: MetricSource | None = None
    metric: MetricSource | None = None  # thresholdMetric
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass
class Objective:
    target: float
    name: str = ""
    op: str | None = None
    value: float | None = None
    time_slice_target: float | None = None
    time_slice_window: Duration | None = None


@dataclass
class Tier:
    """One multi-window burn-rate tier: fires when both windows burn faster than ``burn_rate``.

    ``short`` is None for a single-window tier.
    """

    name: str
    severity: str
    long: Duration
    short: Duration | None
    burn_rate: float

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "severity": self.severity, "longWindow": str(self.long),
                "shortWindow": str(self.short) if self.short else None, "burnRate": self.burn_rate}


@dataclass
class AlertPolicySpec:
    name: str
    tiers: list[Tier]  # burn rates resolved against the SLO's period when given as budget fractions
    fractions: list[float | None]  # per tier: budgetFraction if given (re-resolved per SLO)
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass
class SLOSpec:
    name: str
    service: str
    sli: SLISpec
    window: TimeWindow
    method: str
    objectives: list[Objective]
    alert_policies: list[str]
    description: str = ""
    display_name: str = ""
    raw: dict[str, Any] = field(default_factory=dict)
    path: str = ""

    @property
    def objective(self) -> Objective:
        return self.objectives[0]

    @property
    def target(self) -> float:
        return self.objective.target

    @property
    def slice_minutes(self) -> int:
        w = self.objective.time_slice_window
        return max(1, w.seconds // 60) if w else 1


@dataclass
class BudgetStep:
    name: str
    remaining_below: float | None
    burn_above: float | None
    window: Duration | None
    action: dict[str, Any]


@dataclass
class BudgetPolicySpec:
    name: str
    slos: list[str]  # names, or ["*"]
    steps: list[BudgetStep]
    raw: dict[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------------------- schema
# A schema maps key -> (required, checker). A checker is a type, a nested schema
# (dict), a one-item list [checker] for lists, or a function(value, path, problems).
Checker = Any


def _check(value: Any, checker: Checker, path: str, problems: list[str]) -> None:
    if isinstance(checker, dict):
        if not isinstance(value, dict):
            problems.append(f"{path}: expected a mapping, got {type(value).__name__}")
            return
        for key, (required, _) in checker.items():
            if required and key not in value:
                problems.append(f"{path}.{key}: required field missing")
        for key, v in value.items():
            if key not in checker:
                known = ", ".join(k for k in checker)
                problems.append(f"{path}.{key}: unknown field; known fields here: {known}")
                continue
            if v is None and not checker[key][0]:
                continue  # "alertPolicies:" with nothing after it: YAML's null, the field left empty
            _check(v, checker[key][1], f"{path}.{key}", problems)
    elif isinstance(checker, list):
        if not isinstance(value, list):
            problems.append(f"{path}: expected a list, got {type(value).__name__}")
            return
        for i, item in enumerate(value):
            _check(item, checker[0], f"{path}[{i}]", problems)
    elif isinstance(checker, type):
        ok = isinstance(value, checker) and not (checker in (int, float) and isinstance(value, bool))
        if checker is float and isinstance(value, int) and not isinstance(value, bool):
            ok = True
        if not ok:
            problems.append(f"{path}: expected {checker.__name__}, got {value!r}")
    else:
        checker(value, path, problems)


def _duration(value: Any, path: str, problems: list[str]) -> None:
    try:
        Duration.parse(value, path)
    except ValidationError as exc:
        problems.append(str(exc))


def _fraction(value: Any, path: str, problems: list[str]) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < float(value) < 1:
        problems.append(f"{path}: {value!r} must be a fraction strictly between 0 and 1 "
                        "(99.9 % is written 0.999)")


def _choice(*choices: str) -> Callable[[Any, str, list[str]], None]:
    def check(value: Any, path: str, problems: list[str]) -> None:
        if value not in choices:
            problems.append(f"{path}: {value!r} is not one of {', '.join(choices)}")
    return check


def _strmap(value: Any, path: str, problems: list[str]) -> None:
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        problems.append(f"{path}: expected a mapping of strings")


def _any(value: Any, path: str, problems: list[str]) -> None:
    return


def _local_time(value: Any, path: str, problems: list[str]) -> None:
    """A calendar start: text, or the timestamp YAML makes of ``2022-01-01 12:00:00`` written unquoted."""
    if isinstance(value, datetime | date):
        return
    if not isinstance(value, str):
        problems.append(f"{path}: expected a time like '2022-01-01 12:00:00', got {value!r}")


def _details(value: Any, path: str, problems: list[str]) -> None:
    """connectionDetails: a mapping, or (as in the specification's examples) a list of mappings."""
    if isinstance(value, dict):
        return
    if isinstance(value, list) and all(isinstance(v, dict) for v in value):
        return
    problems.append(f"{path}: expected a mapping or a list of mappings, got {type(value).__name__}")


def connection_details(spec: dict[str, Any]) -> dict[str, Any]:
    """A DataSource's connectionDetails as one mapping (a list of mappings is merged in order)."""
    details = spec.get("connectionDetails") or {}
    if isinstance(details, list):
        merged: dict[str, Any] = {}
        for d in details:
            merged.update(d)
        return merged
    return dict(details)


METADATA = {"name": (True, str), "displayName": (False, str), "labels": (False, _strmap),
            "annotations": (False, _strmap)}
METRIC_SOURCE = {"metricSourceRef": (False, str), "type": (False, str), "spec": (False, dict)}
METRIC = {"metricSource": (True, METRIC_SOURCE)}
SLI_SPEC = {
    "description": (False, str),
    "thresholdMetric": (False, METRIC),
    "ratioMetric": (False, {"counter": (False, bool), "good": (False, METRIC), "bad": (False, METRIC),
                            "total": (False, METRIC), "rawType": (False, _choice("success", "failure")),
                            "raw": (False, METRIC)}),
}
SLI_INLINE = {"metadata": (True, METADATA), "spec": (True, SLI_SPEC)}
CONDITION_SPEC = {
    "description": (False, str), "severity": (True, str),
    "condition": (True, {"kind": (True, _choice("burnrate")), "op": (True, _choice(*OPS)),
                         "threshold": (True, float), "lookbackWindow": (True, _duration),
                         "alertAfter": (False, _duration)}),
}
TIER = {"name": (True, str), "severity": (True, str), "longWindow": (True, _duration),
        "shortWindow": (False, _duration), "burnRate": (False, float), "budgetFraction": (False, _fraction)}
POLICY_SPEC = {
    "description": (False, str), "alertWhenNoData": (False, bool), "alertWhenResolved": (False, bool),
    "alertWhenBreaching": (False, bool),
    "conditions": (True, [{"kind": (False, _choice("AlertCondition")), "metadata": (False, METADATA),
                           "spec": (False, CONDITION_SPEC), "conditionRef": (False, str)}]),
    "notificationTargets": (False, [dict]),
    EXTENSION: (False, {"tiers": (True, [TIER])}),
}
OBJECTIVE = {"displayName": (False, str), "op": (False, _choice(*OPS)), "value": (False, float),
             "target": (False, _fraction), "targetPercent": (False, float), "timeSliceTarget": (False, _fraction),
             "timeSliceWindow": (False, _duration), "indicator": (False, dict), "indicatorRef": (False, str),
             "compositeWeight": (False, float)}
SLO_SPEC = {
    "description": (False, str), "service": (True, str), "indicator": (False, SLI_INLINE),
    "indicatorRef": (False, str),
    "timeWindow": (True, [{"duration": (True, _duration), "isRolling": (False, bool),
                           "calendar": (False, {"startTime": (True, _local_time), "timeZone": (True, str)})}]),
    "budgetingMethod": (True, _choice(*METHODS)),
    "objectives": (True, [OBJECTIVE]),
    "alertPolicies": (False, [_any]),
}
STEP = {"name": (True, str), "when": (True, {"remainingBelow": (False, float), "burnRateAbove": (False, float),
                                            "window": (False, _duration)}),
        "action": (True, {"kind": (True, _choice("freeze-deploys", "runbook", "notify", "record")),
                          "runbook": (False, str), "params": (False, dict), "message": (False, str)})}
SCHEMAS: dict[str, dict[str, Any]] = {
    "Service": {"description": (False, str)},
    "SLI": SLI_SPEC,
    "SLO": SLO_SPEC,
    "AlertPolicy": POLICY_SPEC,
    "AlertCondition": CONDITION_SPEC,
    "DataSource": {"description": (False, str), "type": (True, str), "connectionDetails": (True, _details)},
    "AlertNotificationTarget": {"description": (False, str), "target": (True, str)},
    "ErrorBudgetPolicy": {"description": (False, str), "slos": (True, [str]), "steps": (True, [STEP])},
}


# --------------------------------------------------------------------------- catalog
@dataclass
class Document:
    """One object as read: its kind, name, the mapping (kept verbatim) and where it came from."""

    kind: str
    name: str
    raw: dict[str, Any]
    source: str


class Catalog:
    """Every OpenSLO object known, by kind and name, with references resolved on demand."""

    def __init__(self) -> None:
        self.docs: dict[tuple[str, str], Document] = {}

    def add(self, doc: Document) -> None:
        key = (doc.kind, doc.name)
        old = self.docs.get(key)
        if old is not None and old.source != doc.source:
            raise ValidationError(f"{doc.source}: {doc.kind} {doc.name!r} is already defined in {old.source}; "
                                  "names must be unique per kind", source=doc.source, field="metadata.name")
        self.docs[key] = doc

    def names(self, kind: str) -> list[str]:
        return sorted(n for k, n in self.docs if k == kind)

    def get(self, kind: str, name: str) -> Document | None:
        return self.docs.get((kind, name))

    # ------------------------------------------------------------- typed views
    def slo(self, name: str) -> SLOSpec:
        doc = self.docs[("SLO", name)]
        return build_slo(doc, self)

    def policy(self, name: str) -> AlertPolicySpec:
        doc = self.get("AlertPolicy", name)
        if doc is None:
            raise ValidationError(f"no AlertPolicy {name!r}", field="alertPolicies", value=name)
        return build_policy(doc.raw, doc.source, self)

    def budget_policies(self) -> list[BudgetPolicySpec]:
        return [build_budget_policy(d) for (k, _), d in sorted(self.docs.items()) if k == "ErrorBudgetPolicy"]

    def data_source(self, name: str) -> dict[str, Any]:
        doc = self.get("DataSource", name)
        if doc is None:
            raise ValidationError(f"no DataSource {name!r} (metricSourceRef)", field="metricSourceRef", value=name)
        return dict(doc.raw["spec"])

    def validate(self) -> None:
        """Check every cross-reference and typed value; raise one ValidationError listing all problems."""
        problems: list[str] = []
        for (kind, name), doc in sorted(self.docs.items()):
            try:
                if kind == "SLO":
                    slo = build_slo(doc, self)
                    for pname in slo.alert_policies:
                        build_policy(self.docs[("AlertPolicy", pname)].raw, doc.source, self)
                elif kind == "AlertPolicy":
                    build_policy(doc.raw, doc.source, self)
                elif kind == "ErrorBudgetPolicy":
                    build_budget_policy(doc)
            except ValidationError as exc:
                problems.extend(exc.problems or [str(exc)])
            except KeyError as exc:
                problems.append(f"{doc.source}: {kind} {name!r}: reference to undefined {exc.args[0]}")
        if problems:
            raise ValidationError("invalid SLO definitions:", problems=problems)


def parse_text(text: str, source: str = "<string>") -> list[Document]:
    """Parse one YAML file (one or more ``---`` documents) into validated documents.

    Raises:
        ParseError: The YAML itself is malformed (with the line).
        ValidationError: A document breaks the OpenSLO schema; every problem is listed, each
            naming the file, the object and the field.
    """
    raws: list[Any] = []
    for d in load_yaml_all(text, source=source):  # size, depth, alias limits
        if isinstance(d, list):  # one document holding a list of objects, which the specification allows
            raws.extend(d)
        elif d is not None:
            raws.append(d)
    docs: list[Document] = []
    problems: list[str] = []
    for i, raw in enumerate(raws, 1):
        where = f"{source} (document {i})"
        if not isinstance(raw, dict):
            problems.append(f"{where}: expected a mapping with apiVersion, kind, metadata, spec")
            continue
        kind = raw.get("kind")
        api = OPSNB if kind == "ErrorBudgetPolicy" else OPENSLO
        if kind not in KINDS:
            problems.append(f"{where}: kind {kind!r} is not one of {', '.join(KINDS)}")
            continue
        name = raw.get("metadata", {}).get("name") if isinstance(raw.get("metadata"), dict) else None
        label = f"{where}: {kind} {name!r}" if name else f"{where}: {kind}"
        version = raw.get("apiVersion")
        if kind != "ErrorBudgetPolicy" and isinstance(version, str) and version.startswith("openslo/v") \
                and version != OPENSLO:
            problems.append(f"{label}: apiVersion {version!r} is not supported; opsnb reads {OPENSLO!r}. "
                            "Convert the file first (the OpenSLO project's 'oslo convert' does it), then load it")
            continue
        local: list[str] = []
        if raw.get("apiVersion") != api:
            local.append(f"apiVersion: {raw.get('apiVersion')!r}; write {api!r}")
        _check(raw, {"apiVersion": (True, str), "kind": (True, str), "metadata": (True, METADATA),
                     "spec": (True, SCHEMAS[kind])}, "", local)
        if isinstance(name, str) and not _NAME.match(name):
            local.append(f"metadata.name: {name!r} must be lowercase letters, digits and '-' (DNS label)")
        problems.extend(f"{label}: {p.lstrip('.')}" for p in local)
        if not local:
            docs.append(Document(kind, str(name), raw, source))
    if problems:
        raise ValidationError(f"{source}: invalid OpenSLO:", problems=problems, source=source)
    return docs


def load_paths(paths: Iterable[str | Path], catalog: Catalog | None = None) -> Catalog:
    """Read YAML files (or directories of ``*.yaml`` / ``*.yml``) into a validated catalog."""
    cat = catalog or Catalog()
    problems: list[str] = []
    for p in paths:
        p = Path(p)
        files = sorted([*p.glob("*.yaml"), *p.glob("*.yml")]) if p.is_dir() else [p]
        for f in files:
            try:
                text = f.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                problems.append(f"{f}: cannot read: {exc}")
                continue
            try:
                for d in parse_text(text, str(f)):
                    cat.add(d)
            except ValidationError as exc:
                problems.extend(exc.problems or [str(exc)])
    if problems:
        raise ValidationError("invalid SLO definitions:", problems=problems)
    cat.validate()
    return cat


def dump(docs: Iterable[dict[str, Any]]) -> str:
    """YAML text of documents, keys in the order they were read (so export is a round trip)."""
    return yaml.safe_dump_all(list(docs), sort_keys=False, allow_unicode=True)


# --------------------------------------------------------------------------- builders
def _metric(m: dict[str, Any], cat: Catalog, where: str) -> MetricSource:
    ms = m["metricSource"]
    ref = ms.get("metricSourceRef")
    if ref:
        ds = cat.data_source(ref)
        spec = {**connection_details(ds), **(ms.get("spec") or {})}
        return MetricSource(str(ms.get("type") or ds["type"]), spec, ref)
    if not ms.get("type"):
        raise ValidationError(f"{where}.metricSource: needs type (lake, prometheus, ...) or metricSourceRef",
                              field=f"{where}.metricSource")
    return MetricSource(str(ms["type"]), dict(ms.get("spec") or {}))


def build_sli(raw: dict[str, Any], cat: Catalog, where: str) -> SLISpec:
    name = raw["metadata"]["name"]
    spec = raw["spec"]
    has_t, has_r = "thresholdMetric" in spec, "ratioMetric" in spec
    if has_t == has_r:
        raise ValidationError(f"{where}: SLI {name!r}: give exactly one of ratioMetric or thresholdMetric",
                              field="spec")
    if has_t:
        return SLISpec(name, "threshold", metric=_metric(spec["thresholdMetric"], cat, where), raw=raw)
    r = spec["ratioMetric"]
    if "raw" in r:
        raise ValidationError(f"{where}: SLI {name!r}: ratioMetric.raw is not supported; use good or bad with total",
                              field="ratioMetric.raw")
    if "total" not in r or ("good" in r) == ("bad" in r):
        raise ValidationError(f"{where}: SLI {name!r}: ratioMetric needs total and exactly one of good or bad",
                              field="ratioMetric")
    sli = SLISpec(name, "ratio", total=_metric(r["total"], cat, where), raw=raw)
    if "good" in r:
        sli.good = _metric(r["good"], cat, where)
    else:
        sli.bad = _metric(r["bad"], cat, where)
    return sli


def build_slo(doc: Document, cat: Catalog) -> SLOSpec:
    raw, spec, where = doc.raw, doc.raw["spec"], f"{doc.source}: SLO {doc.name!r}"
    if ("indicator" in spec) == ("indicatorRef" in spec):
        raise ValidationError(f"{where}: give exactly one of spec.indicator or spec.indicatorRef", field="indicator")
    if "indicator" in spec:
        sli = build_sli(spec["indicator"], cat, where)
    else:
        ref = cat.get("SLI", spec["indicatorRef"])
        if ref is None:
            raise ValidationError(f"{where}: spec.indicatorRef: no SLI named {spec['indicatorRef']!r}",
                                  field="indicatorRef")
        sli = build_sli(ref.raw, cat, where)
    if len(spec["timeWindow"]) != 1:
        raise ValidationError(f"{where}: spec.timeWindow: exactly one window is supported", field="timeWindow")
    tw = spec["timeWindow"][0]
    dur = Duration.parse(tw["duration"], "timeWindow.duration")
    rolling = bool(tw.get("isRolling", "calendar" not in tw))
    window = _window(dur, rolling, tw.get("calendar"), where)
    method = spec["budgetingMethod"]
    objectives = []
    for i, o in enumerate(spec["objectives"]):
        target = o.get("target")
        if target is None and "targetPercent" in o:
            target = float(o["targetPercent"]) / 100
            if not 0 < target < 1:
                raise ValidationError(f"{where}: objectives[{i}].targetPercent {o['targetPercent']} must be in (0, 100)",
                                      field=f"objectives[{i}].targetPercent")
        if target is None:
            raise ValidationError(f"{where}: objectives[{i}]: give target (e.g. 0.999)", field=f"objectives[{i}].target")
        ob = Objective(float(target), o.get("displayName", ""), o.get("op"),
                       float(o["value"]) if "value" in o else None, o.get("timeSliceTarget"),
                       Duration.parse(o["timeSliceWindow"], "timeSliceWindow") if "timeSliceWindow" in o else None)
        if sli.kind == "threshold" and (ob.op is None or ob.value is None):
            raise ValidationError(f"{where}: objectives[{i}]: a thresholdMetric SLI needs op and value "
                                  "(e.g. op: lte, value: 300)", field=f"objectives[{i}].op")
        if method in ("Timeslices", "RatioTimeslices"):
            if ob.time_slice_window is None:
                raise ValidationError(f"{where}: objectives[{i}]: {method} needs timeSliceWindow (e.g. 5m)",
                                      field=f"objectives[{i}].timeSliceWindow")
            if not ob.time_slice_window.fixed or ob.time_slice_window.seconds % 60:
                raise ValidationError(
                    f"{where}: objectives[{i}].timeSliceWindow {ob.time_slice_window} must be whole minutes: "
                    "SLIs are evaluated every minute (1m), so a slice cannot be shorter or fractional; "
                    "note 1m is a minute and 1M a month", field=f"objectives[{i}].timeSliceWindow")
            if method == "Timeslices" and ob.time_slice_target is None:
                raise ValidationError(f"{where}: objectives[{i}]: Timeslices needs timeSliceTarget (e.g. 0.95)",
                                      field=f"objectives[{i}].timeSliceTarget")
        objectives.append(ob)
    if window.rolling and window.duration.seconds < 60 * max(
            (o.time_slice_window.seconds // 60 if o.time_slice_window else 1) for o in objectives):
        raise ValidationError(f"{where}: timeWindow {window.duration} is shorter than the evaluation step "
                              "(1m, or the time slice); note 1m is a minute and 1M a month",
                              field="timeWindow.duration")
    policies = []
    for i, ap in enumerate(spec.get("alertPolicies") or []):
        if isinstance(ap, str):
            pname = ap
        elif isinstance(ap, dict) and "alertPolicyRef" in ap:
            pname = str(ap["alertPolicyRef"])
        elif isinstance(ap, dict) and ap.get("kind") == "AlertPolicy":
            pname = str(ap.get("metadata", {}).get("name", ""))
            if ("AlertPolicy", pname) not in cat.docs:
                problems: list[str] = []
                _check(ap, {"kind": (True, str), "metadata": (True, METADATA), "spec": (True, POLICY_SPEC)},
                       f"alertPolicies[{i}]", problems)
                if problems:
                    raise ValidationError(f"{where}: invalid inline AlertPolicy:", problems=problems)
                cat.docs[("AlertPolicy", pname)] = Document("AlertPolicy", pname, ap, doc.source)
        else:
            raise ValidationError(f"{where}: alertPolicies[{i}]: write an AlertPolicy name, "
                                  "{alertPolicyRef: name} or an inline AlertPolicy", field=f"alertPolicies[{i}]")
        if ("AlertPolicy", pname) not in cat.docs:
            raise ValidationError(f"{where}: alertPolicies[{i}]: no AlertPolicy named {pname!r}",
                                  field=f"alertPolicies[{i}]")
        policies.append(pname)
    return SLOSpec(doc.name, spec["service"], sli, window, method, objectives, policies,
                   spec.get("description", ""), raw["metadata"].get("displayName", ""), raw, doc.source)


def _window(dur: Duration, rolling: bool, cal: dict[str, Any] | None, where: str) -> TimeWindow:
    if rolling:
        if not dur.fixed:
            raise ValidationError(
                f"{where}: timeWindow.duration {dur}: a rolling window needs a fixed length such as 28d or 30d; "
                f"{dur} is a {_UNIT_WORD[dur.unit]} (1m is a minute, 1M a month); for a calendar month set "
                "isRolling: false with calendar: {startTime, timeZone}", field="timeWindow.duration")
        return TimeWindow(dur, True)
    if not cal:
        raise ValidationError(f"{where}: a calendar timeWindow needs calendar: {{startTime, timeZone}}",
                              field="timeWindow.calendar")
    if dur.unit in ("s", "m", "h"):
        raise ValidationError(f"{where}: calendar window {dur} must be days, weeks, months (M), quarters or years; "
                              "1m is a minute, 1M a month", field="timeWindow.duration")
    try:
        ZoneInfo(cal["timeZone"])
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationError(f"{where}: timeWindow.calendar.timeZone {cal['timeZone']!r} is not an IANA zone "
                              "(e.g. Europe/Paris)", field="timeWindow.calendar.timeZone") from None
    try:
        start = datetime.fromisoformat(str(cal["startTime"]).replace("Z", ""))
    except ValueError:
        raise ValidationError(f"{where}: timeWindow.calendar.startTime {cal['startTime']!r}: write "
                              "'YYYY-MM-DD HH:MM:SS' (local time)", field="timeWindow.calendar.startTime") from None
    return TimeWindow(dur, False, start.replace(tzinfo=None), cal["timeZone"])


def workbook_tiers() -> list[tuple[str, str, Duration, Duration, float]]:
    """The SRE Workbook's four tiers as (name, severity, long, short, budget fraction)."""
    return [
        ("page-1h", "page", Duration(1, "h"), Duration(5, "m"), 0.02),
        ("page-6h", "page", Duration(6, "h"), Duration(30, "m"), 0.05),
        ("ticket-1d", "ticket", Duration(1, "d"), Duration(2, "h"), 0.10),
        ("ticket-3d", "ticket", Duration(3, "d"), Duration(6, "h"), 0.10),
    ]


def build_policy(raw: dict[str, Any], source: str, cat: Catalog) -> AlertPolicySpec:
    name = raw["metadata"]["name"]
    spec = raw["spec"]
    where = f"{source}: AlertPolicy {name!r}"
    conds = spec["conditions"]
    if len(conds) != 1:
        raise ValidationError(f"{where}: spec.conditions: OpenSLO v1 allows exactly one condition; put more "
                              f"tiers in spec.{EXTENSION}.tiers", field="conditions")
    tiers: list[Tier] = []
    fractions: list[float | None] = []
    ext = spec.get(EXTENSION)
    if ext:
        for i, t in enumerate(ext["tiers"]):
            long_ = Duration.parse(t["longWindow"])
            short = Duration.parse(t["shortWindow"]) if t.get("shortWindow") else None
            if not long_.fixed or (short and not short.fixed):
                raise ValidationError(f"{where}: {EXTENSION}.tiers[{i}]: windows must be fixed lengths "
                                      "(m, h, d, w); 1m is a minute, 1M a month", field=f"tiers[{i}]")
            if long_.seconds < 60 or (short and short.seconds < 60):
                raise ValidationError(f"{where}: {EXTENSION}.tiers[{i}]: a window shorter than the evaluation "
                                      "step (1m) cannot be evaluated", field=f"tiers[{i}]")
            if short and short.seconds >= long_.seconds:
                raise ValidationError(f"{where}: {EXTENSION}.tiers[{i}]: shortWindow {short} must be shorter "
                                      f"than longWindow {long_}", field=f"tiers[{i}].shortWindow")
            if ("burnRate" in t) == ("budgetFraction" in t):
                raise ValidationError(f"{where}: {EXTENSION}.tiers[{i}]: give burnRate or budgetFraction",
                                      field=f"tiers[{i}]")
            br = float(t.get("burnRate", 0.0))
            if "burnRate" in t and br <= 0:
                raise ValidationError(f"{where}: {EXTENSION}.tiers[{i}].burnRate must be > 0",
                                      field=f"tiers[{i}].burnRate")
            tiers.append(Tier(t["name"], t["severity"], long_, short, br))
            fractions.append(t.get("budgetFraction"))
    else:
        c = conds[0]
        if "conditionRef" in c:
            ref = cat.get("AlertCondition", c["conditionRef"])
            if ref is None:
                raise ValidationError(f"{where}: conditionRef {c['conditionRef']!r}: no such AlertCondition",
                                      field="conditionRef")
            cname, cspec = ref.name, ref.raw["spec"]
        else:
            if "spec" not in c:
                raise ValidationError(f"{where}: conditions[0]: give spec or conditionRef", field="conditions[0]")
            cname, cspec = c.get("metadata", {}).get("name", name), c["spec"]
        cond = cspec["condition"]
        lb = Duration.parse(cond["lookbackWindow"])
        if not lb.fixed or lb.seconds < 60:
            raise ValidationError(f"{where}: lookbackWindow {lb} must be a fixed length of at least 1m "
                                  "(the evaluation step); 1m is a minute, 1M a month", field="lookbackWindow")
        tiers.append(Tier(cname, cspec["severity"], lb, None, float(cond["threshold"])))
        fractions.append(None)
    return AlertPolicySpec(name, tiers, fractions, raw)


def build_budget_policy(doc: Document) -> BudgetPolicySpec:
    spec = doc.raw["spec"]
    steps = []
    for i, s in enumerate(spec["steps"]):
        when = s["when"]
        if ("remainingBelow" in when) == ("burnRateAbove" in when):
            raise ValidationError(f"{doc.source}: ErrorBudgetPolicy {doc.name!r}: steps[{i}].when: give "
                                  "remainingBelow or burnRateAbove (with window)", field=f"steps[{i}].when")
        if "burnRateAbove" in when and "window" not in when:
            raise ValidationError(f"{doc.source}: ErrorBudgetPolicy {doc.name!r}: steps[{i}].when: burnRateAbove "
                                  "needs window (e.g. 1h)", field=f"steps[{i}].when.window")
        if s["action"]["kind"] == "runbook" and not s["action"].get("runbook"):
            raise ValidationError(f"{doc.source}: ErrorBudgetPolicy {doc.name!r}: steps[{i}].action: kind runbook "
                                  "needs runbook: <name>", field=f"steps[{i}].action.runbook")
        steps.append(BudgetStep(s["name"], when.get("remainingBelow"), when.get("burnRateAbove"),
                                Duration.parse(when["window"]) if "window" in when else None, dict(s["action"])))
    return BudgetPolicySpec(doc.name, list(spec["slos"]), steps, doc.raw)
