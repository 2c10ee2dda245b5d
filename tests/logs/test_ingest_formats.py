"""Every format, detected and forced, normalised into the lake's OpenTelemetry columns."""

from __future__ import annotations

import gzip
from pathlib import Path

import pandas as pd
import pytest

from opsnb.errors import ValidationError
from opsnb.logs.formats import detect
from tests.logs import _logdata as D


def lake_rows(ops, sql: str = "SELECT * FROM logs ORDER BY Timestamp") -> pd.DataFrame:
    return ops.lake.query(sql)


def attrs(cell) -> dict:
    return dict(cell) if cell is not None else {}


@pytest.mark.parametrize(("text", "fmt"), [
    (D.jsonl(20), "jsonl"), (D.LOGFMT, "logfmt"), (D.SYSLOG5424, "syslog5424"), (D.ACCESS, "access"),
    (D.journald(), "journald"), (D.otlp_logs(), "otlp"), (D.otlp_traces(), "otlp"), (D.JAVA, "plain"),
])
def test_detect_each_format(text: str, fmt: str) -> None:
    assert detect(text.encode()).format == fmt


@pytest.mark.parametrize(("name", "fmt"), [
    ("Linux", "syslog3164"), ("OpenSSH", "syslog3164"), ("Apache", "plain"), ("HDFS", "plain"),
    ("Hadoop", "plain"), ("Spark", "plain"), ("Zookeeper", "plain")])
def test_detect_loghub(name: str, fmt: str) -> None:
    path = D.LOGHUB / name / f"{name}_2k.log"
    assert detect(path.read_bytes()[: 1 << 20]).format == fmt


def test_jsonl_columns_and_attributes(ops_sqlite, tmp_path: Path) -> None:
    p = tmp_path / "app.jsonl"
    p.write_text(D.jsonl(50))
    s = ops_sqlite.logs.ingest(p)
    assert (s.read, s.stored, s.quarantined) == (50, 50, 0)
    df = lake_rows(ops_sqlite)
    first = df.iloc[0]
    assert first["Timestamp"] == pd.Timestamp(D.T0)
    assert str(df["Timestamp"].dt.tz) == "UTC"
    assert first["ServiceName"] == "checkout" and first["SeverityNumber"] == 17
    assert first["SeverityText"] == "error" and first["Body"] == "request 0 handled"
    assert first["HttpMethod"] == "GET" and first["HttpRoute"] == "/api/cart" and first["HttpStatus"] == 500
    assert first["TraceId"] == f"{0:032x}"
    assert df["DurationMs"].tolist() == [float(i) for i in range(50)]
    a = attrs(first["LogAttributes"])
    assert a["user"] == "u0" and a["tags"] == '["a","b"]'
    assert "opsnb.ts_assumed" not in a  # the stamps carry a zone
    assert attrs(first["ResourceAttributes"])["log.file.path"] == str(p)
    assert (df["SeverityNumber"] == 9).sum() == 45


def test_jsonl_mixed_types_and_bad_lines_keep_the_good(ops_sqlite) -> None:
    lines = [D.jsonl(3).splitlines()[0],
             '{"ts": 1772366400, "msg": "epoch seconds", "status": "OK"}',
             '{"ts": 1772366400123, "msg": "epoch ms", "status": 201}',
             '{"ts": "2026-03-01T12:00:00", "msg": "naive"}',
             'not json at all',
             '[1, 2, 3]',
             '{"msg": "no time"}',
             '{"ts": "yesterday-ish", "msg": "garbage time"}']
    s = ops_sqlite.logs.ingest_bytes("\n".join(lines) + "\n", format="jsonl")
    assert s.read == 8 and s.stored == 4 and s.quarantined == 4
    df = lake_rows(ops_sqlite)
    by = {r.Body: r for r in df.itertuples()}
    assert by["epoch seconds"].Timestamp == pd.Timestamp("2026-03-01T12:00:00Z")
    assert by["epoch ms"].Timestamp == pd.Timestamp("2026-03-01T12:00:00.123Z")
    assert by["epoch ms"].HttpStatus == 201 and pd.isna(by["epoch seconds"].HttpStatus)
    assert attrs(by["naive"].LogAttributes)["opsnb.ts_assumed"] == "UTC"
    q = ops_sqlite.logs.quarantine()
    reasons = dict(zip(q["Line"], q["Reason"], strict=True))
    assert reasons[5].startswith("invalid JSON")
    assert "not an object" in reasons[6]
    assert reasons[7] == "no timestamp"
    assert reasons[8].startswith("unparseable timestamp")
    assert q.set_index("Line").loc[5, "Raw"] == b"not json at all"


