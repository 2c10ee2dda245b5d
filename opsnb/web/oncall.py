"""On-call under ``/opsnb/api/v1/oncall``.

``GET /oncall/schedules``; ``GET /oncall/schedules/<name>/who?at=``;
``GET /oncall/schedules/<name>/shifts?start=&end=``;
``GET /oncall/schedules/<name>/calendar.ics?start=&end=`` (text/calendar);
``GET /oncall/policies/<name>/plan?at=&ack_at=`` (a dry run);
``POST /oncall/escalations`` ``{"policy", "incident_id", "subject", "body"}`` (responder);
``POST /oncall/incidents/<id>/ack`` ``{"by"}`` (responder).
"""

from __future__ import annotations

from typing import Any

from opsnb.cliutil import records_of
from opsnb.errors import ValidationError
from opsnb.web.base import ApiHandler

_NAME = r"([A-Za-z0-9][A-Za-z0-9._-]{0,99})"
_INC = r"([A-Za-z0-9][A-Za-z0-9._:-]{0,99})"


class SchedulesHandler(ApiHandler):
    def get(self) -> None:
        df = self.ops.oncall.list()
        self.reply({"schedules": records_of(df), "count": len(df)})


class WhoHandler(ApiHandler):
    def get(self, name: str) -> None:
        at = self.get_query_argument("at", None) or None
        self.reply({"schedule": name, "at": at, "person": self.ops.oncall.who_is_on_call(name, at)})


def _range(h: ApiHandler) -> tuple[str, str]:
    start, end = h.get_query_argument("start", None), h.get_query_argument("end", None)
    if not start or not end:
        raise ValidationError("start and end query parameters are required (ISO 8601)", field="start")
    return start, end


class ShiftsHandler(ApiHandler):
    def get(self, name: str) -> None:
        df = self.ops.oncall.final_shifts(name, *_range(self))
        self.reply({"schedule": name, "shifts": records_of(df), "count": len(df)})


class CalendarHandler(ApiHandler):
    def get(self, name: str) -> None:
        text = self.ops.oncall.export_ical(name, *_range(self))
        self.set_header("Content-Type", "text/calendar; charset=utf-8")
        self.finish(text.encode("utf-8"))


class PlanHandler(ApiHandler):
    def get(self, name: str) -> None:
        df = self.ops.oncall.plan(name, self.get_query_argument("at", None) or None,
                                  self.get_query_argument("ack_at", None) or None)
        self.reply({"policy": name, "plan": records_of(df)})


class EscalationsHandler(ApiHandler):
    def post(self) -> None:
        body = self.json_object(("policy", "incident_id", "subject", "body"), ("policy", "incident_id", "subject"))
        eid = self.ops.oncall.escalate(**body)
        self.reply({"escalation": eid, "incident_id": body["incident_id"]}, 201)


class AckHandler(ApiHandler):
    def post(self, incident_id: str) -> None:
        body = self.json_object(("by",)) if self.request.body else {}
        out = self.ops.oncall.acknowledge(incident_id, by=body.get("by"))
        self.reply(out)


def routes() -> list[tuple[str, Any]]:
    return [
        ("/oncall/schedules", SchedulesHandler),
        (f"/oncall/schedules/{_NAME}/who", WhoHandler),
        (f"/oncall/schedules/{_NAME}/shifts", ShiftsHandler),
        (f"/oncall/schedules/{_NAME}/calendar.ics", CalendarHandler),
        (f"/oncall/policies/{_NAME}/plan", PlanHandler),
        ("/oncall/escalations", EscalationsHandler),
        (f"/oncall/incidents/{_INC}/ack", AckHandler),
    ]
