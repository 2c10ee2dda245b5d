"""``opsnb logs ...``: exit codes, summaries, stdin, query output; a real process for the end-to-end case."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from opsnb.cli import cli
from tests.conftest import make_ops
from tests.logs import _logdata as D


def _ws(tmp_path: Path) -> Path:
    ws = tmp_path / "ws"
    make_ops(ws).close()  # tester (OPSNB_USER) becomes admin
    return ws


def invoke(ws: Path, *args: str, input: str | bytes | None = None):
    return CliRunner().invoke(cli, ["logs", *args, "--workspace", str(ws)], input=input, catch_exceptions=False)


def test_ingest_summary_json_and_exit_codes(tmp_path: Path) -> None:
    ws = _ws(tmp_path)
    good = tmp_path / "app.log.gz"
    with gzip.open(good, "wt") as f:
        f.write(D.jsonl(40) + "{broken\n")
    res = invoke(ws, "ingest", str(good), "--format-out", "json")
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert (out["read"], out["stored"], out["quarantined"]) == (41, 40, 1)
    assert out["sources"][0]["format"] == "jsonl" and out["rate"] > 0
    # nothing readable: exit 1 with a clear message
    junk = tmp_path / "junk.bin"
    junk.write_bytes(bytes(range(256)) * 100)
    bad = invoke(ws, "ingest", str(junk))
    assert bad.exit_code == 1
    assert "nothing could be stored" in bad.stderr and "binary" in bad.stderr
    missing = invoke(ws, "ingest", str(tmp_path / "nope-*.log"))
    assert missing.exit_code == 1 and "matches no file" in missing.stderr
    # one good file among bad ones: success
    mixed = invoke(ws, "ingest", str(junk), str(good))
    assert mixed.exit_code == 0


def test_ingest_forced_format_and_header_regex(tmp_path: Path) -> None:
    ws = _ws(tmp_path)
    f = tmp_path / "bgl.log"
    f.write_text((D.LOGHUB / "BGL" / "BGL_2k.log").read_text()[:20_000].rsplit("\n", 1)[0] + "\n")
    rx = r"^(?P<alert>\S+) (?P<ts>\d{10}) (?:\S+ ){4}(?P<component>\S+) (?P<level>\S+) (?P<msg>.*)"
    res = invoke(ws, "ingest", str(f), "--format", "plain", "--header-regex", rx, "--service", "bgl",
                 "--format-out", "json")
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["stored"] == out["read"] > 50 and out["quarantined"] == 0


def test_ingest_stdin_and_query(tmp_path: Path) -> None:
    ws = _ws(tmp_path)
    res = invoke(ws, "ingest", "-", "--format-out", "json", input=D.LOGFMT)
    assert res.exit_code == 0 and json.loads(res.stdout)["stored"] == 3
    q = invoke(ws, "query", "--since", "2026-03-01T11:00:00Z", "--until", "2026-03-01T13:00:00Z",
               "--service", "checkout", "--grep", "declined", "--format", "json")
    assert q.exit_code == 0, q.output
    rows = json.loads(q.stdout)
    assert len(rows) == 1 and rows[0]["HttpStatus"] == 502 and rows[0]["Timestamp"].startswith("2026-03-01T12:00:01")
    table = invoke(ws, "query", "--since", "2026-03-01T11:00:00Z", "--until", "2026-03-01T13:00:00Z")
    assert table.exit_code == 0 and "GET /api/cart done" in table.stdout
    quarantine = invoke(ws, "quarantine", "--format", "json")
    assert quarantine.exit_code == 0 and json.loads(quarantine.stdout) == []


def test_query_bad_input_is_a_clean_error(tmp_path: Path) -> None:
    ws = _ws(tmp_path)
    out = subprocess.run([sys.executable, "-m", "opsnb", "logs", "query", "--since", "yesterday-ish",
                          "--workspace", str(ws)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 2  # a usage error, named by its flag, with the forms to write
    assert "--since: 'yesterday-ish' is not a time; write one of:" in out.stderr and "Traceback" not in out.stderr


def test_end_to_end_process_with_progress(tmp_path: Path) -> None:
    ws = _ws(tmp_path)
    f = tmp_path / "a.jsonl"
    f.write_text(D.jsonl(500))
    out = subprocess.run([sys.executable, "-m", "opsnb", "logs", "ingest", str(f), "--workspace", str(ws)],
                         capture_output=True, text=True, timeout=120, env={**__import__("os").environ,
                                                                           "OPSNB_PROGRESS": "1"})
    assert out.returncode == 0, out.stderr
    assert "stored 500" in out.stdout and "100%" in out.stderr


def test_help_has_examples() -> None:
    for sub in ("ingest", "query", "quarantine", "window"):
        res = CliRunner().invoke(cli, ["logs", sub, "--help"])
        assert res.exit_code == 0 and "Example:" in res.output
