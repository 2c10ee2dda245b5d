"""``opsnb up`` for real: a Jupyter server with Lab, Voila and the API; a clean stop on SIGINT/SIGTERM."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from opsnb.web.server import free_port, jupyter_env, port_free, server_argv

REPO = Path(__file__).resolve().parents[2]


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as r:  # noqa: S310
            return r.status, r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _start(ws: Path, port: int) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "opsnb", "-w", str(ws), "up", "--port", str(port), "--no-browser"],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=dict(os.environ))


def _wait_up(proc: subprocess.Popen[str], port: int) -> list[str]:
    lines: list[str] = []
    assert proc.stdout is not None
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            pytest.fail(f"opsnb up exited ({proc.poll()}):\n" + "".join(lines))
        lines.append(line)
        if line.startswith("Press Ctrl-C"):
            return lines
    pytest.fail("opsnb up did not come up:\n" + "".join(lines))
    raise AssertionError


@pytest.fixture
def ws(demo_workspace: Path, tmp_path: Path) -> Path:
    dest = tmp_path / "ws"
    shutil.copytree(demo_workspace, dest)
    return dest


@pytest.mark.slow
def test_up_serves_lab_voila_and_api_then_stops_cleanly_on_sigint(ws: Path) -> None:
    sig = signal.SIGINT  # SIGTERM is exercised by tests/faces/test_browser.py
    port = free_port()
    proc = _start(ws, port)
    try:
        lines = _wait_up(proc, port)
        text = "".join(lines)
        lab = next(ln.split()[-1] for ln in lines if "JupyterLab" in ln)
        assert lab.startswith(f"http://127.0.0.1:{port}/lab?token=") and len(lab.split("token=")[1]) >= 32
        status, body = _get(f"http://127.0.0.1:{port}/opsnb/api/v1/health")
        assert status == 200 and json.loads(body)["status"] == "ok"
        assert str(ws) not in body.decode()  # the unauthenticated health check names no path
        assert "opsnb token create" in text  # how to reach the rest of the API
        api = f"http://127.0.0.1:{port}/opsnb/api/v1/incidents"
        status, body = _get(api)
        assert status == 401 and json.loads(body)["error"]["code"] == "unauthorized"
        # The person holding Jupyter's token reaches the API as themselves, through jupyter_server's identity.
        req = urllib.request.Request(api, headers={"Authorization": f"token {lab.split('token=')[1]}"})
        with urllib.request.urlopen(req, timeout=10) as r:  # noqa: S310
            assert r.status == 200 and "incidents" in json.loads(r.read())
        status, body = _get(lab)
        assert status == 200 and b"JupyterLab" in body
        status, _ = _get(f"http://127.0.0.1:{port}/lab")  # no token: sent to the login page
        assert status in (200, 302, 403)
        share = next(ln.split()[-1] for ln in lines if ln.strip().startswith("Share"))
        dash = share.split("/dashboards")[0]
        assert dash != f"http://127.0.0.1:{port}"  # dashboards: their own server and origin (tests/faces)
        status, body = _get(f"{dash}/voila/static/voila.js")
        assert status == 200 and len(body) > 1000
        assert f"{dash}/voila/render/overview.ipynb?token=share_" in text
        cfg = json.loads((ws / ".jupyter" / "config" / "jupyter_server_config.json").read_text())
        assert cfg["MappingKernelManager"]["cull_idle_timeout"] > 0
        assert not any(str(Path.home() / ".jupyter") in ln for ln in lines)
    finally:
        t0 = time.monotonic()
        proc.send_signal(sig)
        try:
            out, _ = proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            pytest.fail("opsnb up did not stop within 20 s")
    took = time.monotonic() - t0
    assert proc.returncode == 0, out
    assert "stopped" in out and took < 10
    deadline = time.monotonic() + 5
    while not port_free(port) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert port_free(port)
    assert "received signal 15, stopping" in (ws / ".jupyter" / "server.log").read_text()


def test_up_refuses_a_taken_port(ws: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        res = subprocess.run([sys.executable, "-m", "opsnb", "-w", str(ws), "up", "--port", str(port),
                              "--no-browser"], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert res.returncode == 1 and f"port {port} on 127.0.0.1 is in use" in res.stderr


def test_hermetic_environment_and_argv(tmp_path: Path) -> None:
    env = jupyter_env(tmp_path, base={"HOME": "/home/x"}, token="t0k")
    assert env["JUPYTER_CONFIG_DIR"].startswith(str(tmp_path)) and env["OPSNB_WORKSPACE"] == str(tmp_path)
    assert env["JUPYTER_TOKEN"] == "t0k"
    argv = server_argv(port=1234, root_dir=tmp_path, allow_root=False)
    assert "--ServerApp.ip=127.0.0.1" in argv and "--allow-root" not in argv and "t0k" not in " ".join(argv)
    assert "--allow-root" in server_argv(port=1234, root_dir=tmp_path, allow_root=True)


def test_up_refuses_a_workspace_that_does_not_exist(tmp_path: Path) -> None:
    typo = tmp_path / "worksapce"
    res = subprocess.run([sys.executable, "-m", "opsnb", "-w", str(typo), "up", "--no-browser"], cwd=REPO,
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 1 and "does not exist" in res.stderr and "opsnb demo" in res.stderr, res.stderr
    assert "--create" in res.stderr and not typo.exists()


@pytest.mark.slow
@pytest.mark.parametrize("how", ["sighup", "closed pipe"])
def test_up_stops_jupyter_when_the_terminal_or_pipe_goes(ws: Path, how: str) -> None:
    port = free_port()
    proc = _start(ws, port)
    try:
        _wait_up(proc, port)
        if how == "sighup":
            proc.send_signal(signal.SIGHUP)
        else:
            assert proc.stdout is not None
            proc.stdout.close()  # the reader of `opsnb up | ...` went away
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            pytest.fail(f"opsnb up kept running after {how}")
    deadline = time.monotonic() + 10
    while not port_free(port) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert port_free(port), f"Jupyter still holds port {port} after {how}"


@pytest.mark.slow
def test_the_dashboards_server_moves_when_its_chosen_port_is_taken_before_it_binds(
        ws: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The dashboards port (Lab's + 1) was free when chosen and taken seconds later, before Voila bound it
    (a kernel's socket on the other test worker): `opsnb up` exited. It now moves to another port."""
    from opsnb.web import server as srv
    from opsnb.web import share
    from opsnb.workbench import connect

    taker = socket.socket()
    for _ in range(50):  # a port whose neighbour we can take (the other worker's kernels hold ports too)
        port = free_port()
        try:
            taker.bind(("127.0.0.1", port + 1))
            break
        except OSError:
            continue
    else:
        raise AssertionError("no free port pair in 50 tries")
    taker.listen()
    monkeypatch.setattr(srv, "port_free", lambda p: True)  # it was free when checked
    with connect(ws) as ops:
        link = share.create(ops, expires="1h", reason="test", _session_link=True)
    server = srv.start(ws, port=port, root_dir=REPO, share_token=link.token, share_id=link.id)
    try:
        server.wait_ready(timeout=120)
        assert server.dash_port != port + 1
        with urllib.request.urlopen(server.urls()["share"], timeout=30) as r:  # noqa: S310
            assert r.status == 200
        req = urllib.request.Request(f"{server.base}/dashboards/overview")

        class NoRedirect(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *args: object, **kwargs: object) -> None:
                return None

        try:
            urllib.request.build_opener(NoRedirect()).open(req, timeout=30)
            raise AssertionError("no redirect")
        except urllib.error.HTTPError as exc:
            assert exc.code == 302 and exc.headers["Location"].startswith(server.dash_base)
    finally:
        server.stop()
        taker.close()
