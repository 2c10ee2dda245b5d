"""Launching the servers of ``opsnb up``: JupyterLab with the opsnb API, and the dashboards beside it.

Two children: Jupyter (Lab and the API, behind Jupyter's token) and the dashboards server
(:mod:`opsnb.web.share`: Voila alone, on its own port and so its own origin, opened with a share
token). Dashboards never render inside the Lab server, so a script smuggled into a dashboard page
could not reach the contents or kernels API with the Lab user's cookie.

The server runs as a child process in its own session, so a Ctrl-C in the
terminal reaches only ``opsnb up``, which then stops the child with SIGTERM
(Jupyter's clean shutdown, kernels included) instead of Jupyter's interactive
"Shutdown this server?" prompt. Jupyter's config, data and runtime directories
live under ``<workspace>/.jupyter`` so nothing leaks into the user's home.

This module is also a tiny server extension of the Lab server: ``/dashboards/<name>`` there
redirects to the dashboards server.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from opsnb.errors import Conflict, OpsnbError

CULL_IDLE_SECONDS = 600  # a Voila page's kernel (~130 MB) goes this long after its tab closes
# JupyterLab's defaults for opsnb's Lab: no "receive official Jupyter news?" pop-up, no update checks
# (a workbench must not call the internet, and the pop-up greets every fresh workspace).
LAB_OVERRIDES: dict[str, dict[str, Any]] = {
    "@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": False},
}
RUNS_LINK = "runbook-runs"  # the name under Lab's root that leads to the workspace's run outputs


@dataclass(kw_only=True, eq=False, repr=False)
class ServerError(OpsnbError):
    """The Jupyter server did not start (``log`` is its log file)."""

    port: int | None = None
    log: str | None = None


def port_free(port: int, host: str = "127.0.0.1") -> bool:
    """Whether ``host:port`` can be bound now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        # as servers bind: a closed connection's TIME_WAIT does not make the port busy, a listener does
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def free_port() -> int:
    """A port the OS considers free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def jupyter_env(workspace: Path, base: dict[str, str] | None = None, token: str = "") -> dict[str, str]:
    """The child's environment: hermetic Jupyter dirs under the workspace, the workspace, the token."""
    env = dict(os.environ if base is None else base)
    jdir = workspace / ".jupyter"
    env.update({
        "OPSNB_WORKSPACE": str(workspace),
        "JUPYTER_CONFIG_DIR": str(jdir / "config"),
        "JUPYTER_DATA_DIR": str(jdir / "data"),
        "JUPYTER_RUNTIME_DIR": str(jdir / "runtime"),
        "JUPYTER_PLATFORM_DIRS": "1",
        "PYDEVD_DISABLE_FILE_VALIDATION": "1",
    })
    if token:
        env["JUPYTER_TOKEN"] = token  # not on the command line, where `ps` would show it
    return env


def write_config(workspace: Path, *, cull_idle: int = CULL_IDLE_SECONDS) -> Path:
    """Write the server config under ``<workspace>/.jupyter/config`` and return its path."""
    cfg_dir = workspace / ".jupyter" / "config"
    cfg_dir.mkdir(parents=True, exist_ok=True)
    lab_settings = write_lab_overrides(workspace)
    config = {
        "ServerApp": {
            # no Voila here: dashboards have their own server and origin (opsnb.web.share)
            "jpserver_extensions": {"opsnb.web": True, "opsnb.web.server": True, "voila.server_extension": False},
        },
        "MappingKernelManager": {"cull_idle_timeout": cull_idle, "cull_interval": 60},
        # no calls to the internet from the Lab UI
        "LabApp": {"news_url": None, "check_for_updates_class": "jupyterlab.NeverCheckForUpdate",
                   "app_settings_dir": str(lab_settings)},
    }
    path = cfg_dir / "jupyter_server_config.json"
    path.write_text(json.dumps(config, indent=2))
    return path


def write_lab_overrides(workspace: Path) -> Path:
    """Write JupyterLab's settings defaults (:data:`LAB_OVERRIDES`) as ``overrides.json``; return its directory.

    They are defaults, not user settings: a person may still turn the news on in Lab's settings.
    """
    d = workspace / ".jupyter" / "lab" / "settings"
    d.mkdir(parents=True, exist_ok=True)
    (d / "overrides.json").write_text(json.dumps(LAB_OVERRIDES, indent=2))
    return d


