"""Base of every API handler: workbench access, token/HMAC auth, payload limits, JSON errors.

Handlers subclass :class:`ApiHandler`. Authentication is opsnb's own (the
``api_token`` setting, sent as ``Authorization: Bearer``, or an HMAC-SHA256 of
the body in ``X-Opsnb-Signature: sha256=<hex>`` keyed with the same token), so
Alertmanager and CI systems can call it without a Jupyter login. Every opsnb
error becomes a JSON body ``{"error": ..., "type": ..., "fields": ...}`` with a
4xx status; nothing is written when a request is refused.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from typing import TYPE_CHECKING, Any

from tornado import web

from opsnb.errors import (
    Conflict,
    NotFound,
    OpsnbError,
    ParseError,
    PermissionDenied,
    ValidationError,
)

if TYPE_CHECKING:
    from opsnb.workbench import Workbench


class ApiState:
    """The server's workbench, opened on first request (settings from OPSNB_* env)."""

    def __init__(self, ops: Workbench | None = None) -> None:
        self._ops = ops
        self._lock = threading.Lock()

    @property
    def ops(self) -> Workbench:
        with self._lock:
            if self._ops is None:
                from opsnb.workbench import connect

                self._ops = connect()
            return self._ops


_STATUS = [(ParseError, 400), (ValidationError, 400), (PermissionDenied, 403), (NotFound, 404), (Conflict, 409)]


_METHODS = ("get", "post", "put", "patch", "delete", "head", "options")


def _after_body(method: Any) -> Any:
    """Run ``method`` only once the streamed body is complete and, when signed, verified."""
    import functools

    @functools.wraps(method)
    def wrapper(self: ApiHandler, *args: Any, **kwargs: Any) -> Any:
        self._body_complete()
        return method(self, *args, **kwargs)

    return wrapper


@web.stream_request_body
class ApiHandler(web.RequestHandler):
    """JSON handler with opsnb auth. Set ``auth = False`` for open endpoints (health).

    The body is streamed, not buffered before the handler runs: the size limit is checked against
    ``Content-Length`` and then per chunk, and a bearer token is checked on the headers, so an
    unauthenticated or oversized request is refused before its body is read (three unauthenticated
    90 MB posts grew a buffering server by 311 MB). A signed request (``X-Opsnb-Signature``) is
    verified once its body is complete, before the handler method runs.
    """

    auth = True

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name in _METHODS:
            fn = cls.__dict__.get(name)
            if fn is not None and not getattr(fn, "__wrapped__", None):
                setattr(cls, name, _after_body(fn))

    def check_xsrf_cookie(self) -> None:  # token-authenticated API, not a browser form
        return

    @property
    def ops(self) -> Workbench:
        state: ApiState = self.settings["opsnb"]
        return state.ops

    def prepare(self) -> None:
        self._limit = int(self.ops.settings.api_max_payload_bytes)
        self._chunks: list[bytes] = []
        self._size = 0
        self._signed = False
        declared = self.request.headers.get("Content-Length")
        if declared is not None:
            try:
                size = int(declared)
            except ValueError:
                raise web.HTTPError(400, reason="Content-Length is not a number") from None
            if size > self._limit:
                raise web.HTTPError(413, reason=f"payload of {size} bytes exceeds {self._limit}")
        if self.auth:
            self._authenticate_headers()

    def data_received(self, chunk: bytes) -> None:
        self._size += len(chunk)
        if self._size > self._limit:
            raise web.HTTPError(413, reason=f"payload of more than {self._limit} bytes")
        self._chunks.append(chunk)

    def _body_complete(self) -> None:
        if getattr(self, "_chunks", None) is not None:
            self.request.body = b"".join(self._chunks)
            self._chunks = []
        if self._signed:
            self._verify_signature()

    def _authenticate_headers(self) -> None:
        token = str(self.ops.settings.api_token)
        if not token:
            raise web.HTTPError(401, reason="the API has no token configured (set OPSNB_API_TOKEN)")
        header = self.request.headers.get("Authorization", "")
        if header.startswith("Bearer ") and hmac.compare_digest(header[7:].strip(), token):
            return
        if self.request.headers.get("X-Opsnb-Signature", "").startswith("sha256="):
            self._signed = True  # verified against the body once it has arrived
            return
        raise web.HTTPError(401, reason="missing or wrong token (Authorization: Bearer or X-Opsnb-Signature)")

    def _verify_signature(self) -> None:
        token = str(self.ops.settings.api_token)
        sig = self.request.headers.get("X-Opsnb-Signature", "")
        want = hmac.new(token.encode(), self.request.body or b"", hashlib.sha256).hexdigest()
        if not hmac.compare_digest(sig[7:], want):
            raise web.HTTPError(401, reason="missing or wrong token (Authorization: Bearer or X-Opsnb-Signature)")

    def json_body(self) -> Any:
        """The request body parsed as JSON; a ParseError (400) names what is wrong and where."""
        from opsnb.bounded import load_json

        return load_json(self.request.body or b"", source="request body")

    def json_object(self, allowed: tuple[str, ...], required: tuple[str, ...] = ()) -> dict[str, Any]:
        """The body as a JSON object with only ``allowed`` keys and every ``required`` one; all problems listed."""
        body = self.json_body()
        if not isinstance(body, dict):
            raise ValidationError("body must be a JSON object", field="body")
        problems = [f"{k}: unknown field (allowed: {', '.join(allowed)})" for k in body if k not in allowed]
        problems += [f"{k}: missing" for k in required if k not in body]
        if problems:
            raise ValidationError("bad request body:", problems=problems, field="body")
        return body

    def reply(self, data: Any, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(data, default=str))

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        body: dict[str, Any] = {"error": self._reason, "status": status_code}
        if isinstance(exc, OpsnbError):
            body.update(error=str(exc), type=type(exc).__name__,
                        fields={k: v for k, v in exc.details.items() if isinstance(v, str | int | float | list)})
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(body, default=str))

    def _log(self) -> None:
        # Jupyter's request log (a formatted debug line and Prometheus metrics) cost a tenth of a
        # webhook's server time. What succeeds is recorded where it matters (a receipt for every
        # webhook, an audit record for every change); refusals and errors are still logged.
        if self.get_status() >= 400:
            super()._log()

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        if isinstance(value, OpsnbError):
            return  # an expected refusal, answered with a 4xx; not a server fault
        super().log_exception(typ, value, tb)

    def _handle_request_exception(self, e: BaseException) -> None:
        if isinstance(e, OpsnbError):
            status = next((code for cls, code in _STATUS if isinstance(e, cls)), 422)
            self.send_error(status, exc_info=(type(e), e, e.__traceback__), reason=type(e).__name__)
            return
        super()._handle_request_exception(e)
