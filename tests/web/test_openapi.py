"""The OpenAPI document matches the routes, and a property-based run over it finds no 5xx and no 4xx
outside the one error envelope (schemathesis generating requests from the document, real server)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from opsnb.web import API_PREFIX, all_routes
from opsnb.web.openapi import document, split_pattern
from tests.alerts.apiserver import ApiServer, call
from tests.conftest import make_ops

TOKEN = "openapi-bootstrap-token"
_MINE = ("opsnb.web.alerts", "opsnb.web.incidents", "opsnb.web.oncall", "opsnb.web.notify", "opsnb.web.runbooks",
         "opsnb.web.slos", "opsnb.web.health", "opsnb.web.logs", "opsnb.web.audit", "opsnb.web.meta")


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    ops = make_ops(tmp_path_factory.mktemp("openapi") / "ws", api_token=TOKEN, api_rate_limit=0)
    ops.incidents.create(title="Checkout 5xx", service="checkout")
    srv = ApiServer(ops).start()
    yield srv
    srv.stop()
    ops.close()


def _routes() -> list[tuple[str, Any]]:
    return [(p, h) for p, h in all_routes() if not getattr(h, "hidden", False)]


def test_every_route_is_documented_and_every_documented_route_exists(api: ApiServer) -> None:
    status, doc = call(f"{api.base}/openapi.json")
    assert status == 200 and doc["openapi"] == "3.1.0"
    assert doc == json.loads(json.dumps(document(all_routes(), API_PREFIX)))
    routes = _routes()
    documented = {(path, m) for path, item in doc["paths"].items() for m in item}
    served = {(h.route, m) for _, h in routes for m in h.endpoints()}
    assert served == documented
    for path, item in doc["paths"].items():  # each documented path, filled in, is served by its route
        concrete = re.sub(r"\{[^}]+\}", "X", path)
        matching = [h for p, h in routes if re.fullmatch(_example(p), API_PREFIX + concrete)]
        assert matching and matching[0].route == path, path
        for op in item.values():
            assert op["responses"] and op["summary"]
            assert "400" in op["responses"] and op["responses"]["400"]["content"]["application/json"]


def _example(pattern: str) -> str:
    pieces, groups = split_pattern(pattern)
    return re.escape(pieces[0]) + "".join("X" + re.escape(p) for p in pieces[1:]) if groups else re.escape(pattern)


def test_handlers_declare_scope_role_and_schemas() -> None:
    undeclared = [f"{h.__module__}.{h.__name__}.{m}" for _, h in _routes() if h.__module__ in _MINE
                  for m, ok in h.declared().items() if not ok]
    assert undeclared == []
    writes = [(h.route, m, ep.scope, ep.role) for _, h in _routes() for m, ep in h.endpoints().items()
              if m != "get" and not ep.public]
    assert writes and all(scope != "read" and role in ("viewer", "responder", "operator", "admin")
                          for _, _, scope, role in writes)
    ingest = {(h.route, m) for _, h in _routes() for m, ep in h.endpoints().items() if ep.ingest}
    assert {("/alerts/alertmanager", "post"), ("/alerts/events", "post"), ("/alerts/slo", "post")} <= ingest
    assert not [r for r, m in ingest if m == "get"]  # a signature is never a way to read


def test_unknown_paths_and_methods_are_json(api: ApiServer) -> None:
    for path, method, code in (("/nope", "GET", 404), ("/incidents/INC-1/nope", "POST", 404),
                               ("/incidents", "DELETE", 405), ("/health", "POST", 405)):
        status, body = call(api.base + path, method=method, token=TOKEN, raw=b"{}" if method != "GET" else None)
        assert status == code and set(body["error"]) == {"code", "message", "fields"}, (path, body)


@pytest.mark.parametrize("query", ["since=0000-01-01", "since=10000-01-01T00:00:00Z", "since=9999999999999999999d",
                                   "limit=99999999999999999999", "limit=-1", "cursor=%00%ff", "since=now-1e308s"])
def test_hostile_query_values_are_4xx(api: ApiServer, query: str) -> None:
    for path in ("/incidents", "/alerts", "/audit", "/logs/query"):
        status, body = call(f"{api.base}{path}?{query}", token=TOKEN)
        assert 400 <= status < 500 and body["error"]["code"], (path, query, status, body)


def test_deep_and_huge_json_is_4xx(api: ApiServer) -> None:
    for raw in (b"[" * 50_000 + b"]" * 50_000, b'{"title": 1e999999, "service": "x"}',
                b'{"title": "x", "service": "y", "severity": 123456789012345678901234567890}'):
        status, body = call(f"{api.base}/incidents", raw=raw, token=TOKEN)
        assert 400 <= status < 500 and "error" in body, (raw[:30], status, body)


def test_no_5xx_and_every_4xx_in_the_envelope(api: ApiServer) -> None:
    """Every operation of the document, with requests schemathesis generates from it (hypothesis)."""
    _, doc = call(f"{api.base}/openapi.json")
    schema = schemathesis.openapi.from_dict(doc)
    base = api.base
    failures: list[str] = []
    seen = 0
    for result in schema.get_all_operations():
        op = result.ok()

        @given(case=op.as_strategy())
        @settings(max_examples=10, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        def probe(case: Any) -> None:
            res = case.call(base_url=base, headers={"Authorization": f"Bearer {TOKEN}"})
            where = f"{case.method} {case.formatted_path} {case.query} -> {res.status_code} {res.text[:200]}"
            if res.status_code >= 500:
                failures.append(where)
            elif res.status_code >= 400:
                body = res.json()
                if set(body) != {"error"} or set(body["error"]) != {"code", "message", "fields"}:
                    failures.append(where)

        probe()
        seen += 1
    assert seen == sum(len(item) for item in doc["paths"].values())
    assert failures == []
