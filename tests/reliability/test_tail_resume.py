"""``ops.logs.tail`` restarts: resume from the checkpoints, ``from_start`` re-reads, ``only_new`` skips what is there."""

from __future__ import annotations

import os
from pathlib import Path

from tests.reliability.test_tail_kill import line


def bodies(ops) -> list[str]:
    return sorted(ops.lake.query("SELECT Body FROM logs")["Body"].tolist(), key=lambda b: int(b[3:]))


def test_restarted_tail_resumes_and_from_start_reads_again(ops_sqlite, tmp_path: Path) -> None:
    d = tmp_path / "logs"
    d.mkdir()
    log = d / "app.log"
    log.write_text("".join(line(k) for k in range(50)) + line(50)[:10])  # the last line is being written
    tail = dict(pattern="app.log", format="jsonl", poll=0.02, idle_timeout=0.2)
    assert ops_sqlite.logs.tail(d, **tail).stored == 50
    with open(log, "a") as fh:
        fh.write(line(50)[10:] + "".join(line(k) for k in range(51, 60)))
    s = ops_sqlite.logs.tail(d, **tail)  # a new tail: only what the last one did not commit
    assert s.stored == 10 and s.sources[0].resumed_at > 0
    assert bodies(ops_sqlite) == [f"ev-{k}" for k in range(60)]
    assert ops_sqlite.logs.tail(d, from_start=True, **tail).stored == 60  # on purpose: all again
    assert len(bodies(ops_sqlite)) == 120


def test_only_new_starts_unread_files_at_their_end_and_reads_rotated_ones_whole(ops_sqlite, tmp_path: Path) -> None:
    d = tmp_path / "logs"
    d.mkdir()
    log = d / "app.log"
    log.write_text("".join(line(k) for k in range(20)))
    tail = dict(pattern="app.log", format="jsonl", poll=0.02, idle_timeout=0.2)
    assert ops_sqlite.logs.tail(d, only_new=True, **tail).stored == 0
    with open(log, "a") as fh:
        fh.write("".join(line(k) for k in range(20, 25)))
    os.replace(log, d / "app.log.1")
    log.write_text("".join(line(k) for k in range(25, 30)))
    s = ops_sqlite.logs.tail(d, **tail)  # the rest of the renamed file, then the new one from its start
    assert s.stored == 10 and bodies(ops_sqlite) == [f"ev-{k}" for k in range(20, 30)]
    q = ops_sqlite.lake.query("SELECT count(*) AS n FROM quarantine")["n"].iloc[0]
    assert q == 0
