"""SLI sources, against fakes of what they read (the real Prometheus is in test_prometheus.py)."""

from __future__ import annotations

import re
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from opsnb.slo.sources import PrometheusSource
from opsnb.slo.spec import Catalog, parse_text

BAD_TOTAL = """\
apiVersion: openslo/v1
kind: SLO
metadata: {name: api-availability}
spec:
  service: api
  indicator:
    metadata: {name: api-errors}
    spec:
      ratioMetric:
        bad:
          metricSource: {type: prometheus, spec: {query: 'sum(rate(req_total{code=~"5.."}[{{window}}]))'}}
        total:
          metricSource: {type: prometheus, spec: {query: 'sum(rate(req_total[{{window}}]))'}}
  timeWindow: [{duration: 1h, isRolling: true}]
  budgetingMethod: Occurrences
  objectives: [{target: 0.99}]
"""


class AdvancingPrometheus(PrometheusSource):
    """A Prometheus whose head gains a minute of samples between any two requests (a scrape landing
    between them): 100 good and 1 bad request a second in every minute it holds."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []

    def api(self, url: str, path: str, params: dict[str, Any], timeout: float = 30.0) -> Any:
        self.requests.append(params)
        last = int(params["start"]) + 60 * (len(self.requests) - 1)  # one more minute visible per request
        steps = range(int(params["start"]), min(int(params["end"]), last) + 1, 60)
        per_s = {"total": 101.0, "bad": 1.0, "good": 100.0}
        return {"result": [
            {"metric": {self.PART_LABEL: part}, "values": [[t, str(per_s[part] * 60)] for t in steps]}
            for part in re.findall(rf'"{self.PART_LABEL}", "(\w+)"', params["query"])]}


def test_the_parts_of_a_ratio_are_read_from_one_snapshot() -> None:
    """Bad and total read by two requests straddling a scrape disagreed on the newest minute (a real CI
    run: SLI 0.9876 for 0.9901); read by one query they count the same minutes."""
    cat = Catalog()
    for d in parse_text(BAD_TOTAL, "api.yaml"):
        cat.add(d)
    slo = cat.slo("api-availability")
    source = AdvancingPrometheus()
    ops = SimpleNamespace(settings=SimpleNamespace(prometheus_url="http://prometheus.invalid:9090"))
    good, total = source.counts(ops, [slo], 1000, 1005)["api-availability"]  # type: ignore[arg-type]
    assert len(source.requests) == 1
    assert np.count_nonzero(total) == 1 and np.array_equal(good, total * 100 / 101)
    assert 1 - good.sum() / total.sum() == pytest.approx(1 / 101, rel=1e-12)
