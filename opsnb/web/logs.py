"""Logs under ``/opsnb/api/v1/logs``: ``GET /logs/query``, ``GET /logs/errors``, ``GET /logs/trace/<trace_id>``,
``GET /logs/correlation/<id>``. Ranges use the time grammar (``since=1h``, ``until=now``); every list pages."""

from __future__ import annotations

from typing import Any

from opsnb.web.alerts import frame_records
from opsnb.web.base import STR, ApiHandler, endpoint, page_of

_RANGE = {"since": STR, "until": STR, "service": STR}
_MAX_ROWS = 10_000  # a page is cut from at most this many rows; narrow the range for more
_ID = r"([A-Za-z0-9._:-]{1,128})"


def _range(h: ApiHandler, default: str = "1h") -> tuple[Any, Any]:
    from opsnb.timeparse import parse_range

    return parse_range(h.query("since"), h.query("until"), default_since=default)


class QueryHandler(ApiHandler):
    @endpoint("Log events in a range, newest first", paginated=True,
              query={**_RANGE, "severity": STR, "host": STR, "contains": STR, "status": STR},
              response=page_of("events"))
    def get(self) -> None:
        since, until = _range(self)
        status = self.query("status")
        df = self.ops.logs.query(since, until, service=self.query("service"), severity=self.query("severity"),
                                 host=self.query("host"), contains=self.query("contains"),
                                 status=status, limit=_MAX_ROWS, order="desc")
        self.page("events", frame_records(df))


class ErrorsHandler(ApiHandler):
    @endpoint("Error events (severity ERROR or above, or HTTP 5xx) in a range", paginated=True, query=_RANGE,
              response=page_of("events"))
    def get(self) -> None:
        since, until = _range(self)
        df = self.ops.logs.errors(since, until, service=self.query("service"))
        self.page("events", frame_records(df.head(_MAX_ROWS)))


class TraceHandler(ApiHandler):
    @endpoint("Log events of one trace", paginated=True, query={"since": STR, "until": STR},
              response=page_of("events"))
    def get(self, trace_id: str) -> None:
        since, until = _range(self, "7d")
        df = self.ops.logs.query(since, until, trace_id=trace_id, limit=_MAX_ROWS, order="asc")
        self.page("events", frame_records(df), extra={"trace_id": trace_id})


class CorrelationHandler(ApiHandler):
    @endpoint("Log events carrying a trace, request or correlation id", paginated=True,
              query={"since": STR, "until": STR}, response=page_of("events"))
    def get(self, correlation_id: str) -> None:
        since, until = _range(self, "7d")
        df = self.ops.logs.query(since, until, correlation_id=correlation_id, limit=_MAX_ROWS, order="asc")
        self.page("events", frame_records(df), extra={"correlation_id": correlation_id})


def routes() -> list[tuple[str, Any]]:
    return [("/logs/query", QueryHandler), ("/logs/errors", ErrorsHandler), (f"/logs/trace/{_ID}", TraceHandler),
            (f"/logs/correlation/{_ID}", CorrelationHandler)]
