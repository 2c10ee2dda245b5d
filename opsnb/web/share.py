"""The dashboards' own server: Voila in a process of its own, opened with a revocable share token.

``opsnb up`` starts JupyterLab (with the opsnb API) on one port and this server on another, so
the dashboards never share an origin with an authenticated Jupyter API: a script that got into a
dashboard page could not call Lab's contents or kernels API with the person's cookie. What the
dashboards server offers:

- only Voila: a page's kernel accepts comm messages only (Voila's own restriction), so nobody can
  run code through it other than the dashboards; ``/lab``, ``/api/contents``, ``/api/kernels``
  (the listing), ``/api/sessions`` and ``/api/terminals`` answer 403;
- a share token (``?token=`` once, then an HTTP-only, same-site cookie), kept hashed in
  ``<workspace>/.jupyter/share-tokens.json`` and checked on every request, so revoking one
  (:func:`revoke`) shuts its links at once; making and revoking one are audited;
- dashboard kernels run as a viewer identity (``OPSNB_USER=dashboards``, default role viewer)
  with no opsnb secret or server token in their environment;
- a Content-Security-Policy on every answer: scripts only from the server itself (the opsnb
  template has no inline script), nothing framed, no plug-ins, no form posts elsewhere;
- a cap on live dashboard kernels; idle ones (tab closed) are culled.

Run as ``python -m opsnb.web.share --port P --root DIR --workspace WS`` (``opsnb up`` does).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

SHARE_FILE = "share-tokens.json"
COOKIE = "opsnb-share"
VIEWER = "dashboards"  # the identity dashboard kernels act as
MAX_KERNELS = 12  # live dashboard kernels (~130 MB each) before a new page is refused with 503
CULL_IDLE_SECONDS = 300  # a dashboard kernel whose tab has closed goes after this long
CSP = ("default-src 'self'; script-src 'self' 'unsafe-eval'; style-src 'self' 'unsafe-inline'; "
       "img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self' ws: wss:; "
       "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'")
"""No inline script (an injected ``<img onerror>`` or ``<script>`` never runs); ``unsafe-eval`` stays
because the widget manager and Plotly compile functions; inline *styles* are Plotly's and Lab's."""
REFUSED = (r"/lab(/.*)?", r"/tree(/.*)?", r"/api/contents(/.*)?", r"/api/kernels/?", r"/api/sessions(/.*)?",
           r"/api/terminals(/.*)?", r"/api/kernelspecs(/.*)?", r"/terminals(/.*)?", r"/files(/.*)?",
           r"/voila/files/.*\.ipynb", r"/voila/api/contents/.+\.ipynb")
"""Paths answered 403. The listing page may read ``/voila/api/contents`` for directories only, never a
notebook's source."""
_SECRET_WORDS = ("TOKEN", "SECRET", "PASSWORD", "PASSPHRASE", "API_KEY", "PRIVATE")


# ------------------------------------------------------------------ share tokens
@dataclass(frozen=True)
class ShareToken:
    """A freshly made share token: ``token`` is shown this once and stored only as a hash."""

    id: str
    token: str
    expires_at: datetime | None


def _path(workspace: Path) -> Path:
    return Path(workspace) / ".jupyter" / SHARE_FILE


def _load(workspace: Path) -> list[dict[str, Any]]:
    try:
        data = json.loads(_path(workspace).read_text())
    except (OSError, ValueError):
        return []
    return [r for r in data if isinstance(r, dict)] if isinstance(data, list) else []


def _save(workspace: Path, rows: list[dict[str, Any]]) -> None:
    path = _path(workspace)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(rows, f, indent=1)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create(ops: Any, *, expires: Any = "30d", reason: str = "") -> ShareToken:
    """Make a share token for the dashboards of ``ops``'s workspace (audited as ``share.create``).

    Args:
        ops: The workbench whose workspace the dashboards server serves.
        expires: A duration from now (``"30d"``), or None for a token that lasts until revoked.
        reason: Why; kept in the audit trail.
    """
    from datetime import timedelta

    from opsnb.timeparse import parse_duration

    expires_at = None
    if expires is not None:
        expires_at = datetime.now(UTC) + parse_duration(expires, name="expires")
    tid, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
    rows = _load(ops.workspace)
    now = datetime.now(UTC)
    rows = [r for r in rows if not r.get("revoked_at") or now - datetime.fromisoformat(r["revoked_at"])
            < timedelta(days=90)]  # the audit trail keeps the history; the file keeps it short
    rows.append({"id": tid, "sha256": _hash(secret), "created_by": ops.user, "created_at": now.isoformat(),
                 "expires_at": expires_at.isoformat() if expires_at else None, "revoked_at": None})
    with ops.db.session():
        ops.audit.record(action="share.create", target=f"share:{tid}",
                         params={"expires_at": expires_at.isoformat() if expires_at else None}, reason=reason)
        _save(ops.workspace, rows)
    return ShareToken(id=tid, token=f"share_{tid}_{secret}", expires_at=expires_at)


