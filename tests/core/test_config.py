"""Settings: one table, layered sources, clear errors, masked secrets."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import opsnb
from opsnb.config import SETTINGS, Settings, mask_url
from opsnb.errors import ConfigError, StoreError, WorkspaceError

REPO = Path(__file__).resolve().parents[2]


def test_defaults_then_toml_then_env_then_kwargs(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "opsnb.toml").write_text('retention_days = 10\nport = 9000\ntimezone = "Europe/Paris"\n')
    env = {"OPSNB_PORT": "9100", "OPSNB_TIMEZONE": "Asia/Tokyo"}
    s = Settings.load(ws, environ=env, timezone="UTC")
    assert s.executor == "local" and s.source("executor") == "default"
    assert s.retention_days == 10 and s.source("retention_days") == str(ws / "opsnb.toml")
    assert s.port == 9100 and s.source("port") == "OPSNB_PORT"
    assert s.timezone == "UTC" and s.source("timezone") == "argument"


def test_toml_may_use_an_opsnb_table(tmp_path: Path) -> None:
    (tmp_path / "opsnb.toml").write_text("[opsnb]\nexecutor_workers = 3\n")
    assert Settings.load(tmp_path, environ={}).executor_workers == 3


def test_workspace_from_env_and_argument(tmp_path: Path) -> None:
    assert Settings.load(None, environ={"OPSNB_WORKSPACE": str(tmp_path)}).workspace == str(tmp_path)
    assert Settings.load(tmp_path / "x", environ={"OPSNB_WORKSPACE": str(tmp_path)}).workspace == str(tmp_path / "x")
    assert Settings.load(None, environ={}).workspace == "data/workspace"


@pytest.mark.parametrize("text, expect", [
    ("port = \n", r"malformed .*opsnb.toml.*line 1"),
    ("retention_dayz = 3\n", r"unknown setting 'retention_dayz' in .*opsnb.toml; did you mean 'retention_days'"),
    ('port = "eighty"\n', r"setting 'port' from .*opsnb.toml must be int, got 'eighty'"),
    ('workspace = "/elsewhere"\n', r"'workspace' cannot be set in the file"),
])
def test_bad_toml_is_one_clear_error_and_writes_nothing(tmp_path: Path, text: str, expect: str) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "opsnb.toml").write_text(text)
    with pytest.raises(ConfigError, match=expect) as info:
        opsnb.connect(ws)
    assert info.value.source.endswith("opsnb.toml")
    assert sorted(p.name for p in ws.iterdir()) == ["opsnb.toml"]


def test_invalid_utf8_toml(tmp_path: Path) -> None:
    (tmp_path / "opsnb.toml").write_bytes(b"port = 1\n\xff\xfe\n")
    with pytest.raises(ConfigError, match="malformed"):
        Settings.load(tmp_path, environ={})


def test_unknown_keyword_and_bad_env(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown setting 'prot' in keyword arguments; did you mean 'port'"):
        opsnb.connect(tmp_path / "ws", prot=1)
    with pytest.raises(ConfigError, match="OPSNB_SSH_TRUST_ON_FIRST_USE"):
        Settings.load(tmp_path, environ={"OPSNB_SSH_TRUST_ON_FIRST_USE": "maybe"})
    assert not (tmp_path / "ws").exists()


def test_missing_config_file_named_by_env(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="OPSNB_CONFIG names"):
        Settings.load(tmp_path, environ={"OPSNB_CONFIG": str(tmp_path / "nope.toml")})


def test_workspace_that_is_a_file(tmp_path: Path) -> None:
    f = tmp_path / "ws"
    f.write_text("not a directory")
    with pytest.raises(WorkspaceError, match="is a file, not a directory") as info:
        opsnb.connect(f)
    assert info.value.path == str(f)
    with pytest.raises(WorkspaceError, match="its parent .* is a file"):
        opsnb.connect(f / "sub")
    assert f.read_text() == "not a directory"


def test_unreachable_database_writes_nothing(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    url = "postgresql+psycopg://opsnb:hunter2@127.0.0.1:1/nope"
    with pytest.raises(StoreError, match=r"cannot reach the state database postgresql\+psycopg://opsnb:\*\*\*@") as info:
        opsnb.connect(ws, database_url=url)
    assert "hunter2" not in str(info.value) and "hunter2" not in repr(info.value)
    assert not ws.exists()


def test_secrets_are_masked_in_repr_and_table(tmp_path: Path) -> None:
    s = Settings.load(tmp_path, environ={"OPSNB_API_TOKEN": "s3cr3t-token"},
                      database_url="postgresql://u:pw@h/db")
    shown = repr(s) + str(s.table())
    assert "s3cr3t-token" not in shown and ":pw@" not in shown
    assert "postgresql://u:***@h/db" in shown
    assert mask_url("sqlite:///x.db") == "sqlite:///x.db"


def test_readme_settings_section_matches_the_table() -> None:
    readme = (REPO / "README.md").read_text()
    section = readme.split("## Settings", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `([a-z_]+)` \| `([^`]*)` \| `(OPSNB_[A-Z_]+)` \|", section, re.M)
    assert rows == [(s.name, str(s.default), s.env) for s in SETTINGS]
