"""``opsnb user`` and ``opsnb audit`` through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from opsnb.cli import cli


@pytest.fixture
def ws(tmp_path: Path) -> str:
    return str(tmp_path / "ws")


def invoke(*args: str, user: str = "tester") -> tuple[int, str]:
    res = CliRunner().invoke(cli, list(args), env={"OPSNB_USER": user}, catch_exceptions=False)
    return res.exit_code, res.output


def test_grant_whoami_and_audit(ws: str) -> None:
    from opsnb.errors import PermissionDenied

    assert invoke("user", "grant", "tester", "admin", "-w", ws)[0] == 0
    assert invoke("user", "grant", "bob", "responder", "--reason", "rota", "-w", ws)[0] == 0
    code, out = invoke("user", "whoami", "--format", "json", "-w", ws, user="bob")
    assert code == 0 and json.loads(out) == [{"user": "bob", "role": "responder"}]
    with pytest.raises(PermissionDenied):
        invoke("user", "grant", "bob", "admin", "-w", ws, user="bob")
    code, out = invoke("audit", "list", "--format", "json", "-w", ws)
    rows = json.loads(out)
    assert [r["target"] for r in rows] == ["bob", "tester"] and rows[0]["reason"] == "rota"
    code, out = invoke("audit", "verify", "-w", ws)
    assert code == 0 and "True" in out


def test_bad_role_is_a_usage_error(ws: str) -> None:
    code, out = invoke("user", "grant", "bob", "root", "-w", ws)
    assert code == 2 and "'root' is not one of" in out
