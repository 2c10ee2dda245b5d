"""Files that mix formats: each line is parsed by the format that explains it, or quarantined alone.

Issue 15: a file mixing two known formats was refused whole (60 good lines lost); here every
line is stored by its own format, the summary counts the rows per format, and damaged or
unexplained lines are quarantined one by one (with their line numbers), the good lines around
them kept.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path

from tests.logs import _logdata as D

JS = D.jsonl(60).splitlines()
LF = [f'ts=2026-03-01T12:{i // 60:02d}:{i % 60:02d}Z level=warn msg="lf {i}" service=api status=503'
      for i in range(60)]
SY = [f"<165>1 2026-03-01T12:01:{i % 60:02d}.003Z web-1 checkout 42 ID47 - sys {i}" for i in range(60)]


def write(p: Path, lines: list[str]) -> Path:
    p.write_bytes(("\n".join(lines) + "\n").encode("utf-8", "surrogateescape"))
    return p


def formats_of_rows(ops) -> Counter[str]:
    df = ops.lake.query("SELECT ResourceAttributes FROM logs")
    return Counter(dict(r)["opsnb.format"] for r in df["ResourceAttributes"])


def test_two_formats_interleaved_each_line_by_its_format(ops_sqlite, tmp_path: Path) -> None:
    lines = JS + LF
    random.Random(1).shuffle(lines)
    s = ops_sqlite.logs.ingest(write(tmp_path / "mixed.log", lines))
    r = s.sources[0]
    assert (r.error, r.stored, r.quarantined) == (None, 120, 0)  # before: 60 stored, 60 quarantined
    assert r.format == "jsonl+logfmt" and dict(r.formats) == {"jsonl": 60, "logfmt": 60}
    assert formats_of_rows(ops_sqlite) == {"jsonl": 60, "logfmt": 60}
    df = ops_sqlite.lake.query("SELECT Body, SeverityText FROM logs WHERE Body LIKE 'lf %'")
    assert len(df) == 60 and set(df["SeverityText"].str.lower()) == {"warn"}
    assert s.as_dict()["sources"][0]["formats"] == {"jsonl": 60, "logfmt": 60}
    assert set(s.table()["formats"].iloc[0].split(", ")) == {"jsonl 60", "logfmt 60"}


def test_three_formats_no_longer_refused_whole(ops_sqlite, tmp_path: Path) -> None:
    s = ops_sqlite.logs.ingest(write(tmp_path / "three.log", JS[:40] + LF[:40] + SY[:40]))
    r = s.sources[0]
    assert r.error is None and r.stored == 120 and r.quarantined == 0  # before: refused, 120 lost
    assert dict(r.formats) == {"jsonl": 40, "logfmt": 40, "syslog5424": 40}


def test_damaged_and_unexplained_lines_quarantined_alone(ops_sqlite, tmp_path: Path) -> None:
    lines = [*JS[:30], '{"msg": "nul \x00 here"}', *LF[:30], "neither format: just words", *JS[30:40],
             '{"msg": "bad \udcff utf-8"}', *LF[30:40]]
    s = ops_sqlite.logs.ingest(write(tmp_path / "damaged.log", lines))
    r = s.sources[0]
    assert r.stored == 80 and r.quarantined == 3 and dict(r.formats) == {"jsonl": 40, "logfmt": 40}
    assert "quarantine" in str(s)  # where they went
    q = ops_sqlite.lake.query("SELECT Line, Reason, Raw FROM quarantine ORDER BY Line")
    assert q["Line"].tolist() == [31, 62, 73]
    assert q["Reason"].iloc[0].startswith("binary data") and q["Reason"].iloc[2].startswith("invalid UTF-8")
    assert q["Raw"].iloc[1] == b"neither format: just words"


def test_plain_text_with_stack_traces_and_json_lines(ops_sqlite, tmp_path: Path) -> None:
    lines = []
    for i in range(30):
        lines.append(f"2026-03-01 12:00:{i:02d},000 ERROR boom {i}")
        lines.append("  at com.example.Foo.bar(Foo.java:10)")
        lines.append(json.dumps({"ts": f"2026-03-01T12:00:{i:02d}Z", "level": "info", "msg": f"json {i}"}))
    s = ops_sqlite.logs.ingest(write(tmp_path / "app.log", lines))
    r = s.sources[0]
    assert r.stored == 60 and r.quarantined == 0 and dict(r.formats) == {"plain": 30, "jsonl": 30}
    bodies = ops_sqlite.lake.query("SELECT Body FROM logs WHERE Body LIKE 'boom%'")["Body"]
    assert all("Foo.java:10" in b and "json" not in b for b in bodies)  # the trace stays with its entry


def test_mixed_file_resumes_with_its_formats_and_forced_format_has_no_fallback(ops_sqlite, tmp_path: Path) -> None:
    p = write(tmp_path / "grow.log", [x for pair in zip(JS[:30], LF[:30], strict=True) for x in pair])
    assert ops_sqlite.logs.ingest(p).stored == 60
    with open(p, "a") as fh:
        fh.write("\n".join([*JS[30:35], *LF[30:35]]) + "\n")
    s = ops_sqlite.logs.ingest(p)  # resumed: the appended lines only, by both formats
    assert s.sources[0].resumed_at > 0 and s.stored == 10 and s.quarantined == 0
    assert dict(s.sources[0].formats) == {"jsonl": 5, "logfmt": 5}
    forced = ops_sqlite.logs.ingest(write(tmp_path / "forced.log", JS[:10] + LF[:10]), format="jsonl")
    assert forced.stored == 10 and forced.quarantined == 10  # the format was given: no other is tried


def test_single_format_file_counts_one_format(ops_sqlite, tmp_path: Path) -> None:
    s = ops_sqlite.logs.ingest(write(tmp_path / "one.log", JS))
    assert s.sources[0].format == "jsonl" and dict(s.sources[0].formats) == {"jsonl": 60}
