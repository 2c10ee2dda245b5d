"""``GET /opsnb/api/v1/metrics``: the API's own metrics in the Prometheus text format (version 0.0.4).

Counted in the server as requests finish: requests by route template, method and status, and a
latency histogram per route and method; alerts ingested by webhook kind. Read from the state
database at scrape time: runbook runs by status, scheduler lag (how overdue the most overdue
enabled schedule is) and the notification queue by status.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from opsnb.workbench import Workbench

BUCKETS: tuple[float, ...] = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    """In-process counters and histograms; thread-safe (workers and the loop both record)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: dict[tuple[str, str, int], int] = defaultdict(int)
        self.hist: dict[tuple[str, str], list[float]] = {}
        self.alerts: dict[str, int] = defaultdict(int)

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        with self._lock:
            self.requests[(route, method, status)] += 1
            h = self.hist.get((route, method))
            if h is None:
                h = self.hist[(route, method)] = [0.0] * (len(BUCKETS) + 2)  # buckets, count, sum
            for i, b in enumerate(BUCKETS):
                if seconds <= b:
                    h[i] += 1
            h[-2] += 1
            h[-1] += seconds

    def ingested(self, kind: str, n: int) -> None:
        with self._lock:
            self.alerts[kind] += n

    def render(self, ops: Workbench) -> str:
        """Everything, as Prometheus text."""
        out: list[str] = []
        with self._lock:
            out += ["# HELP opsnb_api_requests_total API requests by route template, method and status.",
                    "# TYPE opsnb_api_requests_total counter"]
            for (route, method, status), n in sorted(self.requests.items()):
                out.append(f"opsnb_api_requests_total{_labels(route=route, method=method, status=str(status))} {n}")
            out += ["# HELP opsnb_api_request_duration_seconds API request latency by route template and method.",
                    "# TYPE opsnb_api_request_duration_seconds histogram"]
            for (route, method), h in sorted(self.hist.items()):
                for i, b in enumerate(BUCKETS):
                    out.append(f"opsnb_api_request_duration_seconds_bucket{_labels(route=route, method=method, le=repr(b))}"
                               f" {int(h[i])}")
                out.append(f"opsnb_api_request_duration_seconds_bucket{_labels(route=route, method=method, le='+Inf')}"
                           f" {int(h[-2])}")
                out.append(f"opsnb_api_request_duration_seconds_count{_labels(route=route, method=method)} {int(h[-2])}")
                out.append(f"opsnb_api_request_duration_seconds_sum{_labels(route=route, method=method)} {h[-1]:.6f}")
            out += ["# HELP opsnb_alerts_ingested_total Alerts received by the webhook routes, by kind.",
                    "# TYPE opsnb_alerts_ingested_total counter"]
            for kind in ("alertmanager", "events", "slo"):
                out.append(f"opsnb_alerts_ingested_total{_labels(kind=kind)} {self.alerts.get(kind, 0)}")
        out += _from_db(ops)
        return "\n".join(out) + "\n"


def _from_db(ops: Workbench) -> list[str]:
    from sqlalchemy import func, select

    from opsnb.notify.models import Delivery
    from opsnb.runbooks.models import RunRecord, ScheduleRecord
    from opsnb.store.types import utcnow

    now = utcnow()
    with ops.db.session() as s:
        runs = dict(s.execute(select(RunRecord.status, func.count()).group_by(RunRecord.status)).all())
        queue = dict(s.execute(select(Delivery.status, func.count()).group_by(Delivery.status)).all())
        oldest: Any = s.scalar(select(func.min(ScheduleRecord.next_run_at)).where(ScheduleRecord.enabled.is_(True)))
    if oldest is not None and oldest.tzinfo is None:
        from datetime import UTC

        oldest = oldest.replace(tzinfo=UTC)
    lag = max(0.0, (now - oldest).total_seconds()) if oldest is not None else 0.0
    out = ["# HELP opsnb_runbook_runs Runbook runs in the ledger by status.", "# TYPE opsnb_runbook_runs gauge"]
    for status in sorted(set(runs) | {"running", "succeeded", "failed", "cancelled"}):
        out.append(f"opsnb_runbook_runs{_labels(status=status)} {runs.get(status, 0)}")
    out += ["# HELP opsnb_scheduler_lag_seconds How overdue the most overdue enabled schedule is (0 when none is).",
            "# TYPE opsnb_scheduler_lag_seconds gauge", f"opsnb_scheduler_lag_seconds {lag:.3f}",
            "# HELP opsnb_notify_queue Notification deliveries by status.", "# TYPE opsnb_notify_queue gauge"]
    for status in ("pending", "retrying", "sent", "failed"):
        out.append(f"opsnb_notify_queue{_labels(status=status)} {queue.get(status, 0)}")
    return out


def _labels(**kv: str) -> str:
    def esc(v: str) -> str:
        return v.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')

    return "{" + ",".join(f'{k}="{esc(v)}"' for k, v in kv.items()) + "}"
