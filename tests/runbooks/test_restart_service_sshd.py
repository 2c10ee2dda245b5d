"""restart-service, real path, against real OpenSSH servers with a stand-in systemctl.

The throwaway sshd hosts have no systemd. Each sshd's own config puts a bin directory holding
``fake_systemctl.sh`` (as ``systemctl``) first on the remote PATH and names a per-host state
directory (``SetEnv PATH=... OPSNB_FAKE_SYSTEMD=...``). Done in sshd_config rather than in the
test user's ``~/.ssh/environment`` or shell profile because that account is shared by every
test session on the machine, and ``sh -c`` (how sshd runs a command) reads no profile: SetEnv
is applied by sshd itself, last, to exactly these servers' sessions. The runbook keeps calling
plain ``systemctl``; its real path (pre-check, confirm, restart, settle, post-check) runs for real.
``sudo=False``: the test account has no sudo rights, and sudo's secure_path would drop the stand-in.
"""

from __future__ import annotations

import os
import pwd
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from opsnb.errors import Conflict, PermissionDenied, ValidationError
from opsnb.testing import SshdFleet, sshd_available
from opsnb.testing import test_user as login_user  # not named test_*: pytest would collect it
from tests.conftest import make_ops, skip_missing
from tests.runbooks.conftest import REPO_RUNBOOKS

pytestmark = [pytest.mark.sshd, pytest.mark.slow]

STAND_IN = Path(__file__).with_name("fake_systemctl.sh")


@dataclass
class Rig:
    """Two sshd hosts with a stand-in systemctl, and the state directory of each."""

    fleet: SshdFleet
    state: dict[str, Path]

    def unit(self, host: str, unit: str, state: str = "active", *, after_restart: str | None = None,
             restart_exit: int | None = None) -> None:
        files = {unit: state, f"{unit}.after-restart": after_restart, f"{unit}.restart-exit": restart_exit}
        for name, value in files.items():
            if value is not None:
                _owned(self.state[host] / "units" / name, f"{value}\n", self.fleet.user)

    def calls(self, host: str) -> list[str]:
        f = self.state[host] / "calls"
        return f.read_text().splitlines() if f.exists() else []

    def restarts(self, host: str, unit: str) -> int:
        f = self.state[host] / "units" / f"{unit}.restarts"
        return int(f.read_text()) if f.exists() else 0

    def reset(self) -> None:
        for d in self.state.values():
            for p in (d / "units").iterdir():
                p.unlink()
            _owned(d / "calls", "", self.fleet.user)


def _owned(path: Path, text: str, user: str) -> None:
    """Write a file the SSH test user (another account when we are root) may rewrite."""
    path.write_text(text)
    if os.geteuid() == 0:
        os.chown(path, pwd.getpwnam(user).pw_uid, -1)


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    if not sshd_available():
        skip_missing("openssh-server (sshd)")
    # Outside pytest's private (0700) temp root: the test user must reach the script and its state.
    base = Path(tempfile.mkdtemp(prefix="opsnb-systemctl-", dir="/tmp"))
    os.chmod(base, 0o755)
    user = login_user()
    uid = pwd.getpwnam(user).pw_uid if os.geteuid() == 0 else -1
    (base / "bin").mkdir()
    shutil.copyfile(STAND_IN, base / "bin" / "systemctl")
    os.chmod(base / "bin" / "systemctl", 0o755)
    state = {}
    for i in range(2):
        d = base / f"sshd-{i}"
        (d / "units").mkdir(parents=True)
        for p in (d, d / "units"):
            os.chmod(p, 0o755)
            if uid >= 0:
                os.chown(p, uid, -1)
        state[f"sshd-{i}"] = d

    def config(i: int) -> str:
        return f"SetEnv PATH={base / 'bin'}:/usr/local/bin:/usr/bin:/bin OPSNB_FAKE_SYSTEMD={state[f'sshd-{i}']}\n"

    try:
        with SshdFleet(2, tmp_path_factory.mktemp("sshd"), extra_config=config) as fleet:
            yield Rig(fleet, state)
    finally:
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def rops_ssh(rig: Rig, tmp_path: Path) -> Iterator[Any]:
    """A workbench running the repository's runbooks, with the two hosts in its inventory."""
    rig.reset()
    ops = make_ops(tmp_path / "ws", runbooks_dir=str(REPO_RUNBOOKS), **rig.fleet.settings())
    rig.fleet.register(ops)
    ops.access.grant("olga", "operator", reason="test setup")
    ops.access.grant("vera", "viewer", reason="test setup")
    ops.user = "olga"
    yield ops
    ops.runbooks.close()
    ops.close()


def _real(ops: Any, host: str, service: str, **kw: Any) -> Any:
    kw.setdefault("approve", [f"restart {service} on {host}"])
    return ops.runbooks.run("restart-service", host=host, service=service, dry_run=False, sudo=False,
                            settle_seconds=0.2, reason="workers stuck", **kw)


def test_stand_in_is_what_the_remote_shell_finds(rops_ssh: Any, rig: Rig) -> None:
    rig.unit("sshd-1", "web-app", "failed")
    df = rops_ssh.fleet.run("name~sshd-*", ["systemctl", "is-active", "web-app"], mutating=False, progress=False)
    got = dict(zip(df["host"], zip(df["exit_status"], df["stdout"].str.strip(), strict=True), strict=True))
    assert got == {"sshd-0": (3, "inactive"), "sshd-1": (3, "failed")}
    assert rig.calls("sshd-0") == rig.calls("sshd-1") == ["is-active web-app"]


