"""Error fingerprints, the errors table, and reading errors from the lake."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
from click.testing import CliRunner

from opsnb.errors import ValidationError
from opsnb.logs.fingerprints import (
    Errors,
    error_table,
    errors_frame,
    fingerprint,
    new_since,
    template_of,
)
from opsnb.logs.patterns_cli import errors_cmd
from opsnb.workbench import Workbench

PY = '''Traceback (most recent call last):
  File "/srv/venv/lib/python3.11/site-packages/flask/app.py", line 1473, in wsgi_app
    response = self.full_dispatch_request()
  File "/srv/app/checkout/views.py", line 42, in pay
    charge(order)
  File "/srv/app/checkout/payments.py", line 17, in charge
    raise PaymentError(f"card declined for order {order.id}")
checkout.payments.PaymentError: card declined for order 991'''

JAVA = '''java.lang.IllegalStateException: pool exhausted (size=50)
\tat com.shop.db.Pool.acquire(Pool.java:88)
\tat com.shop.Cart$$Lambda$12/0x0000000801c3.apply(Unknown Source)
\tat com.shop.Api.handle(Api.java:20)
Caused by: java.net.SocketTimeoutException: connect timed out
\tat java.net.Socket.connect(Socket.java:601)'''

GO = '''panic: runtime error: index out of range [5] with length 3

goroutine 1 [running]:
main.lookup(...)
\t/home/u/app/main.go:12 +0x1d
main.main()
\t/home/u/app/main.go:20 +0x2a'''

JS = '''TypeError: Cannot read properties of undefined (reading 'id')
    at getUser (/app/src/users.js:10:15)
    at /app/src/index.js:5:3'''


def test_python_trace_stable_across_line_numbers_hosts_and_values() -> None:
    moved = (PY.replace("line 42", "line 57").replace("/srv/venv", "/opt/py/venv")
             .replace("order 991", "order 12"))
    a, b = fingerprint(PY), fingerprint(moved)
    assert a.fp == b.fp
    assert a.exception_type == "checkout.payments.PaymentError"
    assert a.label == "checkout.payments.PaymentError at checkout/payments.py:charge"


def test_python_trace_differs_by_function_and_type() -> None:
    other_func = PY.replace("in charge", "in refund")
    other_type = PY.replace("checkout.payments.PaymentError:", "checkout.payments.FraudError:")
    fps = {fingerprint(x).fp for x in (PY, other_func, other_type)}
    assert len(fps) == 3


def test_java_root_cause_and_lambda_normalised() -> None:
    f = fingerprint(JAVA)
    assert f.exception_type == "java.net.SocketTimeoutException"
    assert f.label.endswith("at com.shop.db.Pool.acquire")
    relambda = JAVA.replace("$$Lambda$12/0x0000000801c3", "$$Lambda$97/0x00000008aa").replace("size=50", "size=9")
    assert fingerprint(relambda).fp == f.fp


def test_go_and_js_traces() -> None:
    g = fingerprint(GO)
    assert g.exception_type == "panic" and "main.lookup" in g.label
    assert fingerprint(GO.replace("+0x1d", "+0x99").replace("[5]", "[7]")).fp == g.fp
    j = fingerprint(JS)
    assert j.exception_type == "TypeError" and "getUser" in j.label


def test_plain_messages_keyed_by_template() -> None:
    a = fingerprint('payment 81723 for "bob@x.io" failed after 30s calling https://psp.example/v1/charge')
    b = fingerprint('payment 11 for "alice" failed after 2.5s calling https://psp.example/v1/refund')
    c = fingerprint("payment 11 rejected by issuer")
    assert a.fp == b.fp != c.fp
    assert a.exception_type is None
    assert template_of("user alice@example.com read /var/lib/app/data.db") == "user <EMAIL> read <PATH>"
    inline = fingerprint("ERROR java.io.IOException: Broken pipe")
    assert inline.exception_type == "java.io.IOException"


def test_fingerprint_hostile_input() -> None:
    huge = "boom " + "x" * 5_000_000
    f = fingerprint(huge)
    assert len(f.fp) == 16 and len(f.label) <= 300
    assert fingerprint("").label == "(empty message)"
    assert fingerprint("\x00\xff\ufffd").fp
    with pytest.raises(ValidationError):
        fingerprint(None)  # type: ignore[arg-type]


def test_fingerprint_unpacks_as_tuple() -> None:
    fp, label, exc = fingerprint(JS)
    assert (fp, label, exc) == tuple(fingerprint(JS))


def _events(t0: datetime) -> pd.DataFrame:
    rows = []
    for i in range(6):
        rows.append({"Timestamp": t0 + timedelta(minutes=i), "Body": PY.replace("991", str(i)),
                     "ServiceName": "checkout" if i % 2 else "web", "TraceId": f"tr{i}"})
    rows.append({"Timestamp": t0 + timedelta(minutes=30), "Body": JAVA, "ServiceName": "cart", "TraceId": None})
    return pd.DataFrame(rows)


def test_error_table_groups_and_orders() -> None:
    t0 = datetime(2026, 3, 1, 12, tzinfo=UTC)
    df = error_table(_events(t0))
    assert list(df.columns[:8]) == ["fingerprint", "label", "exception_type", "count", "first_seen",
                                    "last_seen", "services", "sample_trace_ids"]
    top = df.iloc[0]
    assert top["count"] == 6
    assert top["first_seen"] == pd.Timestamp(t0) and top["last_seen"] == pd.Timestamp(t0 + timedelta(minutes=5))
    assert top["services"] == ["checkout", "web"]
    assert top["sample_trace_ids"] == ["tr0", "tr1", "tr2"]
    assert df.iloc[1]["sample_trace_ids"] == []
    assert str(df["first_seen"].dtype) .startswith("datetime64") and "UTC" in str(df["first_seen"].dtype)
    with pytest.raises(ValidationError, match="Body"):
        error_table(pd.DataFrame({"Timestamp": []}))
    assert error_table(pd.DataFrame({"Timestamp": [], "Body": []})).empty


def test_errors_new_since() -> None:
    t0 = datetime(2026, 3, 1, 12, tzinfo=UTC)
    errs = Errors(error_table(_events(t0)))
    new = errs.new_since(t0 + timedelta(minutes=10))
    assert new["exception_type"].tolist() == ["java.net.SocketTimeoutException"]
    assert "2 error fingerprints" in errs._repr_html_()
    assert len(errs.new_since(t0 - timedelta(days=1))) == 2


def _write_logs(ops: Workbench, t0: datetime) -> None:
    rows = []
    for i in range(40):  # steady background error, and an info line that must not count
        rows.append({"Timestamp": t0 + timedelta(minutes=i), "ServiceName": "web", "SeverityNumber": 17,
                     "Body": f"upstream timeout after {i}s", "TraceId": f"a{i}"})
        rows.append({"Timestamp": t0 + timedelta(minutes=i), "ServiceName": "web", "SeverityNumber": 9,
                     "Body": f"request {i} ok"})
    for i in range(5):  # HTTP 500 with INFO severity still counts; appears only after t0+60m
        rows.append({"Timestamp": t0 + timedelta(minutes=60 + i), "ServiceName": "payments", "SeverityNumber": 9,
                     "HttpStatus": 503, "Body": "POST /pay 503", "TraceId": f"p{i}"})
    ops.lake.write("logs", pd.DataFrame(rows))


def test_errors_frame_and_new_since_from_lake(ops_sqlite: Workbench) -> None:
    t0 = datetime(2026, 3, 1, 12, tzinfo=UTC)
    _write_logs(ops_sqlite, t0)
    df = errors_frame(ops_sqlite, t0, t0 + timedelta(hours=2))
    assert df["count"].tolist() == [40, 5]
    assert df.iloc[0]["label"] == "upstream timeout after <DUR>"
    only = errors_frame(ops_sqlite, t0, t0 + timedelta(hours=2), service="payments")
    assert only["count"].tolist() == [5] and only.iloc[0]["services"] == ["payments"]
    new = new_since(ops_sqlite, t0 + timedelta(minutes=50), t0, t0 + timedelta(hours=2))
    assert new["label"].tolist() == ["POST /pay <NUM>"]
    with pytest.raises(ValidationError):
        errors_frame(ops_sqlite, t0, t0)


def test_errors_command(ops_sqlite: Workbench) -> None:
    t0 = datetime(2026, 3, 1, 12, tzinfo=UTC)
    _write_logs(ops_sqlite, t0)
    ws = str(ops_sqlite.workspace)
    res = CliRunner().invoke(errors_cmd, ["--workspace", ws, "--since", t0.isoformat(),
                                          "--until", (t0 + timedelta(hours=2)).isoformat(), "--format", "json"])
    assert res.exit_code == 0, res.output
    rows = json.loads(res.stdout)
    assert [r["count"] for r in rows] == [40, 5]
    res = CliRunner().invoke(errors_cmd, ["--workspace", ws, "--since", t0.isoformat(), "--until",
                                          (t0 + timedelta(hours=2)).isoformat(), "--new-since",
                                          (t0 + timedelta(minutes=50)).isoformat()])
    assert res.exit_code == 0 and "POST /pay <NUM>" in res.stdout and "upstream" not in res.stdout
    res = CliRunner().invoke(errors_cmd, ["--workspace", ws, "--since", "yesterday-ish"])
    assert res.exit_code == 2 and "--since" in res.output
