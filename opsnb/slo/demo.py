"""The SLO share of the demo world: OpenSLO files for the six services, and the incidents' ground truth.

Availability of every service from lake logs (good = HttpStatus < 500 among rows with
an HttpStatus), latency SLOs on DurationMs, rolling 28 d / 30 d windows, one calendar
month in Europe/Paris, one Timeslices SLO, the Workbook alert policy as an OpenSLO
AlertPolicy with the ``x-opsnb-multiwindow`` extension, and an error budget policy.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from opsnb.slo.spec import dump

if TYPE_CHECKING:
    from opsnb.demo.world import DemoWorld
    from opsnb.workbench import Workbench

TARGETS = {"frontend": 0.99, "checkout": 0.995, "payments": 0.99, "catalog": 0.995, "search": 0.995,
           "auth": 0.995}
WINDOWS = {"frontend": "30d", "checkout": "30d", "payments": "28d", "catalog": "28d", "search": "30d",
           "auth": "30d"}
LATENCY = {"search": (300.0, 0.99, "28d"), "checkout": (800.0, 0.99, "30d")}


def _lake(service: str, flt: str, column: str | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"table": "logs", "service": service, "filter": flt}
    if column:
        spec["column"] = column
    return {"metricSource": {"type": "lake", "spec": spec}}


def _slo(name: str, service: str, sli: dict[str, Any], target: float, window: dict[str, Any], method: str = "Occurrences",
         objective: dict[str, Any] | None = None, policies: list[str] | None = None, description: str = "") -> dict[str, Any]:
    spec: dict[str, Any] = {
        "description": description, "service": service,
        "indicator": {"metadata": {"name": f"{name}-sli"}, "spec": sli},
        "timeWindow": [window], "budgetingMethod": method,
        "objectives": [{"displayName": name, "target": target, **(objective or {})}],
    }
    if policies:
        spec["alertPolicies"] = policies
    return {"apiVersion": "openslo/v1", "kind": "SLO", "metadata": {"name": name, "displayName": name.replace("-", " ")},
            "spec": spec}


def availability_sli(service: str) -> dict[str, Any]:
    return {"ratioMetric": {"counter": True,
                            "good": _lake(service, "HttpStatus IS NOT NULL AND HttpStatus < 500"),
                            "total": _lake(service, "HttpStatus IS NOT NULL")}}


def documents(services: tuple[str, ...]) -> dict[str, list[dict[str, Any]]]:
    """File name -> OpenSLO documents of the demo."""
    files: dict[str, list[dict[str, Any]]] = {}
    files["alert-policies.yaml"] = [{
        "apiVersion": "openslo/v1", "kind": "AlertPolicy", "metadata": {"name": "workbook"},
        "spec": {"description": "SRE Workbook multi-window multi-burn-rate tiers (x-opsnb-multiwindow)",
                 "alertWhenBreaching": True,
                 "conditions": [{"kind": "AlertCondition", "metadata": {"name": "page-1h"},
                                 "spec": {"severity": "page", "condition": {
                                     "kind": "burnrate", "op": "gt", "threshold": 14.4, "lookbackWindow": "1h"}}}],
                 "x-opsnb-multiwindow": {"tiers": [
                     {"name": "page-1h", "severity": "page", "longWindow": "1h", "shortWindow": "5m",
                      "budgetFraction": 0.02},
                     {"name": "page-6h", "severity": "page", "longWindow": "6h", "shortWindow": "30m",
                      "budgetFraction": 0.05},
                     {"name": "ticket-1d", "severity": "ticket", "longWindow": "1d", "shortWindow": "2h",
                      "budgetFraction": 0.1},
                     {"name": "ticket-3d", "severity": "ticket", "longWindow": "3d", "shortWindow": "6h",
                      "budgetFraction": 0.1}]}},
    }]
    for svc in services:
        docs: list[dict[str, Any]] = [{"apiVersion": "openslo/v1", "kind": "Service", "metadata": {"name": svc},
                                       "spec": {"description": f"the {svc} service"}}]
        docs.append(_slo(f"{svc}-availability", svc, availability_sli(svc), TARGETS.get(svc, 0.995),
                         {"duration": WINDOWS.get(svc, "30d"), "isRolling": True}, policies=["workbook"],
                         description=f"Requests to {svc} answered without a server error"))
        if svc in LATENCY:
            ms, target, win = LATENCY[svc]
            docs.append(_slo(f"{svc}-latency", svc, {"thresholdMetric": _lake(svc, "HttpStatus IS NOT NULL",
                                                                               "DurationMs")},
                             target, {"duration": win, "isRolling": True},
                             objective={"op": "lte", "value": ms}, policies=["workbook"],
                             description=f"Requests to {svc} served within {ms:g} ms"))
        if svc == "checkout":
            docs.append(_slo("checkout-availability-monthly", svc, availability_sli(svc), 0.995,
                             {"duration": "1M", "isRolling": False,
                              "calendar": {"startTime": "2020-01-01 00:00:00", "timeZone": "Europe/Paris"}},
                             description="Checkout availability per calendar month, Paris time"))
        if svc == "frontend":
            docs.append(_slo("frontend-availability-slices", svc, availability_sli(svc), 0.99,
                             {"duration": "28d", "isRolling": True}, method="Timeslices",
                             objective={"timeSliceTarget": 0.95, "timeSliceWindow": "5m"},
                             description="Share of good 5-minute slices (>= 95 % good requests)"))
        files[f"{svc}.yaml"] = docs
    files["budget-policy.yaml"] = [{
        "apiVersion": "opsnb.io/v1", "kind": "ErrorBudgetPolicy", "metadata": {"name": "default"},
        "spec": {"description": "What we do when a budget runs low",
                 "slos": [f"{s}-availability" for s in services],
                 "steps": [{"name": "freeze-deploys", "when": {"remainingBelow": 0.25},
                            "action": {"kind": "freeze-deploys"}},
                           {"name": "fast-burn", "when": {"burnRateAbove": 10, "window": "1h"},
                            "action": {"kind": "record", "message": "burn > 10 over 1h: run the service triage"}}]},
    }]
    return files


def write(directory: Path, services: tuple[str, ...]) -> list[Path]:
    """Write the demo's OpenSLO files into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    out = []
    for name, docs in documents(services).items():
        p = directory / name
        p.write_text(dump(docs), encoding="utf-8")
        out.append(p)
    return out


def seed(ops: Workbench, world: DemoWorld) -> None:
    """Write the SLO files into ``world.slo_dir`` (and the workspace's ``slos_dir``) and the incidents' truth."""
    services = tuple(world.services)
    names = {svc: [n for d in documents(services)[f"{svc}.yaml"] if d["kind"] == "SLO"
                   for n in [d["metadata"]["name"]]] for svc in services}
    truth = []
    for i in world.incidents:
        # every SLO of the services the incident hurt: its own, and those its title names
        hurt = [s for s in services if s == i.service or s in i.title.lower()]
        slos = sorted({*(n for n in i.slos if any(n in v for v in names.values())),
                       *(n for s in hurt for n in names.get(s, []))})
        truth.append({"id": i.id, "start": i.impact_start.isoformat(), "end": i.mitigated_at.isoformat(),
                      "service": i.service, "cause": i.cause, "severity": i.severity, "slos": slos})
    from opsnb.slo.service import DEMO_INCIDENTS

    dirs = {Path(world.slo_dir).resolve(), ops.slos.directory.resolve()}
    for d in dirs:
        write(d, services)
        (d / DEMO_INCIDENTS).write_text(json.dumps(truth, indent=1), encoding="utf-8")
