"""opsnb.widgets (escaping, URL parameters, panel states) and the dashboards' share tokens."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

import opsnb.widgets as w
from opsnb.errors import NotFound
from opsnb.web import share

PAYLOAD = '<img src=x onerror="alert(1)">'


def test_data_strings_are_escaped_in_every_part() -> None:
    df = pd.DataFrame({"service": [PAYLOAD], "status": [PAYLOAD], "at": [pd.NaT]})
    html = w.table(df, badges=["status"]).data + w.badge(PAYLOAD) + w.kpi(PAYLOAD, PAYLOAD, hint=PAYLOAD)
    html += w.header(PAYLOAD, workspace=PAYLOAD, hours=6) + w.banner(PAYLOAD).data + w.empty(PAYLOAD).data
    html += w.error(PAYLOAD, ValueError(PAYLOAD)).data
    assert "<img" not in html and "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in html
    assert "NaT" not in w.table(df).data  # a missing time shows as a dash


def test_tables_sort_and_page() -> None:
    df = pd.DataFrame({"n": range(60), "name": [f"s{i}" for i in range(60)]})
    page2 = w.table(df, sort="n", descending=True, page=2, page_size=25).data
    assert "rows 26-50 of 60, page 2 of 3" in page2 and ">34</td>" in page2 and ">59</td>" not in page2
    assert "No rows." in w.table(df.iloc[:0]).data


def test_url_parameters_are_typed_bounded_and_declared_only() -> None:
    got = w.params({"hours": 24, "service": "", "live": False, "ratio": 0.5},
                   query="hours=abc&service=checkout&live=yes&ratio=0.9&workspace=/etc")
    assert got == {"hours": 24, "service": "checkout", "live": True, "ratio": 0.9}
    assert w.params({"hours": 24}, query="hours=100000")["hours"] == 24 * 90
    assert w.params({"hours": 24}, query="hours=-5")["hours"] == 1


def test_status_and_severity_colours() -> None:
    assert [w.tone_of(s) for s in ("resolved", "firing", "running", "SEV1", "whatever")] == \
        ["ok", "bad", "warn", "sev1", "muted"]


def test_a_failing_panel_shows_its_error_and_the_board_goes_on() -> None:
    board = w.Board("T", None, params={"hours": 6}, refresh=0)

    def boom(_p: dict[str, Any]) -> Any:
        raise RuntimeError("database is down")

    bad = board.panel("Broken", boom)
    good = board.panel("Fine", lambda p: pd.DataFrame({"hours": [p["hours"]]}))
    none = board.panel("Empty", lambda p: pd.DataFrame())
    board.redraw()
    text = [str(o) for p in (bad, good, none) for o in p.outputs]
    assert "Broken" in text[0] and "database is down" in text[0] and "Traceback" not in text[0]
    assert isinstance(bad.error, RuntimeError) and good.error is None
    assert "No rows" in text[2] or "Nothing" in text[2]
    assert "1 panel(s) failed" in board.status.value and "no auto-refresh" in board.status.value


def test_share_tokens_are_checked_revoked_and_audited(ops_sqlite: Any) -> None:
    ops = ops_sqlite
    made = share.create(ops, expires="1h", reason="test")
    assert share.check(ops.workspace, made.token) == made.id
    assert share.check(ops.workspace, made.token + "x") is None
    assert share.check(ops.workspace, "opsnb_000000000000_" + "a" * 40) is None
    assert "sha256" not in share.list_tokens(ops.workspace)[0] and made.token not in \
        (ops.workspace / ".jupyter" / share.SHARE_FILE).read_text()
    share.revoke(ops, made.id, reason="done")
    assert share.check(ops.workspace, made.token) is None
    with pytest.raises(NotFound):
        share.revoke(ops, made.id)
    actions = ops.audit.list()["action"].tolist() if hasattr(ops.audit, "list") else []
    assert {"share.create", "share.revoke"} <= set(actions)


def test_dashboard_kernels_get_no_secrets_and_a_viewer_identity(tmp_path: Any) -> None:
    env = share.kernel_env({"PATH": "/bin", "OPSNB_API_TOKEN": "s3cret", "JUPYTER_TOKEN": "t", "AWS_SECRET_X": "y",
                            "OPSNB_SSH_PASSWORD_VALUE": "p", "OPSNB_USER": "root"}, tmp_path)
    assert env["PATH"] == "/bin" and env["OPSNB_USER"] == share.VIEWER and env["OPSNB_DEFAULT_ROLE"] == "viewer"
    assert not {"OPSNB_API_TOKEN", "JUPYTER_TOKEN", "AWS_SECRET_X", "OPSNB_SSH_PASSWORD_VALUE"} & set(env)
