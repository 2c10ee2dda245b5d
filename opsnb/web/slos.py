"""``GET /slos`` (status of every SLO) and ``GET /slos/<name>/report?at=`` (one SLO's report)."""

from __future__ import annotations

from typing import Any

from opsnb.cliutil import records_of
from opsnb.web.base import ApiHandler

_NAME = r"([a-z0-9][-a-z0-9]{0,62})"


class SLOsHandler(ApiHandler):
    """``GET /slos?at=``: one record per SLO (status, SLI, budget remaining, burn rates, firing tiers)."""

    def get(self) -> None:
        df = self.ops.slos.status(self.get_query_argument("at", None) or None)
        self.reply({"slos": records_of(df), "count": len(df)})


class SLOReportHandler(ApiHandler):
    """``GET /slos/<name>/report?at=``: the full report, as ``opsnb slo report --format json``."""

    def get(self, name: str) -> None:
        self.reply(self.ops.slos[name].report(self.get_query_argument("at", None) or None).as_dict())


def routes() -> list[tuple[str, Any]]:
    return [("/slos", SLOsHandler), (f"/slos/{_NAME}/report", SLOReportHandler)]
