"""Hostile input: nothing stops ingest, nothing is dropped silently, every bad line says why."""

from __future__ import annotations

import gzip
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd

from tests.logs import _logdata as D


def test_truncated_gzip_keeps_whole_lines(ops_sqlite, tmp_path: Path) -> None:
    text = D.jsonl(2000)
    blob = gzip.compress(text.encode())
    p = tmp_path / "cut.jsonl.gz"
    p.write_bytes(blob[: len(blob) * 2 // 3])
    s = ops_sqlite.logs.ingest(p)
    src = s.sources[0]
    assert "truncated gzip" in src.error
    assert 0 < s.stored < 2000 and s.ok
    stored = ops_sqlite.lake.query("SELECT Body FROM logs ORDER BY Timestamp")["Body"].tolist()
    assert stored == [f"request {i} handled" for i in range(len(stored))]  # a prefix, in order, no gap
    q = ops_sqlite.logs.quarantine()
    # the line cut by the damage (if any) is quarantined, never stored half
    assert s.stored + s.quarantined == src.events
    if s.quarantined:
        assert q["Reason"].iloc[0] == "truncated input: the last line was cut short"


def test_binary_garbage_file_is_refused_with_a_reason(ops_sqlite, tmp_path: Path) -> None:
    p = tmp_path / "core.bin"
    p.write_bytes(os.urandom(200_000))
    s = ops_sqlite.logs.ingest(p)
    assert not s.ok and "binary" in s.sources[0].error
    q = ops_sqlite.logs.quarantine()
    assert len(q) == 1 and q["Reason"].iloc[0].startswith("unknown format")


def test_binary_lines_inside_a_good_file(ops_sqlite) -> None:
    good = D.jsonl(10).encode().splitlines()
    data = b"\n".join([*good[:5], b"\x00\x01\x02garbage\x00", b"\xff\xfe\xfd bad utf8", *good[5:]]) + b"\n"
    s = ops_sqlite.logs.ingest_bytes(data, format="jsonl")
    assert (s.stored, s.quarantined) == (10, 2)
    q = ops_sqlite.logs.quarantine().sort_values("Line")
    assert q["Line"].tolist() == [6, 7]
    assert q["Reason"].tolist() == ["binary data: NUL bytes in the line", "invalid UTF-8 at byte 0 of the line"]
    assert q["Raw"].iloc[1] == b"\xff\xfe\xfd bad utf8"


def test_invalid_utf8_replace_mode_flags_the_row(ops_sqlite) -> None:
    data = b'ts=2026-03-01T12:00:00Z level=info msg="caf\xe9"\n'
    s = ops_sqlite.logs.ingest_bytes(data, format="logfmt", invalid_utf8="replace")
    assert s.stored == 1
    row = ops_sqlite.lake.query("SELECT * FROM logs").iloc[0]
    assert row["Body"] == "caf\ufffd" and dict(row["LogAttributes"])["opsnb.invalid_utf8"] == "replaced"


def test_five_megabyte_line(ops_sqlite, tmp_path: Path) -> None:
    big = '{"ts": "2026-03-01T12:00:00Z", "msg": "' + "x" * (5 << 20) + '"}'
    lines = D.jsonl(4).splitlines()
    p = tmp_path / "big.jsonl"
    p.write_text("\n".join([lines[0], big, lines[1], lines[2], big, lines[3]]) + "\n")
    s = ops_sqlite.logs.ingest(p)
    assert (s.stored, s.quarantined) == (4, 2)
    q = ops_sqlite.logs.quarantine().sort_values("Line")
    assert q["Line"].tolist() == [2, 5]
    assert "longer than the limit" in q["Reason"].iloc[0] and len(q["Raw"].iloc[0]) == 65_536
    # a bigger limit takes it
    s2 = ops_sqlite.logs.ingest(p, max_line_bytes=8 << 20, from_start=True)
    assert s2.stored == 6


def test_huge_line_without_newline_is_streamed(ops_sqlite, tmp_path: Path) -> None:
    from opsnb.logs.formats import ParseOptions
    from opsnb.logs.ingest import Ingestor

    data = D.jsonl(2).encode() + b"y" * (3 << 20)  # no newline at all at the end
    ing = Ingestor(ops_sqlite.lake, chunk_bytes=1 << 16, max_line_bytes=1 << 20)
    res = ing.ingest_bytes(data, ParseOptions(source="s"))
    ing.close()
    assert (res.stored, res.quarantined) == (2, 1)
    assert "3,145,728 bytes" in ops_sqlite.logs.quarantine()["Reason"].iloc[0]


def test_future_timestamps_are_quarantined_naive_ones_flagged(ops_sqlite) -> None:
    now = datetime.now(UTC)
    lines = [f'{{"ts": "{(now + timedelta(days=2)).isoformat()}", "msg": "from the future"}}',
             f'{{"ts": "{(now + timedelta(minutes=2)).isoformat()}", "msg": "small skew"}}',
             '{"ts": "2026-03-01 12:00:00", "msg": "naive"}']
    s = ops_sqlite.logs.ingest_bytes("\n".join(lines) + "\n")
    assert (s.stored, s.quarantined) == (2, 1)
    assert ops_sqlite.logs.quarantine()["Reason"].iloc[0].startswith("timestamp in the future")
    s2 = ops_sqlite.logs.ingest_bytes(lines[0] + "\n", max_future="3d")
    assert s2.stored == 1
    naive = ops_sqlite.lake.query("SELECT LogAttributes FROM logs WHERE Body = 'naive'").iloc[0, 0]
    assert dict(naive)["opsnb.ts_assumed"] == "UTC"


def test_unknown_format_text(ops_sqlite) -> None:
    s = ops_sqlite.logs.ingest_bytes("hello there\nthis is prose, not a log\n" * 20)
    assert not s.ok and "no known format" in s.sources[0].error


def test_crlf_blank_lines_and_no_final_newline(ops_sqlite) -> None:
    text = D.LOGFMT.replace("\n", "\r\n") + "\r\n\r\n   \r\n" + "ts=2026-03-01T12:00:09Z msg=last level=info"
    s = ops_sqlite.logs.ingest_bytes(text)
    src = s.sources[0]
    assert (s.stored, s.quarantined, src.blank) == (4, 0, 3)
    assert src.lines == src.blank + src.events
    bodies = ops_sqlite.lake.query("SELECT Body FROM logs")["Body"]
    assert not any(b.endswith("\r") for b in bodies) and "last" in set(bodies)


def test_empty_and_missing_files(ops_sqlite, tmp_path: Path) -> None:
    (tmp_path / "empty.log").write_text("")
    s = ops_sqlite.logs.ingest([tmp_path / "empty.log", tmp_path / "nope.log"])
    assert not s.ok
    assert s.sources[0].error and s.sources[1].error


def test_every_line_accounted_for(ops_sqlite) -> None:
    """lines = blank + events (stored + quarantined), whatever the mix."""
    mix = (D.jsonl(50) + "\n\n{broken\n" + '{"msg": "x"}\n' + "\x00\n") * 3
    s = ops_sqlite.logs.ingest_bytes(mix, format="jsonl")
    src = s.sources[0]
    assert src.lines == src.blank + src.events
    assert src.events == src.stored + src.quarantined
    assert ops_sqlite.lake.count("logs") == src.stored
    assert ops_sqlite.lake.count("quarantine") == src.quarantined == 9


def test_quarantine_table_contents(ops_sqlite) -> None:
    ops_sqlite.logs.ingest_bytes("ts=2026-03-01T12:00:00Z msg=ok\nts=notatime msg=bad\n", source="feed-7")
    q = ops_sqlite.logs.quarantine(source="feed-7")
    assert q[["Source", "Line", "Format"]].iloc[0].tolist() == ["feed-7", 2, "logfmt"]
    assert q["Reason"].iloc[0] == "unparseable timestamp: notatime"
    assert q["Text"].iloc[0] == "ts=notatime msg=bad"
    assert isinstance(q["Timestamp"].iloc[0], pd.Timestamp)


def test_parallel_chunks_give_the_serial_result(tmp_path: Path, monkeypatch) -> None:
    """Chunks parsed by several workers merge in input order: same counts, rows and quarantine.

    A batch is written in one slice per worker: nothing is lost or doubled at the cuts.
    """
    import opsnb
    from opsnb.logs import ingest as I
    from opsnb.logs.formats import ParseOptions
    from opsnb.logs.ingest import Ingestor

    monkeypatch.setattr(I, "SPLIT_ROWS", 1000)

    good = D.jsonl(12000).encode().split(b"\n")  # past the 1 MiB read for detection: many chunks
    lines: list[bytes] = []
    for i, line in enumerate(good[:-1]):
        lines.append(line)
        if i % 97 == 5:  # damage scattered over many chunks
            lines.append([b"{not json", b'{"msg": "nul \x00 here"}', b'{"msg": "bad \xff utf-8"}',
                          b'{"ts": "2026-03-01T12:00:00Z", "msg": "' + b"x" * 5000 + b'"}'][i % 4])
    data = b"\n".join(lines) + b"\n"
    outcomes = []
    segments = []
    for workers in (1, 3):
        ws = opsnb.connect(tmp_path / f"ws{workers}")
        ing = Ingestor(ws.lake, chunk_bytes=1 << 16, max_line_bytes=4096, workers=workers)
        res = ing.ingest_bytes(data, ParseOptions(source="s", format="jsonl"))  # detection refuses NULs
        ing.close()
        rows = ws.lake.query("SELECT Timestamp, Body, TraceId FROM logs ORDER BY Timestamp")
        q = ws.lake.query("SELECT Line, Reason FROM quarantine ORDER BY Line")
        segments.append(len(ws.lake.files("logs")))
        outcomes.append(((res.lines, res.events, res.stored, res.quarantined, dict(res.reasons)),
                         rows.to_dict("list"), q.to_dict("list")))
        ws.close()
    assert outcomes[0] == outcomes[1]
    assert segments[1] > segments[0] == 1  # written in slices, yet no row lost or doubled
    counts, rows, q = outcomes[1]
    damaged = sum(1 for i in range(12000) if i % 97 == 5)
    assert counts[2] == 12000 and counts[3] == len(q["Line"]) == damaged
    assert {r.split(":")[0].split(" ")[0] for r in q["Reason"]} >= {"invalid", "binary", "line"}
    assert rows["Body"] == [f"request {i} handled" for i in range(12000)]
