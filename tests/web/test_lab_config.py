"""What ``opsnb up`` tells Jupyter: no news pop-up or update checks; run outputs inside Lab's file browser."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import pytest

from opsnb.web import server as srv
from tests.conftest import make_ops


def test_config_turns_the_news_off(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    cfg = json.loads(srv.write_config(ws).read_text())
    settings_dir = Path(cfg["LabApp"]["app_settings_dir"])
    assert settings_dir.is_relative_to(ws)
    overrides = json.loads((settings_dir / "overrides.json").read_text())
    assert overrides["@jupyterlab/apputils-extension:notification"] == {"fetchNews": "false",
                                                                        "checkForUpdates": False}
    assert cfg["LabApp"]["news_url"] is None


def test_runs_inside_the_root_are_shown_where_they_are(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "data" / "ws").mkdir(parents=True)
    assert srv.expose_runs(root / "data" / "ws", root) == "data/ws/runs"
    assert not (root / srv.RUNS_LINK).exists()


def test_runs_outside_the_root_are_linked_into_it(tmp_path: Path) -> None:
    root, ws, other = tmp_path / "root", tmp_path / "elsewhere" / "ws", tmp_path / "other"
    root.mkdir()
    assert srv.expose_runs(ws, root) == srv.RUNS_LINK
    link = root / srv.RUNS_LINK
    assert link.is_symlink() and link.resolve() == (ws / "runs").resolve()
    assert srv.expose_runs(ws, root) == srv.RUNS_LINK  # again: kept
    assert srv.expose_runs(other, root) == srv.RUNS_LINK and link.resolve() == (other / "runs").resolve()
    link.unlink()
    link.mkdir()  # someone's own directory of that name is left alone
    assert srv.expose_runs(ws, root) is None and not link.is_symlink()


@pytest.mark.slow
def test_real_lab_has_no_news_and_opens_run_outputs(tmp_path: Path) -> None:
    ws, root = tmp_path / "ws", tmp_path / "root"
    root.mkdir()
    make_ops(ws).close()
    out = ws / "runs" / "disk-usage" / "2026-12-05"
    out.mkdir(parents=True)
    (out / "r1.ipynb").write_text(json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    server = srv.start(ws, port=srv.free_port(), root_dir=root)
    try:
        server.wait_ready()
        assert server.urls()["runs"].startswith(f"{server.base}/lab/tree/{srv.RUNS_LINK}?token=")

        def get(path: str) -> dict:
            req = urllib.request.Request(f"{server.base}{path}", headers={"Authorization": f"token {server.token}"})
            with urllib.request.urlopen(req, timeout=20) as r:  # noqa: S310 - our local server
                return json.loads(r.read())

        notif = get("/lab/api/settings/@jupyterlab/apputils-extension:notification")
        props = notif["schema"]["properties"]  # overrides become the schema's defaults
        assert props["fetchNews"]["default"] == "false" and props["checkForUpdates"]["default"] is False
        listing = get(f"/api/contents/{srv.RUNS_LINK}/disk-usage/2026-12-05")
        assert [c["name"] for c in listing["content"]] == ["r1.ipynb"]
    finally:
        server.stop()
    assert not (root / srv.RUNS_LINK).is_symlink()  # removed with the server
