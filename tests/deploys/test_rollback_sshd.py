"""``ops.deploys.rollback``, end to end against real OpenSSH servers and a service whose errors follow its version.

Two throwaway sshd hosts run a stand-in deploy command (``fake_deploy.sh`` as ``deploy-stub``, first
on the remote PATH through each sshd's own ``SetEnv``, as in the restart-service test) that switches
a per-host version file. A traffic thread stands in for the service: every 0.2 s it logs requests
to the lake for each host, 40 % of them 5xx while that host's version file says the bad version
(or while a ``broken`` file says the fault is elsewhere). The rollback's verification reads those
requests back, so "recovered" is decided by the service's error ratio (or, when the service has an
SLO, its 5-minute burn rate), not the command's exit status. The state database is SQLite and
PostgreSQL (``OPSNB_TEST_DATABASE_URL``), like every state test.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from opsnb.errors import CommandError, PermissionDenied, ValidationError
from opsnb.testing import SshdFleet, sshd_available
from opsnb.testing import test_user as login_user  # not named test_*: pytest would collect it
from opsnb.workbench import connect
from tests.conftest import make_ops, skip_missing

STAND_IN = Path(__file__).with_name("fake_deploy.sh")
GOOD, BAD = "1.0.0", "1.1.0"


@dataclass
class Rig:
    fleet: SshdFleet
    state: dict[str, Path]

    def set(self, host: str, name: str, text: str | None) -> None:
        p = self.state[host] / name
        if text is None:
            p.unlink(missing_ok=True)
            return
        p.write_text(text)
        if os.geteuid() == 0:
            os.chown(p, pwd.getpwnam(self.fleet.user).pw_uid, -1)

    def version(self, host: str) -> str:
        p = self.state[host] / "checkout.version"
        return p.read_text().strip() if p.exists() else ""

    def reset(self) -> None:
        for h in self.state:
            for name in ("calls", "fail", "broken", "checkout.version"):
                self.set(h, name, None)
            self.set(h, "checkout.version", BAD + "\n")  # the bad release is live


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    if not sshd_available():
        skip_missing("openssh-server (sshd)")
    base = Path(tempfile.mkdtemp(prefix="opsnb-deploy-", dir="/tmp"))  # the test user must reach it
    os.chmod(base, 0o755)
    uid = pwd.getpwnam(login_user()).pw_uid if os.geteuid() == 0 else -1
    (base / "bin").mkdir()
    shutil.copyfile(STAND_IN, base / "bin" / "deploy-stub")
    os.chmod(base / "bin" / "deploy-stub", 0o755)
    state = {}
    for i in range(2):
        d = base / f"app-{i}"
        d.mkdir()
        os.chmod(d, 0o777 if uid >= 0 else 0o755)
        if uid >= 0:
            os.chown(d, uid, -1)
        state[f"app-{i}"] = d

    def config(i: int) -> str:
        return f"SetEnv PATH={base / 'bin'}:/usr/local/bin:/usr/bin:/bin OPSNB_FAKE_DEPLOY={state[f'app-{i}']}\n"

    try:
        with SshdFleet(2, tmp_path_factory.mktemp("sshd"), prefix="app-", extra_config=config,
                       labels=lambda i: {"service": "checkout", "role": "web"}) as fleet:
            yield Rig(fleet, state)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _state_url(db_url: str) -> str:
    """The ``db_url`` fixture's URL when it is PostgreSQL; the workspace's own SQLite file otherwise."""
    return db_url if "postgres" in db_url else ""


SLO_YAML = (Path(__file__).parents[1] / "data" / "deploys" / "checkout-slo.yaml").read_text()


def _with_slo(ops: Any) -> None:
    """Give checkout an availability SLO of 90 %: the bad version (40 % 5xx) burns it at 4x, the good at 0."""
    d = ops.workspace / str(ops.settings.slos_dir)
    d.mkdir(parents=True, exist_ok=True)
    (d / "checkout.yaml").write_text(SLO_YAML)
    assert list(ops.slos.list()["name"]) == ["checkout-availability"], ops.slos.problems()


class Traffic:
    """The service: requests logged per host, failing while the host runs the bad version."""

    def __init__(self, ws: Path, rig: Rig, db_url: str = "") -> None:
        self.ops = connect(ws, database_url=db_url or None)
        self.ops.user = "tester"
        self.rig = rig
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def tick(self) -> None:
        now = datetime.now(UTC)
        lines = []
        for host in self.rig.state:
            bad = self.rig.version(host) == BAD or (self.rig.state[host] / "broken").exists()
            for k in range(10):
                status = 503 if bad and k < 4 else 200
                lines.append(json.dumps({"timestamp": (now - timedelta(milliseconds=k)).isoformat(),
                                         "service": "checkout", "host": host, "status": status,
                                         "message": "GET /cart"}))
        self.ops.logs.ingest_bytes("\n".join(lines) + "\n", format="jsonl", source="traffic")

    def run(self) -> None:
        while not self.stop.wait(0.2):
            self.tick()

    def __enter__(self) -> Traffic:
        self.tick()
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(10)
        self.ops.close()


@pytest.fixture
def rops(rig: Rig, tmp_path: Path, db_url: str) -> Iterator[Any]:
    rig.reset()
    ws = tmp_path / "ws"
    ops = make_ops(ws, _state_url(db_url), deploy_command='["deploy-stub", "{service}", "{version}"]',
                   deploy_hosts="service={service}", **rig.fleet.settings())
    rig.fleet.register(ops)
    ops.access.grant("olga", "operator", reason="test setup")
    ops.access.grant("vera", "viewer", reason="test setup")
    t0 = datetime.now(UTC) - timedelta(hours=2)
    ops.deploys.create(id="good", service="checkout", version=GOOD, started_at=t0)
    ops.deploys.create(id="bad", service="checkout", version=BAD, started_at=t0 + timedelta(hours=1))
    ops.user = "olga"
    yield ops
    ops.close()


def test_rollback_runs_the_command_records_it_and_verifies_recovery(rops: Any, rig: Rig, db_url: str) -> None:
    with Traffic(rops.workspace, rig, _state_url(db_url)):
        res = rops.deploys.rollback("checkout", env="prod", reason="5xx after 1.1.0", confirm=True,
                                    verify_timeout=30)
    assert res.outcome == "rolled back, recovered", str(res)
    assert res.recovered and "error ratio" in res.detail
    # no SLO for checkout: the error ratio decided, and the answer says so with its figures
    assert res.check == "error_ratio" and "check error_ratio: error ratio" in str(res)
    assert res.figures["error_ratio"] < 0.05 and res.figures["requests"] >= 20
    assert {rig.version(h) for h in rig.state} == {GOOD}
    # one argument per argv element, exactly what the template said
    assert (rig.state["app-0"] / "calls").read_text().splitlines() == ["checkout", GOOD]
    assert res.deploy.rollback_of == "bad" and res.deploy.version == GOOD
    assert rops.deploys.get("bad").status == "rolled_back"
    assert set(res.timings) == {"ssh", "command", "verify", "total"} and res.timings["total"] < 30
    phases = [json.loads(p)["phase"] if isinstance(p, str) else p["phase"]
              for p in rops.audit.list(action="deploy.rollback")["params"]]
    assert sorted(phases) == ["start", "verified"]
    assert rops.audit.list(action="fleet.run")["target"].tolist() == ["service=checkout"]


def test_a_service_with_an_slo_is_verified_by_its_5_minute_burn_rate(rops: Any, rig: Rig, db_url: str) -> None:
    _with_slo(rops)
    with Traffic(rops.workspace, rig, _state_url(db_url)):
        # SLO counts are per minute: the verdict comes in the first whole minute after the command
        res = rops.deploys.rollback("checkout", reason="5xx after 1.1.0", confirm=True, verify_timeout=90)
    assert res.outcome == "rolled back, recovered", str(res)
    assert res.check == "slo" and "SLO checkout-availability 5-minute burn rate 0.00" in res.detail, res.detail
    fig = res.figures["slos"]["checkout-availability"]
    assert fig["burn_rate"] == 0 and fig["total"] >= 20 and fig["target"] == 0.9
    done = res.deploy.started_at
    assert datetime.fromisoformat(res.figures["window_start"]) > done  # the mixed minute is left out
    assert {rig.version(h) for h in rig.state} == {GOOD}
    verified = [json.loads(p) if isinstance(p, str) else p for p in rops.audit.list(action="deploy.rollback")["params"]]
    last = next(p for p in verified if p["phase"] == "verified")
    assert last["check"] == "slo" and last["figures"]["slos"]["checkout-availability"]["burn_rate"] == 0


def test_the_error_ratio_can_be_asked_for_and_the_slo_check_is_refused_without_an_slo(rops: Any, rig: Rig,
                                                                                      db_url: str) -> None:
    with pytest.raises(ValidationError, match="no SLO"):
        rops.deploys.rollback("checkout", reason="x", confirm=True, check="slo")
    assert rig.version("app-0") == BAD and rops.audit.list(action="deploy.rollback").empty  # nothing ran
    _with_slo(rops)
    with Traffic(rops.workspace, rig, _state_url(db_url)):
        res = rops.deploys.rollback("checkout", reason="5xx", confirm=True, check="error_ratio", verify_timeout=30)
    assert res.recovered and res.check == "error_ratio", str(res)


def test_not_recovered_is_said_so(rops: Any, rig: Rig, db_url: str) -> None:
    for h in rig.state:
        rig.set(h, "broken", "the fault is in the database\n")
    with Traffic(rops.workspace, rig, _state_url(db_url)):
        res = rops.deploys.rollback("checkout", reason="5xx after 1.1.0", confirm=True, verify_timeout=2)
    assert res.outcome == "rolled back, NOT recovered" and not res.recovered
    assert "not under" in res.detail and res.check == "error_ratio" and res.figures["error_ratio"] >= 0.05
    assert "rolled back, NOT recovered (check error_ratio: error ratio" in str(res)
    assert {rig.version(h) for h in rig.state} == {GOOD}  # the command did run and the rollback is recorded
    assert res.deploy.rollback_of == "bad"


def test_refusals_change_nothing(rops: Any, rig: Rig) -> None:
    with pytest.raises(ValidationError, match="reason"):
        rops.deploys.rollback("checkout", reason=" ", confirm=True)
    with pytest.raises(ValidationError, match="confirm"):
        rops.deploys.rollback("checkout", reason="x")
    rops.user = "vera"
    with pytest.raises(PermissionDenied):
        rops.deploys.rollback("checkout", reason="x", confirm=True)
    rops.user = "olga"
    rig.set("app-1", "fail", "1\n")
    with pytest.raises(CommandError, match="app-1"):
        rops.deploys.rollback("checkout", reason="x", confirm=True, verify_timeout=1)
    assert rops.deploys.get("bad").status == "succeeded"  # a failed command records no rollback
    assert rig.version("app-1") == BAD


def test_cli_confirms_and_says_how_to_override_a_freeze(tmp_path: Path, db_url: str) -> None:
    from opsnb.cli import cli

    ws = str(tmp_path / "ws")
    env = {"OPSNB_USER": "tester", "OPSNB_DATABASE_URL": _state_url(db_url) or f"sqlite:///{tmp_path / 'state.db'}"}
    run = CliRunner()
    assert run.invoke(cli, ["user", "grant", "tester", "admin", "-w", ws], env=env).exit_code == 0
    for v in (GOOD, BAD):
        run.invoke(cli, ["deploys", "record", "--service", "checkout", "--version", v, "-w", ws], env=env)
    res = run.invoke(cli, ["deploys", "rollback", "checkout", "--reason", "5xx", "-w", ws], env=env, input="n\n")
    assert res.exit_code == 1 and "Roll checkout in prod back from 1.1.0 to 1.0.0?" in res.output
    run.invoke(cli, ["deploys", "freeze", "checkout", "--reason", "budget gone", "-w", ws], env=env)
    res = run.invoke(cli, ["deploys", "rollback", "checkout", "--to-version", "9.9.9", "--reason", "try", "--yes",
                           "-w", ws], env=env)
    assert res.exit_code == 1 and "--override-freeze --reason" in res.output
    assert "override_freeze=True" not in res.output and "budget gone" in res.output
    with connect(ws, database_url=env["OPSNB_DATABASE_URL"]) as ops:
        assert len(ops.deploys.list()) == 2  # nothing recorded


def test_the_runbook_rolls_back_and_reports_the_verdict(rig: Rig, tmp_path: Path, db_url: str) -> None:
    from tests.runbooks.conftest import REPO_RUNBOOKS

    rig.reset()
    ops = make_ops(tmp_path / "ws", _state_url(db_url), runbooks_dir=str(REPO_RUNBOOKS),
                   deploy_command='["deploy-stub", "{service}", "{version}"]', **rig.fleet.settings())
    try:
        rig.fleet.register(ops)
        t0 = datetime.now(UTC) - timedelta(hours=2)
        ops.deploys.create(id="good", service="checkout", version=GOOD, started_at=t0)
        ops.deploys.create(id="bad", service="checkout", version=BAD, started_at=t0 + timedelta(hours=1))
        dry = ops.runbooks.run("rollback-deployment", service="checkout")
        assert dry.status == "succeeded", dry.error
        assert dry.results["plan"]["to"] == GOOD and rig.version("app-0") == BAD  # a dry run changes nothing
        with Traffic(ops.workspace, rig, _state_url(db_url)):
            run = ops.runbooks.run("rollback-deployment", service="checkout", dry_run=False, verify_timeout=30,
                                   reason="5xx after 1.1.0", approve=["*"])
        assert run.status == "succeeded", run.error
        assert run.results["outcome"] == "rolled back, recovered" and run.results["recovered"] is True
        assert run.results["check"] == "error_ratio" and run.results["figures"]["error_ratio"] < 0.05
        assert {rig.version(h) for h in rig.state} == {GOOD}
        assert ops.deploys.get("bad").status == "rolled_back"
    finally:
        ops.runbooks.close()
        ops.close()
