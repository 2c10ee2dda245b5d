"""Change events under ``/opsnb/api/v1/changes``.

``POST /changes`` takes a PagerDuty-shaped change event (``{"payload": {"summary", "timestamp",
"source", "custom_details"}, "links", "kind"?, "service"?, "env"?}``; ``routing_key`` is dropped,
never stored) and answers 202 once it is committed; a bad body gets a 400 naming the field.
``GET /changes?service=&kind=&since=&limit=`` lists them.
"""

from __future__ import annotations

from typing import Any

from opsnb.errors import ValidationError
from opsnb.web.alerts import frame_records
from opsnb.web.base import ApiHandler
from opsnb.web.deploys import STR, TIME, endpoint, obj, since_arg


class ChangesHandler(ApiHandler):
    """``POST /changes`` and ``GET /changes``."""

    @endpoint("Record a change event (PagerDuty change-event shape)", scope="deploys:write", role="responder",
              ingest=True, status=202, body=obj(("payload",), payload={"type": "object"}, links={"type": "array"},
                                                kind=STR, service=STR, env=STR),
              response=obj(("id",), status=STR, message=STR, id=STR))
    def post(self) -> None:
        ch = self.ops.changes.from_event(self.json_body(), _via_api=True)
        self.reply({"status": "success", "message": "Change event processed", "id": ch.id}, 202)

    @endpoint("List changes, newest first", query={"service": STR, "kind": STR, "since": TIME},
              response=obj(("changes", "count"), count={"type": "integer"}))
    def get(self) -> None:
        raw_limit = self.get_query_argument("limit", "1000")
        if not raw_limit.isdigit() or not 0 < int(raw_limit) <= 100_000:
            raise ValidationError("limit must be an integer from 1 to 100000", field="limit")
        df = self.ops.changes.list(service=self.get_query_argument("service", None) or None,
                                   kind=self.get_query_argument("kind", None) or None,
                                   since=since_arg(self), limit=int(raw_limit))
        self.reply({"changes": frame_records(df), "count": len(df)})


def routes() -> list[tuple[str, Any]]:
    return [("/changes", ChangesHandler)]
