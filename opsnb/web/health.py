"""``GET /opsnb/api/v1/health``: is the API up, and can it reach its state database."""

from __future__ import annotations

from typing import Any

from opsnb import __version__
from opsnb.web.base import STR, ApiHandler, endpoint, obj


class HealthHandler(ApiHandler):
    @endpoint("Is the API up, and can it reach its state database", public=True, offload=False,
              response=obj(("status",), status=STR, version=STR, database=STR))
    def get(self) -> None:
        ops = self.ops
        ops.db.ping()
        # unauthenticated: nothing about where or whose the workspace is
        self.reply({"status": "ok", "version": __version__, "database": ops.db.dialect})


def routes() -> list[tuple[str, Any]]:
    return [("/health", HealthHandler)]
