"""The dashboards' own server: Voila in a process of its own, opened with a revocable share token.

``opsnb up`` starts JupyterLab (with the opsnb API) on one port and this server on another, so
the dashboards never share an origin with an authenticated Jupyter API: a script that got into a
dashboard page could not call Lab's contents or kernels API with the person's cookie. What the
dashboards server offers:

- only Voila: a page's kernel accepts comm messages only (Voila's own restriction), so nobody can
  run code through it other than the dashboards; ``/lab``, ``/api/contents``, ``/api/kernels``
  (the listing), ``/api/sessions`` and ``/api/terminals`` answer 403;
- a share token (``?token=`` once, then an HTTP-only, same-site cookie), kept hashed in
  ``<workspace>/.jupyter/share-tokens.json`` and checked on every request (re-read whenever the
  file changes), so revoking one (:func:`revoke`, ``opsnb share revoke``) shuts its links at once,
  and the kernels of pages open with it are shut down within a second; making and revoking one
  are audited (operator only);
- dashboard kernels run as a viewer identity (``OPSNB_USER=dashboards``, default role viewer)
  with no opsnb secret or server token in their environment;
- a Content-Security-Policy on every answer: scripts only from the server itself (the opsnb
  template has no inline script), nothing framed, no plug-ins, no form posts elsewhere;
- a cap on live dashboard kernels; idle ones (tab closed) are culled, and so are the kernels of
  pages gone without Voila's shutdown beacon (a phone asleep, a crashed browser): a board redraws
  itself every round, so its kernel is never idle and Jupyter's idle culling never took it; on
  two cores a dozen such kernels redrawing for nobody starved the open pages;
- every kernel warms up at start (:func:`warm_kernel`): what a dashboard's first panel would pay.

Run as ``python -m opsnb.web.share --port P --root DIR --workspace WS`` (``opsnb up`` does).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import re
import secrets
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

SHARE_FILE = "share-tokens.json"
SERVER_FILE = "share-server.json"  # where the running dashboards server says it listens
COOKIE = "opsnb-share"
VIEWER = "dashboards"  # the identity dashboard kernels act as
MAX_KERNELS = 12  # live dashboard kernels (about 200 MB PSS each, measured) before a new page gets a 503
CULL_IDLE_SECONDS = 300  # a dashboard kernel whose tab has closed goes after this long
ORPHAN_SECONDS = 60  # a kernel whose page was connected and went away (no beacon) goes after this long
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
_KERNEL_WS = re.compile(r"/api/kernels/([0-9a-f-]{36})/channels")
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


def create(ops: Any, *, expires: Any = "30d", reason: str = "", _session_link: bool = False) -> ShareToken:
    """Make a share token for the dashboards of ``ops``'s workspace (audited as ``share.create``). Needs operator.

    Args:
        ops: The workbench whose workspace the dashboards server serves.
        expires: A duration from now (``"30d"``), or None for a token that lasts until revoked.
        reason: Why; kept in the audit trail.
        _session_link: ``opsnb up``'s own link (revoked when it stops): whoever starts the server on
            the workspace needs no role for it, as they hold its files anyway.

    Example:
        >>> made = share.create(ops, expires="7d", reason="for the product review")  # doctest: +SKIP
    """
    from datetime import timedelta

    from opsnb.timeparse import parse_duration

    expires_at = None
    if expires is not None:
        expires_at = datetime.now(UTC) + parse_duration(expires, name="expires")
    if not _session_link:
        ops.access.require("operator", action="share.create")
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


def revoke(ops: Any, token_id: str, *, reason: str = "", _session_link: bool = False) -> None:
    """Stop a share token working at once (audited as ``share.revoke``); unknown ids raise NotFound.

    The running dashboards server re-reads the token file whenever it changes, so the very next
    request with the token (or its cookie) is refused. Needs operator (``opsnb up``'s own link aside).
    """
    from opsnb.errors import NotFound

    if not _session_link:
        ops.access.require("operator", action="share.revoke")
    rows = _load(ops.workspace)
    row = next((r for r in rows if r.get("id") == token_id and not r.get("revoked_at")), None)
    if row is None:
        raise NotFound(f"no active share token {str(token_id)[:40]!r}", kind="share token", key=str(token_id)[:40])
    row["revoked_at"], row["revoked_by"] = datetime.now(UTC).isoformat(), ops.user
    with ops.db.session():
        ops.audit.record(action="share.revoke", target=f"share:{token_id}", params={}, reason=reason)
        _save(ops.workspace, rows)


def list_tokens(workspace: Path, *, include_inactive: bool = True) -> list[dict[str, Any]]:
    """The share tokens of a workspace (never their secrets), newest last, each with its ``status``
    (``active``, ``expired`` or ``revoked``)."""
    now = datetime.now(UTC)
    out = []
    for r in _load(workspace):
        status = "revoked" if r.get("revoked_at") else (
            "expired" if r.get("expires_at") and datetime.fromisoformat(r["expires_at"]) <= now else "active")
        if include_inactive or status == "active":
            row = {k: r.get(k) for k in ("id", "status", "created_by", "created_at", "expires_at", "revoked_at",
                                         "revoked_by")}
            row["status"] = status
            out.append(row)
    return out


def server_url(workspace: Path) -> str | None:
    """The base URL of the dashboards server running for ``workspace`` now, else None."""
    try:
        info = json.loads((Path(workspace) / ".jupyter" / SERVER_FILE).read_text())
        os.kill(int(info["pid"]), 0)  # still running?
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return str(info.get("url") or "") or None


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
def _pooled(km: Any) -> set[str]:
    """The kernels of Voila's preheat pool that have rendered and wait for their page (unconnected)."""
    out: set[str] = set()
    for pool in (getattr(km, "_pools", None) or {}).values():
        for item in pool:
            with contextlib.suppress(Exception):  # a start that failed or is still running
                if item.done():
                    out.add(str(item.result()["kernel_id"]))
    return out


def _tornado_parts(workspace: Path, max_kernels: int, *, orphan_after: float = ORPHAN_SECONDS,
                   unconnected_after: float = CULL_IDLE_SECONDS) -> dict[str, Any]:
    """Classes needing tornado/jupyter_server, built on demand so importing this module stays cheap.

    ``orphan_after``: seconds a kernel lives once its page's last connection closed;
    ``unconnected_after``: seconds a kernel (not a preheat pool's) lives that no page ever connected to.
    """
    from jupyter_server.auth.identity import IdentityProvider, User
    from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager
    from tornado import web

    cache: dict[str, tuple[tuple[int, int, int], float, str | None]] = {}

    def valid(token: str) -> str | None:
        # A stat per request (microseconds) instead of a time-based cache: a revoke rewrites the file
        # (new inode by os.replace), so the next request after it is refused, not one up to seconds later.
        # Expiry is re-checked at least every 30 s.
        try:
            st = _path(workspace).stat()
            stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
        except OSError:
            stamp = (0, 0, 0)
        hit = cache.get(token)
        if hit and hit[0] == stamp and time.monotonic() - hit[1] < 30.0:
            return hit[2]
        tid = check(workspace, token)
        if len(cache) > 1000:  # wrong guesses must not grow it without bound
            cache.clear()
        cache[token] = (stamp, time.monotonic(), tid)
        return tid

    opened: dict[str, str] = {}  # kernel id -> the share token its page connected with

    watched: dict[str, tuple[bool, float]] = {}  # kernel id -> (a page ever connected, when last seen so)

    async def sweep(km: Any) -> None:
        """Shut down the kernels whose page came with a link revoked (or expired) since (an open
        page stops getting data at once, not when its tab closes), and those nobody watches."""
        for kid, token in list(opened.items()):
            if kid not in km:
                opened.pop(kid, None)
            elif valid(token) is None:
                opened.pop(kid, None)
                with contextlib.suppress(Exception):  # gone meanwhile
                    await km.shutdown_kernel(kid)
        now = time.monotonic()
        live = set(km.list_kernel_ids())
        for kid in set(watched) - live:
            watched.pop(kid)
        pooled = _pooled(km)
        for kid in live:
            connected = bool(getattr(km, "_kernel_connections", {}).get(kid, 0))
            if connected or kid in pooled:
                watched[kid] = (connected or watched.get(kid, (False, now))[0], now)
                continue
            ever, since = watched.setdefault(kid, (False, now))
            if now - since > (orphan_after if ever else unconnected_after):
                watched.pop(kid, None)
                with contextlib.suppress(Exception):
                    await km.shutdown_kernel(kid)

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
            path = getattr(getattr(handler, "request", None), "path", "") or ""
            if "/channels" in path and (m := _KERNEL_WS.search(path)):
                opened[m.group(1)] = token  # the page on this kernel came with this link
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

    return {"identity": ShareIdentityProvider, "refused": Refused, "redirect": Redirect, "sweep": sweep,
            "kernels": CappedKernelManager, "csp": CspTransform}


# ------------------------------------------------------------------ kernel warm-up
STARTUP = "from opsnb.web.share import warm_kernel\nwarm_kernel()\n"
"""The IPython startup file of dashboard kernels (``$IPYTHONDIR/profile_default/startup``)."""


def warm_kernel(workspace: str | None = None) -> dict[str, float]:
    """Do in a dashboard kernel, at its start, what every dashboard's first cells and panels pay first.

    Measured in a dashboard kernel (``benchmarks/bench_dashboards.py``): pandas, ipywidgets and
    Plotly's renderer registry (which imports nbformat and jsonschema: a second on its own), then
    opsnb's lazy imports on first use: the state database's models (SQLAlchemy declarations of
    every domain), each domain's service module, DuckDB's first query. A preheated kernel (Voila's
    pool, ``VOILA_PREHEAT``) does it before it waits for its page, so the page pays none of it;
    a cold kernel does it in a thread beside the notebook's first cells, on the second core.

    Returns:
        Seconds per step (what the benchmark reports); empty when started in a thread.
    """
    import os
    import threading

    def work() -> dict[str, float]:
        took: dict[str, float] = {}

        def step(name: str, fn: Any) -> None:
            t0 = time.perf_counter()
            with contextlib.suppress(Exception):  # a failed warm-up costs the page nothing: its cell does it
                fn()
            took[name] = round(time.perf_counter() - t0, 3)

        def imports() -> None:
            import ipywidgets  # noqa: F401
            import pandas  # noqa: F401
            import plotly.graph_objects  # noqa: F401
            import plotly.io as pio

            pio.renderers["plotly_mimetype"]  # noqa: B018 - builds the renderer registry (nbformat, jsonschema)

        def opsnb_first_use() -> None:
            import importlib

            import opsnb
            import opsnb.widgets  # noqa: F401
            from opsnb.domains import DOMAINS

            for mod in ("opsnb.widgets.charts", "opsnb.viz.figures"):
                with contextlib.suppress(ImportError):
                    importlib.import_module(mod)
            ws = workspace or os.environ.get("OPSNB_WORKSPACE") or None
            ops = opsnb.connect(ws)
            try:
                ops.db  # noqa: B018 - imports every model
                for d in DOMAINS:
                    if d.attribute:
                        getattr(ops, d.attribute)
                ops.logs.last_seen()  # DuckDB's first query
            finally:
                ops.close()

        step("imports", imports)
        step("opsnb", opsnb_first_use)
        return took

    if os.environ.get("VOILA_PREHEAT", "False") != "False":
        return work()
    threading.Thread(target=work, name="opsnb-warm", daemon=True).start()
    return {}


def _startup_dir(workspace: Path) -> Path:
    """An IPython directory of the dashboards server's own, whose startup file warms each kernel."""
    ipy = _path(workspace).parent / "dashboards-ipython"
    startup = ipy / "profile_default" / "startup"
    startup.mkdir(parents=True, exist_ok=True)
    (startup / "00-opsnb-warm.py").write_text(STARTUP)
    return ipy


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
    p.add_argument("--orphan-after", type=float, default=ORPHAN_SECONDS,
                   help="seconds a kernel lives after its page's connection closed without a shutdown")
    p.add_argument("--preheat", type=int, default=0, help="kernels kept pre-rendered per dashboard (0: off)")
    p.add_argument("--no-warm", action="store_true", help="kernels do not warm up at start (for the benchmark)")
    a = p.parse_args(argv)
    workspace = Path(a.workspace).resolve()
    if not a.no_warm:  # kernels inherit this process's environment (Voila copies os.environ)
        os.environ["IPYTHONDIR"] = str(_startup_dir(workspace))
    cap = a.max_kernels
    if a.preheat > 0:  # the pool's kernels (one set per dashboard) wait beside the pages' own
        cap += a.preheat * sum(1 for _ in Path(a.root).glob("*.ipynb"))
    parts = _tornado_parts(workspace, cap, orphan_after=a.orphan_after, unconnected_after=a.cull_idle)

    from voila.app import Voila

    class DashboardsApp(Voila):
        def init_handlers(self) -> list[Any]:
            ours: list[Any] = [(rx, parts["refused"]) for rx in REFUSED]
            ours += [(r"/dashboards/?", parts["redirect"]), (r"/dashboards/([\w.-]+)", parts["redirect"])]
            self.app.add_transform(parts["csp"])  # start() made the app just before asking for handlers
            from tornado.ioloop import PeriodicCallback

            km = self.kernel_manager
            self._sweeper = PeriodicCallback(lambda: parts["sweep"](km), 1000)  # revoked links' open pages
            self._sweeper.start()
            return ours + list(super().init_handlers())

    kernels = parts["kernels"]
    args = [a.root, "--no-browser", "--Voila.ip=127.0.0.1", f"--Voila.port={a.port}", "--Voila.port_retries=0",
            f"--Voila.root_dir={a.root}", "--template=opsnb", "--theme=light", "--strip_sources=True",
            "--show_tracebacks=False",
            f"--MappingKernelManager.cull_idle_timeout={a.cull_idle}",
            f"--MappingKernelManager.cull_interval={min(30, max(1, a.cull_idle // 2))}",
            "--VoilaConfiguration.file_allowlist=['.*\\.(png|jpg|gif|svg)']"]
    if a.preheat > 0:
        args += ["--preheat_kernel=True", f"--pool_size={a.preheat}"]
    app = DashboardsApp()
    app.identity_provider_class = parts["identity"]
    app.initialize(args)
    app.voila_configuration.multi_kernel_manager_class = kernels
    _announce(workspace, f"http://127.0.0.1:{a.port}")
    app.start()


def _announce(workspace: Path, url: str) -> None:
    """Say where this server listens (``opsnb share create`` prints links to it); gone when it exits."""
    import atexit

    path = _path(workspace).parent / SERVER_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"url": url, "pid": os.getpid()}))

    def gone() -> None:
        try:
            if json.loads(path.read_text()).get("pid") == os.getpid():  # not a newer server's file
                path.unlink()
        except (OSError, ValueError):
            pass

    atexit.register(gone)


if __name__ == "__main__":  # pragma: no cover - the child process of opsnb up
    main(sys.argv[1:])
