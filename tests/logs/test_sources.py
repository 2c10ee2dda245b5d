"""Sources beyond files: a directory tail, servers over SSH (real sshd), and the audit trail."""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time
from pathlib import Path

import pytest

from opsnb.errors import PermissionDenied, ValidationError
from opsnb.testing import SshdFleet, sshd_available
from tests.conftest import make_ops, skip_missing
from tests.logs import _logdata as D


def test_tail_follows_appends_rotation_and_stops(ops_sqlite, tmp_path: Path) -> None:
    d = tmp_path / "logs"
    d.mkdir()
    lines = D.jsonl(300).splitlines(keepends=True)
    (d / "app.log").write_text("".join(lines[:100]))

    def writer() -> None:
        time.sleep(0.3)
        with open(d / "app.log", "a") as f:
            f.write("".join(lines[100:150]))
            f.write(lines[150][:20])  # half a line: must wait for its end
            f.flush()
            time.sleep(0.4)
            f.write(lines[150][20:])
            f.write("".join(lines[151:200]))
        time.sleep(0.3)
        os.replace(d / "app.log", d / "app.log.1")  # rotation: a new file takes the name
        (d / "app.log").write_text("".join(lines[200:300]))

    th = threading.Thread(target=writer)
    th.start()
    s = ops_sqlite.logs.tail(d, pattern="app.log", poll=0.1, stop=lambda s: s.stored >= 300, max_seconds=30)
    th.join()
    assert s.stored == 300 and s.quarantined == 0
    bodies = ops_sqlite.lake.query("SELECT Body FROM logs")["Body"]
    assert sorted(bodies) == sorted(f"request {i} handled" for i in range(300))


def test_tail_idle_timeout_and_required_stop(ops_sqlite, tmp_path: Path) -> None:
    d = tmp_path / "quiet"
    d.mkdir()
    (d / "x.log").write_text(D.LOGFMT)
    t0 = time.monotonic()
    s = ops_sqlite.logs.tail(d, poll=0.05, idle_timeout=0.3)
    assert s.stored == 3 and time.monotonic() - t0 < 5
    with pytest.raises(ValidationError):
        ops_sqlite.logs.tail(d)


def test_ingest_needs_responder_and_is_audited(ops, tmp_path: Path) -> None:
    """On SQLite and PostgreSQL: the audit record carries the summary; a viewer is refused."""
    s = ops.logs.ingest_bytes(D.LOGFMT, source="feed")
    assert s.stored == 3
    audit = ops.audit.list(action="logs.ingest")
    assert len(audit) == 1
    rec = audit.iloc[0]
    assert rec["target"] == "feed" and rec["params"]["stored"] == 3 and rec["actor"] == "tester"
    ops.access.grant("vic", "viewer")
    ops.user = "vic"
    with pytest.raises(PermissionDenied):
        ops.logs.ingest_bytes(D.LOGFMT)
    assert ops.lake.count("logs") == 3
    assert len(ops.logs.query("2026-03-01T00:00:00Z", "2026-03-02T00:00:00Z")) == 3  # reading is for all


@pytest.fixture(scope="module")
def sshd_fleet(tmp_path_factory: pytest.TempPathFactory):
    if not sshd_available():
        skip_missing("/usr/sbin/sshd (Debian package openssh-server)")
    fleet = SshdFleet(2, tmp_path_factory.mktemp("sshd-logs"))
    fleet.start()
    yield fleet
    fleet.stop()


def test_ingest_remote_file_over_real_ssh(tmp_path: Path, sshd_fleet: SshdFleet) -> None:
    ops = make_ops(tmp_path / "ws", **sshd_fleet.settings())
    shared = Path(tempfile.mkdtemp(prefix="opsnb-logs-"))
    try:
        sshd_fleet.register(ops)
        # the remote user must reach the file: a world-readable directory outside pytest's 0700 tree
        os.chmod(shared, 0o755)
        log = shared / "app.log"
        log.write_text(D.LOGFMT + "garbage line without pairs\n")
        os.chmod(log, 0o644)
        s = ops.logs.ingest_remote("name~sshd-*", path=str(log), lines=1000)
        assert len(s.sources) == 2 and all(r.error is None for r in s.sources), s.table()
        assert s.stored == 6 and s.quarantined == 2
        df = ops.lake.query("SELECT HostName, ResourceAttributes FROM logs")
        assert sorted(df["HostName"].unique()) == ["sshd-0", "sshd-1"]
        assert {dict(r)["host.name"] for r in df["ResourceAttributes"]} == {"sshd-0", "sshd-1"}
        missing = ops.logs.ingest_remote("name~sshd-*", path=str(shared / "nope.log"))
        assert not missing.ok and all("exit status" in r.error for r in missing.sources)
    finally:
        shutil.rmtree(shared, ignore_errors=True)
        ops.fleet.close()
        ops.close()


def test_ingest_remote_journal_command_runs(tmp_path: Path, sshd_fleet: SshdFleet) -> None:
    """journalctl -o json runs on each server (this machine's journal is empty: nothing stored)."""
    from tests.conftest import need_program

    need_program("journalctl")
    ops = make_ops(tmp_path / "ws", **sshd_fleet.settings())
    try:
        sshd_fleet.register(ops)
        s = ops.logs.ingest_remote("name~sshd-*", unit="nginx.service", since="-10m")
        assert [r.source for r in s.sources] == ["sshd-0:journald:nginx.service", "sshd-1:journald:nginx.service"]
        assert all(r.error is None or "unknown format" in r.error for r in s.sources), s.table()
        with pytest.raises(ValidationError):
            ops.logs.ingest_remote("name~sshd-*", since="not a time")
    finally:
        ops.fleet.close()
        ops.close()
