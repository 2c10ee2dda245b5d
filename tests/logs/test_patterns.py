"""Template mining: masking, the miner, persistence, pattern diff, file reading, the templates command."""

from __future__ import annotations

import csv
import io
import json
import random
from pathlib import Path

import pytest
from click.testing import CliRunner

from opsnb.errors import NotFound, ParseError, ValidationError
from opsnb.logs.headers import HeaderSplitter, split_header
from opsnb.logs.minefile import body_extractor, mine_file, read_lines
from opsnb.logs.patterns import TemplateMiner, grouping_accuracy, mask, pattern_diff
from opsnb.logs.patterns_cli import templates_cmd


# ------------------------------------------------------------------ masking
@pytest.mark.parametrize(("text", "expected"), [
    ("took 35ms", "took <DUR>"),
    ("from 10.0.0.1:8080 ok", "from <IP>:<NUM> ok"),
    ("from /10.0.0.1 ok", "from <IP> ok"),
    ("req 123e4567-e89b-12d3-a456-426614174000 done", "req <UUID> done"),
    ("addr 0xdeadBEEF", "addr <HEX>"),
    ("commit 3f2a9c0e11aa", "commit <HEX>"),
    ("heap 512MB", "heap <SIZE>"),
    ("uid=0 euid=12", "uid=<NUM> euid=<NUM>"),
    ("block blk_-6952295868487656571 gone", "block <ID> gone"),
    ("value -3.5 and +7", "value <NUM> and <NUM>"),
    ("no numbers here", "no numbers here"),
    ("(dcr 0x0a) [12]", "(dcr <HEX>) [<NUM>]"),
])
def test_mask_types(text: str, expected: str) -> None:
    assert mask(text) == expected


def test_mask_does_not_touch_words_without_digits() -> None:
    assert mask("deadbeef cafe user=root") == "deadbeef cafe user=root"


# -------------------------------------------------------------------- miner
def test_miner_groups_same_shape_and_separates_different() -> None:
    m = TemplateMiner()
    ids = m.mine([
        "user 7 logged in from 10.0.0.1",
        "user 9 logged in from 10.0.0.2",
        "disk /dev/sda1 is 91% full",
        "user 12 logged in from 10.9.9.9",
        "connection reset by peer",
    ])
    assert ids[0] == ids[1] == ids[3]
    assert len({ids[0], ids[2], ids[4]}) == 3
    assert m.get(ids[0]).text == "user <NUM> logged in from <IP>"
    assert m.get(ids[0]).count == 3
    with pytest.raises(NotFound):
        m.get(999)


def test_miner_generalises_a_differing_word() -> None:
    m = TemplateMiner()
    words = ["alice", "bob", "carol", "dave", "erin"]
    ids = m.mine([f"session opened for user {w} by system daemon" for w in words])
    assert len(set(ids)) == 1
    assert m.get(ids[0]).text == "session opened for user <*> by system daemon"


def test_miner_collapses_variable_length_lists() -> None:
    m = TemplateMiner()
    a = m.add("ask 10.0.0.1 to delete blk_1 blk_2 blk_3")
    b = m.add("ask 10.0.0.2 to delete blk_4")
    assert a == b


def test_ids_are_stable_and_match_does_not_learn() -> None:
    m = TemplateMiner()
    first = m.add("cache miss for key 17")
    assert m.add("cache miss for key 99") == first
    assert m.match("cache miss for key 12345") == first
    n = len(m)
    assert m.match("something never seen before") is None
    assert len(m) == n


def test_templates_frame_sorted_by_count() -> None:
    m = TemplateMiner()
    m.mine(["a 1", "a 2", "a 3", "b x y z"])
    df = m.templates()
    assert list(df.columns) == ["template_id", "template", "count", "example", "name", "pinned"]
    assert df["count"].tolist() == [3, 1]
    assert df["template"].iloc[0] == "a <NUM>"


@pytest.mark.parametrize("kw", [{"similarity": 0}, {"similarity": 1.5}, {"depth": 0}])
def test_bad_settings_rejected(kw: dict[str, float]) -> None:
    with pytest.raises(ValidationError):
        TemplateMiner(**kw)  # type: ignore[arg-type]


def test_huge_message_is_cut() -> None:
    m = TemplateMiner(max_line=1000)
    tid = m.add("x" * 5_000_000)
    assert len(m.get(tid).text) == 1000


