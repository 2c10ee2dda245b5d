"""The Arrow fast path of normalisation gives exactly what the reference SQL gives, odd rows included."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from opsnb.logs.ingest import Ingestor
from tests.conftest import make_ops

NOW = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
ISO = NOW.isoformat().replace("+00:00", "Z")
FUTURE = (NOW + timedelta(days=3)).isoformat().replace("+00:00", "Z")
HEX32 = "0123456789ABCDEF0123456789abcdef"
B64_TRACE = "ASNFZ4mrze8BI0VniavN7w=="  # 16 bytes in base64: the SQL converts it to hex


def _jsonl() -> str:
    rows = [
        {"ts": ISO, "level": "info", "msg": "plain", "service": "a", "trace_id": HEX32, "status": 200,
         "duration_ms": 1.5, "user": "u1"},
        {"ts": ISO.replace("Z", "+02:00"), "level": "WARN", "msg": "offset", "span_id": "ABCDEF0123456789"},
        {"ts": NOW.isoformat().replace("+00:00", ".123456789Z"), "level": "error", "msg": "nanoseconds"},
        {"ts": NOW.strftime("%Y-%m-%d %H:%M:%S"), "level": "debug", "msg": "naive stamp"},
        {"ts": FUTURE, "level": "info", "msg": "future"},
        {"ts": "", "level": "info", "msg": "blank stamp"},
        {"ts": "2026-13-01T00:00:00Z", "level": "info", "msg": "month 13"},
        {"ts": ISO, "level": "30", "msg": "numeric level text"},
        {"ts": ISO, "level": " info", "msg": "padded level"},
        {"ts": ISO, "level": "ınfo", "msg": "non-ASCII level"},
        {"ts": ISO, "level": "info", "trace_id": B64_TRACE, "msg": "base64 trace"},
        {"ts": ISO, "level": "info", "msg": "x", "service": "", "host": "h1", "method": "get", "route": ""},
        {"ts": ISO, "level": "info"},
        {"ts": ISO, "msg": "no level", "severity_number": 13},
        {"ts": ISO, "msg": "huge status", "status": 2**40},
    ]
    return "\n".join(json.dumps(r) for r in rows) + "\n"


def _jsonl_text_status() -> str:
    rows = [{"ts": ISO, "level": "info", "msg": "s", "status": s, "duration": d, "request_time": rt}
            for s, d, rt in [("200", "12.5ms", "0.25"), ("abc", "12s", "x"), ("404", None, "1e-3"),
                             (None, "7", None), ("500", "3us", "0.1")]]
    return "\n".join(json.dumps(r) for r in rows) + "\n"


LOGFMT = (f'ts={ISO} level=info service=api msg="quoted \\"x\\"" trace_id={HEX32} duration=12.5ms '
          f"status=200 user=u1\n"
          f"ts={ISO} level=WARN msg=odd duration=2s status=abc\n"
          f"ts={FUTURE} level=info msg=future\n"
          f"time=1700000000 lvl=error msg=epoch\n"
          f"level=info msg=no-stamp\n"
          f"just text without pairs\n"
          f"ts={ISO} level= lvl=warn msg=dup msg=second service= host=h x= x=1 k=v route=/r\n"
          f'ts={ISO} level=info msg="a=b c" a="x msg=y" trace_id=abc duration=7\n')
SYSLOG = (f"<14>1 {ISO} web-1 api 1000 - - hello\n"
          f"<11>1 {ISO.replace('Z', '.5+01:00')} web-2 - - ID7 [x@1 a=\"b\"] with data\n"
          f"<200>1 {ISO} web-3 api - - - bad priority\n"
          f"<14>1 {FUTURE} web-1 api - - - future\n"
          f"<14>1 - web-1 api - - - no stamp\n"
          f"not syslog at all\n")
CLF = NOW.strftime("%d/%b/%Y:%H:%M:%S")
ACCESS = (f'10.0.0.1 - - [{CLF} +0000] "GET /a?q=1 HTTP/1.1" 200 12 "-" "curl/8" 0.012\n'
          f'10.0.0.2 - bob [{CLF} +0130] "POST /b HTTP/1.1" 503 - "http://r" "ua"\n'
          f'10.0.0.3 - - [{CLF} +0000] "garbage" 400 0\n'
          f'10.0.0.4 - - [{NOW.strftime("%d/%b/%Y:%H:%M:%S")}] "GET / HTTP/1.1" 200 1\n'
          f"not an access line\n")
PLAIN = (f"{NOW:%Y-%m-%d %H:%M:%S} INFO starting\n"
         f"{ISO} ERROR boom\n  at x.y(Z.java:1)\n"
         f"{NOW:%Y-%m-%d %H:%M:%S},123 WARN slow\n")


def _ingest(tmp: Path, monkeypatch: pytest.MonkeyPatch, text: str, fmt: str, *, fast: bool,
            **kw: object) -> tuple[pd.DataFrame, pd.DataFrame]:
    ops = make_ops(tmp / ("fast" if fast else "sql") / fmt)
    try:
        with monkeypatch.context() as m:
            if not fast:
                m.setattr(Ingestor, "_fast", lambda *a, **k: None)
            ops.logs.ingest_bytes(text, source="src", format=fmt, **kw)
        logs = ops.lake.query("SELECT * EXCLUDE (ObservedTimestamp) FROM logs ORDER BY Body, Timestamp")
        quarantine = ops.lake.query("SELECT Line, Format, Reason, Raw FROM quarantine ORDER BY Line")
    finally:
        ops.close()
    return logs, quarantine


def _norm(df: pd.DataFrame) -> pd.DataFrame:
    df = df.copy()
    for c in ("LogAttributes", "ResourceAttributes"):
        df[c] = [sorted(dict(v).items()) if isinstance(v, list | dict) else None for v in df[c]]
    return df


@pytest.mark.parametrize(("fmt", "text", "kw"), [
    ("jsonl", _jsonl(), {}),
    ("jsonl", _jsonl(), {"service": "dflt", "host": "hdflt"}),
    ("jsonl", _jsonl_text_status(), {}),
    ("logfmt", LOGFMT, {}),
    ("syslog5424", SYSLOG, {}),
    ("access", ACCESS, {}),
    ("plain", PLAIN, {"assume_tz": "Europe/Paris"}),
])
def test_fast_path_equals_sql(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fmt: str, text: str,
                              kw: dict[str, object]) -> None:
    fast_logs, fast_q = _ingest(tmp_path, monkeypatch, text, fmt, fast=True, **kw)
    sql_logs, sql_q = _ingest(tmp_path, monkeypatch, text, fmt, fast=False, **kw)
    assert len(fast_logs) > 0
    pd.testing.assert_frame_equal(_norm(fast_logs), _norm(sql_logs))
    pd.testing.assert_frame_equal(fast_q, sql_q)


def test_fast_path_takes_common_rows(tmp_path: Path) -> None:
    """Ordinary rows do not reach the SQL (or the fast path would be pointless)."""
    ops = make_ops(tmp_path / "ws")
    calls: list[int] = []
    orig = Ingestor._sql

    def spy(self: Ingestor, tbl, sql, name):  # noqa: ANN001, ANN202
        calls.append(tbl.num_rows)
        return orig(self, tbl, sql, name)

    try:
        Ingestor._sql = spy  # type: ignore[method-assign]
        lines = [json.dumps({"ts": ISO, "level": "info", "msg": f"m{i}", "status": 200}) for i in range(500)]
        lines.append(json.dumps({"ts": "yesterday", "level": "info", "msg": "odd"}))
        s = ops.logs.ingest_bytes("\n".join(lines) + "\n", format="jsonl")
    finally:
        Ingestor._sql = orig  # type: ignore[method-assign]
        ops.close()
    assert (s.stored, s.quarantined) == (500, 1)
    assert calls == [1]  # only the odd row went through the SQL


def test_logfmt_repeated_keys_keep_the_first(tmp_path: Path) -> None:
    """A repeated key (``x=1 x=2``) used to make a map with a key twice, which broke every lake query."""
    ops = make_ops(tmp_path / "ws")
    try:
        s = ops.logs.ingest_bytes(f"ts={ISO} level=info msg=a x=1 x=2 y= y=3 msg=b\n", format="logfmt")
        df = ops.lake.query("SELECT Body, LogAttributes FROM logs")
    finally:
        ops.close()
    assert s.stored == 1
    assert df["Body"].tolist() == ["a"]
    assert dict(df["LogAttributes"][0]) == {"x": "1", "y": None}  # the first y (empty) wins


def test_build_map_matches_a_row_by_row_model() -> None:
    """Maps assembled with numpy equal the obvious per-row construction (random shapes)."""
    import random

    import pyarrow as pa

    from opsnb.logs.arrowmaps import build_map

    rng = random.Random(3)
    for _ in range(200):
        n = rng.randint(1, 30)
        static = [(f"s{j}", pa.array([rng.choice([None, f"v{j}{i}"]) for i in range(n)], pa.string()))
                  for j in range(rng.randint(0, 4))]
        dyn = None
        if rng.random() < 0.6:
            ks = [[f"d{rng.randint(0, 5)}" for _ in range(rng.randint(0, 3))] for _ in range(n)]
            vs = [[f"x{i}{j}" for j in range(len(k))] for i, k in enumerate(ks)]
            dyn = (pa.array(ks, pa.list_(pa.string())), pa.array(vs, pa.list_(pa.string())))
        got = [g or [] for g in build_map(n, static, dyn).to_pylist()]
        want = []
        for i in range(n):
            row = [(k, c[i].as_py()) for k, c in static if c[i].as_py() is not None]
            if dyn is not None:
                row += list(zip(dyn[0][i].as_py(), dyn[1][i].as_py(), strict=True))
            seen: set[str] = set()
            out = []
            for k, v in row:
                if k not in seen:  # a repeated key: the first one wins
                    seen.add(k)
                    out.append((k, v))
            want.append(out)
        assert got == want


def test_logfmt_split_equals_the_regex_scan(tmp_path: Path) -> None:
    """Lines cut with string splits give the pairs RE2's scan gives (random hostile lines)."""
    import random

    import duckdb
    import numpy as np
    import pyarrow as pa

    from opsnb.logs import formats as F

    rng = random.Random(7)
    alpha = ["a", "b", "=", '"', "\\", " ", "\t", "x", "é", "1", "-", "\x0b", "\r"]
    words = ["k=v", 'msg="a b"', "x=", "==y=1", "z", '"q"', "a=b=c", 'e=""', 'f="="', "  ", "=", 'u=1"',
             'w="x"y', 'm= "n"', 'p="a\\"b"', "é=ü"]
    lines = ["".join(rng.choice(alpha) for _ in range(rng.randint(0, 20))) for _ in range(3000)]
    lines += [" ".join(rng.choice(words) for _ in range(rng.randint(0, 6))) for _ in range(3000)]
    con = duckdb.connect()
    ref_tbl = pa.table({"line": pa.array(lines)})  # noqa: F841 - read by the SQL below
    pairs = con.sql(f"SELECT regexp_extract_all(line, {F.sql_str(F.LOGFMT_PAIR)}) AS p FROM ref_tbl"
                    ).fetchall()
    want = []
    for (ps,) in pairs:
        row = []
        for p in ps:
            k, v = p.split("=", 1)
            if v.startswith('"'):
                v = v[1:-1].replace('\\"', '"').replace("\\\\", "\\")
            row.append((k, v or None))
        want.append(row)
    ops = make_ops(tmp_path / "ws")
    try:
        ing = Ingestor(ops.lake)
        try:
            got_tbl = ing._logfmt_pairs(pa.table({"_i": pa.array(np.arange(len(lines))), "line": pa.array(lines)}))
        finally:
            ing.close()
    finally:
        ops.close()
    got = [list(zip(k, v, strict=True)) for k, v in zip(got_tbl.column("k").to_pylist(),
                                                        got_tbl.column("v").to_pylist(), strict=True)]
    assert got == want