def revoke(ops: Any, token_id: str, *, reason: str = "") -> None:
    """Stop a share token working at once (audited as ``share.revoke``); unknown ids raise NotFound."""
    from opsnb.errors import NotFound

    rows = _load(ops.workspace)
    row = next((r for r in rows if r.get("id") == token_id and not r.get("revoked_at")), None)
    if row is None:
        raise NotFound(f"no active share token {str(token_id)[:40]!r}", kind="share token", key=str(token_id)[:40])
    row["revoked_at"], row["revoked_by"] = datetime.now(UTC).isoformat(), ops.user
    with ops.db.session():
        ops.audit.record(action="share.revoke", target=f"share:{token_id}", params={}, reason=reason)
        _save(ops.workspace, rows)


def list_tokens(workspace: Path) -> list[dict[str, Any]]:
    """The share tokens of a workspace (never their secrets), newest last."""
    return [{k: v for k, v in r.items() if k != "sha256"} for r in _load(workspace)]


def check(workspace: Path, token: str) -> str | None:
    """The id of the active share token ``token`` is, else None."""
    if not isinstance(token, str) or not token.startswith("share_") or token.count("_") < 2:
        return None
    _, tid, secret = token.split("_", 2)
    now = datetime.now(UTC)
    for r in _load(workspace):
        if r.get("id") != tid or r.get("revoked_at"):
            continue
        if r.get("expires_at") and datetime.fromisoformat(r["expires_at"]) <= now:
            return None
        if hmac.compare_digest(str(r.get("sha256", "")), _hash(secret)):
            return tid
    return None


def kernel_env(base: dict[str, str], workspace: Path) -> dict[str, str]:
    """The environment of the dashboards server and so of its kernels: no secrets, a viewer identity."""
    env = {k: v for k, v in base.items() if not any(w in k.upper() for w in _SECRET_WORDS)}
    env.update({"OPSNB_WORKSPACE": str(workspace), "OPSNB_USER": VIEWER, "OPSNB_DEFAULT_ROLE": "viewer"})
    return env


# ------------------------------------------------------------------ the Voila application
def _tornado_parts(workspace: Path, max_kernels: int) -> dict[str, Any]:
    """Classes needing tornado/jupyter_server, built on demand so importing this module stays cheap."""
    from jupyter_server.auth.identity import IdentityProvider, User
    from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager
    from tornado import web

    cache: dict[str, tuple[float, str | None]] = {}

    def valid(token: str) -> str | None:
        hit = cache.get(token)
        if hit and time.monotonic() - hit[0] < 2.0:  # re-read the file at most every 2 s per token
            return hit[1]
        tid = check(workspace, token)
        cache[token] = (time.monotonic(), tid)
        return tid

    class ShareIdentityProvider(IdentityProvider):
        """A request is the share viewer when it carries an active share token (query or cookie)."""

        @property
        def auth_enabled(self) -> bool:
            return True

        def get_user(self, handler: Any) -> Any:
            given = handler.get_argument("token", "") if hasattr(handler, "get_argument") else ""
            from_cookie = ""
            if not given:
                raw = handler.get_secure_cookie(COOKIE)
                from_cookie = raw.decode() if raw else ""
            token = given or from_cookie
            tid = valid(token) if token else None
            if tid is None:
                return None
            if given:  # once from the link, then from the cookie (the token leaves the address bar's history)
                handler.set_secure_cookie(COOKIE, token, httponly=True, samesite="Strict", expires_days=None)
            return User(username=f"share:{tid}", name="dashboards viewer")

        def get_handlers(self) -> list[Any]:
            return [(r"/login", Refused), (r"/logout", Refused)]

    class Refused(web.RequestHandler):
        """What the dashboards server never serves."""

        def set_default_headers(self) -> None:
            self.set_header("Content-Security-Policy", CSP)

        def _refuse(self, *_: Any) -> None:
            self.set_status(403)
            self.set_header("Content-Type", "text/plain; charset=utf-8")
            self.finish("403: the dashboards server serves dashboards only; this needs a valid share link\n")

        get = post = put = delete = patch = head = _refuse  # noqa: PIE794

    class Redirect(web.RequestHandler):
        """``/dashboards/`` is the listing, ``/dashboards/<name>`` a dashboard."""

        def get(self, name: str = "") -> None:
            query = f"?{self.request.query}" if self.request.query else ""
            name = name.strip("/")
            if not name:
                self.redirect("/voila/tree" + query)
            else:
                self.redirect(f"/voila/render/{name if name.endswith('.ipynb') else name + '.ipynb'}{query}")

    class CappedKernelManager(AsyncMappingKernelManager):
        """At most ``max_kernels`` live dashboard kernels: one more page gets a 503, not an OOM."""

        async def start_kernel(self, *args: Any, **kwargs: Any) -> str:  # type: ignore[override]
            if kwargs.get("kernel_id") is None and len(self.list_kernel_ids()) >= max_kernels:
                # a closed tab's kernel lingers until culled: make room by the oldest one nobody is
                # connected to (never a preheat pool's, which waits for its page unconnected)
                idle = [k for k in self.list_kernel_ids() if not self._kernel_connections.get(k, 0)]
                if idle and not getattr(self, "_pools", None):
                    await self.shutdown_kernel(min(idle, key=lambda k: getattr(self.get_kernel(k), "last_activity", 0)))
                else:
                    raise web.HTTPError(503, f"{max_kernels} dashboards are open; close one or try again shortly")
            return str(await super().start_kernel(*args, **kwargs))

    class CspTransform(web.OutputTransform):
        def transform_first_chunk(self, status_code: int, headers: Any, chunk: bytes,
                                  finishing: bool) -> tuple[int, Any, bytes]:
            headers["Content-Security-Policy"] = CSP
            headers["X-Content-Type-Options"] = "nosniff"
            headers["Referrer-Policy"] = "no-referrer"  # the share token never leaves in a Referer
            headers["X-Frame-Options"] = "DENY"
            return status_code, headers, chunk

    return {"identity": ShareIdentityProvider, "refused": Refused, "redirect": Redirect,
            "kernels": CappedKernelManager, "csp": CspTransform}


