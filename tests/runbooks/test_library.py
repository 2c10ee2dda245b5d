"""The runbook library, executed for real: against the demo world and real OpenSSH servers."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from opsnb.testing import SshdFleet, sshd_available
from opsnb.workbench import connect
from tests.conftest import need_program, skip_missing
from tests.runbooks.conftest import REPO_RUNBOOKS

pytestmark = [pytest.mark.sshd, pytest.mark.slow]


@pytest.fixture(scope="module")
def sshd_fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SshdFleet]:
    if not sshd_available():
        skip_missing("openssh-server (sshd)")
    with SshdFleet(2, tmp_path_factory.mktemp("sshd")) as fleet:
        yield fleet


@pytest.fixture
def world(demo_workspace: Path, tmp_path: Path, sshd_fleet: SshdFleet) -> Iterator[Any]:
    """A private copy of the demo world whose inventory also has two real sshd servers."""
    dest = tmp_path / "demo-ws"
    shutil.copytree(demo_workspace, dest)
    ops = connect(dest, runbooks_dir=str(REPO_RUNBOOKS), **sshd_fleet.settings())
    sshd_fleet.register(ops)
    yield ops
    ops.close()


@pytest.fixture
def shared(tmp_path: Path) -> Iterator[Path]:
    """A base directory outside pytest's private (0700) temp root, so the SSH test user can reach it."""
    base = Path(tempfile.mkdtemp(prefix="opsnb-rb-test-", dir="/tmp"))
    os.chmod(base, 0o755)
    yield base
    shutil.rmtree(base, ignore_errors=True)


def _shared_dir(base: Path, user: str, name: str) -> Path:
    """A directory the SSH test user can read and write (it is another account when we are root)."""
    d = base / name
    d.mkdir(parents=True)
    if os.geteuid() == 0:
        os.chown(d, pwd.getpwnam(user).pw_uid, -1)
    return d


def _ok(run: Any) -> Any:
    assert run.status == "succeeded", f"{run.runbook}: {run.error}"
    return run


def test_host_health_check_over_ssh(world: Any) -> None:
    run = _ok(world.runbooks.run("host-health-check", host="name~sshd-*", max_disk_used_pct=100.0))
    assert run.targets == ["sshd-0", "sshd-1"] and run.results["hosts"] == 2
    assert {r["host"] for r in run.results["report"]} == {"sshd-0", "sshd-1"}


def test_disk_usage_report_dry_cleanup_and_real_cleanup(world: Any, sshd_fleet: SshdFleet, shared: Path) -> None:
    d = _shared_dir(shared, sshd_fleet.user, "logs")
    old = time.time() - 30 * 86400
    for i in range(3):
        f = d / f"app.{i}.gz"
        f.write_bytes(b"x" * 100)
        os.utime(f, (old, old))
        if os.geteuid() == 0:
            os.chown(f, pwd.getpwnam(sshd_fleet.user).pw_uid, -1)
    (d / "fresh.gz").write_bytes(b"new")
    rep = _ok(world.runbooks.run("disk-usage", host="sshd-0", path=str(d)))
    assert rep.dry_run and 0 < rep.results["worst_used_pct"] <= 100
    dry = _ok(world.runbooks.run("disk-usage", host="sshd-0", path=str(d), mode="cleanup"))
    assert dry.results["candidates"] == {"sshd-0": 3} and len(list(d.iterdir())) == 4
    denied = world.runbooks.run("disk-usage", host="sshd-0", path=str(d), mode="cleanup", dry_run=False,
                                reason="test cleanup")
    assert denied.status == "failed" and "ApprovalRequired" in denied.error and len(list(d.iterdir())) == 4
    real = _ok(world.runbooks.run("disk-usage", host="sshd-0", path=str(d), mode="cleanup", dry_run=False,
                                  reason="test cleanup", approve=["*"]))
    assert real.results["deleted"] == {"sshd-0": 3}
    assert [p.name for p in d.iterdir()] == ["fresh.gz"]
    assert any("test cleanup" in r for r in world.audit.list(action="fleet.run")["reason"])


def test_restart_service_dry_run_checks_both_hosts(world: Any) -> None:
    run = _ok(world.runbooks.run("restart-service", host="name~sshd-*", service="nginx"))
    assert run.dry_run and run.results["restarted"] == []
    assert set(run.results["pre_state"]) == set(run.results["post_state"]) == {"sshd-0", "sshd-1"}
    with pytest.raises(Exception, match="service"):
        world.runbooks.run("restart-service", host="sshd-0", service="nginx; rm -rf /")


