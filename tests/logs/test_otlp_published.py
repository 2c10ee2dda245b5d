"""OTLP/JSON as the OpenTelemetry protocol repository publishes it: scope and event names kept.

The examples in tests/data/otlp are opentelemetry-proto's own (Apache-2.0); ``file-exporter.jsonl``
was written for these tests. Segments written before ``ScopeName``/``ScopeVersion``/``EventName``
existed still read, with those columns null.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from opsnb.store.lake import SCHEMAS

DATA = Path(__file__).resolve().parents[1] / "data" / "otlp"


def test_published_logs_example_keeps_scope(ops_sqlite) -> None:
    s = ops_sqlite.logs.ingest_bytes((DATA / "logs.json").read_bytes())
    assert s.sources[0].format == "otlp" and s.stored == 1 and s.quarantined == 0
    row = ops_sqlite.lake.query("SELECT * FROM logs").iloc[0]
    assert row["ScopeName"] == "my.library" and row["ScopeVersion"] == "1.0.0"
    assert row["EventName"] is None or row["EventName"] != row["EventName"]  # null: the example names none
    assert row["ServiceName"] == "my.service" and row["Body"] == "Example log record"
    assert row["TraceId"] == "5b8efff798038103d269b633813fc60c" and row["SpanId"] == "eee19b7ec3c1b174"
    assert row["Timestamp"] == datetime(2018, 12, 13, 14, 51, 0, 300000, tzinfo=UTC)


def test_published_events_example_names_its_event(ops_sqlite) -> None:
    # events.json writes kvlistValue as a bare list and names the event by attribute: both read.
    s = ops_sqlite.logs.ingest_bytes((DATA / "events.json").read_bytes())
    assert s.stored == 1 and s.quarantined == 0
    row = ops_sqlite.lake.query("SELECT * FROM logs").iloc[0]
    assert row["EventName"] == "browser.page_view" and row["ScopeName"] == "my.library"
    assert '"title":"Free Online GUID Generator"' in row["Body"] and '"type":0' in row["Body"]


def test_published_trace_example_keeps_scope(ops_sqlite) -> None:
    s = ops_sqlite.logs.ingest_bytes((DATA / "trace.json").read_bytes())
    assert s.spans == 1 and s.quarantined == 0
    sp = ops_sqlite.lake.query("SELECT * FROM spans").iloc[0]
    assert (sp["ScopeName"], sp["ScopeVersion"]) == ("my.library", "1.0.0")
    assert sp["SpanKind"] == "SERVER" and sp["ParentSpanId"] == "eee19b7ec3c1b173" and sp["Duration"] == 10**9


def test_event_name_field_and_legacy_scope_spelling(ops_sqlite) -> None:
    s = ops_sqlite.logs.ingest_bytes((DATA / "file-exporter.jsonl").read_bytes())
    assert s.stored == 4 and s.spans == 1 and s.quarantined == 0
    df = ops_sqlite.lake.query("SELECT Body, ScopeName, ScopeVersion, EventName FROM logs ORDER BY Timestamp")
    got = [tuple(None if v != v else v for v in r) for r in df.itertuples(index=False)]
    assert got == [
        ("G1 Young Generation", "io.opentelemetry.runtime-telemetry-java17", "2.10.0-alpha", "jvm.gc.pause"),
        ("payment declined", "io.opentelemetry.runtime-telemetry-java17", "2.10.0-alpha", None),
        ("retrying", "checkout.payments", None, "payment.retry"),
        ("old spelling", "legacy.lib", "0.9.1", None),
    ]
    sp = ops_sqlite.lake.query("SELECT ScopeName, ScopeVersion, TraceId FROM spans").iloc[0]
    assert (sp["ScopeName"], sp["ScopeVersion"]) == ("legacy.http", "0.9.1")
    assert sp["TraceId"] == "5b8efff798038103d269b633813fc60c"


def test_event_name_not_a_string_is_quarantined(ops_sqlite) -> None:
    body = (b'{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"timeUnixNano":"1733560200000000000",'
            b'"eventName":{"x":1}},{"timeUnixNano":"1733560200000000001"}]}]}]}')
    s = ops_sqlite.logs.ingest_bytes(body)
    assert s.stored == 1 and s.quarantined == 1
    assert "eventName" in ops_sqlite.logs.quarantine()["Reason"].iloc[0]


def _old_segment(lake_root: Path, table: str, day: str, tbl: pa.Table) -> None:
    d = lake_root / table / f"date={day}"
    d.mkdir(parents=True, exist_ok=True)
    pq.write_table(tbl, d / f"00000000000000000001-old{table}.parquet")


def _old(table: str, n: int, t0: datetime) -> pa.Table:
    """A segment as opsnb wrote it before the scope columns existed."""
    new = {"ScopeName", "ScopeVersion", "EventName"}
    schema = pa.schema([f for f in SCHEMAS[table] if f.name not in new])
    rows = [{"Timestamp": t0.replace(second=i), "ServiceName": "old", "TraceId": "ab" * 16, "SpanId": "01" * 8,
             "SpanName": "x", "Duration": 1, "Body": "before"} for i in range(n)]
    return pa.Table.from_pylist([{k: v for k, v in r.items() if k in schema.names} for r in rows], schema=schema)


def test_old_segments_without_the_columns_read_as_null(ops_sqlite) -> None:
    root = ops_sqlite.lake.root
    t0 = datetime(2018, 12, 12, 10, 0, tzinfo=UTC)
    _old_segment(root, "logs", "2018-12-12", _old("logs", 2, t0))
    _old_segment(root, "spans", "2018-12-12", _old("spans", 1, t0))
    # only old segments: the columns exist, all null
    only = ops_sqlite.lake.query("SELECT ScopeName, ScopeVersion, EventName FROM logs")
    assert len(only) == 2 and only.isna().all().all()
    assert list(ops_sqlite.lake.query("SELECT * FROM logs").columns) == SCHEMAS["logs"].names
    assert ops_sqlite.lake.query("SELECT count(ScopeName) AS n FROM spans")["n"].iloc[0] == 0
    # old and new together, on other days and on the same query
    ops_sqlite.logs.ingest_bytes((DATA / "logs.json").read_bytes())
    ops_sqlite.logs.ingest_bytes((DATA / "trace.json").read_bytes())
    mixed = ops_sqlite.lake.query("SELECT ServiceName, ScopeName FROM logs ORDER BY Timestamp")
    assert mixed["ServiceName"].tolist() == ["old", "old", "my.service"]
    assert mixed["ScopeName"].isna().tolist() == [True, True, False]
    assert ops_sqlite.lake.query("SELECT count(*) AS n FROM spans WHERE ScopeName = 'my.library'")["n"].iloc[0] == 1
    # a closed day holding old and new segments compacts into the full schema
    _old_segment(root, "logs", "2018-12-13", _old("logs", 1, t0.replace(day=13)))
    assert ops_sqlite.lake.compact("logs", min_segments=2) == 1
    after = ops_sqlite.lake.query("SELECT ServiceName, ScopeName FROM logs ORDER BY Timestamp")
    assert after["ServiceName"].tolist() == ["old", "old", "old", "my.service"]
    assert after["ScopeName"].iloc[-1] == "my.library" and after["ScopeName"].iloc[:3].isna().all()
