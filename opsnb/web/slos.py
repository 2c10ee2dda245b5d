"""``GET /slos`` (status of every SLO) and ``GET /slos/<name>/report?at=`` (one SLO's report)."""

from __future__ import annotations

import threading
from typing import Any

from opsnb.cliutil import records_of
from opsnb.web.base import OBJ, STR, ApiHandler, endpoint, page_of

_NAME = r"([a-z0-9][-a-z0-9]{0,62})"
_refresh = threading.Lock()


class SLOsHandler(ApiHandler):
    """``GET /slos?at=``: one record per SLO (status, SLI, budget remaining, burn rates, firing tiers)."""

    # Status is computed from the SLIs over each SLO's whole window (80 ms on the demo world); "now" is
    # served from this many seconds' cache, so a dashboard polling it does not recompute it per request.
    CACHE_SECONDS = 10.0

    @endpoint("Status of every SLO (now: at most 10 s old; ?at= computes afresh)", paginated=True,
              query={"at": STR}, response=page_of("slos"))
    def get(self) -> None:
        import time

        at = self.query_time("at")
        if at is not None:
            self.page("slos", records_of(self.ops.slos.status(at)))
            return
        cached = getattr(self.state, "_slo_status", None)
        stale = cached is None or time.monotonic() - cached[0] > self.CACHE_SECONDS
        # One request recomputes; the others meanwhile answer from the previous status, so an
        # expiry under load is not four workers computing the same 80 ms at once.
        if stale and _refresh.acquire(blocking=cached is None):
            try:
                cached = getattr(self.state, "_slo_status", None)
                if cached is None or time.monotonic() - cached[0] > self.CACHE_SECONDS:
                    cached = (time.monotonic(), records_of(self.ops.slos.status()))
                    self.state._slo_status = cached  # type: ignore[attr-defined]
            finally:
                _refresh.release()
        assert cached is not None
        self.page("slos", cached[1])


class SLOReportHandler(ApiHandler):
    """``GET /slos/<name>/report?at=``: the full report, as ``opsnb slo report --format json``."""

    @endpoint("One SLO's report", query={"at": STR}, response=OBJ)
    def get(self, name: str) -> None:
        self.reply(self.ops.slos[name].report(self.query_time("at")).as_dict())


def routes() -> list[tuple[str, Any]]:
    return [("/slos", SLOsHandler), (f"/slos/{_NAME}/report", SLOReportHandler)]
