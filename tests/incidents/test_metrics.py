"""MTTD / MTTA / MTTM / MTTR by the reference's definitions, with median and p90."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from opsnb.incidents.metrics import durations, summarize

T0 = datetime(2025, 3, 3, 12, 0, tzinfo=UTC)


def frame(rows: list[dict]) -> pd.DataFrame:
    cols = ["id", "service", "severity", "status", "impact_start", "detected_at", "paged_at", "acknowledged_at",
            "mitigated_at", "resolved_at"]
    df = pd.DataFrame(rows, columns=cols)
    for c in cols[4:]:
        df[c] = pd.to_datetime(df[c], utc=True)
    return df


def m(x: float) -> datetime:
    return T0 + timedelta(minutes=x)


def test_definitions_and_fallbacks() -> None:
    df = frame([{"id": "INC-1", "service": "a", "severity": "SEV2", "status": "resolved", "impact_start": m(0),
                 "detected_at": m(4), "paged_at": m(5), "acknowledged_at": m(7), "mitigated_at": m(20),
                 "resolved_at": m(50)},
                {"id": "INC-2", "service": "a", "severity": "SEV2", "status": "resolved", "impact_start": m(0),
                 "detected_at": m(10), "paged_at": None, "acknowledged_at": m(13), "mitigated_at": None,
                 "resolved_at": m(30)}])
    d = durations(df).set_index("id")
    assert d.loc["INC-1", ["MTTD", "MTTA", "MTTM", "MTTR"]].tolist() == [4, 2, 20, 50]
    # paged falls back to detected; mitigated to resolved
    assert d.loc["INC-2", ["MTTD", "MTTA", "MTTM", "MTTR"]].tolist() == [10, 3, 30, 30]


def test_mean_median_p90_per_group() -> None:
    rows = [{"id": f"INC-{i}", "service": "a", "severity": "SEV2", "status": "resolved", "impact_start": m(0),
             "detected_at": m(i), "paged_at": None, "acknowledged_at": m(i + 1), "mitigated_at": m(2 * i + 1),
             "resolved_at": m(10 * i)} for i in range(1, 11)]
    rows.append({"id": "INC-99", "service": "b", "severity": "SEV1", "status": "triggered", "impact_start": m(0),
                 "detected_at": m(3), "paged_at": None, "acknowledged_at": None, "mitigated_at": None,
                 "resolved_at": None})
    out = summarize(frame(rows))
    a = out[(out.service == "a")].set_index("metric")
    assert list(a.index) == ["MTTD", "MTTA", "MTTM", "MTTR"]
    assert a.loc["MTTD", "n"] == 10 and a.loc["MTTD", "mean_min"] == pytest.approx(5.5)
    assert a.loc["MTTD", "median_min"] == pytest.approx(5.5) and a.loc["MTTD", "p90_min"] == pytest.approx(9.1)
    assert a.loc["MTTR", "p90_min"] == pytest.approx(91.0)
    b = out[out.service == "b"].set_index("metric")
    assert list(b.index) == ["MTTD"]  # unacknowledged, unresolved: only MTTD is defined
    overall = summarize(frame(rows), by=())
    assert overall.set_index("metric").loc["MTTD", "n"] == 11


def test_service_metrics_window_and_groups(ops) -> None:
    for i, sev in enumerate(["SEV1", "SEV2", "SEV2"]):
        inc = ops.incidents.create(title=f"t{i}", service="checkout", severity=sev, impact_start=m(100 * i),
                                   detected_at=m(100 * i + 5))
        ops.incidents.update(inc.id, status="acknowledged", at=m(100 * i + 8))
        ops.incidents.update(inc.id, status="resolved", at=m(100 * i + 60))
    declined = ops.incidents.create(title="noise", service="checkout", impact_start=m(0), detected_at=m(1))
    ops.incidents.decline(declined.id, reason="false alarm")
    out = ops.incidents.metrics()
    sev2 = out[(out.severity == "SEV2")].set_index("metric")
    assert sev2.loc["MTTA", "n"] == 2 and sev2.loc["MTTA", "mean_min"] == pytest.approx(3.0)
    assert sev2.loc["MTTR", "median_min"] == pytest.approx(60.0)
    late = ops.incidents.metrics(start=m(150), by=("service",))
    assert late.set_index("metric").loc["MTTD", "n"] == 1
    with pytest.raises(Exception, match="cannot group"):
        ops.incidents.metrics(by=("weather",))