def expose_runs(workspace: Path, root_dir: Path) -> str | None:
    """Where Lab's file browser shows the runbook output notebooks, as a path under ``root_dir``.

    Outputs live in ``<workspace>/runs``; when the workspace is outside the directory Lab serves,
    a symlink ``<root_dir>/runbook-runs`` leads to them (Jupyter follows links). None when that
    name is taken by something else or links are not possible.
    """
    runs = (workspace / "runs").resolve()
    runs.mkdir(parents=True, exist_ok=True)
    root = root_dir.resolve()
    with contextlib.suppress(ValueError):
        return runs.relative_to(root).as_posix()
    link = root / RUNS_LINK
    if link.is_symlink():
        if link.resolve() == runs:
            return RUNS_LINK
        link.unlink()  # ours, left by another workspace: point it at this one
    elif link.exists():
        return None  # a real file or directory of that name: not ours to replace
    try:
        link.symlink_to(runs, target_is_directory=True)
    except OSError:
        return None
    return RUNS_LINK


def server_argv(*, port: int, root_dir: Path, allow_root: bool | None = None) -> list[str]:
    """The command line of the Jupyter server child."""
    argv = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={port}", "--ServerApp.port_retries=0", f"--ServerApp.root_dir={root_dir}"]
    if allow_root if allow_root is not None else (hasattr(os, "getuid") and os.getuid() == 0):
        argv.append("--allow-root")
    return argv


@dataclass
class Server:
    """A running ``opsnb up``: the Jupyter child process and the dashboards child beside it."""

    port: int
    token: str
    root_dir: Path
    dashboards_dir: str
    process: subprocess.Popen[bytes]
    log_path: Path
    stoppers: list[Callable[[], None]] = field(default_factory=list)
    runs_path: str | None = None  # run outputs, relative to root_dir (see expose_runs)
    dash_port: int | None = None  # the dashboards server (its own origin), when it was started
    dash_process: subprocess.Popen[bytes] | None = None
    share_token: str = ""  # opens the dashboards (and nothing else); shown once, kept hashed
    share_id: str = ""
    # starts the dashboards child on a port (given when its port was chosen here, not by the caller)
    respawn_dashboards: Callable[[int], subprocess.Popen[bytes]] | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def dash_base(self) -> str:
        return f"http://127.0.0.1:{self.dash_port}"

    def urls(self) -> dict[str, str]:
        """The URLs a person opens: Lab (with the token), the dashboards share link, API health."""
        urls = {"lab": f"{self.base}/lab?token={self.token}", "health": f"{self.base}/opsnb/api/v1/health"}
        if self.dash_port:
            urls["dashboards"] = f"{self.dash_base}/dashboards/"
            urls["share"] = f"{self.dash_base}/dashboards/?token={self.share_token}"
            urls["overview"] = f"{self.dash_base}/voila/render/overview.ipynb?token={self.share_token}"
        if self.runs_path:
            urls["runs"] = f"{self.base}/lab/tree/{self.runs_path}?token={self.token}"
        return urls

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def wait_ready(self, timeout: float = 90.0) -> None:
        """Block until the API (and the dashboards server) answer; raise :class:`ServerError` if not."""
        deadline = time.monotonic() + timeout
        url = self.urls()["health"]
        waiting: list[tuple[str, subprocess.Popen[bytes], int | None]] = [(url, self.process, self.port)]
        if self.dash_process is not None:
            waiting.append((f"{self.dash_base}/voila/static/opsnb.js", self.dash_process, self.dash_port))
        moves = 0
        while waiting and time.monotonic() < deadline:
            url, proc, port = waiting[0]
            if (proc is self.dash_process and proc.poll() is not None and self.respawn_dashboards is not None
                    and moves < 3):
                # most likely the free port chosen for it was taken before it bound it (a kernel's socket,
                # say): another one (Lab's /dashboards reads where the dashboards server announced itself);
                # a server that fails for another reason fails on every port, and the error says why
                moves += 1
                self.dash_port = free_port()
                self.dash_process = self.respawn_dashboards(self.dash_port)
                waiting[0] = (f"{self.dash_base}/voila/static/opsnb.js", self.dash_process, self.dash_port)
                continue
            if proc.poll() is not None:
                raise ServerError(f"the server on port {port} exited with status {proc.returncode}:\n"
                                  f"{self.log_tail()}", port=port, log=str(self.log_path))
            try:
                with urllib.request.urlopen(url, timeout=2) as resp:  # noqa: S310 (loopback URL we built)
                    if resp.status == 200:
                        waiting.pop(0)
                        continue
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.25)
        if not waiting:
            return
        raise ServerError(f"the Jupyter server did not answer {url} within {timeout:.0f} s:\n{self.log_tail()}",
                          port=self.port, log=str(self.log_path))

    def stop(self, timeout: float = 15.0) -> int:
        """Stop background jobs and the server (SIGTERM, then SIGKILL after ``timeout``). Returns its status."""
        for stop in reversed(self.stoppers):
            with contextlib.suppress(Exception):  # stopping goes on whatever one part does
                stop()
        children = [p for p in (self.dash_process, self.process) if p is not None]
        for proc in children:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in children:
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        return int(self.process.returncode or 0)


