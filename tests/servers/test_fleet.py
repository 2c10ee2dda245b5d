"""Fleet runs, facts and files through ops.fleet against real sshd."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from opsnb.errors import BatchError, PermissionDenied
from opsnb.testing import SshdFleet, free_port, make_keypair
from opsnb.workbench import Workbench
from tests.conftest import make_ops

pytestmark = pytest.mark.sshd


def test_run_returns_a_row_per_host_and_never_stops(fleet_ops: Workbench, sshd_fleet: SshdFleet,
                                                    tmp_path: Path) -> None:
    ops = fleet_ops
    ops.fleet.create(name="dead", address="127.0.0.1", port=free_port(), user=sshd_fleet.user,
                     labels={"role": "web"})
    # A server whose host key is not the one in known_hosts: same sshd, another name -> unknown key.
    ops.fleet.create(name="unknown-key", address="localhost", port=sshd_fleet[1].port, user=sshd_fleet.user,
                     labels={"role": "web"})
    ops.fleet.create(name="wrong-user", address="127.0.0.1", port=sshd_fleet[2].port, user="nobody",
                     labels={"role": "web"})
    df = ops.fleet.run("role=web", ["sh", "-c", "echo $0 ok; exit 0"], parallel=4, timeout=10, mutating=False,
                       progress=False)
    assert list(df.columns) == ["host", "exit_status", "stdout", "stderr", "duration", "error"]
    got = {r.host: r for r in df.itertuples()}
    assert set(got) == {"sshd-0", "sshd-2", "dead", "unknown-key", "wrong-user"}
    assert got["sshd-0"].exit_status == 0 and got["sshd-0"].stdout == "sh ok\n" and got["sshd-0"].error is None
    assert got["dead"].error.startswith("ConnectError") and "refused" in got["dead"].error
    assert got["unknown-key"].error.startswith("HostKeyError")
    assert got["wrong-user"].error.startswith("AuthError")
    assert str(df["exit_status"].dtype) == "Int64" and df["exit_status"].isna().sum() == 3
    assert (df["duration"] > 0).all()
    assert ops.audit.list(action="fleet.run*").empty  # read-only: not audited


def test_mutating_run_is_audited_and_needs_operator(fleet_ops: Workbench) -> None:
    ops = fleet_ops
    df = ops.fleet.run("name~sshd-*", ["sh", "-c", "exit $(($(id -u) % 1))"], reason="check", progress=False)
    assert (df["exit_status"] == 0).all()
    audit = ops.audit.list(action="fleet.run*")
    assert list(audit["action"]) == ["fleet.run.result", "fleet.run"]
    intent = audit.iloc[1]
    assert intent["params"]["hosts"] == ["sshd-0", "sshd-1", "sshd-2", "sshd-3"]
    assert intent["reason"] == "check" and intent["actor"] == "tester"
    assert audit.iloc[0]["params"]["ok"] == 4
    ops.access.grant("resp", "responder")
    ops.user = "resp"
    with pytest.raises(PermissionDenied):
        ops.fleet.run("sshd-0", ["touch", "/tmp/x"])
    assert ops.fleet.run("sshd-0", ["true"], mutating=False, progress=False)["exit_status"].tolist() == [0]


def test_timeout_row_keeps_partial_output(fleet_ops: Workbench) -> None:
    t0 = time.perf_counter()
    df = fleet_ops.fleet.run(["sshd-0", "sshd-1"], shell="echo begun; sleep 30", timeout=0.5, mutating=False,
                             progress=False)
    assert time.perf_counter() - t0 < 5
    assert df["error"].str.startswith("CommandTimeout").all()
    assert (df["stdout"] == "begun\n").all()
    with pytest.raises(BatchError) as ei:
        fleet_ops.fleet.run("sshd-0", ["false"], mutating=False, check=True, progress=False)
    assert ei.value.fields["errors"][0]["exit_status"] == 1


def test_cancel_stops_running_commands(fleet_ops: Workbench) -> None:
    ev = threading.Event()
    threading.Timer(0.5, ev.set).start()
    t0 = time.perf_counter()
    df = fleet_ops.fleet.run("name~sshd-*", ["sleep", "30"], parallel=2, timeout=60, mutating=False,
                             cancel=ev, progress=False)
    assert time.perf_counter() - t0 < 8
    assert df["error"].str.contains("cancel", case=False).all()


def test_proxy_jump_by_inventory_name(fleet_ops: Workbench, sshd_fleet: SshdFleet) -> None:
    fleet_ops.fleet.update("sshd-3", proxy_jump="sshd-0")
    df = fleet_ops.fleet.run("sshd-3", ["sh", "-c", "echo $SSH_CONNECTION"], mutating=False, progress=False)
    assert df.iloc[0]["error"] is None
    assert df.iloc[0]["stdout"].split()[3] == str(sshd_fleet[3].port)
    assert fleet_ops.fleet.pool.stats()["jumps"] == 1


def test_trust_on_first_use_is_audited(tmp_path: Path, sshd_fleet: SshdFleet) -> None:
    kh = tmp_path / "kh"
    ops = make_ops(tmp_path / "ws", known_hosts=str(kh), ssh_key_file=str(sshd_fleet.client_key),
                   ssh_trust_on_first_use=True)
    try:
        sshd_fleet.register(ops)
        df = ops.fleet.run("sshd-1", ["true"], mutating=False, progress=False)
        assert df.iloc[0]["error"] is None
        rec = ops.audit.list(action="fleet.hostkey.trust")
        assert list(rec["target"]) == ["sshd-1"]
        assert rec.iloc[0]["params"]["fingerprint"].startswith("SHA256:")
    finally:
        ops.fleet.close()
        ops.close()


def test_facts_snapshot_history_and_changes(fleet_ops: Workbench) -> None:
    ops = fleet_ops
    ops.fleet.create(name="dead", address="127.0.0.1", port=free_port(), labels={"role": "web"})
    df = ops.fleet.facts("role=web", progress=False)
    assert list(df["host"]) == ["dead", "sshd-0", "sshd-2"]  # inventory order: by name
    live = df[df["host"] != "dead"]
    assert live["error"].isna().all()
    assert (live["kernel"] != "").all() and (live["uptime_s"] > 0).all() and (live["mem_total"] > 0).all()
    assert all(any(d["mount"] == "/" for d in disks) for disks in live["disks"])
    assert str(df["taken_at"].dtype).endswith("UTC]")
    assert df.set_index("host").loc["dead", "error"].startswith("ConnectError")
    cached = ops.fleet.facts("role=web", refresh=False)
    assert list(cached["host"]) == list(df["host"])
    assert list(cached["kernel"]) == list(df["kernel"])
    ops.fleet.facts("sshd-0", progress=False)
    hist = ops.fleet.facts_history("role=web")
    assert hist["host"].tolist().count("sshd-0") == 2
    assert ops.fleet.fact_changes("sshd-0").empty or "uptime" not in ops.fleet.fact_changes("sshd-0")["what"]


def test_fleet_sftp_and_connect(fleet_ops: Workbench, tmp_path: Path) -> None:
    ops = fleet_ops
    src = tmp_path / "a.txt"
    src.write_text("hello\n")
    with ops.fleet.connect("sshd-1", reason="debug") as conn:
        remote = conn.run(["mktemp", "-d"]).stdout.strip() + "/a.txt"
    ops.fleet.sftp_put("sshd-1", src, remote, reason="drop a file")
    got = ops.fleet.sftp_get("sshd-1", remote, tmp_path / "b.txt")
    assert got.read_text() == "hello\n"
    actions = list(ops.audit.list(action="fleet.*")["action"])
    assert "fleet.connect" in actions and "fleet.sftp_put" in actions
    with ops.fleet.connect("sshd-1", mutating=False) as conn:
        assert conn.run(["true"]).exit_status == 0


def test_password_and_secrets_never_stored(tmp_path: Path, sshd_fleet: SshdFleet,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    import subprocess

    key = tmp_path / "enc"
    subprocess.run(["cp", str(sshd_fleet.client_key), str(key)], check=True)
    subprocess.run(["ssh-keygen", "-p", "-q", "-f", str(key), "-N", "phrase-XYZZY-123", "-P", ""], check=True,
                   capture_output=True)
    monkeypatch.setenv("OPSNB_TEST_KEY_PHRASE", "phrase-XYZZY-123")
    ops = make_ops(tmp_path / "ws", known_hosts=str(sshd_fleet.known_hosts), ssh_key_file=str(key),
                   ssh_passphrase_env="OPSNB_TEST_KEY_PHRASE")
    try:
        sshd_fleet.register(ops)
        df = ops.fleet.run("sshd-0", ["echo", "ok"], progress=False)
        assert df.iloc[0]["stdout"] == "ok\n"
    finally:
        ops.fleet.close()
        ops.close()
    raw = (tmp_path / "ws" / "state.db").read_bytes()
    for f in (tmp_path / "ws").iterdir():
        if f.is_file():
            raw += f.read_bytes()
    assert b"XYZZY" not in raw
    make_keypair(tmp_path / "unused")  # keeps the helper honest: keys are written 0600
    assert oct((tmp_path / "unused").stat().st_mode)[-3:] == "600"


def test_max_output_marks_truncated_hosts(fleet_ops: Workbench) -> None:
    df = fleet_ops.fleet.run(["sshd-0", "sshd-1"], shell="head -c 5000 /dev/zero | tr '\\0' x; test $(hostname)",
                             mutating=False, max_output=100, progress=False)
    assert (df["stdout"].str.len() == 100).all() and (df["exit_status"] == 0).all()
    assert df.attrs["truncated"] == ["sshd-0", "sshd-1"]
    small = fleet_ops.fleet.run("sshd-0", ["echo", "hi"], mutating=False, progress=False)
    assert small.attrs["truncated"] == []
