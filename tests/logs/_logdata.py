"""Samples and helpers shared by the logs tests (real formats, written as producers write them)."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

# Loghub samples shipped with the tests (see tests/data/loghub/README.md and its LICENSE).
LOGHUB = Path(__file__).resolve().parents[1] / "data" / "loghub"
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def jsonl(n: int = 100, t0: datetime = T0, service: str = "checkout") -> str:
    lines = []
    for i in range(n):
        lines.append(json.dumps({
            "ts": iso(t0 + timedelta(seconds=i)), "level": "error" if i % 10 == 0 else "info",
            "service": service, "msg": f"request {i} handled", "trace_id": f"{i:032x}",
            "http": {"method": "get", "route": "/api/cart", "status_code": 500 if i % 10 == 0 else 200},
            "duration_ms": float(i), "user": f"u{i % 7}", "tags": ["a", "b"]}))
    return "\n".join(lines) + "\n"


LOGFMT = (
    'ts=2026-03-01T12:00:00Z level=info msg="GET /api/cart done" service=checkout method=GET '
    'path=/api/cart status=200 duration=12.5ms user=u1\n'
    'ts=2026-03-01T12:00:01Z level=error msg="payment \\"declined\\"" service=checkout status=502 '
    'duration=1.2s trace_id=0af7651916cd43dd8448eb211c80319c region=eu\n'
    'time=1772366402 lvl=warn msg=slow caller=cart.go:12\n'
)

SYSLOG5424 = (
    '<165>1 2026-03-01T12:00:00.003Z web-1 checkout 4242 ID47 [exampleSDID@32473 iut="3"] '
    'An application event log entry\n'
    '<11>1 2026-03-01T12:00:01+01:00 web-2 payments - - - card processor down\n'
    '<13>1 2026-03-01T12:00:02Z - - - - - \ufeffhello BOM\n'
)

ACCESS = (
    '10.0.0.1 - frank [01/Mar/2026:12:00:00 +0000] "GET /api/cart?id=7 HTTP/1.1" 200 2326 '
    '"http://example.com/" "Mozilla/5.0" 0.012\n'
    '10.0.0.2 - - [01/Mar/2026:13:00:01 +0100] "POST /api/checkout HTTP/2.0" 503 19 "-" "curl/8.0"\n'
    '10.0.0.3 - - [01/Mar/2026:12:00:02 +0000] "-" 400 0 "-" "-"\n'
    '10.0.0.4 - - [01/Mar/2026:12:00:03 +0000] "GET /health HTTP/1.1" 404 0\n'
)


def journald(n: int = 5) -> str:
    out = []
    for i in range(n):
        rec = {"__CURSOR": f"s=abc;i={i}", "__REALTIME_TIMESTAMP": str(int((T0.timestamp() + i) * 1e6)),
               "__MONOTONIC_TIMESTAMP": "123", "_HOSTNAME": "db-1", "PRIORITY": "3" if i == 0 else "6",
               "SYSLOG_IDENTIFIER": "postgres", "_SYSTEMD_UNIT": "postgresql.service", "_PID": str(100 + i),
               "MESSAGE": f"checkpoint {i} complete"}
        out.append(json.dumps(rec))
    # a message journald could not store as text: an array of bytes
    out.append(json.dumps({"__REALTIME_TIMESTAMP": str(int((T0.timestamp() + 9) * 1e6)), "_HOSTNAME": "db-1",
                           "PRIORITY": "4", "_SYSTEMD_UNIT": "nginx.service", "MESSAGE": list(b"caf\xc3\xa9 \xff")}))
    return "\n".join(out) + "\n"


def otlp_logs(b64: bool = False) -> str:
    tid = bytes(range(16))
    sid = bytes(range(8))
    enc = (lambda b: base64.b64encode(b).decode()) if b64 else (lambda b: b.hex())
    ns = int(T0.timestamp() * 1e9)
    doc = {"resourceLogs": [{"resource": {"attributes": [
        {"key": "service.name", "value": {"stringValue": "cart"}},
        {"key": "host.name", "value": {"stringValue": "web-3"}}]},
        "scopeLogs": [{"logRecords": [
            {"timeUnixNano": str(ns), "severityNumber": 17, "severityText": "ERROR",
             "body": {"stringValue": "cart failed"}, "traceId": enc(tid), "spanId": enc(sid),
             "attributes": [{"key": "http.response.status_code", "value": {"intValue": "500"}},
                            {"key": "retry", "value": {"boolValue": True}}]},
            {"timeUnixNano": str(ns + 1_000_000), "severityNumber": "SEVERITY_NUMBER_WARN",
             "body": {"kvlistValue": {"values": [{"key": "k", "value": {"doubleValue": 1.5}}]}}},
            {"severityNumber": 9, "body": {"stringValue": "no time at all"}},
        ]}]}]}
    return json.dumps(doc, indent=2)


def otlp_traces(b64: bool = False) -> str:
    enc = (lambda b: base64.b64encode(b).decode()) if b64 else (lambda b: b.hex())
    tid = bytes([0xAB] * 16)
    ns = int(T0.timestamp() * 1e9)
    spans = [
        {"traceId": enc(tid), "spanId": enc(b"\x01" * 8), "name": "GET /cart", "kind": 2,
         "startTimeUnixNano": str(ns), "endTimeUnixNano": str(ns + 50_000_000),
         "status": {"code": 2, "message": "boom"},
         "attributes": [{"key": "http.route", "value": {"stringValue": "/cart"}}]},
        {"traceId": enc(tid), "spanId": enc(b"\x02" * 8), "parentSpanId": enc(b"\x01" * 8),
         "name": "SELECT", "kind": "SPAN_KIND_CLIENT", "startTimeUnixNano": str(ns + 1_000_000),
         "endTimeUnixNano": str(ns + 20_000_000)},
        {"traceId": "nothex", "spanId": enc(b"\x03" * 8), "name": "bad",
         "startTimeUnixNano": str(ns), "endTimeUnixNano": str(ns + 1)},
    ]
    doc = {"resourceSpans": [{"resource": {"attributes": [
        {"key": "service.name", "value": {"stringValue": "cart"}}]}, "scopeSpans": [{"spans": spans}]}]}
    return json.dumps(doc) + "\n"


JAVA = (
    "2026-03-01 12:00:00,123 INFO  [main] com.shop.Cart - started\n"
    "2026-03-01 12:00:01,456 ERROR [http-1] com.shop.Cart - checkout failed\n"
    "java.lang.IllegalStateException: cart is empty\n"
    "\tat com.shop.Cart.checkout(Cart.java:42)\n"
    "\tat com.shop.Api.post(Api.java:7)\n"
    "Caused by: java.io.IOException: closed\n"
    "\t... 2 more\n"
    "2026-03-01 12:00:02,000 WARN  [main] com.shop.Cart - slow\n"
)
