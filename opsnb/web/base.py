"""Base of every API handler: identity, scope and role, limits, declared schemas, one error envelope.

A handler subclasses :class:`ApiHandler` and declares each method with :func:`endpoint`::

    class IncidentsHandler(ApiHandler):
        @endpoint("List incidents", scope="read", role="viewer", paginated=True,
                  query={"status": STR, "since": TIME}, response=obj(incidents=LIST))
        def get(self) -> None: ...

That declaration is what the server enforces (the credential must hold ``scope``, its user must
have at least ``role``) and what the OpenAPI document (:mod:`opsnb.web.openapi`) describes. A
method without one is a bug a test finds (``tests/web/test_openapi.py``).

Who a request acts as (:class:`~opsnb.access.tokens.Identity`), in this order:

- ``Authorization: Bearer opsnb_<id>_<secret>``: a personal token (``opsnb token create``);
- ``Authorization: Bearer <api_token>``: the bootstrap setting, acting as the server's own user,
  accepted only while the workspace has no token yet (use it to make the first admin token);
- on ``ingest`` routes only, a sender's signature (``X-Opsnb-Sender``, ``X-Opsnb-Timestamp``,
  ``X-Opsnb-Delivery``, ``X-Opsnb-Signature``), verified once the body has arrived;
- inside Jupyter, the logged-in Jupyter (or JupyterHub) user, through jupyter_server's identity
  provider; a cookie-authenticated change must carry Jupyter's XSRF token.

The body is streamed: size, credential, scope, role and rate limit are checked on the headers,
so a refused request's body is never read. Sync methods run in a small thread pool with the
request's identity, under a per-request timeout, so one slow report does not hold the event loop.
Every 4xx is ``{"error": {"code", "message", "fields"}}``.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import hmac
import inspect
import json
import logging
import math
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

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
    from opsnb.access.tokens import Identity
    from opsnb.workbench import Workbench

log = logging.getLogger(__name__)

# ----------------------------------------------------------------------------- schema helpers
STR: dict[str, Any] = {"type": "string", "maxLength": 200}
INT: dict[str, Any] = {"type": "integer"}
NUM: dict[str, Any] = {"type": "number"}
BOOL: dict[str, Any] = {"type": "boolean"}
TIME: dict[str, Any] = {"type": "string", "maxLength": 100,
                        "description": "ISO 8601, now, today, -1h, now-30m (the opsnb time grammar)"}
SINCE: dict[str, Any] = {**TIME, "description": "start: an instant, or a duration ago such as 1h"}
ANY: dict[str, Any] = {}
OBJ: dict[str, Any] = {"type": "object"}
LIST: dict[str, Any] = {"type": "array", "items": {"type": "object"}}
LIMIT: dict[str, Any] = {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100}
CURSOR: dict[str, Any] = {"type": "string", "maxLength": 100, "description": "the `next` of the previous page"}


def obj(required: tuple[str, ...] = (), extra: bool = True, **props: dict[str, Any]) -> dict[str, Any]:
    """A JSON-schema object of ``props``; ``extra=False`` refuses unknown keys."""
    out: dict[str, Any] = {"type": "object", "properties": props}
    if required:
        out["required"] = list(required)
    if not extra:
        out["additionalProperties"] = False
    return out


def page_of(key: str) -> dict[str, Any]:
    """The response of a paginated list: ``{key: [...], "count", "next"}``."""
    return {"type": "object", "required": [key, "count", "next"], "properties": {
        key: LIST, "count": INT,
        "next": {"type": ["string", "null"], "description": "cursor of the next page, null at the end"}}}


@dataclass(frozen=True)
class Endpoint:
    """What one handler method declares: its contract (schemas) and who may call it.

    Attributes:
        summary: One line for the OpenAPI document.
        scope: The scope a credential must hold (``read``, ``incidents:write``, ...).
        role: The least opsnb role the acting user must have.
        query: Query parameters, name -> JSON schema; ``required_query`` lists the mandatory ones.
        body: JSON schema of the request body, if it takes one.
        response: JSON schema of the success body.
        status: The success status.
        ingest: Whether a webhook sender's signature is accepted (webhook routes only).
        public: No credential needed (health).
        paginated: Takes ``limit`` and ``cursor``, answers ``next``.
        offload: Run a sync method in the worker pool (False keeps it on the event loop).
        content_type: The success body's media type.
    """

    summary: str
    scope: str = "read"
    role: str = "viewer"
    query: dict[str, dict[str, Any]] = field(default_factory=dict)
    required_query: tuple[str, ...] = ()
    body: dict[str, Any] | None = None
    response: dict[str, Any] = field(default_factory=lambda: dict(OBJ))
    status: int = 200
    ingest: bool = False
    public: bool = False
    paginated: bool = False
    offload: bool = True
    content_type: str = "application/json"

    def all_query(self) -> dict[str, dict[str, Any]]:
        return {**self.query, **({"limit": LIMIT, "cursor": CURSOR} if self.paginated else {})}


def endpoint(summary: str, **kwargs: Any) -> Callable[[Any], Any]:
    """Declare a handler method's contract and access (see :class:`Endpoint`)."""
    ep = Endpoint(summary, **kwargs)

    def mark(fn: Any) -> Any:
        fn.__opsnb_endpoint__ = ep
        return fn

    return mark