# -------------------------------------------------------------- persistence
def test_save_load_round_trip_continues_mining(tmp_path: Path) -> None:
    m = TemplateMiner()
    ids = m.mine(["job 1 started", "job 2 started", "job 3 failed: disk full"])
    path = tmp_path / "miner.json"
    m.save(path)
    data = json.loads(path.read_text())  # plain JSON, no pickle
    assert data["format"] == "opsnb-template-miner"
    again = TemplateMiner.load(path)
    assert again.templates().to_dict() == m.templates().to_dict()
    assert again.add("job 77 started") == ids[0]
    new = again.add("totally different line")
    assert new not in ids


@pytest.mark.parametrize("content", [
    "not json",
    "[]",
    json.dumps({"format": "something-else"}),
    json.dumps({"format": "opsnb-template-miner", "version": 99}),
    json.dumps({"format": "opsnb-template-miner", "version": 1, "settings": {"similarity": 0.7, "depth": 2,
               "max_children": 100, "max_line": 100}, "templates": [{"id": "x", "tokens": [], "count": 1}]}),
    json.dumps({"format": "opsnb-template-miner", "version": 1, "settings": {"similarity": 9, "depth": 2,
               "max_children": 100, "max_line": 100}, "templates": []}),
    json.dumps({"format": "opsnb-template-miner", "version": 1, "settings": {"similarity": 0.7, "depth": 2,
               "max_children": 100, "max_line": 100},
               "templates": [{"id": 1, "tokens": ["a"], "count": 1}, {"id": 1, "tokens": ["b"], "count": 1}]}),
])
def test_load_rejects_hostile_files(tmp_path: Path, content: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(ParseError) as exc:
        TemplateMiner.load(path)
    assert str(path) in str(exc.value)


def test_load_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ParseError, match="cannot read"):
        TemplateMiner.load(tmp_path / "nope.json")


# ------------------------------------------------------------- pattern diff
def test_pattern_diff_finds_new_vanished_spiking() -> None:
    rnd = random.Random(3)
    steady = [f"GET /health {rnd.randrange(100)} ms" for _ in range(200)]
    before = steady + [f"cache warmed in {rnd.randrange(9)}s" for _ in range(20)] + ["retry 1 of 3"] * 5
    after = steady + [f"NullPointerException in handler {i}" for i in range(30)] + ["retry 2 of 3"] * 60
    df = pattern_diff(before, after)
    assert list(df.columns) == ["template", "before", "after", "status", "ratio", "example"]
    status = dict(zip(df["template"], df["status"], strict=True))
    new = df[df["status"] == "new"]
    assert len(new) == 1 and "NullPointerException" in new["template"].iloc[0]
    assert new["after"].iloc[0] == 30 and new["before"].iloc[0] == 0
    assert "NullPointerException in handler" in new["example"].iloc[0]
    assert status["retry <NUM> of <NUM>"] == "spiking"
    assert status["cache warmed in <DUR>"] == "vanished"
    assert status["GET /health <NUM> ms"] == "steady"
    # ranked: new first, steady last
    assert df["status"].iloc[0] == "new" and df["status"].iloc[-1] == "steady"


def test_pattern_diff_empty_windows() -> None:
    assert pattern_diff([], []).empty
    df = pattern_diff([], ["a 1", "a 2", "a 3"])
    assert df["status"].tolist() == ["new"]


# ----------------------------------------------------------------- headers
@pytest.mark.parametrize(("line", "shape", "body"), [
    ("Jun 14 15:16:01 combo sshd(pam_unix)[19939]: check pass; user unknown", "syslog",
     "check pass; user unknown"),
    ("[Sun Dec 04 04:47:44 2005] [error] mod_jk child in error state 6", "apache", "mod_jk child in error state 6"),
    ("2015-10-18 18:01:47,978 INFO [main] org.apache.hadoop.Foo: Created thing 1", "leveled", "Created thing 1"),
    ("2015-07-29 17:41:44,747 - WARN  [QuorumPeer[myid=1]/0:0:0:0:0:0:0:0:2181:Leader@774] - time out: 3200",
     "leveled", "time out: 3200"),
    ('10.1.2.3 - - [04/Dec/2005:04:47:44 +0000] "GET / HTTP/1.1" 200 12', "access", '"GET / HTTP/1.1" 200 12'),
    ("ERROR something broke", "none", "ERROR something broke"),  # no time stamp: not a header
    ("just a message", "none", "just a message"),
])
def test_header_shapes(line: str, shape: str, body: str) -> None:
    s = split_header(line)
    assert (s.shape, s.body) == (shape, body)


