"""Notifications under ``/opsnb/api/v1/notify``: ``GET /notify/deliveries?status=&channel=&limit=``,
``GET /notify/deliveries/<id>`` (with every attempt) and ``GET /notify/channels``."""

from __future__ import annotations

from typing import Any

from opsnb.cliutil import records_of
from opsnb.errors import ValidationError
from opsnb.web.base import OBJ, ApiHandler, endpoint, page_of


class DeliveriesHandler(ApiHandler):
    @endpoint("Notification deliveries, newest first", paginated=True,
              query={"status": {"enum": ["pending", "retrying", "sent", "failed"]}, "channel": {"type": "string"}},
              response=page_of("deliveries"))
    def get(self) -> None:
        status = self.get_query_argument("status", None) or None
        if status is not None and status not in ("pending", "retrying", "sent", "failed"):
            raise ValidationError(f"status {status[:20]!r} is not pending, retrying, sent or failed", field="status")
        df = self.ops.notify.deliveries(status=status, channel=self.get_query_argument("channel", None) or None,
                                        limit=10000)
        self.page("deliveries", records_of(df))


class DeliveryHandler(ApiHandler):
    @endpoint("One delivery with every attempt", response=OBJ)
    def get(self, did: str) -> None:
        d = self.ops.notify.get(int(did))
        self.reply(records_of(d)[0])


class ChannelsHandler(ApiHandler):
    @endpoint("Notification channels", paginated=True, response=page_of("channels"))
    def get(self) -> None:
        self.page("channels", records_of(self.ops.notify.channels()))


def routes() -> list[tuple[str, Any]]:
    return [("/notify/deliveries", DeliveriesHandler), (r"/notify/deliveries/([0-9]{1,12})", DeliveryHandler),
            ("/notify/channels", ChannelsHandler)]
