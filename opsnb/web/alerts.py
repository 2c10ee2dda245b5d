"""Alert webhooks and listing under ``/opsnb/api/v1/alerts``.

``POST /alerts/alertmanager`` (Alertmanager webhook v4), ``POST /alerts/events``
(Events-v2-style event or array), ``POST /alerts/slo`` (SLO burn-rate alert) answer
202 once the raw payload and the alert state are stored; ``GET /alerts`` lists
alerts (``?status=firing&since=...&labels=service="checkout"``).

Webhooks are validated in the handler (a bad one gets its 4xx at once and writes
nothing); valid ones are stored by a group-commit writer on the event loop, many
concurrent requests per transaction, each answered after its commit. The first
webhook starts a 1-second ticker that runs ``ops.alerts.tick()`` in a worker
thread, so groups are flushed, notifications sent and incidents opened while the
server runs.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from datetime import datetime
from typing import Any

from opsnb.errors import ValidationError
from opsnb.timeparse import parse_instant
from opsnb.web.base import ANY, BOOL, INT, LIST, STR, ApiHandler, endpoint, obj, page_of

log = logging.getLogger(__name__)
_ticker_lock = threading.Lock()


def frame_records(df: Any) -> list[dict[str, Any]]:
    """A DataFrame as JSON-ready records (times ISO 8601, NaT/NaN as null)."""
    return json.loads(df.to_json(orient="records", date_format="iso", date_unit="us"))


def query_time(handler: ApiHandler, name: str, *, ago: bool = False) -> datetime | None:
    """A query parameter in the time grammar (ISO 8601, naive means UTC; ``now``, ``-1h``; ``1h`` ago
    where ``ago``), or None when absent; a bad value is a 400 naming the parameter."""
    raw = handler.get_query_argument(name, None)
    if raw is None or raw == "":
        return None
    return parse_instant(raw, name=name, ago=ago)


def _start_ticker(handler: ApiHandler) -> None:
    state = handler.settings["opsnb"]
    if getattr(state, "_alerts_ticker", None) is not None:
        return
    from tornado.ioloop import IOLoop, PeriodicCallback

    with _ticker_lock:
        if getattr(state, "_alerts_ticker", None) is not None:
            return
        busy = threading.Event()
        loop = IOLoop.current()

        def run() -> None:
            try:
                state.ops.alerts.tick()
            except Exception:  # keep ticking; the error is in the server log
                log.exception("alerts tick failed")
            finally:
                busy.clear()

        def schedule() -> None:
            if not busy.is_set():
                busy.set()
                loop.run_in_executor(None, run)

        pc = PeriodicCallback(schedule, 1000)
        pc.start()
        state._alerts_ticker = pc


class _Writer:
    """Group commit: webhooks that arrive while others wait are stored together in one transaction.

    Runs on the server's event loop: a handler queues its validated payload, and a callback
    scheduled :attr:`GATHER_SECONDS` after the first one stores everything queued in a single
    transaction, then answers each sender. Each still gets its 202 only after the transaction
    holding its payload committed ("stored before acknowledged"); under load one commit serves
    many requests. Doing it on the loop thread (not a worker thread) avoids two threads fighting
    over the GIL for every request.
    """

    MAX_BATCH = 500
    # How long the first queued webhook waits for others to share its transaction. A transaction
    # costs about 0.3 ms of the loop's time; one per request at 1,000 requests/s kept the loop
    # saturated, and queueing, not work, made the tail latency.
    GATHER_SECONDS = 0.004

    def __init__(self, state: Any) -> None:
        self._state = state
        self._queue: list[tuple[Any, asyncio.Future[Any]]] = []
        self._scheduled = False
        self._alerts: Any = None

    @property
    def alerts(self) -> Any:
        """``ops.alerts``, looked up once (the workbench's lookup takes a lock)."""
        if self._alerts is None:
            self._alerts = self._state.ops.alerts
        return self._alerts

    async def submit(self, prepared: Any) -> Any:
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[Any] = loop.create_future()
        self._queue.append((prepared, fut))
        if not self._scheduled:
            self._scheduled = True
            loop.call_later(self.GATHER_SECONDS, self._drain)
        return await fut

    def _drain(self) -> None:
        self._scheduled = False
        alerts = self.alerts
        while self._queue:
            batch = self._queue[: self.MAX_BATCH]
            del self._queue[: self.MAX_BATCH]
            try:
                results = alerts.store([b[0] for b in batch], _via_api=True)
                for (_, fut), res in zip(batch, results, strict=True):
                    _resolve(fut, res, None)
            except Exception as exc:
                if len(batch) == 1:
                    _resolve(batch[0][1], None, exc)
                    continue
                for prepared, fut in batch:  # find the one that fails; the others are stored on their own
                    try:
                        _resolve(fut, alerts.store([prepared], _via_api=True)[0], None)
                    except Exception as one:
                        _resolve(fut, None, one)


def _resolve(fut: asyncio.Future[Any], result: Any, exc: BaseException | None) -> None:
    if fut.done():
        return
    if exc is not None:
        fut.set_exception(exc)
    else:
        fut.set_result(result)


def _writer(handler: ApiHandler) -> _Writer:
    state = handler.settings["opsnb"]
    w = getattr(state, "_alerts_writer", None)
    if w is None:
        with _ticker_lock:
            w = getattr(state, "_alerts_writer", None)
            if w is None:
                w = state._alerts_writer = _Writer(state)
    return w


class AlertmanagerHandler(ApiHandler):
    """``POST /alerts/alertmanager``: an Alertmanager webhook (version 4)."""

    @endpoint("Receive an Alertmanager webhook (version 4)", scope="alerts:write", role="viewer", ingest=True,
              status=202, body=obj(("version", "alerts"), version=STR, alerts=LIST),
              response=obj(("receipt",), status=STR, receipt=ANY, received=INT, new=INT, changed=INT, deduped=INT))
    async def post(self) -> None:
        writer = _writer(self)
        res = await writer.submit(writer.alerts.prepare_alertmanager(self.request.body))
        self.state.metrics.ingested("alertmanager", res.received)
        _start_ticker(self)
        self.reply({"status": "accepted", "receipt": res.receipt_id, "received": res.received, "new": res.new,
                    "changed": res.changed, "deduped": res.deduped}, 202)


class EventsHandler(ApiHandler):
    """``POST /alerts/events``: one Events-v2-style event, or an array of them."""

    @endpoint("Receive one Events-v2-style event or an array of them", scope="alerts:write", role="viewer",
              ingest=True, status=202, body={"type": ["object", "array"]},
              response=obj(("status",), status=STR, message=STR, receipt=ANY))
    async def post(self) -> None:
        body = self.json_body()
        writer = _writer(self)
        res = await writer.submit(writer.alerts.prepare_events(body))
        self.state.metrics.ingested("events", res.received)
        _start_ticker(self)
        if isinstance(body, list):
            self.reply({"status": "success", "message": f"{res.received} events processed",
                        "dedup_keys": res.fingerprints, "receipt": res.receipt_id}, 202)
        else:
            msg = "Event processed" if not res.ignored else "No alert with this dedup_key; nothing changed"
            self.reply({"status": "success", "message": msg, "dedup_key": res.fingerprints[0],
                        "receipt": res.receipt_id}, 202)


class SloHandler(ApiHandler):
    """``POST /alerts/slo``: ``{"slo", "tier", "burn_rate", "window", "firing", "service"?}``."""

    FIELDS = ("slo", "tier", "burn_rate", "window", "firing", "service")

    @endpoint("Receive an SLO burn-rate alert", scope="alerts:write", role="viewer", ingest=True, status=202,
              body=obj(("slo", "tier", "burn_rate", "window", "firing"), slo=STR, tier=STR, burn_rate={"type": "number"},
                       window=STR, firing=BOOL, service=STR),
              response=obj(("receipt",), status=STR, receipt=ANY, fingerprint=STR))
    async def post(self) -> None:
        body = self.json_body()
        if not isinstance(body, dict):
            raise ValidationError("body must be a JSON object", field="body")
        unknown = sorted(set(body) - set(self.FIELDS))
        missing = [f for f in self.FIELDS[:5] if f not in body]
        if unknown or missing:
            raise ValidationError("bad slo alert:", problems=[f"{u}: unknown field" for u in unknown]
                                  + [f"{m}: missing" for m in missing], field="body")
        writer = _writer(self)
        res = await writer.submit(writer.alerts.prepare_slo(**{k: body.get(k) for k in self.FIELDS}))
        self.state.metrics.ingested("slo", 1)
        _start_ticker(self)
        self.reply({"status": "accepted", "receipt": res.receipt_id, "fingerprint": res.fingerprints[0],
                    "new": res.new, "changed": res.changed, "deduped": res.deduped}, 202)


class AlertsHandler(ApiHandler):
    """``GET /alerts?status=&since=&labels=&limit=&cursor=``."""

    @endpoint("List alerts, newest first", paginated=True,
              query={"status": {"enum": ["firing", "acknowledged", "resolved"]}, "since": STR,
                     "labels": {**STR, "description": 'label matchers, e.g. service="checkout"'}},
              response=page_of("alerts"))
    def get(self) -> None:
        status = self.query_choice("status", ("firing", "acknowledged", "resolved"))
        df = self.ops.alerts.list(status=status, since=query_time(self, "since", ago=True), labels=self.query("labels"),
                                  limit=100_000)
        self.page("alerts", frame_records(df))


def routes() -> list[tuple[str, Any]]:
    return [("/alerts/alertmanager", AlertmanagerHandler), ("/alerts/events", EventsHandler),
            ("/alerts/slo", SloHandler), ("/alerts", AlertsHandler)]
