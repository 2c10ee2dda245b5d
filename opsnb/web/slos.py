"""``GET /slos`` (status of every SLO) and ``GET /slos/<name>/report?at=`` (one SLO's report)."""

from __future__ import annotations

from typing import Any

from opsnb.cliutil import records_of
from opsnb.web.base import OBJ, STR, ApiHandler, endpoint, page_of

_NAME = r"([a-z0-9][-a-z0-9]{0,62})"


class SLOsHandler(ApiHandler):
    """``GET /slos?at=``: one record per SLO (status, SLI, budget remaining, burn rates, firing tiers)."""

    @endpoint("Status of every SLO", paginated=True, query={"at": STR}, response=page_of("slos"))
    def get(self) -> None:
        self.page("slos", records_of(self.ops.slos.status(self.query_time("at"))))


class SLOReportHandler(ApiHandler):
    """``GET /slos/<name>/report?at=``: the full report, as ``opsnb slo report --format json``."""

    @endpoint("One SLO's report", query={"at": STR}, response=OBJ)
    def get(self, name: str) -> None:
        self.reply(self.ops.slos[name].report(self.query_time("at")).as_dict())


def routes() -> list[tuple[str, Any]]:
    return [("/slos", SLOsHandler), (f"/slos/{_NAME}/report", SLOReportHandler)]