def test_header_regex_custom_and_errors() -> None:
    hs = HeaderSplitter(r"^(?P<ts>\S+) (?P<body>.*)$")
    assert hs.body("12:00 hello world") == "hello world"
    assert hs.body("") == ""
    with pytest.raises(ValidationError, match="compile"):
        HeaderSplitter("(")
    with pytest.raises(ValidationError, match="body"):
        HeaderSplitter(r"^(?P<msg>.*)$")


def test_body_extractor_formats() -> None:
    j = body_extractor("json")
    assert j('{"level":"info","msg":"user 5 in"}') == "user 5 in"
    assert j("{broken json") == "{broken json"
    lf = body_extractor("logfmt")
    assert lf('ts=1 level=info msg="cache \\"x\\" miss" key=2') == 'cache "x" miss'
    assert lf("ts=1 msg=plain") == "plain"
    with pytest.raises(ValidationError, match="unknown format"):
        body_extractor("xml")


# -------------------------------------------------------------- file input
def _lines(data: bytes, **kw: int) -> list:
    return list(read_lines(io.BytesIO(data), **kw))


def test_read_lines_bad_input_keeps_good_lines() -> None:
    data = (b"good 1\n" + b"\x00\x01\x02\x03garbage\x00\n" + b"y" * 3_000_000 + b"\n"
            + b"half \xff\xfe bad\r\n" + b"good 2")
    lines = _lines(data, max_bytes=1 << 20, chunk=64 * 1024)
    assert [r.no for r in lines] == [1, 2, 3, 4, 5]
    assert lines[0].text == "good 1" and lines[0].problem is None
    assert lines[1].text is None and "binary" in (lines[1].problem or "")
    assert lines[2].text is not None and len(lines[2].text) == 1 << 20
    assert "3,000,000 bytes" in (lines[2].problem or "")
    assert lines[3].text == "half \ufffd\ufffd bad" and "invalid UTF-8" in (lines[3].problem or "")
    assert lines[4].text == "good 2"


def test_read_lines_cut_inside_multibyte_char_is_not_invalid() -> None:
    data = "é".encode() * 10 + b"\n"
    [line] = _lines(data, max_bytes=5)
    assert line.text == "éé"
    assert "invalid" not in (line.problem or "")


def test_read_lines_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ParseError, match="cannot open"):
        list(read_lines(tmp_path / "missing.log"))


def test_mine_file_every_line_accounted(tmp_path: Path) -> None:
    p = tmp_path / "app.log"
    p.write_bytes(b"2026-01-01 10:00:00 INFO svc.A: started worker 1\n\xff\x00\x00\x00\n"
                  b"2026-01-01 10:00:01 INFO svc.A: started worker 2\n\n")
    mf = mine_file(p)
    rows = list(mf.rows())
    assert [r[0] for r in rows] == [1, 2, 3, 4]
    assert rows[0][1] == rows[2][1] and rows[0][2] == "started worker <NUM>"
    assert rows[1][1] is None
    assert [no for no, _ in mf.problems] == [2]


def test_grouping_accuracy_definition() -> None:
    assert grouping_accuracy([1, 1, 2, 2], ["a", "a", "b", "b"]) == 1.0
    assert grouping_accuracy([1, 1, 1, 2], ["a", "a", "b", "b"]) == 0.0
    assert grouping_accuracy([1, 1, 2, 3], ["a", "a", "b", "b"]) == 0.5
    with pytest.raises(ValidationError):
        grouping_accuracy([1], [])