def template_dir() -> Path:
    """The directory holding ``voila/templates/opsnb`` (the dashboards' template): put it on JUPYTER_PATH."""
    return Path(__file__).resolve().parent / "templates"


def main(argv: list[str] | None = None) -> None:
    """Serve the dashboards of ``--root`` on ``--port`` (127.0.0.1) for ``--workspace``."""
    import argparse

    p = argparse.ArgumentParser(prog="python -m opsnb.web.share")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--root", required=True)
    p.add_argument("--workspace", required=True)
    p.add_argument("--max-kernels", type=int, default=MAX_KERNELS)
    p.add_argument("--cull-idle", type=int, default=CULL_IDLE_SECONDS)
    p.add_argument("--preheat", type=int, default=0, help="kernels kept pre-rendered per dashboard (0: off)")
    a = p.parse_args(argv)
    workspace = Path(a.workspace).resolve()
    cap = a.max_kernels
    if a.preheat > 0:  # the pool's kernels (one set per dashboard) wait beside the pages' own
        cap += a.preheat * sum(1 for _ in Path(a.root).glob("*.ipynb"))
    parts = _tornado_parts(workspace, cap)

    from voila.app import Voila

    class DashboardsApp(Voila):
        def init_handlers(self) -> list[Any]:
            ours: list[Any] = [(rx, parts["refused"]) for rx in REFUSED]
            ours += [(r"/dashboards/?", parts["redirect"]), (r"/dashboards/([\w.-]+)", parts["redirect"])]
            self.app.add_transform(parts["csp"])  # start() made the app just before asking for handlers
            return ours + list(super().init_handlers())

    kernels = parts["kernels"]
    args = [a.root, "--no-browser", "--Voila.ip=127.0.0.1", f"--Voila.port={a.port}", "--Voila.port_retries=0",
            f"--Voila.root_dir={a.root}", "--template=opsnb", "--theme=light", "--strip_sources=True",
            "--show_tracebacks=False",
            f"--MappingKernelManager.cull_idle_timeout={a.cull_idle}", "--MappingKernelManager.cull_interval=30",
            "--VoilaConfiguration.file_allowlist=['.*\\.(png|jpg|gif|svg)']"]
    if a.preheat > 0:
        args += ["--preheat_kernel=True", f"--pool_size={a.preheat}"]
    app = DashboardsApp()
    app.identity_provider_class = parts["identity"]
    app.initialize(args)
    app.voila_configuration.multi_kernel_manager_class = kernels
    app.start()


if __name__ == "__main__":  # pragma: no cover - the child process of opsnb up
    main(sys.argv[1:])
