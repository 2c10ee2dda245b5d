"""``ops.logs.tail`` through each kind of rotation, without kills: a tail stopped, the files rotated, a tail again.

Each case is what a tail finds after it was down (or killed) while logrotate ran; the lake must hold
every line written, once. The kill test (tests/reliability/test_tail_kill.py) mixes them at random.
"""

from __future__ import annotations

import gzip
import os
import shutil
import time
from pathlib import Path

import pytest

from tests.reliability.test_tail_kill import line

TAIL = dict(pattern="app.log", format="jsonl", poll=0.02, idle_timeout=0.2)


def bodies(ops) -> list[str]:
    return sorted(ops.lake.query("SELECT Body FROM logs")["Body"].tolist(), key=lambda b: int(b[3:]))


def ev(a: int, b: int) -> list[str]:
    return [f"ev-{k}" for k in range(a, b)]


def append(path: Path, a: int, b: int) -> None:
    with open(path, "a", encoding="utf-8") as fh:
        fh.write("".join(line(k) for k in range(a, b)))


def copytruncate(log: Path, to: Path) -> None:
    shutil.copyfile(log, to)
    os.truncate(log, 0)


def priors_left(ops) -> list[str]:
    d = ops.lake.root / ".ingest" / "priors"
    return [str(p) for p in d.rglob("*") if p.is_file()] if d.is_dir() else []


@pytest.fixture
def logs(tmp_path: Path) -> Path:
    d = tmp_path / "logs"
    d.mkdir()
    return d


def test_copytruncate_while_no_tail_ran_continues_the_copy_from_the_committed_offset(ops_sqlite, logs: Path) -> None:
    log = logs / "app.log"
    append(log, 0, 50)
    assert ops_sqlite.logs.tail(logs, **TAIL).stored == 50
    append(log, 50, 60)  # unread: only the copy holds them after the truncation
    copytruncate(log, logs / "app.log.1")
    append(log, 60, 65)
    s = ops_sqlite.logs.tail(logs, **TAIL)
    assert s.stored == 15
    assert bodies(ops_sqlite) == ev(0, 65)
    copy = next(r for r in s.sources if r.source.endswith("app.log.1"))
    assert copy.resumed_at == len("".join(line(k) for k in range(50)))
    assert priors_left(ops_sqlite) == []


def test_a_file_first_read_nearly_empty_is_still_recognised_in_its_copy(ops_sqlite, logs: Path) -> None:
    # The checkpoint kept the identity of the file as first read (one short line), too few bytes
    # to recognise its copy by; the identity now grows with the file.
    log = logs / "app.log"
    log.write_text("")
    assert ops_sqlite.logs.tail(logs, **TAIL).stored == 0
    log.write_text('{"ts":"2026-03-01T10:00:00Z","msg":"ev-0"}\n')  # 44 bytes: fewer than a copy is told by
    assert ops_sqlite.logs.tail(logs, **TAIL).stored == 1
    append(log, 1, 80)
    assert ops_sqlite.logs.tail(logs, **TAIL).stored == 79
    append(log, 80, 95)
    copytruncate(log, logs / "app.log.c1")
    append(log, 95, 200)  # the truncated file grows past the old offset before the tail is back
    assert ops_sqlite.logs.tail(logs, **TAIL).stored == 120
    assert bodies(ops_sqlite) == ev(0, 200)
    assert ops_sqlite.lake.query("SELECT count(*) AS n FROM quarantine")["n"].iloc[0] == 0


def test_the_copy_found_after_the_truncated_file_was_read_again(ops_sqlite, logs: Path) -> None:
    # Another reader (a plain ingest) met the truncated file first and started it over: the prior it
    # left lets the tail, and a plain ingest of the copy, continue the copy where the rows end.
    log = logs / "app.log"
    append(log, 0, 40)
    assert ops_sqlite.logs.tail(logs, **TAIL).stored == 40
    append(log, 40, 55)
    copytruncate(log, logs / "app.log.1")
    append(log, 55, 60)
    assert ops_sqlite.logs.ingest(str(log)).stored == 5
    assert ops_sqlite.logs.ingest(str(logs / "app.log.1")).stored == 15
    assert ops_sqlite.logs.tail(logs, **TAIL).stored == 0
    assert bodies(ops_sqlite) == ev(0, 60)


def test_plain_ingest_of_the_rotated_set_stores_the_copy_once(ops_sqlite, logs: Path) -> None:
    log = logs / "app.log"
    append(log, 0, 30)
    assert ops_sqlite.logs.ingest(str(log)).stored == 30
    append(log, 30, 45)
    copytruncate(log, logs / "app.log.1")
    append(log, 45, 50)
    s = ops_sqlite.logs.ingest([str(logs / "app.log.1"), str(log)])  # the copy named first
    assert s.stored == 20
    assert bodies(ops_sqlite) == ev(0, 50)


