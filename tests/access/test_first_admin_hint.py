"""A fresh workspace's first refused change says how to become its first admin."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from opsnb.errors import PermissionDenied
from tests.conftest import make_ops


def test_refusal_explains_the_first_grant_until_there_is_an_admin(tmp_path: Path, db_url: str) -> None:
    ops = make_ops(tmp_path / "ws", db_url if "postgres" in db_url else "", admin=None)
    try:
        ops.user = "dana o'brien"
        with pytest.raises(PermissionDenied) as err:
            ops.incidents.create(title="x", service="y")
        msg = str(err.value)
        assert "dana o'brien is viewer; incident.create needs responder" in msg
        assert "opsnb user grant 'dana o'\"'\"'brien' admin" in msg  # quoted for the shell
        ops.access.grant("dana o'brien", "admin")
        ops.access.grant("eve", "viewer")
        ops.user = "eve"
        with pytest.raises(PermissionDenied) as err:
            ops.incidents.create(title="x", service="y")
        assert "grant" not in str(err.value)  # an admin exists: only they can help, no recipe
    finally:
        ops.close()


def test_cli_first_mutating_command_prints_the_recipe(tmp_path: Path) -> None:
    env = {**os.environ, "OPSNB_USER": "tester"}
    out = subprocess.run([sys.executable, "-m", "opsnb", "incident", "create", "--title", "x", "--service", "y",
                          "--workspace", str(tmp_path / "ws")], capture_output=True, text=True, env=env,
                         timeout=120)
    assert out.returncode == 1
    assert "`opsnb user grant tester admin`" in out.stderr, out.stderr
