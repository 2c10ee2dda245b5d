"""The API about itself: ``GET /openapi.json`` (the OpenAPI 3.1 document) and ``GET /metrics`` (Prometheus)."""

from __future__ import annotations

import json
from typing import Any

from opsnb.web.base import ApiHandler, endpoint


class OpenAPIHandler(ApiHandler):
    @endpoint("The OpenAPI 3.1 document of this API", public=True, offload=False,
              response={"type": "object", "required": ["openapi", "paths"]})
    def get(self) -> None:
        doc = getattr(self.state, "_openapi", None)
        if doc is None:
            from opsnb.web import API_PREFIX, all_routes
            from opsnb.web.openapi import document

            doc = self.state._openapi = json.dumps(document(all_routes(), API_PREFIX)).encode()  # type: ignore[attr-defined]
        self.reply_raw(doc, "application/json")


class MetricsHandler(ApiHandler):
    @endpoint("Prometheus metrics: requests and latency per route, alerts ingested, runbook runs, scheduler "
              "lag, notification queue", scope="read", role="viewer",
              content_type="text/plain; version=0.0.4", response={"type": "string"})
    def get(self) -> None:
        text = self.state.metrics.render(self.ops)
        self.reply_raw(text.encode(), "text/plain; version=0.0.4; charset=utf-8")


def routes() -> list[tuple[str, Any]]:
    return [("/openapi.json", OpenAPIHandler), ("/metrics", MetricsHandler)]
