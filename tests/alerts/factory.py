"""Builders of alert payloads for tests (Alertmanager v4 webhook bodies, Events v2 events)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from opsnb.alerts.payloads import fingerprint


def iso(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def am_alert(labels: dict[str, str], *, status: str = "firing", starts: datetime | None = None,
             ends: datetime | None = None, summary: str = "", fp: str | None = None) -> dict[str, Any]:
    starts = starts or datetime.now(UTC)
    return {"status": status, "labels": labels, "annotations": {"summary": summary} if summary else {},
            "startsAt": iso(starts), "endsAt": iso(ends) if ends else "0001-01-01T00:00:00Z",
            "generatorURL": "http://prometheus:9090/graph?g0.expr=up", "fingerprint": fp or fingerprint(labels)}


def am_body(alerts: list[dict[str, Any]], *, status: str | None = None) -> dict[str, Any]:
    status = status or ("firing" if any(a["status"] == "firing" for a in alerts) else "resolved")
    common = dict(alerts[0]["labels"]) if alerts else {}
    for a in alerts[1:]:
        common = {k: v for k, v in common.items() if a.get("labels", {}).get(k) == v}
    return {"version": "4", "groupKey": '{}:{alertname="' + common.get("alertname", "") + '"}',
            "truncatedAlerts": 0, "status": status, "receiver": "opsnb",
            "groupLabels": {"alertname": common.get("alertname", "")} if "alertname" in common else {},
            "commonLabels": common, "commonAnnotations": {}, "externalURL": "http://alertmanager:9093",
            "alerts": alerts}


def event(action: str = "trigger", dedup_key: str | None = "disk-web-1", **payload: Any) -> dict[str, Any]:
    e: dict[str, Any] = {"routing_key": "R0UT1NGKEY0000000000000000000000", "event_action": action}
    if dedup_key is not None:
        e["dedup_key"] = dedup_key
    if action == "trigger" or payload:
        e["payload"] = {"summary": "Disk 95% full on web-1", "source": "web-1", "severity": "critical",
                        "component": "checkout", **payload}
    return e