# ------------------------------------------------------------ the command
def test_templates_command_writes_csv_for_every_line(tmp_path: Path) -> None:
    p = tmp_path / "x.log"
    p.write_bytes(b"Jun 14 15:16:01 h sshd[1]: Failed password for root from 10.0.0.1\n"
                  b"\x00\x00\x00bin\n"
                  b"Jun 14 15:16:02 h sshd[2]: Failed password for root from 10.0.0.2\n")
    res = CliRunner().invoke(templates_cmd, [str(p), "--save", str(tmp_path / "m.json")])
    assert res.exit_code == 0, res.output
    rows = list(csv.reader(io.StringIO(res.stdout)))
    assert rows[0] == ["line", "template_id", "template"]
    assert [r[0] for r in rows[1:]] == ["1", "2", "3"]
    assert rows[1][1] == rows[3][1] and rows[1][2] == "Failed password for root from <IP>"
    assert rows[2][1] == ""
    assert "x.log:2: binary" in res.stderr
    assert TemplateMiner.load(tmp_path / "m.json").templates()["count"].sum() == 2


def test_templates_command_header_regex_and_summary(tmp_path: Path) -> None:
    p = tmp_path / "y.log"
    p.write_text("A|x=1 fine\nB|x=2 fine\nC|boom\n")
    res = CliRunner().invoke(templates_cmd, [str(p), "--header-regex", r"^\w\|(?P<body>.*)$", "--summary"])
    assert res.exit_code == 0, res.output
    assert "x=<NUM> fine" in res.stdout and "2" in res.stdout
    res = CliRunner().invoke(templates_cmd, [str(p), "--header-regex", "(unclosed"])
    assert res.exit_code != 0 and isinstance(res.exception, ValidationError)


def test_templates_command_stdin() -> None:
    res = CliRunner().invoke(templates_cmd, ["-", "--format", "raw"], input=b"a 1\na 2\n")
    assert res.exit_code == 0
    assert res.stdout.splitlines()[1:] == ["1,1,a <NUM>", "2,1,a <NUM>"]


@pytest.mark.parametrize("chunk", [1, 3, 7, 64, 1 << 20])
def test_read_lines_any_block_size_gives_the_same_lines(chunk: int) -> None:
    rnd = random.Random(chunk)
    parts = []
    for _ in range(300):
        kind = rnd.random()
        if kind < 0.7:
            parts.append(f"line {rnd.randrange(10**6)} ünïcode ok".encode())
        elif kind < 0.8:
            parts.append(b"\x00\x01\x02" * rnd.randrange(1, 5))
        elif kind < 0.9:
            parts.append(b"bad \xff\xfe end")
        else:
            parts.append(b"")
    data = b"\n".join(parts) + (b"\r\n" if chunk % 2 else b"")
    got = _lines(data, max_bytes=1 << 20, chunk=chunk)
    expected = data.split(b"\n")
    if expected[-1] == b"":
        expected.pop()
    assert [r.no for r in got] == list(range(1, len(expected) + 1))
    for raw, line in zip(expected, got, strict=True):
        raw = raw.removesuffix(b"\r")
        if b"\x00" in raw:
            assert line.text is None
        else:
            assert line.text == raw.decode("utf-8", errors="replace")
            assert (line.problem is not None) == (b"\xff" in raw)


def test_opsnb_logs_templates_real_entry_point(tmp_path: Path) -> None:
    import shutil
    import subprocess
    import sys

    exe = shutil.which("opsnb", path=str(Path(sys.executable).parent))
    assert exe, "the opsnb console script is installed in the venv"
    p = tmp_path / "hostile.log"
    p.write_bytes(b"2026-01-01 00:00:00 ERROR a.B: failed to connect to 10.0.0.1 after 3 tries\n"
                  + b"\x00\xff" * 1000 + b"\n" + b"z" * (3 << 20) + b"\n"
                  + b"2026-01-01 00:00:01 ERROR a.B: failed to connect to 10.0.0.9 after 5 tries\n")
    res = subprocess.run([exe, "logs", "templates", str(p)], capture_output=True, text=True, cwd=tmp_path,
                         timeout=120, check=False)
    assert res.returncode == 0, res.stderr
    rows = list(csv.reader(io.StringIO(res.stdout)))
    assert len(rows) == 5 and rows[1][1] == rows[4][1]
    assert rows[1][2] == "failed to connect to <IP> after <NUM> tries"
    assert "hostile.log:2: binary" in res.stderr and "hostile.log:3: 3,145,728 bytes long" in res.stderr
    assert not (tmp_path / "data").exists()  # no workspace was opened
    res = subprocess.run([exe, "logs", "templates", str(tmp_path / "missing.log")], capture_output=True,
                         text=True, timeout=120, check=False)
    assert res.returncode == 1 and "missing.log: cannot open" in res.stderr