# ----------------------------------------------------------------------------- server state
class _Bucket:
    __slots__ = ("tokens", "stamp")

    def __init__(self, tokens: float, stamp: float) -> None:
        self.tokens, self.stamp = tokens, stamp


class ApiState:
    """What the API server shares between requests: the workbench, rate buckets, metrics, the pool."""

    def __init__(self, ops: Workbench | None = None, identity_provider: Any = None) -> None:
        self._ops = ops
        self._lock = threading.Lock()
        self.identity_provider = identity_provider
        self.buckets: dict[str, _Bucket] = {}
        self.pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="opsnb-api")
        from opsnb.web.metrics import Metrics

        self.metrics = Metrics()

    @property
    def ops(self) -> Workbench:
        with self._lock:
            if self._ops is None:
                from opsnb.workbench import connect

                self._ops = connect()
            return self._ops

    def take(self, key: str, per_minute: int) -> tuple[bool, float, float]:
        """Take one request from ``key``'s bucket: (allowed, remaining, seconds until one is back)."""
        now = time.monotonic()
        rate = per_minute / 60.0
        with self._lock:
            b = self.buckets.get(key)
            if b is None:
                b = self.buckets[key] = _Bucket(float(per_minute), now)
            b.tokens = min(float(per_minute), b.tokens + (now - b.stamp) * rate)
            b.stamp = now
            if b.tokens >= 1.0:
                b.tokens -= 1.0
                return True, b.tokens, 0.0 if b.tokens >= 1 else (1.0 - b.tokens) / rate
            return False, b.tokens, (1.0 - b.tokens) / rate


# ----------------------------------------------------------------------------- errors
_STATUS = [(ParseError, 400, "parse_error"), (ValidationError, 400, "invalid"), (PermissionDenied, 403, "forbidden"),
           (NotFound, 404, "not_found"), (Conflict, 409, "conflict")]
_HTTP_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
               405: "method_not_allowed", 408: "timeout", 409: "conflict", 413: "too_large", 415: "unsupported",
               422: "unprocessable", 429: "rate_limited", 500: "internal", 503: "timeout"}


class ApiError(web.HTTPError):
    """A refusal with an envelope code and fields (raised by the base and by handlers)."""

    def __init__(self, status: int, message: str, *, code: str | None = None,
                 headers: dict[str, str] | None = None, **fields: Any) -> None:
        super().__init__(status, reason=_HTTP_CODES.get(status, "error"))
        self.message, self.code, self.fields = message, code or _HTTP_CODES.get(status, "error"), fields
        self.headers = headers or {}  # sent with the error (Allow, Retry-After): send_error clears the others


def envelope(code: str, message: str, fields: dict[str, Any] | None = None) -> dict[str, Any]:
    """The one error body: ``{"error": {"code", "message", "fields"}}``."""
    return {"error": {"code": code, "message": message, "fields": fields or {}}}


_METHODS = ("get", "post", "put", "patch", "delete")