def test_logfmt(ops_sqlite) -> None:
    s = ops_sqlite.logs.ingest_bytes(D.LOGFMT)
    assert s.sources[0].format == "logfmt" and s.stored == 3
    df = lake_rows(ops_sqlite)
    a, b, c = (df.iloc[i] for i in range(3))
    assert a["Body"] == "GET /api/cart done" and a["HttpStatus"] == 200 and a["DurationMs"] == 12.5
    assert a["HttpMethod"] == "GET" and a["HttpRoute"] == "/api/cart"
    assert attrs(a["LogAttributes"]) == {"user": "u1"}
    assert b["Body"] == 'payment "declined"' and b["DurationMs"] == 1200.0 and b["SeverityNumber"] == 17
    assert b["TraceId"] == "0af7651916cd43dd8448eb211c80319c"
    assert attrs(b["LogAttributes"]) == {"region": "eu"}
    assert c["Timestamp"] == pd.Timestamp("2026-03-01T12:00:02Z") and c["SeverityNumber"] == 13
    assert c["ServiceName"] == "unknown_service" and attrs(c["LogAttributes"]) == {"caller": "cart.go:12"}


def test_syslog5424(ops_sqlite) -> None:
    s = ops_sqlite.logs.ingest_bytes(D.SYSLOG5424)
    assert s.sources[0].format == "syslog5424" and s.stored == 3
    df = lake_rows(ops_sqlite)
    a = df[df["HostName"] == "web-1"].iloc[0]
    assert a["ServiceName"] == "checkout" and a["SeverityNumber"] == 10  # 165 % 8 = 5 notice
    assert a["Timestamp"] == pd.Timestamp("2026-03-01T12:00:00.003Z")
    la = attrs(a["LogAttributes"])
    assert la["syslog.facility"] == "20" and la["process.pid"] == "4242" and la["syslog.msgid"] == "ID47"
    assert la["syslog.structured_data"] == '[exampleSDID@32473 iut="3"]'
    b = df[df["HostName"] == "web-2"].iloc[0]
    assert b["Timestamp"] == pd.Timestamp("2026-03-01T11:00:01Z") and b["SeverityNumber"] == 17
    assert b["Body"] == "card processor down"
    assert df[df["HostName"].isna()].iloc[0]["Body"] == "hello BOM"


def test_syslog3164_loghub_year_and_zone_assumed(ops_sqlite) -> None:
    s = ops_sqlite.logs.ingest(str(D.LOGHUB / "OpenSSH" / "OpenSSH_2k.log"))
    assert s.stored == 2000 and s.quarantined == 0
    df = lake_rows(ops_sqlite)
    first = df.sort_values("Timestamp").iloc[0]
    assert (first["Timestamp"].month, first["Timestamp"].day, first["Timestamp"].hour) == (12, 10, 6)
    assert first["Timestamp"] <= pd.Timestamp.now(tz="UTC")  # Dec 10 is never placed in the future
    assert set(df["HostName"]) == {"LabSZ"} and set(df["ServiceName"]) == {"sshd"}
    assert attrs(first["LogAttributes"])["opsnb.ts_assumed"] == "year,UTC"
    assert attrs(first["LogAttributes"])["process.pid"] == "24200"


