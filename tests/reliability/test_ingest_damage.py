"""Rotated, truncated and damaged log files: each byte read once, damage costs only the damaged lines.

Issue: a JSON-lines file with NUL bytes in one line was refused whole; a 40 KB line nested
20,000 deep crashed ``opsnb logs ingest`` (SIGSEGV in pyarrow's JSON parser); a gzip bomb was
refused only by luck; stamps before 1970 landed in the wrong day; dead writers left temp files.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa

from opsnb.logs.formats import ParseOptions
from opsnb.logs.ingest import Ingestor
from opsnb.logs.reader import Limits
from opsnb.store.checkpoints import Checkpoint, Checkpoints, source_id, write_json_atomic
from opsnb.store.lake import Lake
from tests.conftest import make_ops


def lines(tag: str, n: int, start: int = 0) -> str:
    return "".join(f'{{"ts":"2026-03-01T12:00:{k % 60:02d}Z","level":"info","msg":"{tag}-{k}"}}\n'
                   for k in range(start, start + n))


def bodies(ops) -> list[str]:
    return sorted(ops.lake.query("SELECT Body FROM logs")["Body"].tolist())


def test_rotation_rename_create_and_copytruncate(ops_sqlite, tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_text(lines("a", 100))
    assert ops_sqlite.logs.ingest(log).stored == 100
    with open(log, "a") as fh:
        fh.write(lines("a", 50, start=100))
    s = ops_sqlite.logs.ingest(log)
    assert s.stored == 50 and s.sources[0].resumed_at > 0  # only the appended lines
    # logrotate (rename + create): the old file keeps its checkpoint under its new name
    rotated = tmp_path / "app.log.1"
    os.rename(log, rotated)
    with open(rotated, "a") as fh:  # the writer still had it open
        fh.write(lines("a", 10, start=150))
    log.write_text(lines("b", 30))
    s = ops_sqlite.logs.ingest([str(log), str(rotated)])
    assert [r.stored for r in s.sources] == [30, 10]
    # copytruncate: same inode, shorter: read from 0
    log.write_text(lines("c", 5))
    assert ops_sqlite.logs.ingest(log).stored == 5
    # copytruncate and then longer than the old offset: other first bytes say it is new
    with open(log, "r+") as fh:
        fh.truncate(0)
        fh.write(lines("d", 200))
    assert ops_sqlite.logs.ingest(log).stored == 200
    expected = sorted([f"a-{k}" for k in range(160)] + [f"b-{k}" for k in range(30)]
                      + [f"c-{k}" for k in range(5)] + [f"d-{k}" for k in range(200)])
    assert bodies(ops_sqlite) == expected
    # --from-start reads again on purpose (and says so by storing the rows again)
    assert ops_sqlite.logs.ingest(log, from_start=True).stored == 200


def test_nul_bytes_in_one_line_cost_that_line(ops_sqlite, tmp_path: Path) -> None:
    p = tmp_path / "nul.jsonl"
    p.write_bytes(lines("g", 50).encode() + b'{"msg":"bad\x00\x00line"}\n' + lines("g", 50, start=50).encode())
    s = ops_sqlite.logs.ingest(p)
    assert (s.stored, s.quarantined) == (100, 1)
    q = ops_sqlite.lake.query("SELECT Line, Reason FROM quarantine")
    assert q["Line"].tolist() == [51] and "NUL" in q["Reason"].iloc[0]


def test_json_nested_20000_deep_is_quarantined_and_the_process_survives(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    make_ops(ws).close()
    deep = '{"msg":' + "[" * 20_000 + "]" * 20_000 + "}\n"
    p = tmp_path / "deep.jsonl"
    p.write_text(deep + lines("h", 100) + deep + lines("h", 100, start=100))
    out = subprocess.run([sys.executable, "-m", "opsnb", "logs", "ingest", str(p), "--workspace", str(ws),
                          "--format-out", "json", "--no-progress"], capture_output=True, text=True, timeout=120,
                         env={**os.environ, "OPSNB_USER": "tester"})
    assert out.returncode == 0, (out.returncode, out.stderr[-2000:])  # a segfault is -11
    summary = json.loads(out.stdout)
    assert (summary["stored"], summary["quarantined"]) == (200, 2)
    assert any(r.startswith("JSON nested") for r in summary["sources"][0]["reasons"])


def test_gzip_bomb_stops_at_the_ratio_with_the_file_named(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.jsonl.gz"
    bomb.write_bytes(gzip.compress(lines("z", 1).encode() * 200_000))  # ~12 MB from ~60 KB
    lake = Lake(tmp_path / "lake")
    ing = Ingestor(lake, limits=Limits(max_ratio=20, ratio_floor=1 << 20))
    try:
        res = ing.ingest_path(str(bomb), ParseOptions())
    finally:
        ing.close()
    assert "times its compressed size" in (res.error or "") and "ingest_max_compression_ratio" in res.error
    assert 0 < res.stored < 200_000  # what came before the limit is kept
    ing = Ingestor(lake, limits=Limits(max_bytes=1 << 20))
    try:
        res = ing.ingest_path(str(bomb), ParseOptions(), from_start=True)
    finally:
        ing.close()
    assert "ingest_max_decompressed_bytes" in (res.error or "")


def test_stamps_before_1970_land_in_their_day(tmp_path: Path) -> None:
    lake = Lake(tmp_path / "lake")
    stamps = [datetime(1969, 12, 31, 12, 0, tzinfo=UTC), datetime(1969, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC),
              datetime(1970, 1, 1, 0, 0, tzinfo=UTC)]
    lake.write("logs", pa.table({"Timestamp": pa.array(stamps, pa.timestamp("us", tz="UTC")),
                                 "Body": ["a", "b", "c"]}))
    assert [d.isoformat() for d in lake.days("logs")] == ["1969-12-31", "1970-01-01"]
    start, end = datetime(1969, 12, 31, tzinfo=UTC), datetime(1969, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC)
    df = lake.query("SELECT Body FROM logs WHERE Timestamp BETWEEN ? AND ? ORDER BY 1", [start, end],
                    start=start, end=end)
    assert df["Body"].tolist() == ["a", "b"]


def _source(tmp_path: Path) -> tuple[Path, str]:
    p = tmp_path / "w.log"
    p.write_text(lines("w", 10))
    st = p.stat()
    return p, source_id(st.st_dev, st.st_ino)


def test_dead_writer_temp_and_uncommitted_pending_files_are_removed(tmp_path: Path) -> None:
    lake = Lake(tmp_path / "lake")
    p, src = _source(tmp_path)
    tbl = pa.table({"Timestamp": pa.array([datetime(2026, 3, 1, tzinfo=UTC)], pa.timestamp("us", tz="UTC")),
                    "Body": ["ghost"]})
    ghost = lake.write("logs", tbl, pending=(src, 1)).segments[0]  # a batch that never committed
    tmp = lake.root / ".tmp"
    dead = tmp / "p999999999-1-abc.tmp"  # no such pid
    dead.write_bytes(b"half a segment")
    old = tmp / "legacy.parquet.tmp"
    old.write_bytes(b"x")
    os.utime(old, (0, 0))
    assert lake.count("logs") == 0  # invisible to readers
    ing = Ingestor(lake)
    try:
        assert ing.ingest_path(str(p), ParseOptions()).stored == 10
    finally:
        ing.close()
    assert not Path(ghost).exists() and not dead.exists() and not old.exists()
    assert lake.count("logs") == 10 and not list(lake.root.rglob("*.pending"))
    # the same for `opsnb lake compact`
    dead.write_bytes(b"again")
    lake.compact("logs")
    assert not dead.exists()


def test_any_ingest_clears_dead_writers_temp_files(tmp_path: Path) -> None:
    """Not only file sources: bytes in memory (stdin, remote output) start by clearing them too."""
    lake = Lake(tmp_path / "lake")
    (lake.root / ".tmp").mkdir(parents=True)
    dead = lake.root / ".tmp" / "p999999999-2-def.tmp"
    dead.write_bytes(b"half a segment")
    ing = Ingestor(lake)
    try:
        assert ing.ingest_bytes(lines("b", 3).encode(), ParseOptions(source="feed")).stored == 3
    finally:
        ing.close()
    assert not dead.exists()


def test_a_batch_committed_but_not_renamed_is_visible_and_finished(tmp_path: Path) -> None:
    """The kill between the checkpoint's rename (the commit) and the segments' renames."""
    lake = Lake(tmp_path / "lake")
    p, src = _source(tmp_path)
    tbl = pa.table({"Timestamp": pa.array([datetime(2026, 3, 1, tzinfo=UTC)] * 3, pa.timestamp("us", tz="UTC")),
                    "Body": ["x", "y", "z"]})
    seg = Path(lake.write("logs", tbl, pending=(src, 1)).segments[0])
    st = p.stat()
    cps = Checkpoints(lake.root)
    cps.dir.mkdir(parents=True, exist_ok=True)
    final = seg.with_name(seg.name.split(".", 1)[0] + ".parquet")
    cp = Checkpoint(source=src, path=str(p), dev=st.st_dev, ino=st.st_ino, size=st.st_size, offset=0, seq=1,
                    segments=(str(final.relative_to(lake.root)),))
    from dataclasses import asdict

    write_json_atomic(cps.path(src), asdict(cp))
    assert lake.count("logs") == 3  # committed: readers see it though it is still pending
    with cps.lock(src):
        assert cps.recover(src, ["logs"]) == 0
    assert final.exists() and not seg.exists() and lake.count("logs") == 3


def test_cli_rerun_reads_nothing_new_and_from_start_reads_again(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from opsnb.cli import cli

    ws = tmp_path / "ws"
    make_ops(ws).close()
    p = tmp_path / "c.jsonl"
    p.write_text(lines("k", 20))

    def run(*extra: str) -> dict:
        res = CliRunner().invoke(cli, ["logs", "ingest", str(p), "--workspace", str(ws), "--format-out", "json",
                                       "--no-progress", *extra], catch_exceptions=False)
        assert res.exit_code == 0, res.output
        return json.loads(res.stdout)

    assert run()["stored"] == 20
    assert run()["stored"] == 0  # read before: nothing new, and not an error
    assert run("--from-start")["stored"] == 20
