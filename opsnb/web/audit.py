"""``GET /opsnb/api/v1/audit``: the audit trail, newest first (``?actor=&action=&target=&since=``); needs
scope ``audit:read`` and role operator."""

from __future__ import annotations

from typing import Any

from opsnb.web.alerts import frame_records
from opsnb.web.base import STR, ApiHandler, endpoint, page_of


class AuditHandler(ApiHandler):
    @endpoint("The audit trail, newest first", scope="audit:read", role="operator", paginated=True,
              query={"actor": STR, "action": {**STR, "description": "dotted verb; * matches any part"},
                     "target": STR, "since": STR},
              response=page_of("records"))
    def get(self) -> None:
        df = self.ops.audit.list(actor=self.query("actor"), action=self.query("action"), target=self.query("target"),
                                 since=self.query_time("since", ago=True), limit=10_000)
        self.page("records", frame_records(df))


def routes() -> list[tuple[str, Any]]:
    return [("/audit", AuditHandler)]
