"""The event lake: atomic segments, concurrent writers and readers, compaction, retention."""

from __future__ import annotations

import multiprocessing as mp
import os
import threading
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest

from opsnb.errors import LakeError, ValidationError
from opsnb.store.lake import SCHEMAS, Lake

T0 = datetime(2025, 6, 1, tzinfo=UTC)


def batch(writer: int, start: int, n: int, day: datetime = T0) -> pa.Table:
    """n log rows whose Body is '<writer>:<seq>', so every event is identifiable."""
    ts = [day + timedelta(seconds=(start + i) % 86_000) for i in range(n)]
    return pa.table({
        "Timestamp": pa.array(ts, pa.timestamp("us", tz="UTC")),
        "ServiceName": [f"svc{writer}"] * n,
        "Body": [f"{writer}:{start + i}" for i in range(n)],
        "HttpStatus": pa.array([500 if (start + i) % 10 == 0 else 200 for i in range(n)], pa.int32()),
    })


def _writer(root: str, writer: int, batches: int, size: int) -> None:
    lake = Lake(root)
    for b in range(batches):
        lake.write("logs", batch(writer, b * size, size))


def _reader(root: str, rounds: int, out: mp.Queue) -> None:  # type: ignore[type-arg]
    lake = Lake(root)
    seen = []
    for _ in range(rounds):
        df = lake.query("SELECT count(*) AS n, count(DISTINCT Body) AS d FROM logs")
        n, d = int(df["n"].iloc[0]), int(df["d"].iloc[0])
        seen.append((n, d))
    out.put(seen)


def test_write_partitions_by_day_and_fills_missing_columns(tmp_path: Path) -> None:
    lake = Lake(tmp_path)
    t = pa.concat_tables([batch(1, 0, 10), batch(1, 10, 5, day=T0 + timedelta(days=1))])
    res = lake.write("logs", t)
    assert res.rows == 15 and len(res.segments) == 2
    assert lake.days("logs") == [date(2025, 6, 1), date(2025, 6, 2)]
    df = lake.query("SELECT * FROM logs ORDER BY Timestamp")
    assert list(df.columns) == SCHEMAS["logs"].names
    assert df["TraceId"].isna().all() and len(df) == 15
    assert str(df["Timestamp"].dtype) == "datetime64[us, UTC]"
    assert list(os.listdir(tmp_path / ".tmp")) == []


@pytest.mark.parametrize("order", ["in order", "out of order"])
def test_each_day_gets_exactly_its_rows(tmp_path: Path, order: str) -> None:
    """Rows in day order are cut in slices, others filtered: either way each day holds its own."""
    days = [0, 1, 2] if order == "in order" else [1, 0, 2, 0]
    t = pa.concat_tables([batch(d, 100 * k, 7, day=T0 + timedelta(days=d)) for k, d in enumerate(days)])
    lake = Lake(tmp_path)
    assert lake.write("logs", t).rows == 7 * len(days)
    for d in sorted(set(days)):
        df = lake.query("SELECT Body FROM logs WHERE ServiceName = ?", [f"svc{d}"])
        want = {f"{d}:{100 * k + i}" for k, x in enumerate(days) if x == d for i in range(7)}
        assert set(df["Body"]) == want and len(df) == len(want)
        day_dir = tmp_path / "logs" / f"date={(T0 + timedelta(days=d)).date()}"
        assert len(list(day_dir.glob("*.parquet"))) == 1


def test_day_pruning(tmp_path: Path) -> None:
    lake = Lake(tmp_path)
    for d in range(5):
        lake.write("logs", batch(1, 0, 3, day=T0 + timedelta(days=d)))
    assert len(lake.files("logs", T0 + timedelta(days=1), T0 + timedelta(days=2, hours=1))) == 2
    n = lake.query("SELECT count(*) AS n FROM logs", start=T0 + timedelta(days=4))["n"].iloc[0]
    assert n == 3


def test_empty_table_reads_as_typed_empty(tmp_path: Path) -> None:
    df = Lake(tmp_path).query("SELECT * FROM spans")
    assert len(df) == 0 and list(df.columns) == SCHEMAS["spans"].names


def test_bad_writes_are_refused_whole(tmp_path: Path) -> None:
    lake = Lake(tmp_path)
    with pytest.raises(LakeError, match="unknown lake table 'logz'"):
        lake.write("logz", batch(1, 0, 1))
    with pytest.raises(LakeError, match="columns not in lake table 'logs': Colour"):
        lake.write("logs", batch(1, 0, 2).append_column("Colour", pa.array(["r", "g"])))
    bad = batch(1, 0, 2).set_column(3, "HttpStatus", pa.array(["ok", "x"]))
    with pytest.raises(LakeError, match="column HttpStatus of 'logs' cannot be int32"):
        lake.write("logs", bad)
    nulls = batch(1, 0, 2).set_column(0, "Timestamp", pa.array([None, T0], pa.timestamp("us", tz="UTC")))
    with pytest.raises(LakeError, match="1 rows of 'logs' have no Timestamp"):
        lake.write("logs", nulls)
    assert lake.files("logs") == [] and lake.count("logs") == 0


