"""`opsnb share create|list|revoke` against a running `opsnb up`: a revoked link is refused at once.

Everything is a real process: `opsnb up` (with its own Voila dashboards server) and each `opsnb
share` command, as a person would run them in another terminal. The link is followed over HTTP
with a cookie jar, as a browser does: the token once, then the cookie.
"""

from __future__ import annotations

import http.cookiejar
import json
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.upserver import REPO, running_up

pytestmark = [pytest.mark.slow]


def _opsnb(ws: Path, *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([sys.executable, "-m", "opsnb", "-w", str(ws), *args], cwd=REPO, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done


def _get(opener: Any, url: str) -> tuple[int, str]:
    try:
        with opener.open(url, timeout=30) as r:
            return int(r.status), r.read().decode(errors="replace")
    except urllib.error.HTTPError as exc:
        return int(exc.code), exc.read().decode(errors="replace")


def test_a_share_link_made_from_the_cli_works_and_is_refused_right_after_revoke(
        demo_workspace: Path, tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    shutil.copytree(demo_workspace, ws)
    with running_up(ws, "--no-live") as up:
        made = json.loads(_opsnb(ws, "share", "create", "--expires", "1h", "--reason", "review",
                                 "--format", "json").stdout)
        assert made["url"].startswith(up.dash_base + "/dashboards/?token=share_")
        jar = http.cookiejar.CookieJar()
        browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        status, body = _get(browser, made["url"])  # the listing of the dashboards
        assert status == 200 and "voila-tree-main" in body
        listing = f"{up.dash_base}/voila/tree"
        assert _get(browser, listing)[0] == 200  # now from the cookie alone
        other = urllib.request.build_opener()
        assert _get(other, listing)[0] == 403  # no cookie, no token: refused

        rows = json.loads(_opsnb(ws, "share", "list", "--format", "json").stdout)
        assert {r["id"]: r["status"] for r in rows}[made["id"]] == "active"
        assert all("sha256" not in r and "token" not in r for r in rows)

        _opsnb(ws, "share", "revoke", made["id"], "--reason", "review done")
        t0 = time.monotonic()
        assert _get(browser, listing)[0] == 403  # the cookie of a revoked link, the very next request
        assert _get(other, made["url"])[0] == 403  # and the link itself
        assert time.monotonic() - t0 < 2.0
        assert _get(other, up.dashboard("slos").replace("/dashboards/slos", "/voila/tree"))[0] == 200  # up's own link still works

        rows = json.loads(_opsnb(ws, "share", "list", "--format", "json").stdout)
        assert {r["id"]: r["status"] for r in rows}[made["id"]] == "revoked"
        assert made["id"] not in {r["id"] for r in json.loads(
            _opsnb(ws, "share", "list", "--active", "--format", "json").stdout)}
        trail = json.loads(_opsnb(ws, "audit", "list", "--action", "share.*", "--format", "json").stdout)
        mine = [(r["action"], r.get("reason")) for r in trail if r["target"] == f"share:{made['id']}"]
        assert sorted(mine) == [("share.create", "review"), ("share.revoke", "review done")]
        again = subprocess.run([sys.executable, "-m", "opsnb", "-w", str(ws), "share", "revoke", made["id"]],
                               cwd=REPO, capture_output=True, text=True, timeout=60)
        assert again.returncode == 1 and "no active share token" in again.stderr


def test_share_create_without_a_server_prints_the_token(demo_workspace: Path, tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    shutil.copytree(demo_workspace, ws)
    done = _opsnb(ws, "share", "create", "--never-expires")
    assert done.stdout.strip().startswith("share_") and "no dashboards server runs" in done.stderr
    row = json.loads(_opsnb(ws, "share", "list", "--format", "json").stdout)[-1]
    assert row["status"] == "active" and row["expires_at"] is None


def test_only_an_operator_makes_or_revokes_share_links(demo_workspace: Path, tmp_path: Path) -> None:
    from opsnb.errors import PermissionDenied
    from opsnb.web import share
    from opsnb.workbench import connect

    ws = tmp_path / "ws"
    shutil.copytree(demo_workspace, ws)
    with connect(ws, user="erin") as viewer, connect(ws, user="bob") as operator:  # demo roles
        with pytest.raises(PermissionDenied):
            share.create(viewer, expires="1h")
        made = share.create(operator, expires="1h", reason="review")
        with pytest.raises(PermissionDenied):
            share.revoke(viewer, made.id)
        assert share.check(ws, made.token) == made.id
        share.revoke(operator, made.id)
        assert share.check(ws, made.token) is None


@pytest.mark.browser
def test_an_open_page_of_a_revoked_link_loses_its_kernel(demo_workspace: Path, tmp_path: Path) -> None:
    import psutil

    from tests.upserver import chromium, local_page

    def kernels(up: Any) -> int:
        found = 0
        for child in psutil.Process(up.proc.pid).children(recursive=True):
            try:
                found += "ipykernel" in " ".join(child.cmdline())
            except psutil.Error:
                continue
        return found

    ws = tmp_path / "ws"
    shutil.copytree(demo_workspace, ws)
    with running_up(ws, "--no-live") as up, chromium() as browser:
        made = json.loads(_opsnb(ws, "share", "create", "--expires", "1h", "--format", "json").stdout)
        page = local_page(browser)
        page.goto(made["url"].replace("/dashboards/?", "/dashboards/changes?") + "&refresh=5", timeout=180_000)
        page.wait_for_selector(".opsnb-refresh", timeout=180_000)
        assert kernels(up) == 1
        _opsnb(ws, "share", "revoke", made["id"])
        deadline = time.monotonic() + 10
        while kernels(up) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert kernels(up) == 0  # the page's kernel is shut down: no more data reaches a revoked viewer
        page.close()
