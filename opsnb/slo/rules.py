"""Export an SLO's alert policy as Prometheus recording and alerting rules.

One recording rule per distinct window (``slo:sli_error:ratio_rate<w>``, labelled
``slo`` and ``service``) and one alerting rule per tier: the long AND the short
window's error ratio above ``burn_rate * (1 - target)``, as in the SRE Workbook.
The output loads in Prometheus (checked with ``promtool check rules`` in tests).
"""

from __future__ import annotations

from typing import Any

import yaml

from opsnb.errors import ValidationError
from opsnb.slo.spec import SLOSpec, Tier


def _window_query(q: str, window: str) -> str:
    return q.replace("{{window}}", window)


def rule_groups(slo: SLOSpec, tiers: list[Tier]) -> dict[str, Any]:
    """The ``groups:`` document for ``slo`` alerting with ``tiers`` (burn rates already resolved)."""
    sli = slo.sli
    metrics = [m for m in (sli.good, sli.bad, sli.total) if m is not None]
    if sli.kind != "ratio" or not metrics or any(m.type.lower() != "prometheus" for m in metrics):
        raise ValidationError(
            f"SLO {slo.name!r}: Prometheus rules need a ratioMetric SLI whose good/bad and total come from "
            "prometheus (metricSource type prometheus with a query using [{{window}}]); this SLI reads "
            f"{', '.join(sorted({m.type for m in metrics})) or 'nothing'}", field="indicator")
    assert sli.total is not None
    total_q = str(sli.total.spec.get("query", ""))
    windows: list[str] = []
    for t in tiers:
        for dur in (t.long, t.short):
            if dur is not None and str(dur) not in windows:
                windows.append(str(dur))
    labels = {"slo": slo.name, "service": slo.service}
    rules: list[dict[str, Any]] = []
    for w in windows:
        total = _window_query(total_q, w)
        if sli.good is not None:
            expr = f"1 - (({_window_query(str(sli.good.spec['query']), w)}) / ({total}))"
        else:
            assert sli.bad is not None
            expr = f"({_window_query(str(sli.bad.spec['query']), w)}) / ({total})"
        rules.append({"record": f"slo:sli_error:ratio_rate{w}", "expr": expr, "labels": dict(labels)})
    b = 1 - slo.target
    sel = f'{{slo="{slo.name}"}}'
    for t in tiers:
        need = f"({t.burn_rate!r} * {b!r})"
        expr = f"slo:sli_error:ratio_rate{t.long}{sel} > {need}"
        if t.short is not None:
            expr += f"\nand\nslo:sli_error:ratio_rate{t.short}{sel} > {need}"
        rules.append({
            "alert": "SLOErrorBudgetBurn",
            "expr": expr,
            "labels": {**labels, "severity": t.severity, "tier": t.name},
            "annotations": {
                "summary": f"{slo.name}: error budget burning {t.burn_rate:g}x over {t.long}"
                           + (f" and {t.short}" if t.short else ""),
                "description": f"SLO {slo.name} (target {slo.target:g}) tier {t.name}: at this rate the "
                               "budget of the window is gone early.",
            },
        })
    return {"groups": [{"name": f"slo-{slo.name}", "rules": rules}]}


def render(slo: SLOSpec, tiers: list[Tier]) -> str:
    """Rules as YAML text, ready for ``rule_files``."""
    return yaml.safe_dump(rule_groups(slo, tiers), sort_keys=False, width=1000)
