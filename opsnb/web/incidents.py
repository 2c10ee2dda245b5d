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
from opsnb.web.base import ANY, INT, LIST, OBJ, STR, ApiHandler, endpoint, obj, page_of

_ID = r"([Ii][Nn][Cc]-[0-9]{1,9})"  # ids are case-insensitive: inc-7 is INC-7 (no inline flags: OpenAPI patterns)
_INCIDENT = obj(("id",), id=STR, title=STR, status=STR, severity=STR, timeline=LIST)


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

    @endpoint("List incidents", paginated=True, query={"status": STR, "service": STR, "since": STR},
              response=page_of("incidents"))
    def get(self) -> None:
        df = self.ops.incidents.list(status=self.query("status"), service=self.query("service"),
                                     since=query_time(self, "since", ago=True))
        self.page("incidents", frame_records(df))

    @endpoint("Open an incident", scope="incidents:write", role="responder", status=201,
              body=obj(("title", "service"), title=STR, service=STR, severity=STR, services={"type": "array"},
                       summary=STR, impact_start=STR, detected_at=STR, commander=STR, reason=STR, policy=STR),
              response=_INCIDENT)
    def post(self) -> None:
        body = self.json_object(self.CREATE, ("title", "service"))
        _times(body, "impact_start", "detected_at")
        inc = self.ops.incidents.create(**body)
        self.reply(_incident(inc), 201)


class IncidentHandler(ApiHandler):
    """``GET /incidents/<id>`` and ``PATCH /incidents/<id>``."""

    UPDATE = ("status", "severity", "title", "summary", "commander", "scribe", "communications", "responders",
              "at", "reason")

    @endpoint("One incident with its links and timeline", response=_INCIDENT)
    def get(self, incident_id: str) -> None:
        self.reply(_incident(self.ops.incidents.get(incident_id)))

    @endpoint("Change an incident's status, severity or roles", scope="incidents:write", role="responder",
              body=obj(status=STR, severity=STR, title=STR, summary=STR, commander=STR, scribe=STR,
                       communications=STR, responders={"type": "array"}, at=STR, reason=STR),
              response=_INCIDENT)
    def patch(self, incident_id: str) -> None:
        body = self.json_object(self.UPDATE)
        _times(body, "at")
        self.reply(_incident(self.ops.incidents.update(incident_id, **body)))


class NotesHandler(ApiHandler):
    """``POST /incidents/<id>/notes`` with ``{"text": ...}``."""

    @endpoint("Add a note to an incident's timeline", scope="incidents:write", role="responder", status=201,
              body=obj(("text",), text=STR, at=STR), response=obj(incident=STR, entry=ANY))
    def post(self, incident_id: str) -> None:
        body = self.json_object(("text", "at"), ("text",))
        _times(body, "at")
        eid = self.ops.incidents.add_note(incident_id, body["text"], at=body.get("at"))
        self.reply({"incident": incident_id, "entry": eid}, 201)


class PageHandler(ApiHandler):
    """``POST /incidents/<id>/page`` with ``{"policy": ..., "reason": ...}``: page under an escalation policy."""

    @endpoint("Page under an escalation policy", scope="incidents:write", role="responder", status=202,
              body=obj(("policy",), policy=STR, reason=STR, at=STR), response=obj(incident=STR, escalation=ANY))
    def post(self, incident_id: str) -> None:
        body = self.json_object(("policy", "reason", "at"), ("policy",))
        _times(body, "at")
        escalation = self.ops.incidents.page(incident_id, **body)
        self.reply({"incident": incident_id, "escalation": escalation}, 202)


class TimelineHandler(ApiHandler):
    @endpoint("An incident's timeline, oldest first; ``?suspects=N`` merges in the N best-ranked suspect changes",
              paginated=True, query={"suspects": INT}, response=page_of("timeline"))
    def get(self, incident_id: str) -> None:
        suspects = self.query_int("suspects", 0, 0, 20)
        timeline = self.ops.incidents.timeline(incident_id, suspects=suspects)
        self.page("timeline", frame_records(timeline), extra={"incident": incident_id})


class SloImpactHandler(ApiHandler):
    @endpoint("Per linked SLO, the error budget burned during the incident's impact window",
              response=obj(("incident", "slos"), incident=STR, slos=LIST))
    def get(self, incident_id: str) -> None:
        self.reply({"incident": incident_id, "slos": frame_records(self.ops.incidents.slo_impact(incident_id))})


class ErrorBudgetHandler(ApiHandler):
    @endpoint("Error budget of each linked SLO: spent during the incident and left now",
              response=obj(("incident", "budgets"), incident=STR, budgets=LIST))
    def get(self, incident_id: str) -> None:
        impact = frame_records(self.ops.incidents.slo_impact(incident_id))
        status = {r["name"]: r for r in frame_records(self.ops.slos.status())} if impact else {}
        out = []
        for row in impact:
            now = status.get(row["slo"], {})
            out.append({"slo": row["slo"], "burned_during_incident": row.get("budget_burned"),
                        "remaining_now": now.get("budget_remaining"), "status": now.get("status"),
                        "start": row.get("start"), "end": row.get("end"), "error": row.get("error")})
        self.reply({"incident": incident_id, "budgets": out})


class PostmortemHandler(ApiHandler):
    @endpoint("The incident's postmortem (status, versions, path)", response=OBJ)
    def get(self, incident_id: str) -> None:
        from opsnb.incidents.service import normalise_id

        self.reply(_plain(self.ops.postmortems.get(normalise_id(incident_id)).as_dict()))

    @endpoint("Draft (or re-draft) the incident's postmortem notebook; people's cells are kept",
              scope="postmortems:write", role="responder", status=201, body=obj(template=STR, reason=STR),
              response=OBJ)
    def post(self, incident_id: str) -> None:
        from opsnb.incidents.service import normalise_id

        body = self.json_object(("template", "reason"), optional_body=True)
        iid = normalise_id(incident_id)
        self.ops.incidents.get(iid)
        pm = self.ops.postmortems.draft(iid, template=body.get("template"), reason=str(body.get("reason") or ""))
        self.reply(_plain(pm.as_dict()), 201)


def _plain(d: dict[str, Any]) -> dict[str, Any]:
    import json

    out: dict[str, Any] = json.loads(json.dumps(d, default=str))
    return out


def routes() -> list[tuple[str, Any]]:
    return [("/incidents", IncidentsHandler), (f"/incidents/{_ID}", IncidentHandler),
            (f"/incidents/{_ID}/notes", NotesHandler), (f"/incidents/{_ID}/page", PageHandler),
            (f"/incidents/{_ID}/timeline", TimelineHandler), (f"/incidents/{_ID}/slo-impact", SloImpactHandler),
            (f"/incidents/{_ID}/error-budget", ErrorBudgetHandler),
            (f"/incidents/{_ID}/postmortem", PostmortemHandler)]
