"""The OpenAPI 3.1 document of the API, generated from the handlers' :func:`~opsnb.web.base.endpoint` declarations.

A route's path template comes from its regex: each capture group becomes ``{name}``, named after
the handler method's argument, with the group's regex as the parameter's ``pattern``. Served at
``GET /opsnb/api/v1/openapi.json`` (no credential needed: it describes, it does not reveal).
"""

from __future__ import annotations

import inspect
from typing import Any

from opsnb import __version__
from opsnb.web.base import ApiHandler, Endpoint, envelope

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object", "required": ["error"], "additionalProperties": False,
    "properties": {"error": {"type": "object", "required": ["code", "message", "fields"], "properties": {
        "code": {"type": "string"}, "message": {"type": "string"}, "fields": {"type": "object"}}}},
}
_SCOPE_TEXT = "Needs scope `{scope}` and role `{role}` or above."


def split_pattern(pattern: str) -> tuple[list[str], list[str]]:
    """A route regex as literal pieces and the regexes of its top-level capture groups."""
    pieces, groups, buf, i = [], [], "", 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\" and i + 1 < len(pattern):
            buf += pattern[i + 1]
            i += 2
            continue
        if c == "(" and not pattern.startswith("(?", i):
            depth, j = 1, i + 1
            while depth:
                if pattern[j] == "\\":
                    j += 2
                    continue
                depth += {"(": 1, ")": -1}.get(pattern[j], 0)
                j += 1
            pieces.append(buf)
            groups.append(pattern[i + 1:j - 1])
            buf, i = "", j
            continue
        buf += c
        i += 1
    pieces.append(buf)
    return pieces, groups


def path_template(pattern: str, handler: type[ApiHandler]) -> tuple[str, list[dict[str, Any]]]:
    """``/incidents/{incident_id}`` and its path parameters, from a route regex and its handler."""
    pieces, groups = split_pattern(pattern)
    names: list[str] = []
    for m in handler.endpoints():
        fn = inspect.unwrap(getattr(handler, m))
        args = [p for p in inspect.signature(fn).parameters if p != "self"]
        if args and not names:
            names = args
    names = (names + [f"p{i}" for i in range(len(groups))])[: len(groups)]
    path = pieces[0] + "".join("{" + n + "}" + piece for n, piece in zip(names, pieces[1:], strict=True))
    params = [{"name": n, "in": "path", "required": True, "schema": {"type": "string", "pattern": f"^{g}$"}}
              for n, g in zip(names, groups, strict=True)]
    return path, params


def _operation(ep: Endpoint, path_params: list[dict[str, Any]], method: str, route: str) -> dict[str, Any]:
    params = list(path_params)
    for name, schema in ep.all_query().items():
        params.append({"name": name, "in": "query", "required": name in ep.required_query, "schema": schema})
    err = {"description": "refused; the one error envelope",
           "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    responses: dict[str, Any] = {
        str(ep.status): {"description": ep.summary, "content": {ep.content_type: {"schema": ep.response}}},
        "400": err, "404": err, "413": err,
    }
    op: dict[str, Any] = {"summary": ep.summary, "operationId": f"{method}{route}".replace("/", "_")
                          .replace("{", "").replace("}", "").replace(".", "_").replace("-", "_"),
                          "tags": [route.strip("/").split("/")[0] or "api"], "parameters": params,
                          "responses": responses}
    if ep.public:
        op["security"] = []
    else:
        responses.update({"401": err, "403": err})
        op["description"] = _SCOPE_TEXT.format(scope=ep.scope, role=ep.role) + (
            " Also accepts a webhook sender's signature." if ep.ingest else "")
        op["security"] = [{"bearer": []}, {"jupyter": []}] + ([{"signature": []}] if ep.ingest else [])
        op["x-opsnb-scope"], op["x-opsnb-role"] = ep.scope, ep.role
        if ep.ingest is False:
            responses["429"] = err
    if ep.body is not None:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": ep.body}}}
    return op


def document(routes: list[tuple[str, Any]], prefix: str) -> dict[str, Any]:
    """The OpenAPI 3.1 document of ``routes`` (``(regex with prefix, handler)`` pairs)."""
    paths: dict[str, dict[str, Any]] = {}
    for pattern, handler in routes:
        if not (isinstance(handler, type) and issubclass(handler, ApiHandler)) or getattr(handler, "hidden", False):
            continue
        rel = pattern[len(prefix):] if pattern.startswith(prefix) else pattern
        path, params = path_template(rel, handler)
        item = paths.setdefault(path, {})
        for method, ep in handler.endpoints().items():
            if ep is not None:
                item[method] = _operation(ep, params, method, path)
    example = envelope("not_found", "no incident 'INC-999'", {"kind": "incident", "key": "INC-999"})
    return {
        "openapi": "3.1.0",
        "info": {"title": "opsnb API", "version": __version__,
                 "description": "The opsnb HTTP API. Every 4xx body is the error envelope."},
        "servers": [{"url": prefix}],
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": {"Error": {**ERROR_SCHEMA, "examples": [example]}},
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer",
                           "description": "A token from `opsnb token create` (opsnb_<id>_<secret>)."},
                "jupyter": {"type": "apiKey", "in": "cookie", "name": "username-<host>",
                            "description": "A Jupyter or JupyterHub login (changes need X-XSRFToken)."},
                "signature": {"type": "apiKey", "in": "header", "name": "X-Opsnb-Signature",
                              "description": "sha256=HMAC(secret, timestamp + '.' + body) with X-Opsnb-Sender, "
                                             "X-Opsnb-Timestamp (within 5 minutes) and a new X-Opsnb-Delivery."},
            },
        },
    }
