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
    for sub in ("ingest", "tail", "query", "quarantine", "window"):
        res = CliRunner().invoke(cli, ["logs", sub, "--help"])
        assert res.exit_code == 0 and "Example:" in res.output


def test_tail_follows_appends_until_sigterm_then_resumes_without_repeating(tmp_path: Path) -> None:
    import os
    import signal
    import time

    ws = _ws(tmp_path)
    d = tmp_path / "logs"
    d.mkdir()
    (d / "app.jsonl").write_text(D.jsonl(30))
    (d / "ignored.txt").write_text("not followed\n")
    proc = subprocess.Popen([sys.executable, "-m", "opsnb", "logs", "tail", str(d), "--pattern", "*.jsonl",
                             "--poll", "100ms", "--format-out", "json", "--workspace", str(ws)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "OPSNB_USER": "tester"})
    try:
        ops = make_ops(ws)
        deadline = time.monotonic() + 60
        while ops.logs.query(since="2020-01-01", until="2100-01-01", limit=1000).shape[0] < 30:
            assert time.monotonic() < deadline and proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            time.sleep(0.2)
        with (d / "app.jsonl").open("a") as f:  # appended while it runs: picked up without a restart
            f.write(D.jsonl(20, t0=D.T0.replace(hour=D.T0.hour + 1)))
        while ops.logs.query(since="2020-01-01", until="2100-01-01", limit=1000).shape[0] < 50:
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    summary = json.loads(out)
    assert summary["stored"] == 50 and [s["source"].endswith("app.jsonl") for s in summary["sources"]] == [True]
    # started again: the checkpoint says all was read, so a bounded run stores nothing more
    again = invoke(ws, "tail", str(d), "--pattern", "*.jsonl", "--for", "1s", "--format-out", "json")
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout)["stored"] == 0
    assert ops.logs.query(since="2020-01-01", until="2100-01-01", limit=1000).shape[0] == 50
    ops.close()


def test_tail_refuses_a_missing_directory_and_a_bare_number(tmp_path: Path) -> None:
    ws = _ws(tmp_path)
    missing = subprocess.run([sys.executable, "-m", "opsnb", "logs", "tail", str(tmp_path / "nope"), "--for", "1s",
                              "--workspace", str(ws)], capture_output=True, text=True, timeout=120)
    assert missing.returncode != 0 and "no directory" in missing.stderr and "Traceback" not in missing.stderr
    bad = invoke(ws, "tail", str(tmp_path), "--idle", "90")
    assert bad.exit_code == 2 and "--idle" in bad.output