def test_rename_and_create_while_no_tail_ran(ops_sqlite, logs: Path) -> None:
    log = logs / "app.log"
    append(log, 0, 30)
    assert ops_sqlite.logs.tail(logs, **TAIL).stored == 30
    append(log, 30, 42)
    os.replace(log, logs / "app.log.1")
    append(log, 42, 50)
    os.replace(logs / "app.log.1", logs / "app.log.2")  # and rotated once more: the inode is followed
    assert ops_sqlite.logs.tail(logs, **TAIL).stored == 20
    assert bodies(ops_sqlite) == ev(0, 50)


def test_a_generation_no_tail_saw_is_read_whole(ops_sqlite, logs: Path) -> None:
    # Down across two rotations: the file in between was created and rotated away, to a name the
    # pattern does not match, without any tail looking at it.
    log = logs / "app.log"
    append(log, 0, 20)
    assert ops_sqlite.logs.tail(logs, **TAIL).stored == 20
    append(log, 20, 25)
    os.replace(log, logs / "app.log.1")
    append(log, 25, 40)
    os.replace(log, logs / "app.log.1.next")
    os.replace(logs / "app.log.1", logs / "app.log.2")
    os.replace(logs / "app.log.1.next", logs / "app.log.1")
    append(log, 40, 45)
    old = logs / "app.log.7"  # rotated before any tail began: history the pattern leaves out
    append(old, 1000, 1010)
    past = time.time() - 3600
    os.utime(old, (past, past))
    time.sleep(1.05)  # the generation is settled (not written to for a second)
    s = ops_sqlite.logs.tail(logs, **TAIL)
    assert s.stored == 25
    assert bodies(ops_sqlite) == ev(0, 45)
    assert ops_sqlite.logs.tail(logs, **TAIL).stored == 0


def test_a_compressed_generation_no_tail_saw_is_reported_lost(ops_sqlite, logs: Path, caplog) -> None:
    log = logs / "app.log"
    append(log, 0, 20)
    assert ops_sqlite.logs.tail(logs, **TAIL).stored == 20
    os.replace(log, logs / "app.log.1")
    append(log, 20, 30)
    with open(log, "rb") as src, gzip.open(logs / "app.log.2.gz", "wb") as dst:
        dst.write(src.read())
    log.unlink()
    os.replace(logs / "app.log.1", logs / "app.log.1.tmp")
    append(log, 30, 35)
    time.sleep(1.05)
    s = ops_sqlite.logs.tail(logs, **TAIL)
    gz = next(r for r in s.sources if r.source.endswith("app.log.2.gz"))
    size = (logs / "app.log.2.gz").stat().st_size
    assert gz.error is not None and f"lost {size:,} bytes" in gz.error and "app.log.2.gz" in gz.error
    assert any("app.log.2.gz" in r.getMessage() for r in caplog.records)
    assert bodies(ops_sqlite) == ev(0, 20) + ev(30, 35)


def test_a_file_gone_with_bytes_known_unread_is_reported(ops_sqlite, logs: Path) -> None:
    log = logs / "app.log"
    append(log, 0, 20)
    with open(log, "a") as fh:
        fh.write(line(20)[:30])  # being written: not read yet
    assert ops_sqlite.logs.tail(logs, **TAIL).stored == 20
    os.replace(log, logs / "app.log.1")
    append(log, 100, 105)
    (logs / "app.log.1").unlink()  # deleted (a rotate count reached) before its last line was read
    s = ops_sqlite.logs.tail(logs, **TAIL)
    assert s.stored == 5
    gone = [r for r in s.sources if r.error and "is gone" in r.error]
    assert len(gone) == 1 and "lost 30 bytes" in gone[0].error
    again = ops_sqlite.logs.tail(logs, **TAIL)  # reported once
    assert not any(r.error for r in again.sources)


def test_a_file_truncated_with_bytes_known_unread_and_no_copy_is_reported(ops_sqlite, logs: Path) -> None:
    log = logs / "app.log"
    append(log, 0, 20)
    with open(log, "a") as fh:
        fh.write(line(20)[:25])
    assert ops_sqlite.logs.tail(logs, **TAIL).stored == 20
    os.truncate(log, 0)  # truncated without a copy (or deleted and its inode reused)
    append(log, 100, 103)
    s = ops_sqlite.logs.tail(logs, pattern="app.log", format="jsonl", poll=0.1, idle_timeout=1.5)
    assert s.stored == 3
    lost = [r for r in s.sources if r.error and "truncated or replaced" in r.error]
    assert len(lost) == 1 and "lost 25 bytes" in lost[0].error


def test_copytruncate_then_rename_while_no_tail_ran(ops_sqlite, logs: Path) -> None:
    # The truncated file is renamed away (the next rotation) before a tail sees it: under its new
    # name it no longer holds what its checkpoint describes, and its copy holds the unread end.
    log = logs / "app.log"
    append(log, 0, 30)
    assert ops_sqlite.logs.tail(logs, **TAIL).stored == 30
    append(log, 30, 40)
    copytruncate(log, logs / "app.log.c1")
    append(log, 40, 60)
    os.replace(log, logs / "app.log.2")
    append(log, 60, 65)
    assert ops_sqlite.logs.tail(logs, **TAIL).stored == 35
    assert bodies(ops_sqlite) == ev(0, 65)
    assert priors_left(ops_sqlite) == []