def _wrap(method: Any) -> Any:
    """Run ``method`` once the body is complete (and a signature verified), as the request's identity."""

    @functools.wraps(method)
    async def wrapper(self: ApiHandler, *args: Any, **kwargs: Any) -> None:
        self._body_complete()
        ep = self.endpoint
        timeout = float(self.ops.settings.api_request_timeout_seconds)
        if asyncio.iscoroutinefunction(method):
            with self._acting():
                coro = method(self, *args, **kwargs)
                try:
                    await asyncio.wait_for(coro, timeout)
                except TimeoutError:
                    raise ApiError(503, f"the request took longer than {timeout:g} s", timeout_seconds=timeout) \
                        from None
            return
        if not ep.offload:
            with self._acting():
                method(self, *args, **kwargs)
            return
        self._deferred = True
        ctx = contextvars.copy_context()

        def run() -> None:
            with self._acting():
                method(self, *args, **kwargs)

        fut = asyncio.get_running_loop().run_in_executor(self.state.pool, ctx.run, run)
        try:
            await asyncio.wait_for(asyncio.shield(fut), timeout)
        except TimeoutError:
            # The worker cannot be interrupted; it finishes on its own and its answer is dropped.
            raise ApiError(503, f"the request took longer than {timeout:g} s", timeout_seconds=timeout) from None
        finally:
            self._deferred = False
        self._flush()

    wrapper.__opsnb_wrapped__ = True  # type: ignore[attr-defined]
    return wrapper