def test_writers_and_readers_in_parallel_processes_lose_nothing(tmp_path: Path) -> None:
    ctx = mp.get_context("spawn")
    writers, batches, size = 3, 25, 400
    out: mp.Queue = ctx.Queue()  # type: ignore[type-arg]
    procs = [ctx.Process(target=_writer, args=(str(tmp_path), w, batches, size)) for w in range(writers)]
    procs += [ctx.Process(target=_reader, args=(str(tmp_path), 30, out)) for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    for _ in range(2):
        seen = out.get(timeout=5)
        # A reader never sees a half-written segment nor a duplicate: every count is a
        # whole number of batches and every event is distinct.
        assert all(n % size == 0 and n == d for n, d in seen), seen
        assert [n for n, _ in seen] == sorted(n for n, _ in seen)
    df = Lake(tmp_path).query("SELECT count(*) AS n, count(DISTINCT Body) AS d FROM logs")
    assert int(df["n"].iloc[0]) == int(df["d"].iloc[0]) == writers * batches * size


def test_compaction_while_reading_never_duplicates_or_loses(tmp_path: Path) -> None:
    lake = Lake(tmp_path)
    days = 4
    for d in range(days):
        for b in range(10):
            lake.write("logs", batch(d, b * 50, 50, day=T0 + timedelta(days=d)))
    total = days * 10 * 50
    stop = threading.Event()
    bad: list[tuple[int, int]] = []

    def read() -> None:
        reader = Lake(tmp_path)
        while not stop.is_set():
            df = reader.query("SELECT count(*) AS n, count(DISTINCT ServiceName || Body) AS d FROM logs")
            n, d = int(df["n"].iloc[0]), int(df["d"].iloc[0])
            if n != total or d != total:
                bad.append((n, d))

    threads = [threading.Thread(target=read) for _ in range(2)]
    for t in threads:
        t.start()
    compacted = lake.compact("logs", min_segments=5, before=date(2030, 1, 1))
    stop.set()
    for t in threads:
        t.join()
    assert compacted == days and bad == []
    for d in range(days):
        names = sorted(p.name for p in (tmp_path / "logs" / f"date={(T0 + timedelta(days=d)).date()}").iterdir())
        assert len(names) == 2 and names[0].endswith(".parquet") and names[1].endswith(".replaces")
    assert lake.count("logs") == total


def test_interrupted_compaction_is_finished_by_the_next(tmp_path: Path) -> None:
    lake = Lake(tmp_path)
    for b in range(3):
        lake.write("logs", batch(1, b * 10, 10))
    day_dir = tmp_path / "logs" / "date=2025-06-01"
    live = sorted(day_dir.iterdir())
    # Simulate a crash after the compacted file was renamed in, before the old segments were removed.
    import json
    import shutil

    merged = tmp_path / "merged.parquet"
    import pyarrow.parquet as pq

    pq.write_table(pa.concat_tables([pq.read_table(p) for p in live]), merged)
    (day_dir / "c-1.replaces").write_text(json.dumps([p.name for p in live]))
    shutil.move(merged, day_dir / "c-1.parquet")
    assert lake.count("logs") == 30  # the sidecar hides the replaced segments already
    lake.compact("logs", min_segments=50, before=date(2030, 1, 1))  # sweeps, nothing to merge
    assert sorted(p.name for p in day_dir.iterdir()) == ["c-1.parquet", "c-1.replaces"]
    assert lake.count("logs") == 30


def test_open_day_is_not_compacted(tmp_path: Path) -> None:
    lake = Lake(tmp_path)
    now = datetime.now(UTC)
    for b in range(3):
        lake.write("logs", batch(1, b, 1, day=now.replace(hour=0, minute=0)))
    assert lake.compact("logs", min_segments=2) == 0


def test_retention_deletes_whole_old_days(tmp_path: Path) -> None:
    lake = Lake(tmp_path)
    for d in range(5):
        lake.write("logs", batch(1, 0, 2, day=T0 + timedelta(days=d)))
    gone = lake.retain("logs", days=2, today=date(2025, 6, 5))
    assert gone == [date(2025, 6, 1), date(2025, 6, 2)]
    assert lake.days("logs") == [date(2025, 6, 3), date(2025, 6, 4), date(2025, 6, 5)]
    assert lake.count("logs") == 6
    with pytest.raises(ValidationError, match="at least 1 day"):
        lake.retain("logs", days=0)


def test_arrow_and_parameters(tmp_path: Path) -> None:
    lake = Lake(tmp_path)
    lake.write("logs", batch(1, 0, 20))
    tbl = lake.arrow("SELECT Body FROM logs WHERE HttpStatus = ? ORDER BY Body", [500])
    assert tbl.column("Body").to_pylist() == ["1:0", "1:10"]
    assert lake.query("SELECT count(*) AS n FROM logs WHERE ServiceName = $s", {"s": "svc1"})["n"].iloc[0] == 20
