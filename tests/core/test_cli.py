"""The CLI core: version, help, config, error exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from opsnb.cli import cli, main


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "opsnb", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=120)


def test_version_and_help() -> None:
    out = run("--version")
    assert out.returncode == 0 and out.stdout.startswith("opsnb, version ")
    helped = run("--help")
    assert helped.returncode == 0 and "Example:" in helped.stdout


def test_config_json_shows_sources(tmp_path: Path) -> None:
    out = run("config", "--workspace", str(tmp_path / "ws"), "--format", "json")
    assert out.returncode == 0, out.stderr
    rows = {r["name"]: r for r in json.loads(out.stdout)}
    assert rows["workspace"]["value"] == str(tmp_path / "ws") and rows["workspace"]["source"] == "argument"
    assert rows["port"]["source"] == "default"


def test_opsnb_errors_become_one_line_and_exit_1(tmp_path: Path) -> None:
    f = tmp_path / "file"
    f.write_text("x")
    out = run("config", "--workspace", str(f))
    assert out.returncode == 1
    assert out.stderr.strip().splitlines() == [f"error: workspace {f}: the workspace is a file, not a directory"]


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["config", "--format", "yaml"])
    assert info.value.code == 2
    assert "Invalid value for '--format'" in capsys.readouterr().err


def test_every_registered_command_has_an_example_in_its_help() -> None:
    import click

    def walk(cmd: click.Command, path: str) -> list[str]:
        missing = [] if "Example" in (cmd.help or "") else [path]
        if isinstance(cmd, click.Group):
            for name, sub in cmd.commands.items():
                missing += walk(sub, f"{path} {name}")
        return missing

    ctx = click.Context(cli)
    missing: list[str] = []
    for name in cli.list_commands(ctx):
        cmd = cli.get_command(ctx, name)
        assert cmd is not None, name
        missing += walk(cmd, f"opsnb {name}")
    assert missing == []


def test_a_command_that_creates_a_workspace_says_so_once(tmp_path: Path) -> None:
    ws = tmp_path / "new-ws"
    run = [sys.executable, "-m", "opsnb", "-w", str(ws), "incident", "list"]
    first = subprocess.run(run, capture_output=True, text=True, timeout=60)
    assert first.returncode == 0 and f"created a new, empty workspace at {ws}" in first.stderr
    second = subprocess.run(run, capture_output=True, text=True, timeout=60)
    assert second.returncode == 0 and "created" not in second.stderr


def test_a_mistyped_command_gets_a_suggestion() -> None:
    res = subprocess.run([sys.executable, "-m", "opsnb", "incdent"], capture_output=True, text=True, timeout=60)
    assert res.returncode == 2 and "Did you mean 'incident'?" in res.stderr