@web.stream_request_body
class ApiHandler(web.RequestHandler):
    """JSON handler with opsnb identities; subclasses declare each method with :func:`endpoint`."""

    route: ClassVar[str] = ""  # the OpenAPI path template, set by opsnb.web.all_routes()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name in _METHODS:
            fn = cls.__dict__.get(name)
            if fn is not None and not getattr(fn, "__opsnb_wrapped__", False):
                wrapped = _wrap(fn)
                wrapped.__opsnb_endpoint__ = getattr(fn, "__opsnb_endpoint__", None)
                setattr(cls, name, wrapped)

    auth: ClassVar[bool] = True  # False: undeclared methods are public (a route that checks its own credential)

    @classmethod
    def endpoints(cls) -> dict[str, Endpoint]:
        """Method -> its declaration; an undeclared method gets the default (GET: read and viewer; a change:
        ``<family>:write`` and responder), so a handler without declarations is still guarded and documented."""
        cached = cls.__dict__.get("_endpoints")
        if cached is not None and cached[0] == cls.route:
            return cached[1]
        from opsnb.access.tokens import SCOPES

        out: dict[str, Endpoint] = {}
        for m in _METHODS:
            fn = getattr(cls, m)
            if fn is getattr(web.RequestHandler, m):
                continue
            ep = getattr(fn, "__opsnb_endpoint__", None)
            if ep is None:
                family = cls.route.strip("/").split("/")[0]
                summary = (inspect.getdoc(cls) or cls.__name__).splitlines()[0]
                if m == "get":
                    ep = Endpoint(summary, public=not cls.auth)
                else:
                    scope = f"{family}:write" if f"{family}:write" in SCOPES else "incidents:write"
                    ep = Endpoint(summary, scope=scope, role="responder", public=not cls.auth, status=200)
            out[m] = ep
        cls._endpoints = (cls.route, out)  # type: ignore[attr-defined]
        return out

    @classmethod
    def declared(cls) -> dict[str, bool]:
        """Method -> whether it declares its endpoint (tests list the ones that do not)."""
        return {m: getattr(getattr(cls, m), "__opsnb_endpoint__", None) is not None for m in cls.endpoints()}

    # -- plumbing --------------------------------------------------------------------------
    def check_xsrf_cookie(self) -> None:  # checked in prepare, for cookie-authenticated changes only
        return

    @property
    def state(self) -> ApiState:
        return self.settings["opsnb"]

    @property
    def ops(self) -> Workbench:
        return self.state.ops

    @property
    def endpoint(self) -> Endpoint:
        return self._endpoint

    @property
    def log(self) -> logging.Logger:  # jupyter_server's identity provider logs through its handler
        return log

    @property
    def base_url(self) -> str:  # where jupyter_server's identity provider scopes its login cookie
        return str(self.settings.get("base_url", "/"))

    @property
    def token(self) -> str | None:  # what jupyter_server's identity provider reads off a handler
        ip = self.state.identity_provider
        return getattr(ip, "token", None) if ip is not None else None

    def _acting(self) -> Any:
        ident = self.identity
        if ident is None:
            import contextlib

            return contextlib.nullcontext()
        return self.ops.acting_as(ident.user, via=ident.via)

    def prepare(self) -> Any:
        """Checks on the headers: method, size, credential, scope, role, rate. Subclasses may extend it
        (call ``super().prepare()`` first); it returns an awaitable only for a Jupyter login."""
        self._started = time.perf_counter()
        self._chunks: list[bytes] = []
        self._size = 0
        self._signed = False
        self._deferred = False
        self._pending: tuple[Any, ...] | None = None
        self.identity: Identity | None = None
        method = self.request.method.lower() if self.request.method else ""
        eps = self.endpoints()
        ep = eps.get(method) if method in _METHODS else None
        if ep is None:
            allowed = ", ".join(m.upper() for m in eps)
            raise ApiError(405, f"{self.request.method} is not allowed here; allowed: {allowed}",
                           headers={"Allow": allowed}, allowed=allowed)
        self._endpoint = ep
        self._limit = int(self.ops.settings.api_max_payload_bytes)
        declared = self.request.headers.get("Content-Length")
        if declared is not None:
            if not declared.isdigit() or len(declared) > 15:
                raise ApiError(400, "Content-Length is not a number", field="Content-Length")
            if int(declared) > self._limit:
                raise ApiError(413, f"payload of {declared} bytes exceeds {self._limit}", limit=self._limit)
        if ep.public:
            return None
        ident = self._authenticate()
        if ident is not None:
            self._authorize(ident)
            return None
        if self._signed:
            return None
        return self._jupyter_login()

    async def _jupyter_login(self) -> None:
        ident = await self._jupyter_identity()
        if ident is None:
            ep = self._endpoint
            raise ApiError(401, "no credential: send Authorization: Bearer <token> (opsnb token create)"
                           + (", or sign the webhook (X-Opsnb-Sender/-Timestamp/-Delivery/-Signature)"
                              if ep.ingest else ""))
        self.identity = ident
        self._authorize(ident)

    def _authenticate(self) -> Identity | None:
        from opsnb.access.tokens import Identity, is_token

        ep, headers = self._endpoint, self.request.headers
        auth = headers.get("Authorization", "")
        if auth.startswith("Bearer "):
            given = auth[7:].strip()
            tokens = self.ops.access.tokens
            if is_token(given):
                ident = tokens.authenticate(given)
                if ident is None:
                    raise ApiError(401, "unknown, revoked or expired token")
                self.identity = ident
                return ident
            boot = str(self.ops.settings.api_token)
            if boot and hmac.compare_digest(given.encode(), boot.encode()):
                if self._tokens_exist(tokens):
                    raise ApiError(401, "the api_token setting only bootstraps the first token and is retired "
                                        "once one exists; send a token from 'opsnb token create'")
                from opsnb.access.tokens import SCOPES

                self.identity = Identity(user=self.ops.user, scopes=SCOPES, via="bootstrap", key="bootstrap")
                return self.identity
            raise ApiError(401, "wrong token (send Authorization: Bearer <token from 'opsnb token create'>)")
        if "X-Opsnb-Signature" in headers:
            if not ep.ingest:
                raise ApiError(401, "signatures are accepted on ingest (webhook) routes only; send a Bearer token")
            self._signed = True  # verified once the body has arrived; scope checked then
            return None
        return None

    def _tokens_exist(self, tokens: Any) -> bool:
        # Tokens are revoked, never deleted: once one exists the answer stays yes. A "no" is asked
        # again after a second, so a webhook burst on the bootstrap token costs no query per request.
        known = getattr(self.state, "_tokens_exist", None)
        if known is True or (known is not None and time.monotonic() - known < 1.0):
            return known is True
        exist = bool(tokens.exist())
        self.state._tokens_exist = True if exist else time.monotonic()  # type: ignore[attr-defined]
        return exist

    async def _jupyter_identity(self) -> Identity | None:
        ip = self.state.identity_provider
        if ip is None:
            return None
        try:
            user = ip.get_user(self)
            if asyncio.iscoroutine(user) or isinstance(user, asyncio.Future):
                user = await user
        except web.HTTPError:
            return None
        except Exception:  # a provider that needs more of a Jupyter handler: no login, and say why in the log
            log.exception("jupyter_server's identity provider failed on an API request")
            return None
        if user is None:
            return None
        from jupyter_server.auth.identity import IdentityProvider

        from opsnb.access.tokens import SCOPES, Identity

        # The plain token provider names an anonymous browser session; whoever holds the server's
        # token is the person who started it, so they act as the workbench's own user.
        name = self.ops.user if type(ip) is IdentityProvider else str(getattr(user, "username", "") or "")
        if not name:
            return None
        if self.request.method not in ("GET", "HEAD") and not getattr(self, "_token_authenticated", False):
            try:
                web.RequestHandler.check_xsrf_cookie(self)  # a cookie alone must not make changes
            except web.HTTPError:
                raise ApiError(403, "a browser-session change needs Jupyter's XSRF token (X-XSRFToken)",
                               code="xsrf") from None
        return Identity(user=name, scopes=SCOPES, via="jupyter", key=f"jupyter:{name}")

    def _authorize(self, ident: Identity) -> None:
        from opsnb.access.service import rank

        ep = self._endpoint
        if not ident.allows(ep.scope):
            raise ApiError(403, f"this credential lacks the scope {ep.scope!r} (it has {', '.join(ident.scopes)})",
                           code="scope", required=ep.scope)
        role = self.ops.access.role(ident.user) if ep.role != "viewer" else "viewer"  # everyone is a viewer
        if rank(role) < rank(ep.role):
            raise ApiError(403, f"{ident.user} is {role}; this route needs {ep.role}", code="role",
                           user=ident.user, role=role, required=ep.role)
        limit = int(self.ops.settings.api_rate_limit)
        if limit > 0 and not ep.ingest:
            ok, left, wait = self.state.take(ident.key or ident.user, limit)
            rl = {"RateLimit-Limit": str(limit), "RateLimit-Remaining": str(int(left)),
                  "RateLimit-Reset": str(math.ceil(wait))}
            if not ok:
                raise ApiError(429, f"more than {limit} requests a minute with this credential; "
                                    f"retry in {math.ceil(wait)} s", limit=limit,
                               headers={**rl, "Retry-After": str(math.ceil(wait))})
            for k, v in rl.items():
                self.set_header(k, v)

    def data_received(self, chunk: bytes) -> None:
        self._size += len(chunk)
        if self._size > self._limit:
            raise ApiError(413, f"payload of more than {self._limit} bytes", limit=self._limit)
        self._chunks.append(chunk)

    def _body_complete(self) -> None:
        if getattr(self, "_chunks", None) is not None:
            self.request.body = b"".join(self._chunks)
            self._chunks = []
        if self._signed:
            self._signed = False
            h = self.request.headers
            try:
                ident = self.ops.access.tokens.verify_signature(
                    sender=h.get("X-Opsnb-Sender", ""), timestamp=h.get("X-Opsnb-Timestamp", ""),
                    delivery=h.get("X-Opsnb-Delivery", ""), body=self.request.body or b"",
                    signature=h.get("X-Opsnb-Signature", ""))
            except PermissionDenied as exc:
                raise ApiError(401, str(exc), code="bad_signature") from None
            self.identity = ident
            self._authorize(ident)

    # -- request helpers -------------------------------------------------------------------
    def json_body(self) -> Any:
        """The request body parsed as JSON; a ParseError (400) names what is wrong and where."""
        from opsnb.bounded import load_json

        return load_json(self.request.body or b"", source="request body")

    def json_object(self, allowed: tuple[str, ...], required: tuple[str, ...] = (), *,
                    optional_body: bool = False) -> dict[str, Any]:
        """The body as a JSON object with only ``allowed`` keys and every ``required`` one; all problems listed."""
        if optional_body and not self.request.body:
            body: Any = {}
        else:
            body = self.json_body()
        if not isinstance(body, dict):
            raise ValidationError("body must be a JSON object", field="body")
        problems = [f"{k}: unknown field (allowed: {', '.join(allowed)})" for k in body if k not in allowed]
        problems += [f"{k}: missing" for k in required if k not in body]
        if problems:
            raise ValidationError("bad request body:", problems=problems, field="body")
        return body

    def query(self, name: str, default: str | None = None) -> str | None:
        """A query parameter (the last if repeated); ``""`` counts as absent."""
        v = self.get_query_argument(name, None)
        return default if v is None or v == "" else v

    def query_int(self, name: str, default: int, lo: int, hi: int) -> int:
        raw = self.query(name)
        if raw is None:
            return default
        if not raw.isdigit() or len(raw) > 9 or not lo <= int(raw) <= hi:
            raise ValidationError(f"{name} must be an integer from {lo} to {hi}, got {raw[:20]!r}", field=name)
        return int(raw)

    def query_time(self, name: str, *, ago: bool = False) -> datetime | None:
        """A query parameter in the time grammar (``2026-03-01T10:00Z``, ``now-1h``, ``-30m``; ``1h`` when ``ago``)."""
        from opsnb.timeparse import parse_instant

        raw = self.query(name)
        return None if raw is None else parse_instant(raw, name=name, ago=ago)

    def query_choice(self, name: str, choices: tuple[str, ...]) -> str | None:
        raw = self.query(name)
        if raw is not None and raw not in choices:
            raise ValidationError(f"{name} must be one of {', '.join(choices)}, got {raw[:30]!r}", field=name)
        return raw

    def page(self, key: str, rows: list[dict[str, Any]], *, extra: dict[str, Any] | None = None) -> None:
        """Answer one page of ``rows`` (``limit``, ``cursor`` -> ``next``): the cursor is an opaque offset."""
        limit = self.query_int("limit", 100, 1, 1000)
        raw = self.query("cursor")
        start = 0
        if raw is not None:
            from opsnb.web.paging import decode_cursor

            start = decode_cursor(raw)
        chunk = rows[start:start + limit]
        nxt = None
        if start + limit < len(rows):
            from opsnb.web.paging import encode_cursor

            nxt = encode_cursor(start + limit)
        self.reply({**(extra or {}), key: chunk, "count": len(chunk), "next": nxt})

    # -- answers ---------------------------------------------------------------------------
    def reply(self, data: Any, status: int | None = None) -> None:
        """Answer JSON (on the loop; a worker's answer is written once it returns)."""
        self.reply_raw(json.dumps(data, default=str).encode(), "application/json",
                       status or self._endpoint.status)

    def reply_raw(self, body: bytes, content_type: str, status: int = 200) -> None:
        if self._deferred:
            self._pending = (body, content_type, status)
            return
        self.set_status(status)
        self.set_header("Content-Type", content_type)
        self.finish(body)

    def _flush(self) -> None:
        if self._pending is not None and not self._finished:
            body, ctype, status = self._pending
            self._pending = None
            self.reply_raw(body, ctype, status)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, ApiError):
            body = envelope(exc.code, exc.message, _plain(exc.fields))
            for k, v in exc.headers.items():
                self.set_header(k, v)
        elif isinstance(exc, OpsnbError):
            code = next((c for cls, _, c in _STATUS if isinstance(exc, cls)), "unprocessable")
            body = envelope(code, str(exc), _plain(exc.details))
        elif isinstance(exc, web.HTTPError):
            body = envelope(_HTTP_CODES.get(status_code, "error"), exc.log_message or self._reason)
        else:
            body = envelope(_HTTP_CODES.get(status_code, "error"),
                            "internal error (logged on the server)" if status_code >= 500 else self._reason)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(body, default=str))

    def on_finish(self) -> None:
        started = getattr(self, "_started", None)
        if started is not None:
            self.state.metrics.observe(self.route or "unmatched", self.request.method or "",
                                       self.get_status(), time.perf_counter() - started)

    def _log(self) -> None:
        # Jupyter's request log (a formatted debug line and Prometheus metrics) cost a tenth of a
        # webhook's server time. What succeeds is recorded where it matters (a receipt for every
        # webhook, an audit record for every change); refusals and errors are still logged.
        if self.get_status() >= 400:
            super()._log()

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        if isinstance(value, OpsnbError | ApiError):
            return  # an expected refusal, answered with a 4xx; not a server fault
        super().log_exception(typ, value, tb)

    def _handle_request_exception(self, e: BaseException) -> None:
        if isinstance(e, OpsnbError):
            status = next((code for cls, code, _ in _STATUS if isinstance(e, cls)), 422)
            if self._finished:
                return
            self.send_error(status, exc_info=(type(e), e, e.__traceback__))
            return
        super()._handle_request_exception(e)


def _plain(fields: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if isinstance(v, str | int | float | list | bool) or v is None}


class FallbackHandler(ApiHandler):
    """Any other path under the API: a JSON 404 (not Jupyter's HTML page)."""

    hidden = True  # not a route of the OpenAPI document

    @endpoint("no such route", public=True)
    def get(self, *_: Any) -> None:
        raise self._missing()

    post = put = patch = delete = get

    async def prepare(self) -> None:
        self._started = time.perf_counter()
        self._endpoint = Endpoint("no such route", public=True)
        self._deferred, self._pending, self.identity = False, None, None
        raise self._missing()

    def _missing(self) -> ApiError:
        return ApiError(404, f"no API route {self.request.path[:200]!r}; the routes are in "
                             "/opsnb/api/v1/openapi.json", path=self.request.path[:200])