def dashboards_argv(*, port: int, root: Path, workspace: Path, preheat: int = 0,
                    max_kernels: int | None = None) -> list[str]:
    """The command line of the dashboards server child (:mod:`opsnb.web.share`)."""
    argv = [sys.executable, "-m", "opsnb.web.share", "--port", str(port), "--root", str(root),
            "--workspace", str(workspace), "--preheat", str(preheat)]
    if max_kernels:
        argv += ["--max-kernels", str(max_kernels)]
    return argv


def start(workspace: Path, *, port: int, root_dir: Path, dashboards_dir: str = "dashboards",
          token: str | None = None, cull_idle: int = CULL_IDLE_SECONDS, dash_port: int | None = None,
          share_token: str = "", share_id: str = "", preheat: int = 0) -> Server:
    """Start the Jupyter child and, given ``share_token``, the dashboards child (then :meth:`Server.wait_ready`).

    Args:
        dash_port: The dashboards server's port (default: ``port + 1``, else any free one).

    Raises:
        Conflict: ``port`` (or an explicit ``dash_port``) is taken.
    """
    if not port_free(port):
        raise Conflict(f"port {port} on 127.0.0.1 is in use; pick another with --port", kind="port", key=port)
    dash_root = (root_dir / dashboards_dir).resolve()
    chosen = share_token and dash_port is None
    if share_token:
        if dash_port is None:
            dash_port = port + 1 if port < 65535 and port_free(port + 1) else free_port()
        elif not port_free(dash_port):
            raise Conflict(f"port {dash_port} on 127.0.0.1 is in use; pick another with --dashboards-port",
                           kind="port", key=dash_port)
    token = token or secrets.token_hex(24)
    write_config(workspace, cull_idle=cull_idle)
    log_path = workspace / ".jupyter" / "server.log"
    env = jupyter_env(workspace, token=token)
    if share_token:
        env["OPSNB_DASHBOARDS_URL"] = f"http://127.0.0.1:{dash_port}"  # where Lab's /dashboards leads
    def dashboards(on: int) -> subprocess.Popen[bytes]:
        from opsnb.web.share import kernel_env, template_dir

        denv = kernel_env(jupyter_env(workspace), workspace)
        denv["JUPYTER_PATH"] = os.pathsep.join(p for p in (str(template_dir()), os.environ.get("JUPYTER_PATH"))
                                               if p)
        dash_root.mkdir(parents=True, exist_ok=True)
        with open(log_path, "ab") as dlog:  # the child keeps its own copy of the descriptor
            return subprocess.Popen(  # noqa: S603 - fixed argv, no shell
                dashboards_argv(port=on, root=dash_root, workspace=workspace, preheat=preheat),
                cwd=dash_root, env=denv, stdin=subprocess.DEVNULL, stdout=dlog, stderr=subprocess.STDOUT,
                start_new_session=True)

    log = open(log_path, "ab")  # noqa: SIM115 - handed to the child, closed when we return
    dash_proc = None
    try:
        proc = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
            server_argv(port=port, root_dir=root_dir), cwd=root_dir, env=env,
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        if share_token and dash_port:
            dash_proc = dashboards(dash_port)
    finally:
        log.close()
    server = Server(port=port, token=token, root_dir=root_dir, dashboards_dir=dashboards_dir, process=proc,
                    log_path=log_path, runs_path=expose_runs(workspace, root_dir), dash_port=dash_port,
                    dash_process=dash_proc, share_token=share_token, share_id=share_id,
                    respawn_dashboards=dashboards if chosen else None)
    if server.runs_path == RUNS_LINK:
        link, runs = root_dir / RUNS_LINK, (workspace / "runs").resolve()

        def unlink() -> None:  # the link lives as long as the server: no dangling link in the root
            if link.is_symlink() and link.resolve() == runs:
                link.unlink()

        server.stoppers.insert(0, unlink)  # stoppers run last-first: this one after the scheduler's
    return server


