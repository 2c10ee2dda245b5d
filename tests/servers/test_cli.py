"""``opsnb fleet ...`` end to end (real sshd for run and facts)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from opsnb.cli import cli
from opsnb.testing import SshdFleet, free_port
from tests.conftest import make_ops
from tests.servers.test_inventory import INI


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    ops = make_ops(tmp_path / "ws")
    ops.close()
    return tmp_path / "ws"


def invoke(ws: Path, *args: str, env: dict[str, str] | None = None) -> object:
    return CliRunner().invoke(cli, ["--workspace", str(ws), "fleet", *args], env=env, catch_exceptions=False)


def test_add_list_import_export(ws: Path, tmp_path: Path) -> None:
    r = invoke(ws, "add", "web-1", "10.0.0.1", "--user", "deploy", "-l", "role=web", "-l", "env=prod")
    assert r.exit_code == 0, r.output
    inv = tmp_path / "hosts.ini"
    inv.write_text(INI)
    r = invoke(ws, "import", "ansible", str(inv), "--format", "json")
    assert r.exit_code == 0, r.output
    rows = json.loads(r.stdout)
    assert sum(1 for x in rows if x["action"] == "created") == 6
    r = invoke(ws, "list", "role=web", "--format", "json")
    assert sorted(x["name"] for x in json.loads(r.stdout)) == [
        "web-1", "web01.example.com", "web02.example.com", "web03.example.com"]
    r = invoke(ws, "list", "role=web")
    assert "role=web" in r.output and r.output.splitlines()[0].split()[:3] == ["name", "address", "port"]
    r = invoke(ws, "export", "group=db")
    assert "db-1:" in r.output and "web-1" not in r.output
    r = invoke(ws, "remove", "web-1")
    assert r.exit_code == 0


def test_bad_input_is_one_clear_line(ws: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from opsnb.cli import main

    def run_main(*args: str) -> tuple[int, str]:
        with pytest.raises(SystemExit) as ei:
            main(["--workspace", str(ws), "fleet", *args])
        return int(ei.value.code or 0), capsys.readouterr().err

    bad = tmp_path / "bad.ini"
    bad.write_text("[web]\nweb-1 ansible_port=nope\n")
    code, err = run_main("import", "ansible", str(bad))
    assert code == 1 and "line 2" in err and "Traceback" not in err
    code, err = run_main("list", "role in (a")
    assert code == 1 and "unbalanced" in err
    code, err = run_main("add", "x", "1.2.3.4", "--credential", "hunter2")
    assert code == 1 and "credential must be a reference" in err
    r = invoke(ws, "run", "x")
    assert r.exit_code == 2 and "give a command" in r.output


@pytest.mark.sshd
def test_run_and_facts(ws: Path, sshd_fleet: SshdFleet) -> None:
    env = {"OPSNB_KNOWN_HOSTS": str(sshd_fleet.known_hosts), "OPSNB_SSH_KEY_FILE": str(sshd_fleet.client_key)}
    for kw in sshd_fleet.inventory()[:2]:
        invoke(ws, "add", kw["name"], kw["address"], "--port", str(kw["port"]), "--user", kw["user"],
               "-l", "role=web")
    r = invoke(ws, "run", "role=web", "--format", "json", "--", "printf", "%s", "a;b $(id)", env=env)
    assert r.exit_code == 0, r.output
    rows = json.loads(r.stdout)
    assert [(x["host"], x["exit_status"], x["stdout"]) for x in rows] == [
        ("sshd-0", 0, "a;b $(id)"), ("sshd-1", 0, "a;b $(id)")]
    invoke(ws, "add", "dead", "127.0.0.1", "--port", str(free_port()), "-l", "role=web")
    r = invoke(ws, "run", "role=web", "--read-only", "--timeout", "5s", "--", "uptime", env=env)
    assert r.exit_code == 2  # one host failed
    assert "ConnectError" in r.output and "load average" in r.output
    r = invoke(ws, "facts", "name~sshd-*", "--format", "json", env=env)
    assert r.exit_code == 0, r.output
    facts = json.loads(r.stdout)
    assert [f["host"] for f in facts] == ["sshd-0", "sshd-1"] and all(f["kernel"] for f in facts)
    r = invoke(ws, "facts", "name~sshd-*", "--cached", env=env)
    assert "sshd-0" in r.output
