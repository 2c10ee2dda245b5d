"""On-call under ``/opsnb/api/v1/oncall``.

``GET /oncall/schedules``; ``GET /oncall/now`` (who is on call on every schedule);
``GET /oncall/schedules/<name>/who?at=``; ``GET /oncall/schedules/<name>/shifts?start=&end=``;
``GET /oncall/schedules/<name>/calendar.ics?start=&end=`` (text/calendar);
``GET /oncall/escalation-policies``; ``GET /oncall/policies/<name>/plan?at=&ack_at=`` (a dry run);
``POST /oncall/escalate`` (also ``/oncall/escalations``) ``{"policy", "incident_id", "subject", "body"}``
(responder); ``POST /oncall/incidents/<id>/ack`` ``{"by"}`` (responder). Times use the opsnb grammar.
"""

from __future__ import annotations

from typing import Any

from opsnb.cliutil import records_of
from opsnb.errors import ValidationError
from opsnb.web.base import ANY, OBJ, STR, ApiHandler, endpoint, obj, page_of

_NAME = r"([A-Za-z0-9][A-Za-z0-9._-]{0,99})"
_INC = r"([A-Za-z0-9][A-Za-z0-9._:-]{0,99})"
_RANGE = {"start": STR, "end": STR}


class SchedulesHandler(ApiHandler):
    @endpoint("List on-call schedules", paginated=True, response=page_of("schedules"))
    def get(self) -> None:
        self.page("schedules", records_of(self.ops.oncall.list()))


class NowHandler(ApiHandler):
    @endpoint("Who is on call now (or at ?at=) on every schedule", query={"at": STR},
              response=obj(("at", "oncall"), at=ANY, oncall={"type": "array"}))
    def get(self) -> None:
        at = self.query_time("at")
        df = self.ops.oncall.list()
        if at is None:  # the list already says who is on call now: one read, not one per schedule
            rows = [{"schedule": str(r["name"]), "person": r["on_call_now"]} for r in records_of(df)]
        else:
            rows = [{"schedule": str(n), "person": self.ops.oncall.who_is_on_call(str(n), at)}
                    for n in df.get("name", [])]
        self.reply({"at": at.isoformat() if at else None, "oncall": rows})


class WhoHandler(ApiHandler):
    @endpoint("Who is on call on one schedule", query={"at": STR}, response=obj(schedule=STR, at=ANY, person=ANY))
    def get(self, name: str) -> None:
        at = self.query_time("at")
        self.reply({"schedule": name, "at": at.isoformat() if at else None,
                    "person": self.ops.oncall.who_is_on_call(name, at)})


def _range(h: ApiHandler) -> tuple[Any, Any]:
    start, end = h.query("start"), h.query("end")
    if not start or not end:
        raise ValidationError("start and end query parameters are required (e.g. start=now&end=now+7d)",
                              field="start")
    from opsnb.timeparse import parse_range

    return parse_range(start, end, names=("start", "end"))


class ShiftsHandler(ApiHandler):
    @endpoint("Final shifts of a schedule in a range", paginated=True, query=_RANGE,
              required_query=("start", "end"), response=page_of("shifts"))
    def get(self, name: str) -> None:
        df = self.ops.oncall.final_shifts(name, *_range(self))
        self.page("shifts", records_of(df), extra={"schedule": name})


class CalendarHandler(ApiHandler):
    @endpoint("A schedule's shifts as iCalendar", query=_RANGE, required_query=("start", "end"),
              content_type="text/calendar", response={"type": "string"})
    def get(self, name: str) -> None:
        text = self.ops.oncall.export_ical(name, *_range(self))
        self.reply_raw(text.encode("utf-8"), "text/calendar; charset=utf-8")


class PoliciesHandler(ApiHandler):
    @endpoint("List escalation policies", paginated=True, response=page_of("policies"))
    def get(self) -> None:
        self.page("policies", records_of(self.ops.oncall.policies()))


class PlanHandler(ApiHandler):
    @endpoint("Dry run of an escalation policy: who would be paged when", query={"at": STR, "ack_at": STR},
              response=obj(policy=STR, plan={"type": "array"}))
    def get(self, name: str) -> None:
        df = self.ops.oncall.plan(name, self.query_time("at"), self.query_time("ack_at"))
        self.reply({"policy": name, "plan": records_of(df)})


class EscalationsHandler(ApiHandler):
    @endpoint("Start an escalation for an incident", scope="oncall:write", role="responder", status=201,
              body=obj(("policy", "incident_id", "subject"), policy=STR, incident_id=STR, subject=STR, body=STR),
              response=obj(escalation=ANY, incident_id=STR))
    def post(self) -> None:
        body = self.json_object(("policy", "incident_id", "subject", "body"), ("policy", "incident_id", "subject"))
        bad = [k for k, v in body.items() if not isinstance(v, str)]
        if bad:
            raise ValidationError(f"{', '.join(bad)} must be text", field=bad[0])
        eid = self.ops.oncall.escalate(**body)
        self.reply({"escalation": eid, "incident_id": body["incident_id"]}, 201)


class AckHandler(ApiHandler):
    @endpoint("Acknowledge an incident's pages", scope="oncall:write", role="responder", body=obj(by=STR),
              response=OBJ)
    def post(self, incident_id: str) -> None:
        body = self.json_object(("by",), optional_body=True)
        by = body.get("by")
        if by is not None and not isinstance(by, str):
            raise ValidationError("by must be text", field="by")
        self.reply(self.ops.oncall.acknowledge(incident_id, by=by))


def routes() -> list[tuple[str, Any]]:
    return [
        ("/oncall/schedules", SchedulesHandler),
        ("/oncall/now", NowHandler),
        (f"/oncall/schedules/{_NAME}/who", WhoHandler),
        (f"/oncall/schedules/{_NAME}/shifts", ShiftsHandler),
        (f"/oncall/schedules/{_NAME}/calendar.ics", CalendarHandler),
        ("/oncall/escalation-policies", PoliciesHandler),
        (f"/oncall/policies/{_NAME}/plan", PlanHandler),
        ("/oncall/escalate", EscalationsHandler),
        ("/oncall/escalations", type("LegacyEscalationsHandler", (EscalationsHandler,), {})),
        (f"/oncall/incidents/{_INC}/ack", AckHandler),
    ]
