"""Error budget policies: steps taken when a budget runs low or burns fast; tier state for alerts.

An ``ErrorBudgetPolicy`` (``apiVersion: opsnb.io/v1``) lists steps such as::

    - name: freeze
      when: {remainingBelow: 0.25}
      action: {kind: freeze-deploys}
    - name: runbook
      when: {burnRateAbove: 10, window: 1h}
      action: {kind: runbook, runbook: scale-out, params: {service: checkout}}

A step is *taken* when its condition becomes true (not again while it stays true):
a row in ``slo_budget_steps`` and an audit record in the same transaction, then the
action is handed to its domain when that domain exists (runbooks, deploys). When the
condition clears, the row gets ``cleared_at`` and the step may be taken again later.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

import pandas as pd
from sqlalchemy import select

from opsnb.errors import OpsnbError
from opsnb.slo.models import BudgetStepTaken, TierState
from opsnb.store.types import utcnow

if TYPE_CHECKING:
    from opsnb.slo.report import SLOReport
    from opsnb.slo.service import SLOs
    from opsnb.slo.spec import Tier
    from opsnb.workbench import Workbench


def _value(step: Any, rep: SLOReport, slo: Any) -> float | None:
    if step.remaining_below is not None:
        return rep.budget_remaining
    label = str(step.window)
    if label in rep.burn_rates:
        return rep.burn_rates[label]
    # a window the report does not show: compute it from the units
    end = rep.at
    u, _, _, _ = slo.units(end - step.window.td, end)
    g, t = u.sums(u.start_minute, u.start_minute + len(u.good))
    return ((t - g) / t) / (1 - rep.target) if t > 0 else None


def _met(step: Any, v: float | None) -> bool:
    if v is None:
        return False
    return v < step.remaining_below if step.remaining_below is not None else v > step.burn_above


def evaluate(ops: Workbench, slos: SLOs, at: datetime, *, dry_run: bool = False) -> pd.DataFrame:
    """Evaluate every step of every ErrorBudgetPolicy at ``at``.

    Returns:
        DataFrame: slo, policy, step, value, met, taken (newly, now), active, result.
    """
    cols = ["slo", "policy", "step", "value", "met", "taken", "active", "result"]
    policies = slos.catalog().budget_policies()
    if not policies:
        return pd.DataFrame([], columns=cols)
    if not dry_run:
        ops.access.require("operator", action="slo.budget_policy")
    targets = sorted({n for p in policies for n in (list(slos) if "*" in p.slos else p.slos) if n in slos})
    reports: dict[str, SLOReport] = {r.name: r for r in slos.reports(at, targets)}
    rows: list[dict[str, Any]] = []
    todo: list[tuple[int, str, dict[str, Any]]] = []
    thaw: list[tuple[str, str]] = []  # (slo, service) whose freeze step cleared
    with ops.db.session() as s:
        active = {(r.slo, r.policy, r.step): r for r in s.scalars(
            select(BudgetStepTaken).where(BudgetStepTaken.cleared_at.is_(None)))}
        for p in policies:
            for name in (targets if "*" in p.slos else [n for n in p.slos if n in reports]):
                rep = reports[name]
                for step in p.steps:
                    v = _value(step, rep, slos[name])
                    met = _met(step, v)
                    key = (name, p.name, step.name)
                    row = {"slo": name, "policy": p.name, "step": step.name, "value": v, "met": met,
                           "taken": False, "active": key in active, "result": ""}
                    if met and key not in active and not dry_run:
                        rec = BudgetStepTaken(slo=name, policy=p.name, step=step.name, taken_at=utcnow(),
                                              evaluated_at=at, value=float(v if v is not None else 0.0),
                                              action=step.action, result="taken")
                        s.add(rec)
                        s.flush()
                        ops.audit.record(action="slo.budget_policy.step", target=name,
                                         params={"policy": p.name, "step": step.name, "value": v,
                                                 "action": step.action, "at": at.isoformat()},
                                         reason=f"{step.name}: condition met at {at.isoformat()}")
                        row.update(taken=True, active=True)
                        todo.append((int(rec.id), name, step.action))
                    elif not met and key in active and not dry_run:
                        active[key].cleared_at = utcnow()
                        if (active[key].action or {}).get("kind") == "freeze-deploys":
                            thaw.append((name, slos[name].spec.service))
                        ops.audit.record(action="slo.budget_policy.clear", target=name,
                                         params={"policy": p.name, "step": step.name, "value": v},
                                         reason="condition no longer met")
                        row["active"] = False
                    rows.append(row)
    for name, service in thaw:
        # the policy lifts only the freeze it set itself
        ops.deploys.unfreeze(service=service, source=f"slo:{name}", reason=f"error budget of SLO {name} recovered")
    for rec_id, name, action in todo:  # act after commit: a slow runbook must not hold the transaction
        result = _act(ops, name, slos[name].spec.service, action)
        with ops.db.session() as s:
            taken = s.get(BudgetStepTaken, rec_id)
            if taken is not None:
                taken.result = result
        for r in rows:
            if r["slo"] == name and r["taken"] and not r["result"]:
                r["result"] = result
                break
    return pd.DataFrame(rows, columns=cols)


def _act(ops: Workbench, slo: str, service: str, action: dict[str, Any]) -> str:
    kind = action.get("kind")
    try:
        if kind == "runbook":
            # the runbooks domain decides dry run vs real run from the runbook's risk (dry by default)
            run = ops.runbooks.run(action["runbook"], params=dict(action.get("params") or {}), trigger="alert",
                                   trigger_ref=f"slo:{slo}", reason=f"error budget policy of SLO {slo}",
                                   wait=False)
            run_id = getattr(run, "run_id", None) or getattr(run, "id", None) or run
            return f"runbook {action['runbook']} started: {run_id}"
        if kind == "freeze-deploys":
            ops.deploys.freeze(service=service, reason=f"error budget policy of SLO {slo}", source=f"slo:{slo}")
            return f"deploys of {service} frozen"
        return "recorded"
    except OpsnbError as exc:
        return f"failed: {exc}"


def steps_taken(ops: Workbench, slo: str | None = None) -> pd.DataFrame:
    cols = ["id", "slo", "policy", "step", "taken_at", "evaluated_at", "value", "action", "result", "cleared_at"]
    with ops.db.session() as s:
        q = select(BudgetStepTaken).order_by(BudgetStepTaken.id.desc())
        if slo:
            q = q.where(BudgetStepTaken.slo == slo)
        rows = [{c: getattr(r, c) for c in cols} for r in s.scalars(q)]
    return pd.DataFrame(rows, columns=cols)


def tier_transitions(ops: Workbench, reports: list[SLOReport],
                     tiers: dict[str, list[Tier]]) -> list[dict[str, Any]]:
    """Events v2 trigger/resolve events for tiers that started or stopped firing since the last save.

    Reads the stored tier state only; :func:`save_transitions` stores it once the events are delivered.
    """
    events: list[dict[str, Any]] = []
    with ops.db.session() as s:
        state = {(r.slo, r.tier): r.firing for r in s.scalars(select(TierState))}
    for rep in reports:
        firing = set(rep.firing)
        by_name = {t.name: t for t in tiers.get(rep.name, [])}
        known = {t for (n, t) in state if n == rep.name}
        for tier in sorted(firing | known):
            now_firing = tier in firing
            if state.get((rep.name, tier), False) == now_firing:
                continue
            t = by_name.get(tier)
            window = f"{t.long}/{t.short}" if t is not None and t.short else (str(t.long) if t else "")
            severity = t.severity if t is not None else ("page" if tier.startswith("page") else "ticket")
            burn = rep.burn_rates.get(str(t.long)) if t is not None else None
            events.append({
                "routing_key": "opsnb-slo",
                "event_action": "trigger" if now_firing else "resolve",
                "dedup_key": f"slo:{rep.name}:{tier}",
                "payload": {
                    "summary": f"SLO {rep.name}: error budget burn ({tier})",
                    "source": "opsnb.slo", "severity": "critical" if severity == "page" else "warning",
                    "timestamp": rep.at.isoformat(), "component": rep.service, "group": rep.name,
                    "class": "slo-burn",
                    "custom_details": {"slo": rep.name, "tier": tier, "severity": severity, "window": window,
                                       "burn_rate": burn, "burn_threshold": t.burn_rate if t else None,
                                       "sli": rep.sli, "budget_remaining": rep.budget_remaining},
                },
            })
    return events


def save_transitions(ops: Workbench, events: list[dict[str, Any]]) -> None:
    """Store the tier states the events announce, with an audit record each."""
    if not events:
        return
    with ops.db.session() as s:
        for e in events:
            d = e["payload"]["custom_details"]
            firing = e["event_action"] == "trigger"
            at = datetime.fromisoformat(e["payload"]["timestamp"])
            row = s.get(TierState, (d["slo"], d["tier"]))
            if row is None:
                s.add(TierState(slo=d["slo"], tier=d["tier"], firing=firing, since=at))
            else:
                row.firing, row.since = firing, at
            ops.audit.record(action=f"slo.alert.{'trigger' if firing else 'resolve'}", target=d["slo"],
                             params={"tier": d["tier"], "window": d["window"], "burn_rate": d["burn_rate"],
                                     "at": at.isoformat()}, reason="tier state changed")


def deliver(ops: Workbench, events: list[dict[str, Any]]) -> str:
    """Hand events to the alerts domain; returns what was called ("none" for no events)."""
    if not events:
        return "none"
    for e in events:
        d = e["payload"]["custom_details"]
        ops.alerts.ingest_slo(slo=d["slo"], tier=d["severity"], burn_rate=float(d["burn_rate"] or 0.0),
                              window=d["window"] or "1h", firing=e["event_action"] == "trigger",
                              service=e["payload"]["component"] or None)
    return "ingest_slo"