def test_access_log(ops_sqlite) -> None:
    s = ops_sqlite.logs.ingest_bytes(D.ACCESS, service="edge")
    assert s.sources[0].format == "access" and s.stored == 4
    df = lake_rows(ops_sqlite)
    a = df.iloc[0]
    assert (a["HttpMethod"], a["HttpRoute"], a["HttpStatus"], a["DurationMs"]) == ("GET", "/api/cart", 200, 12.0)
    assert a["ServiceName"] == "edge" and a["SeverityNumber"] == 9
    la = attrs(a["LogAttributes"])
    assert la["client.address"] == "10.0.0.1" and la["user.name"] == "frank"
    assert la["url.full"] == "/api/cart?id=7" and la["user_agent.original"] == "Mozilla/5.0"
    b = df[df["HttpStatus"] == 503].iloc[0]
    assert b["Timestamp"] == pd.Timestamp("2026-03-01T12:00:01Z") and b["SeverityNumber"] == 17
    assert pd.isna(df[df["HttpStatus"] == 400].iloc[0]["HttpMethod"])
    assert df[df["HttpStatus"] == 404].iloc[0]["SeverityNumber"] == 13


def test_journald_priority_and_byte_messages(ops_sqlite) -> None:
    s = ops_sqlite.logs.ingest_bytes(D.journald())
    assert s.sources[0].format == "journald" and s.stored == 6 and s.quarantined == 0
    df = lake_rows(ops_sqlite)
    a = df.iloc[0]
    assert a["Timestamp"] == pd.Timestamp(D.T0) and a["SeverityNumber"] == 17 and a["SeverityText"] == "ERROR"
    assert a["ServiceName"] == "postgres" and a["HostName"] == "db-1" and a["Body"] == "checkpoint 0 complete"
    la = attrs(a["LogAttributes"])
    assert la["_PID"] == "100" and "__CURSOR" not in la
    last = df.iloc[-1]
    assert last["Body"] == "café \ufffd" and last["ServiceName"] == "nginx" and last["SeverityNumber"] == 13


@pytest.mark.parametrize("b64", [False, True])
def test_otlp_logs_hex_and_base64(ops_sqlite, b64: bool) -> None:
    s = ops_sqlite.logs.ingest_bytes(D.otlp_logs(b64=b64))
    assert s.sources[0].format == "otlp" and s.stored == 2 and s.quarantined == 1
    df = lake_rows(ops_sqlite)
    a = df.iloc[0]
    assert a["TraceId"] == bytes(range(16)).hex() and a["SpanId"] == bytes(range(8)).hex()
    assert a["ServiceName"] == "cart" and a["HostName"] == "web-3" and a["HttpStatus"] == 500
    assert attrs(a["LogAttributes"])["retry"] == "true"
    assert df.iloc[1]["SeverityNumber"] == 13 and df.iloc[1]["Body"] == '{"k":1.5}'
    assert "no timeUnixNano" in ops_sqlite.logs.quarantine()["Reason"].iloc[0]


@pytest.mark.parametrize("b64", [False, True])
def test_otlp_traces_go_to_spans(ops_sqlite, b64: bool) -> None:
    s = ops_sqlite.logs.ingest_bytes(D.otlp_traces(b64=b64))
    assert s.spans == 2 and s.quarantined == 1 and s.ok
    sp = ops_sqlite.lake.query("SELECT * FROM spans ORDER BY Timestamp, SpanId")
    root = sp[sp["ParentSpanId"].isna()].iloc[0]
    assert root["TraceId"] == "ab" * 16 and root["SpanKind"] == "SERVER" and root["StatusCode"] == "Error"
    assert root["Duration"] == 50_000_000 and root["StatusMessage"] == "boom"
    child = sp[sp["ParentSpanId"].notna()].iloc[0]
    assert child["SpanKind"] == "CLIENT" and child["ParentSpanId"] == "01" * 8
    assert "neither" in ops_sqlite.logs.quarantine()["Reason"].iloc[0]


def test_plain_multiline_stack_trace_is_one_event(ops_sqlite) -> None:
    s = ops_sqlite.logs.ingest_bytes(D.JAVA, service="shop")
    assert s.sources[0].format == "plain" and s.stored == 3 and s.sources[0].lines == 8
    df = lake_rows(ops_sqlite)
    err = df[df["SeverityNumber"] == 17].iloc[0]
    assert err["Body"].startswith("[http-1] com.shop.Cart - checkout failed\njava.lang.IllegalStateException")
    assert err["Body"].endswith("\t... 2 more")
    assert err["Timestamp"] == pd.Timestamp("2026-03-01T12:00:01.456Z")


