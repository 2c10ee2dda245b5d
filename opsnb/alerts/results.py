"""Small typed results of the alerts service: ingest results, tick reports, one alert's state."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from opsnb.alerts.grouping import Notification
from opsnb.alerts.payloads import NormalizedAlert


@dataclass
class IngestResult:
    """What one payload did: the receipt, and how many alerts were new, changed or duplicates."""

    receipt_id: int
    received: int
    new: int = 0
    changed: int = 0
    deduped: int = 0
    ignored: int = 0  # acknowledge / resolve for a dedup_key never seen
    fingerprints: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"receipt": self.receipt_id, "received": self.received, "new": self.new, "changed": self.changed,
                "deduped": self.deduped, "ignored": self.ignored, "fingerprints": self.fingerprints}


@dataclass(frozen=True)
class Prepared:
    """A validated payload ready to store: its source, raw text and normalized alerts."""

    source: str
    raw: str
    alerts: list[NormalizedAlert]


@dataclass
class TickReport:
    """What one :meth:`Alerts.tick` did."""

    at: datetime
    flushed: int = 0
    notifications: list[Notification] = field(default_factory=list)
    incidents: list[str] = field(default_factory=list)  # incident ids opened or joined
    # pages started for incidents rules opened: {incident_id, policy, rule, escalation, error}
    pages: list[dict[str, Any]] = field(default_factory=list)
    runbooks: int = 0


@dataclass(frozen=True)
class AlertInfo:
    """One alert's state (``ops.alerts.get(fingerprint)``)."""

    fingerprint: str
    status: str
    labels: dict[str, str]
    annotations: dict[str, Any]
    starts_at: datetime
    ends_at: datetime | None
    source: str
    receive_count: int
    first_received_at: datetime
    last_received_at: datetime
    group_key: str
    incident_id: str | None
    generator_url: str
    last_payload: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    def _repr_html_(self) -> str:
        import html

        labels = " ".join(f"<code>{html.escape(k)}={html.escape(v)}</code>" for k, v in self.labels.items())
        color = {"firing": "#c0392b", "acknowledged": "#d68910", "resolved": "#1e8449"}.get(self.status, "#555")
        summary = html.escape(str(self.annotations.get("summary", "")))
        return (f"<div><b style='color:{color}'>{html.escape(self.status)}</b> "
                f"<code>{html.escape(self.fingerprint)}</code> {summary}<br>{labels}<br>"
                f"since {self.starts_at:%Y-%m-%d %H:%M:%S}Z &middot; received {self.receive_count}× &middot; "
                f"incident {html.escape(self.incident_id or '-')}</div>")
