"""Incidents under ``/opsnb/api/v1/incidents``.

``GET /incidents`` (``?status=open&service=&since=``), ``GET /incidents/<id>``
(with links and timeline), ``POST /incidents`` (open one), ``PATCH /incidents/<id>``
(status, severity, roles), ``POST /incidents/<id>/notes``. Mutations act as the
server's user and need the same roles as the library (responder).
"""

from __future__ import annotations

from typing import Any

from opsnb.timeparse import parse_instant
from opsnb.web.alerts import frame_records, query_time
from opsnb.web.base import ApiHandler

_ID = r"((?i:inc)-[0-9]{1,9})"  # ids are case-insensitive: inc-7 is INC-7


def _times(body: dict[str, Any], *names: str) -> None:
    for n in names:
        if body.get(n) is not None:
            body[n] = parse_instant(body[n], name=n)


def _incident(inc: Any) -> dict[str, Any]:
    d = inc.as_dict()
    d["timeline"] = frame_records(inc.timeline) if inc.timeline is not None else []
    return d


class IncidentsHandler(ApiHandler):
    """``GET /incidents`` and ``POST /incidents``."""

    CREATE = ("title", "service", "severity", "services", "summary", "impact_start", "detected_at", "commander",
              "reason", "policy")

    def get(self) -> None:
        status = self.get_query_argument("status", None) or None
        df = self.ops.incidents.list(status=status, service=self.get_query_argument("service", None) or None,
                                     since=query_time(self, "since", ago=True))
        self.reply({"incidents": frame_records(df), "count": len(df)})

    def post(self) -> None:
        body = self.json_object(self.CREATE, ("title", "service"))
        _times(body, "impact_start", "detected_at")
        inc = self.ops.incidents.create(**body)
        self.reply(_incident(inc), 201)


class IncidentHandler(ApiHandler):
    """``GET /incidents/<id>`` and ``PATCH /incidents/<id>``."""

    UPDATE = ("status", "severity", "title", "summary", "commander", "scribe", "communications", "responders",
              "at", "reason")

    def get(self, incident_id: str) -> None:
        self.reply(_incident(self.ops.incidents.get(incident_id)))

    def patch(self, incident_id: str) -> None:
        body = self.json_object(self.UPDATE)
        _times(body, "at")
        self.reply(_incident(self.ops.incidents.update(incident_id, **body)))


class NotesHandler(ApiHandler):
    """``POST /incidents/<id>/notes`` with ``{"text": ...}``."""

    def post(self, incident_id: str) -> None:
        body = self.json_object(("text", "at"), ("text",))
        _times(body, "at")
        eid = self.ops.incidents.add_note(incident_id, body["text"], at=body.get("at"))
        self.reply({"incident": incident_id, "entry": eid}, 201)


class PageHandler(ApiHandler):
    """``POST /incidents/<id>/page`` with ``{"policy": ..., "reason": ...}``: page under an escalation policy."""

    def post(self, incident_id: str) -> None:
        body = self.json_object(("policy", "reason", "at"), ("policy",))
        _times(body, "at")
        escalation = self.ops.incidents.page(incident_id, **body)
        self.reply({"incident": incident_id, "escalation": escalation}, 202)


def routes() -> list[tuple[str, Any]]:
    return [("/incidents", IncidentsHandler), (f"/incidents/{_ID}", IncidentHandler),
            (f"/incidents/{_ID}/notes", NotesHandler), (f"/incidents/{_ID}/page", PageHandler)]
