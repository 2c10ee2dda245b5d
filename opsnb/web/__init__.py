"""The opsnb Jupyter server extension: REST API and webhooks under ``/opsnb/api/v1``.

Each route module named by the domain table (``opsnb/domains.py``, a row's ``api``)
defines ``routes() -> list[(pattern, handler)]`` with patterns relative to ``/opsnb/api/v1``. ``opsnb up`` enables this extension; so can
``--ServerApp.jpserver_extensions='{"opsnb.web": true}'``.
"""

from __future__ import annotations

import gc
import importlib
import sys
from typing import Any

from opsnb.domains import preload_modules, route_modules

API_PREFIX = "/opsnb/api/v1"
ROUTE_MODULES: tuple[str, ...] = route_modules()


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "opsnb.web"}]


def all_routes() -> list[tuple[str, Any]]:
    """Every (pattern, handler) of the API, with the prefix applied; a JSON 404 for any other path under it.

    Each handler learns its OpenAPI path template (``handler.route``), which labels its metrics.
    """
    from opsnb.web.base import FallbackHandler
    from opsnb.web.openapi import path_template

    out: list[tuple[str, Any]] = []
    for name in (*ROUTE_MODULES, "opsnb.web.meta"):
        for pattern, handler in importlib.import_module(name).routes():
            handler.route = path_template(pattern, handler)[0]
            out.append((API_PREFIX + pattern, handler))
    out.append((API_PREFIX + r"(/.*)?", FallbackHandler))
    return out


# Services the handlers and the alert ticker use. Imported while the server starts, not on first
# use: a first import of pandas in the ticker's thread held the GIL in C code for long stretches
# and stalled the event loop (webhook p99 went from tens of ms to over a second).
PRELOAD: tuple[str, ...] = preload_modules()


def _preload() -> None:
    for name in PRELOAD:
        importlib.import_module(name)


def _load_jupyter_server_extension(serverapp: Any) -> None:
    from jupyter_server.utils import url_path_join

    from opsnb.web.base import ApiState

    base = serverapp.web_app.settings["base_url"]
    # People logged in to Jupyter (or JupyterHub) reach the API as themselves.
    state = ApiState(identity_provider=getattr(serverapp, "identity_provider", None))
    serverapp.web_app.settings["opsnb"] = state
    handlers = [(url_path_join(base, pattern), handler) for pattern, handler in all_routes()]
    serverapp.web_app.add_handlers(".*$", handlers)
    _preload()
    # The event loop gives up the GIL at every poll; while the alert ticker's thread runs Python, the
    # loop waited up to the default 5 ms to get it back, per loop turn. 1 ms keeps webhook latency
    # flat while the ticker works (paced 1,000 events/s: p99 ~65 ms -> ~40 ms).
    sys.setswitchinterval(0.001)
    # Everything loaded so far (Jupyter, pandas, SQLAlchemy and their modules) lives as long as the
    # server: kept out of the collector's sight, a full collection takes ~15 ms instead of 150-200 ms,
    # each of which stalled every webhook in flight.
    gc.freeze()
    serverapp.log.info("opsnb API at %s (%d routes)", url_path_join(base, API_PREFIX), len(handlers))
