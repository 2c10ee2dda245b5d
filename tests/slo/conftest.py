"""Fixtures of the SLO tests: a lake with known per-minute traffic and errors, and SLO files."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

T0 = datetime(2026, 11, 1, tzinfo=UTC)  # a Sunday


def write_traffic(ops: Any, *, start: datetime = T0, minutes: int = 1440, services: Sequence[str] = ("checkout",),
                  per_minute: int = 10, errors: Sequence[tuple[str, datetime, datetime, float]] = (),
                  slow: Sequence[tuple[str, datetime, datetime, float]] = (), seed: int = 1) -> dict[str, int]:
    """Write ``per_minute`` requests per service per minute; inside an error window a fraction
    ``ratio`` of them (exactly: the first round(ratio * per_minute) of each minute) get status 500.

    Returns:
        Bad events written per service.
    """
    rng = np.random.default_rng(seed)
    n = minutes * per_minute
    base = int(start.timestamp() * 1_000_000)
    minute = np.repeat(np.arange(minutes), per_minute)
    slot = np.tile(np.arange(per_minute), minutes)
    ts = base + minute * 60_000_000 + slot * (60_000_000 // per_minute)
    bad: dict[str, int] = {}
    tables = []
    for svc in services:
        status = np.full(n, 200, dtype=np.int32)
        dur = rng.uniform(5, 100, n)
        for s, a, z, ratio in errors:
            if s != svc:
                continue
            m0 = int((a - start).total_seconds() // 60)
            m1 = int((z - start).total_seconds() // 60)
            sel = (minute >= m0) & (minute < m1) & (slot < round(ratio * per_minute))
            status[sel] = 500
        for s, a, z, ratio in slow:
            if s != svc:
                continue
            m0 = int((a - start).total_seconds() // 60)
            m1 = int((z - start).total_seconds() // 60)
            sel = (minute >= m0) & (minute < m1) & (slot < round(ratio * per_minute))
            dur[sel] = 900.0
        bad[svc] = int((status >= 500).sum())
        tables.append(pa.table({
            "Timestamp": pa.array(ts, pa.timestamp("us", tz="UTC")),
            "ServiceName": pa.array([svc] * n),
            "HttpStatus": pa.array(status),
            "DurationMs": pa.array(dur),
            "Body": pa.array(["GET /"] * n),
        }))
    ops.lake.write("logs", pa.concat_tables(tables))
    return bad


AVAILABILITY = """\
apiVersion: openslo/v1
kind: SLO
metadata:
  name: {name}
  displayName: {service} availability
spec:
  service: {service}
  indicator:
    metadata:
      name: {name}-sli
    spec:
      ratioMetric:
        counter: true
        good:
          metricSource:
            type: lake
            spec:
              table: logs
              service: {service}
              filter: HttpStatus < 500
        total:
          metricSource:
            type: lake
            spec:
              table: logs
              service: {service}
              filter: HttpStatus IS NOT NULL
  timeWindow:
    - duration: {window}
      isRolling: true
  budgetingMethod: Occurrences
  objectives:
    - displayName: availability
      target: {target}
"""


@pytest.fixture
def slo_file() -> Callable[..., Path]:
    def make(directory: Path, name: str = "checkout-availability", service: str = "checkout",
             target: float = 0.999, window: str = "30d", text: str | None = None) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        p = directory / f"{name}.yaml"
        p.write_text(text if text is not None else AVAILABILITY.format(name=name, service=service, target=target,
                                                                        window=window))
        return p
    return make


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)