def test_high_error_rate_triage_on_the_demo_world(world: Any) -> None:
    incidents = world.deploys.list()
    bad = world.incidents.list() if hasattr(world.incidents, "list") else None
    service = str(bad["service"].iloc[0]) if bad is not None and len(bad) else str(incidents["service"].iloc[0])
    run = _ok(world.runbooks.run("high-error-rate-triage", service=service, window_minutes=24 * 60))
    r = run.results
    assert r["requests"] > 0 and 0 <= r["error_rate"] <= 1 and r["errors"] >= 0
    assert isinstance(r["top_errors"], list) and isinstance(r["suspects"], list)


def test_service_down_triage_logs_deploys_and_ssh(world: Any) -> None:
    run = _ok(world.runbooks.run("service-down-triage", service="checkout", host="sshd-0", port=22))
    assert run.results["last_log_at"] and run.results["log_rows"] > 0
    assert set(run.results["unit_state"]) == {"sshd-0"}
    assert set(run.results["port_open"]) == {"sshd-0"}


def test_tls_cert_expiry_finds_a_certificate_about_to_expire(world: Any, sshd_fleet: SshdFleet,
                                                             shared: Path, tmp_path: Path) -> None:
    openssl = need_program("openssl")
    d = _shared_dir(shared, sshd_fleet.user, "certs")
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(tmp_path / "k.pem"),
                    "-out", str(d / "soon.pem"), "-days", "5", "-subj", "/CN=soon.example"],
                   check=True, capture_output=True)
    os.chmod(d / "soon.pem", 0o644)
    run = _ok(world.runbooks.run("tls-cert-expiry", host="name~sshd-*", cert_dir=str(d), warn_days=30))
    assert run.results["certificates"] == 2  # one file, seen on both hosts
    assert 3 <= run.results["soonest_days_left"] <= 5.1
    assert {e["host"] for e in run.results["expiring"]} == {"sshd-0", "sshd-1"}


def test_collect_logs_dry_then_into_the_lake(world: Any, sshd_fleet: SshdFleet, shared: Path) -> None:
    d = _shared_dir(shared, sshd_fleet.user, "applogs")
    log = d / "app.log"
    log.write_text("".join(f"2026-01-01T00:00:{i:02d}Z ERROR collect-test line {i}\n" for i in range(20)))
    os.chmod(log, 0o644)
    dry = _ok(world.runbooks.run("collect-logs", host="sshd-0", path=str(log)))
    assert dry.results["available"]["sshd-0"]["lines"] == 20 and dry.results["ingested_rows"] == 0
    real = _ok(world.runbooks.run("collect-logs", host="sshd-0", path=str(log), service="collect-test",
                                  dry_run=False, reason="collect for a test"))
    assert real.results["ingested_rows"] == 20


def test_rollback_deployment_dry_then_real(world: Any) -> None:
    deploys = world.deploys.list(env="prod") if "env" in world.deploys.list().columns else world.deploys.list()
    row = deploys[deploys["previous_version"].notna() & (deploys["previous_version"] != "")].iloc[0]
    service, env = str(row["service"]), str(row["env"])
    dry = _ok(world.runbooks.run("rollback-deployment", service=service, env=env))
    plan = dry.results["plan"]
    assert plan["service"] == service and dry.results["rollback_id"] is None
    real = _ok(world.runbooks.run("rollback-deployment", service=service, env=env, dry_run=False,
                                  reason="bad deploy", approve=["*"]))
    assert real.results["rollback_id"]
    after = world.deploys.get(plan["deploy"])
    assert getattr(after, "status", None) == "rolled_back"


def test_demo_world_alert_triggers_triage(world: Any) -> None:
    triggers = world.runbooks.triggers.list()
    assert {"triage-high-error-rate", "triage-service-down"} <= set(triggers["name"])
    assert {"tls-nightly", "fleet-health-hourly"} <= set(world.runbooks.schedules.list()["name"])
    ids = world.runbooks.trigger_for_alert({"fingerprint": "demo-fp", "status": "firing",
                                            "labels": {"alertname": "HighErrorRate", "service": "checkout"}})
    assert len(ids) == 1
    run = _ok(world.runbooks.get_run(ids[0]).wait(120))
    assert run.trigger == "alert" and run.params["service"] == "checkout" and run.results["requests"] >= 0
