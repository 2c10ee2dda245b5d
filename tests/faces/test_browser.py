"""The overview dashboard in a real browser: `opsnb up` serves it from its own dashboards server,
Debian's chromium draws it through the share link."""

from __future__ import annotations

import os
import shutil
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.upserver import Up, chromium, local_page, need_chromium, running_up

SHOT = os.environ.get("OPSNB_SCREENSHOT_DIR")  # set it to keep the screenshot for a person to look at


@pytest.fixture(scope="module")
def up(demo_workspace: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Up]:
    need_chromium()
    ws = tmp_path_factory.mktemp("browser") / "ws"
    shutil.copytree(demo_workspace, ws)
    with running_up(ws, "--no-live") as server:
        yield server
    assert "stopping (SIGTERM)" in server.output and "stopped" in server.output


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=20) as r:  # noqa: S310 - loopback
            return int(r.status)
    except urllib.error.HTTPError as exc:
        return exc.code


@pytest.mark.browser
@pytest.mark.slow
def test_overview_dashboard_renders_in_chromium(up: Up, tmp_path: Path) -> None:
    with chromium() as browser:
        page = local_page(browser)
        page.goto(up.dashboard("overview"), timeout=180_000)
        assert "/voila/render/overview.ipynb" in page.url  # the short URL redirects to Voila's render URL
        page.wait_for_selector(".js-plotly-plot .main-svg", timeout=180_000)
        page.wait_for_selector("text=Recent deploys", timeout=60_000)
        text = page.inner_text("body")
        shot = tmp_path / "overview.png"
        page.screenshot(path=str(shot), full_page=True)
        if SHOT:
            shutil.copy(shot, Path(SHOT) / "overview.png")
    assert "Service overview" in text and "Service health" in text
    for svc in ("frontend", "checkout", "payments", "catalog", "search", "auth"):
        assert svc in text
    assert "errors (1h)" in text and "DEP-" in text
    assert "Traceback" not in text and "Error" not in text.replace("Error ratio", "")
    assert shot.stat().st_size > 20_000


@pytest.mark.browser
@pytest.mark.slow
def test_dashboards_have_their_own_origin_and_refuse_the_rest(up: Up) -> None:
    assert up.dash_base != up.base  # another port: another origin than Lab and its APIs
    tok = up.share_token
    for path in ("/lab", "/api/contents", "/api/kernels", "/api/sessions", "/api/terminals", "/tree",
                 "/voila/api/contents/overview.ipynb"):
        assert _status(f"{up.dash_base}{path}?token={tok}") == 403, path
    # no share token, a wrong one, or the Lab token: refused
    assert _status(f"{up.dash_base}/voila/render/overview.ipynb") == 403
    assert _status(f"{up.dash_base}/voila/render/overview.ipynb?token=share_000000000000_nope") == 403
    assert _status(f"{up.dash_base}/voila/render/overview.ipynb?token={up.token}") == 403
    with urllib.request.urlopen(f"{up.dash_base}/dashboards/?token={tok}", timeout=20) as r:  # noqa: S310
        assert "Content-Security-Policy" in r.headers
        csp = r.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "'unsafe-inline'" not in csp.split("script-src")[1].split(";")[0]
    assert "frame-ancestors 'none'" in csp
    # the Lab server no longer renders dashboards: its /dashboards leads to the dashboards server
    req = urllib.request.Request(f"{up.base}/dashboards/overview", method="GET")
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        opener.open(req, timeout=20)
        location = ""
    except urllib.error.HTTPError as exc:
        location = exc.headers.get("Location", "")
    assert location.startswith(up.dash_base)
    assert _status(f"{up.base}/voila/render/dashboards/overview.ipynb?token={up.token}") == 404


@pytest.mark.browser
@pytest.mark.slow
def test_the_listing_shows_the_dashboards_not_the_repository(up: Up) -> None:
    with chromium() as browser:
        page = local_page(browser)
        page.goto(up.share, timeout=60_000)
        page.wait_for_selector("text=overview.ipynb", timeout=60_000)
        text = page.inner_text("body")
    assert "overview" in text
    for outside in ("opsnb", "tests", "pyproject.toml", "notebooks"):
        assert outside not in text.split(), outside


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None
