"""SLOs: OpenSLO specs, exact SLI / error-budget / burn-rate math, alert policies, backtests.

Modules: ``spec`` (OpenSLO v1 parse, validate, export), ``math`` (the formulas),
``sources`` (where per-minute good/total counts come from: ``lake``,
``prometheus``, or your own), ``policy`` (multi-window multi-burn-rate tiers),
``backtest``, ``rules`` (Prometheus rule export), ``budget_policy`` and
``service`` (``ops.slos``).
"""