def test_multiline_across_chunk_boundaries(ops_sqlite, tmp_path: Path) -> None:
    from opsnb.logs.formats import ParseOptions
    from opsnb.logs.ingest import Ingestor

    text = D.JAVA * 200
    ing = Ingestor(ops_sqlite.lake, chunk_bytes=97)  # cuts entries everywhere
    res = ing.ingest_bytes(text.encode(), ParseOptions(source="x"))
    ing.close()
    assert res.stored == 600 and res.quarantined == 0
    bodies = ops_sqlite.lake.query("SELECT Body FROM logs WHERE SeverityNumber = 17")["Body"]
    assert len(bodies) == 200 and all(b.count("\n") == 5 for b in bodies)


def test_custom_header_regex_and_extra_groups(ops_sqlite) -> None:
    text = ("- 1117838570 2005.06.03 R02-M1-N0-C:J12-U11 RAS KERNEL INFO instruction cache parity error corrected\n"
            "- 1117838573 2005.06.03 R02-M1-N0 RAS APP FATAL ciod: Error loading\n")
    rx = r"^(?P<alert>\S+) (?P<ts>\d{10}) \S+ (?P<node>\S+) (?P<kind>\S+) (?P<component>\S+) (?P<level>\w+) (?P<msg>.*)"
    s = ops_sqlite.logs.ingest_bytes(text, format="plain", header_regex=rx)
    assert s.stored == 2
    df = lake_rows(ops_sqlite)
    assert df.iloc[0]["Timestamp"] == pd.Timestamp(1117838570, unit="s", tz="UTC")
    assert df.iloc[1]["SeverityNumber"] == 21 and df.iloc[1]["Body"] == "ciod: Error loading"
    assert attrs(df.iloc[0]["LogAttributes"])["component"] == "KERNEL"


def test_bgl_needs_a_header_regex(ops_sqlite) -> None:
    s = ops_sqlite.logs.ingest(str(D.LOGHUB / "BGL" / "BGL_2k.log"))
    assert not s.ok and "unknown format" in s.sources[0].error
    assert ops_sqlite.logs.quarantine()["Reason"].iloc[0].startswith("unknown format")


@pytest.mark.parametrize("bad", [
    {"format": "xml"}, {"header_regex": "(unclosed"}, {"header_regex": "no groups"},
    {"header_regex": r"(?P<ts>\d+)(?=x)"}, {"assume_tz": "Mars/Olympus"}])
def test_bad_options_fail_before_reading(ops_sqlite, bad: dict) -> None:
    with pytest.raises(ValidationError):
        ops_sqlite.logs.ingest_bytes("x\n", **bad)
    assert ops_sqlite.lake.count("logs") == 0


def test_assume_tz_for_naive_stamps(ops_sqlite) -> None:
    ops_sqlite.logs.ingest_bytes('{"ts": "2026-03-01 13:00:00", "msg": "x"}\n', assume_tz="Europe/Paris")
    row = lake_rows(ops_sqlite).iloc[0]
    assert row["Timestamp"] == pd.Timestamp("2026-03-01T12:00:00Z")
    assert attrs(row["LogAttributes"])["opsnb.ts_assumed"] == "Europe/Paris"


def test_gzip_and_globs(ops_sqlite, tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    with gzip.open(tmp_path / "a" / "one.log.gz", "wt") as f:
        f.write(D.jsonl(30))
    (tmp_path / "a" / "two.log").write_text(D.LOGFMT)
    s = ops_sqlite.logs.ingest(str(tmp_path / "a" / "*"))
    assert [r.format for r in s.sources] == ["jsonl", "logfmt"] and s.stored == 33
    s2 = ops_sqlite.logs.ingest([str(tmp_path / "nothing-*.log"), str(tmp_path / "a" / "two.log")],
                                from_start=True)
    assert s2.stored == 3 and "matches no file" in s2.sources[0].error
    # without from_start a file read before gives nothing new, and that is not a failure
    s3 = ops_sqlite.logs.ingest(str(tmp_path / "a" / "*"))
    assert s3.stored == 0 and s3.ok and [r.resumed_at > 0 for r in s3.sources] == [True, True]