def test_fixed_width_checks_agree_with_the_regular_expressions() -> None:
    """``all_iso_zoned``/``all_hex`` may say False when RE2 would match, never True when it would not."""
    import random

    import pyarrow as pa
    import pyarrow.compute as pc

    from opsnb.logs import normalise as N

    rng = random.Random(7)
    stamps = ["2026-12-05T23:57:35.414249Z", "2026-12-05 23:57:35Z", "2026-12-05T23:57:35+02:00",
              "2026-12-05T23:57:35.1-05:30"]
    alphabet = "0123456789abcdefABCDEFxyz:-+.TZ é٣"

    def mutate(s: str) -> str:
        i = rng.randrange(len(s))
        return s[:i] + rng.choice(alphabet) + s[i + 1:]

    seen = {"iso": [0, 0], "hex": [0, 0]}
    for _ in range(400):
        base = rng.choice(stamps)
        iso = [base if rng.random() < 0.7 else mutate(base) for _ in range(rng.randrange(1, 6))]
        ids = ["".join(rng.choice("0123456789abcdefABCDEF") for _ in range(32)) for _ in range(len(iso))]
        if rng.random() < 0.5:
            ids[rng.randrange(len(ids))] = mutate(ids[0])
        for kind, values, check, pattern in (("iso", iso, N.all_iso_zoned, N.ISO_ZONED),
                                             ("hex", ids, lambda a: N.all_hex(a, 32), N.HEX[32])):
            arr = pa.array(["pad", *values], pa.string()).slice(1)  # a slice: Arrow offsets not at 0
            truth = pc.all(pc.match_substring_regex(arr, pattern)).as_py()
            fast = check(arr)
            assert not fast or truth, (kind, values)
            seen[kind][fast] += 1
            if truth and len({len(v.encode()) for v in values}) == 1 and kind == "hex":
                assert fast, values  # hex ids of one width always take the fast check
    assert min(seen["iso"]) > 20 and min(seen["hex"]) > 20  # both outcomes were exercised
    assert not N.all_iso_zoned(pa.array([stamps[0], None])) and not N.all_hex(pa.array([None], pa.string()), 32)