def serve_forever(server: Server, *, echo: Callable[[str], None] = print) -> int:
    """Wait until SIGINT, SIGTERM, SIGHUP, a broken stdout or the child's own exit, then stop everything.

    Closing the terminal (SIGHUP) or the reader of a piped stdout going away must stop Jupyter as
    Ctrl-C does: otherwise it is orphaned, holding the port. Returns an exit status.
    """
    stopping = {"signal": 0}

    def on_signal(signum: int, _frame: Any) -> None:
        stopping["signal"] = signum

    def say(text: str) -> None:
        with contextlib.suppress(OSError, ValueError):  # stdout may be the broken pipe itself
            echo(text)

    old = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    reason = ""
    try:
        while not stopping["signal"] and server.process.poll() is None:
            if stdout_gone():
                reason = "stdout closed"
                break
            time.sleep(0.2)
    finally:
        for s, h in old.items():
            signal.signal(s, h)
    if stopping["signal"] or reason:
        say(f"stopping ({reason or signal.Signals(stopping['signal']).name})...")
        server.stop()
        say("stopped")
        return 0
    server.stop()
    say(f"the Jupyter server exited with status {server.process.returncode}:\n{server.log_tail()}")
    return 1


def stdout_gone() -> bool:
    """Whether stdout is a pipe or socket whose reader has gone (poll reports an error or hang-up on it)."""
    import select
    import stat

    try:
        fd = sys.stdout.fileno()
        if not stat.S_ISFIFO(os.fstat(fd).st_mode) and not stat.S_ISSOCK(os.fstat(fd).st_mode):
            return False  # a terminal's hang-up arrives as SIGHUP; a file never goes away
        poller = select.poll()
        poller.register(fd, select.POLLERR | select.POLLHUP)
        return any(ev & (select.POLLERR | select.POLLHUP) for _, ev in poller.poll(0))
    except (OSError, ValueError, AttributeError):
        return False


# ------------------------------------------------------------ server extension
def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "opsnb.web.server"}]


def _load_jupyter_server_extension(serverapp: Any) -> None:
    """Add ``/dashboards`` and ``/dashboards/<name>``, leading to the dashboards server (its own origin)."""
    from jupyter_server.utils import url_path_join
    from tornado import web

    fallback = os.environ.get("OPSNB_DASHBOARDS_URL", "")
    workspace = os.environ.get("OPSNB_WORKSPACE", "")
    base = serverapp.web_app.settings["base_url"]

    class DashboardRedirect(web.RequestHandler):
        def get(self, name: str = "") -> None:
            from opsnb.web.share import server_url

            # where the dashboards server says it listens (it may have moved off a port taken at start)
            target = (server_url(Path(workspace)) if workspace and fallback else None) or fallback
            if not target:
                raise web.HTTPError(404, "no dashboards server runs beside this Jupyter server")
            query = f"?{self.request.query}" if self.request.query else ""
            self.redirect(f"{target}/dashboards/{name.strip('/')}{query}")

    serverapp.web_app.add_handlers(".*$", [
        (url_path_join(base, "dashboards/?"), DashboardRedirect),
        (url_path_join(base, r"dashboards/([\w.-]+)"), DashboardRedirect),
    ])
