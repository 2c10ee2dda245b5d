"""A user adds a log format: registered like the built-ins, used by the library and by ``--format``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from opsnb.cli import cli
from opsnb.errors import ValidationError
from opsnb.logs.formats import FORMATS, LogFormat, ParseOptions
from tests.conftest import make_ops

# "2026-03-01 10:00:00 | checkout | ERROR | payment declined (order=7)"
PIPES = r"^(?P<ts>\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}) \| (?P<service>[\w-]+) \| (?P<level>\w+) \| (?P<msg>.*)$"
LINES = ("2026-03-01 10:00:00 | checkout | ERROR | payment declined (order=7)\n"
         "2026-03-01 10:00:01 | checkout | INFO | order placed\n"
         "  a stray continuation line\n"
         "2026-03-01 10:00:02 | cart | WARN | slow redis\n")


@pytest.fixture
def pipes() -> Iterator[str]:
    FORMATS.register("pipes", LogFormat("pipes", header_regex=PIPES, description="a | separated log"))
    yield "pipes"
    FORMATS.unregister("pipes")


def test_a_registered_format_ingests_a_file(ops, tmp_path: Path, pipes: str) -> None:
    path = tmp_path / "app.log"
    path.write_text(LINES)
    summary = ops.logs.ingest(path, format="PIPES")  # names are case-insensitive
    src = summary.sources[0]
    assert src.format == "pipes" and (src.stored, src.quarantined) == (3, 1), summary.table()
    df = ops.logs.query("2026-03-01T09:00:00Z", "2026-03-01T11:00:00Z")
    assert sorted(df["ServiceName"]) == ["cart", "checkout", "checkout"]
    row = df[df["Body"] == "payment declined (order=7)"].iloc[0]
    assert row["SeverityNumber"] == 17 and str(row["Timestamp"]) == "2026-03-01 10:00:00+00:00"
    assert dict(row["ResourceAttributes"])["opsnb.format"] == "pipes"
    q = ops.logs.quarantine(since="2026-01-01T00:00:00Z")
    assert list(q["Line"]) == [3] and "does not match" in q["Reason"].iloc[0]


def test_the_plain_engine_joins_continuation_lines(ops_sqlite, pipes: str) -> None:
    FORMATS.register("pipes-ml", LogFormat("pipes-ml", engine="plain", header_regex=PIPES))
    try:
        s = ops_sqlite.logs.ingest_bytes(LINES, format="pipes-ml")
        assert (s.stored, s.quarantined) == (3, 0)
    finally:
        FORMATS.unregister("pipes-ml")


def test_cli_takes_a_registered_format_and_suggests_for_a_typo(tmp_path: Path, pipes: str) -> None:
    ws = tmp_path / "ws"
    make_ops(ws).close()
    path = tmp_path / "app.log"
    path.write_text(LINES)
    res = CliRunner().invoke(cli, ["logs", "ingest", str(path), "--format", "pipes", "--format-out", "json",
                                   "--workspace", str(ws)], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert '"stored": 3' in res.stdout
    bad = CliRunner().invoke(cli, ["logs", "ingest", str(path), "--format", "jsonlines", "--workspace", str(ws)])
    assert bad.exit_code == 2  # a usage error, as the fixed list of choices was
    assert "did you mean 'jsonl'" in bad.stderr and "pipes" in bad.stderr


def test_unknown_and_malformed_formats_are_refused() -> None:
    with pytest.raises(ValidationError, match="did you mean 'logfmt'") as ei:
        ParseOptions(format="logfnt")
    assert "known: access, journald, jsonl" in str(ei.value)
    with pytest.raises(ValidationError, match="needs header_regex"):
        LogFormat("x")
    with pytest.raises(ValidationError, match="ts"):
        LogFormat("x", header_regex=r"^(?P<msg>.*)$")
    with pytest.raises(ValidationError, match="unknown engine"):
        LogFormat("x", engine="xml", header_regex=PIPES)
    assert ParseOptions(format="JSONL").format == "jsonl"


def test_a_registered_log_source_is_read_by_its_scheme(ops_sqlite, tmp_path: Path) -> None:
    import io

    from opsnb.logs.sources import SOURCES, LogSource, scheme_of

    class Memory(LogSource):
        """``mem://<n>``: n fake objects of two lines each."""

        def open(self, location: str) -> Iterator[tuple[str, Any]]:
            for i in range(int(location.removeprefix("mem://"))):
                yield f"mem-{i}", io.BufferedReader(io.BytesIO(LINES.replace("  a stray continuation line\n", "")
                                                               .encode()))

    assert scheme_of("app.log") == "file" and scheme_of("MEM://2") == "mem" and scheme_of("-") == "file"
    SOURCES.register("mem", Memory())
    try:
        path = tmp_path / "app.jsonl"
        path.write_text('{"ts": "2026-03-01T10:00:00Z", "msg": "hi"}\n')
        s = ops_sqlite.logs.ingest([f"file://{path}", "mem://2", "nope://x"], format=None)
        by = {r.source: r for r in s.sources}
        assert by[str(path)].stored == 1 and by["mem-0"].stored == 3 and by["mem-1"].stored == 3
        assert "unknown log source 'nope'" in str(by["nope://x"].error)
    finally:
        SOURCES.unregister("mem")
