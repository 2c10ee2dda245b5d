"""Notifications under ``/opsnb/api/v1/notify``: ``GET /notify/deliveries?status=&channel=&limit=``,
``GET /notify/deliveries/<id>`` (with every attempt) and ``GET /notify/channels``."""

from __future__ import annotations

from typing import Any

from opsnb.cliutil import records_of
from opsnb.errors import ValidationError
from opsnb.web.base import ApiHandler


class DeliveriesHandler(ApiHandler):
    def get(self) -> None:
        raw = self.get_query_argument("limit", "100")
        if not raw.isdigit() or not 0 <= int(raw) <= 10000:
            raise ValidationError(f"limit must be 0..10000, got {raw[:20]!r}", field="limit")
        status = self.get_query_argument("status", None) or None
        if status is not None and status not in ("pending", "retrying", "sent", "failed"):
            raise ValidationError(f"status {status[:20]!r} is not pending, retrying, sent or failed", field="status")
        df = self.ops.notify.deliveries(status=status, channel=self.get_query_argument("channel", None) or None,
                                        limit=int(raw))
        self.reply({"deliveries": records_of(df), "count": len(df)})


class DeliveryHandler(ApiHandler):
    def get(self, did: str) -> None:
        d = self.ops.notify.get(int(did))
        self.reply(records_of(d)[0])


class ChannelsHandler(ApiHandler):
    def get(self) -> None:
        df = self.ops.notify.channels()
        self.reply({"channels": records_of(df), "count": len(df)})


def routes() -> list[tuple[str, Any]]:
    return [("/notify/deliveries", DeliveriesHandler), (r"/notify/deliveries/([0-9]{1,12})", DeliveryHandler),
            ("/notify/channels", ChannelsHandler)]