def test_real_restart_on_the_chosen_host_only_and_the_lock(rops_ssh: Any, rig: Rig) -> None:
    for h in ("sshd-0", "sshd-1"):
        rig.unit(h, "web-app", "active")
    first = _real(rops_ssh, "sshd-0", "web-app", wait=False)
    # The lock is taken before run() returns and held until the run ends.
    with pytest.raises(Conflict, match="already running on sshd-0"):
        _real(rops_ssh, "sshd-0", "web-app")
    # Per host: the other host is free (a dry run, so it restarts nothing).
    other = rops_ssh.runbooks.run("restart-service", host="sshd-1", service="web-app", wait=False)
    run, dry = first.wait(180), other.wait(180)
    assert run.status == "succeeded", run.error
    assert dry.status == "succeeded" and dry.dry_run and dry.results["restarted"] == [], dry.error
    assert run.dry_run is False and run.actor == "olga" and run.targets == ["sshd-0"]
    assert run.results["pre_state"] == {"sshd-0": "active"}
    assert run.results["restarted"] == ["sshd-0"] and run.results["active"] == ["sshd-0"]
    assert run.results["post_state"] == {"sshd-0": "active"}
    # Pre-check, restart, post-check, in that order, on sshd-0; nothing but checks on sshd-1.
    assert rig.calls("sshd-0") == ["is-active -- web-app", "restart -- web-app", "is-active -- web-app"]
    assert rig.calls("sshd-1") == ["is-active -- web-app", "is-active -- web-app"]
    assert rig.restarts("sshd-0", "web-app") == 1 and rig.restarts("sshd-1", "web-app") == 0
    audit = rops_ssh.audit.list()
    ran = audit[(audit["action"] == "runbook.run") & (audit["target"] == "restart-service on sshd-0")]
    assert len(ran) == 1 and ran["actor"].iloc[0] == "olga" and ran["reason"].iloc[0] == "workers stuck"
    assert ran["params"].iloc[0]["run_id"] == run.id and ran["params"].iloc[0]["dry_run"] is False
    fleet_runs = audit[audit["action"] == "fleet.run"]
    assert len(fleet_runs) == 1 and fleet_runs["actor"].iloc[0] == "olga"
    assert fleet_runs["params"].iloc[0]["command"] == "systemctl restart -- web-app"
    assert fleet_runs["params"].iloc[0]["hosts"] == ["sshd-0"] and "workers stuck" in fleet_runs["reason"].iloc[0]
    assert (audit["action"] == "fleet.run.result").sum() == 1


def test_a_unit_that_does_not_come_back_fails_the_run(rops_ssh: Any, rig: Rig) -> None:
    # Restart "succeeds" (exit 0) but the unit crashes: the post-check catches it.
    rig.unit("sshd-1", "crashy", "active", after_restart="failed")
    run = _real(rops_ssh, "sshd-1", "crashy")
    assert run.status == "failed"
    assert "crashy did not come back active after the restart on sshd-1 (is-active: failed)" in run.error
    assert run.results["restarted"] == ["sshd-1"] and run.results["post_state"] == {"sshd-1": "failed"}
    assert run.results["active"] == []
    # Restart itself fails: systemctl's own message is the error, and no post-check follows.
    rig.unit("sshd-0", "broken", "active", after_restart="failed", restart_exit=1)
    bad = _real(rops_ssh, "sshd-0", "broken")
    assert bad.status == "failed" and "restart of broken failed on sshd-0: Job for broken.service failed" in bad.error
    assert bad.results["restarted"] == [] and "post_state" not in bad.results
    assert rig.calls("sshd-0") == ["is-active -- broken", "restart -- broken"]


def test_viewer_unapproved_and_hostile_input_are_refused(rops_ssh: Any, rig: Rig) -> None:
    rig.unit("sshd-0", "web-app", "active")
    rops_ssh.user = "vera"
    with pytest.raises(PermissionDenied):
        _real(rops_ssh, "sshd-0", "web-app")
    rops_ssh.user = "olga"
    with pytest.raises(ValidationError, match="reason"):
        rops_ssh.runbooks.run("restart-service", host="sshd-0", service="web-app", dry_run=False, sudo=False)
    with pytest.raises(ValidationError, match="service"):
        _real(rops_ssh, "sshd-0", "web-app; touch /tmp/pwned")
    with pytest.raises(ValidationError, match="starts with '-'"):  # an option, even in a dry run
        rops_ssh.runbooks.run("restart-service", host="sshd-0", service="-Hx@sshd-1", dry_run=True)
    assert rig.calls("sshd-0") == [] and len(rops_ssh.runbooks.history("restart-service")) == 0
    # A real run without approval of its step stops at confirm(): pre-check only, no restart.
    denied = _real(rops_ssh, "sshd-0", "web-app", approve=["restart web-app on sshd-1"])
    assert denied.status == "failed" and "ApprovalRequired" in denied.error
    assert rig.calls("sshd-0") == ["is-active -- web-app"] and rig.restarts("sshd-0", "web-app") == 0
