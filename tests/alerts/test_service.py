"""ops.alerts on SQLite and PostgreSQL: ingest, dedup, grouping, silences, rules, tick, replay."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from opsnb.errors import Conflict, NotFound, ParseError, PermissionDenied, ValidationError
from opsnb.store.types import utcnow
from tests.alerts.factory import am_alert, am_body, event

LAT = {"alertname": "HighLatency", "service": "checkout"}


def later(sec: float) -> datetime:
    return utcnow() + timedelta(seconds=sec)


def test_alertmanager_ingest_stores_raw_and_dedups(ops) -> None:
    body = am_body([am_alert({**LAT, "instance": f"web-{i}"}, summary="p99 > 1s") for i in range(3)])
    raw = json.dumps(body)
    r1 = ops.alerts.ingest_alertmanager(raw)
    r2 = ops.alerts.ingest_alertmanager(raw.encode())
    assert (r1.new, r1.deduped, r2.new, r2.deduped) == (3, 0, 0, 3)
    c = ops.alerts.counts()
    assert c["alerts"] == 3 and c["receipts"] == 2 and c["groups"] == 1
    rec = ops.alerts.receipts()
    assert rec["body"].iloc[-1] == raw and set(rec["source"]) == {"alertmanager"}
    df = ops.alerts.list()
    assert len(df) == 3 and set(df["status"]) == {"firing"} and (df["receive_count"] == 2).all()
    assert str(df["starts_at"].dtype).startswith("datetime64") and str(df["starts_at"].dt.tz) == "UTC"
    a = ops.alerts.get(body["alerts"][0]["fingerprint"])
    assert a.labels["instance"] == "web-0" and a.last_payload == body["alerts"][0] and "web-0" in a._repr_html_()


def test_resolution_updates_the_same_record(ops) -> None:
    alert = am_alert(LAT)
    ops.alerts.ingest_alertmanager(am_body([alert]))
    ended = datetime.now(UTC).replace(microsecond=0)
    ops.alerts.ingest_alertmanager(am_body([{**alert, "status": "resolved", "endsAt": ended.strftime(
        "%Y-%m-%dT%H:%M:%SZ")}]))
    df = ops.alerts.list()
    assert len(df) == 1 and df["status"][0] == "resolved" and df["ends_at"][0] == ended
    assert len(ops.alerts.list(status="firing")) == 0


def test_bad_payload_writes_nothing(ops) -> None:
    ops.alerts.ingest_alertmanager(am_body([am_alert(LAT)]))
    before = ops.alerts.counts()
    bad_bodies = [b"{oops", b"\xff", json.dumps({**am_body([am_alert(LAT)]), "version": "3"}),
                  json.dumps(am_body([am_alert({"alertname": "x\x00"})])),
                  json.dumps(am_body([am_alert(LAT), {"status": "firing"}])), "[]", "null"]
    for b in bad_bodies:
        with pytest.raises((ParseError, ValidationError)):
            ops.alerts.ingest_alertmanager(b)
    with pytest.raises(ValidationError):
        ops.alerts.ingest_events([event("trigger"), event("trigger", severity="apocalyptic")])
    with pytest.raises(ValidationError):
        ops.alerts.ingest_slo(slo="x", tier="page", burn_rate=-1, window="1h", firing=True)
    assert ops.alerts.counts() == before


def test_hostile_label_values_are_stored_verbatim_and_harmless(ops) -> None:
    hostile = {"alertname": "X", "service": "'); DROP TABLE alerts; --", "note": "<script>alert(1)</script>",
               "emoji": "🔥\u202e", "path": "../../etc/passwd"}
    ops.alerts.ingest_alertmanager(am_body([am_alert(hostile)]))
    a = ops.alerts.list().iloc[0]
    assert a["labels"] == hostile
    html = ops.alerts.get(a["fingerprint"])._repr_html_()
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert ops.alerts.counts()["alerts"] == 1


def test_events_trigger_ack_resolve_and_unknown_keys(ops) -> None:
    r = ops.alerts.ingest_events(event("trigger"))
    assert r.new == 1 and r.fingerprints == ["disk-web-1"]
    assert "R0UT1NGKEY" not in ops.alerts.receipts()["body"][0]  # integration keys are credentials
    assert ops.alerts.ingest_events(event("trigger")).deduped == 1
    assert ops.alerts.ingest_events(event("acknowledge")).changed == 1
    assert ops.alerts.get("disk-web-1").status == "acknowledged"
    assert ops.alerts.ingest_events(event("resolve")).changed == 1
    assert ops.alerts.get("disk-web-1").status == "resolved"
    unknown = ops.alerts.ingest_events(event("resolve", dedup_key="never-seen"))
    assert unknown.ignored == 1 and ops.alerts.counts()["alerts"] == 1
    batch = ops.alerts.ingest_events([event("trigger", dedup_key=f"k{i}") for i in range(5)])
    assert batch.new == 5 and batch.receipt_id > r.receipt_id


def test_slo_burn_rate_alert_fires_and_resolves(ops) -> None:
    r = ops.alerts.ingest_slo(slo="checkout-availability", tier="page", burn_rate=14.4, window="1h/5m",
                              firing=True, service="checkout")
    fp = r.fingerprints[0]
    assert ops.alerts.get(fp).labels["severity"] == "critical"
    ops.alerts.ingest_slo(slo="checkout-availability", tier="page", burn_rate=0.4, window="1h/5m",
                          firing=False, service="checkout")
    assert ops.alerts.get(fp).status == "resolved" and ops.alerts.counts()["alerts"] == 1


def test_tick_follows_group_wait_interval_and_resolution(ops) -> None:
    ops.alerts.ingest_alertmanager(am_body([am_alert({**LAT, "instance": "a"})]))
    assert ops.alerts.tick(later(5)).notifications == []  # within group_wait
    first = ops.alerts.tick(later(31)).notifications
    assert len(first) == 1 and first[0].reason == "new"
    ops.alerts.ingest_alertmanager(am_body([am_alert({**LAT, "instance": "b"})]))
    assert ops.alerts.tick(later(60)).notifications == []  # waits for group_interval
    second = ops.alerts.tick(later(340)).notifications
    assert len(second) == 1 and len(second[0].firing) == 2
    for inst in ("a", "b"):
        ops.alerts.ingest_alertmanager(am_body([am_alert({**LAT, "instance": inst}, status="resolved",
                                                         ends=utcnow())]))
    third = ops.alerts.tick(later(700)).notifications
    assert [n.status for n in third] == ["resolved"]
    notes = ops.alerts.notifications()
    assert list(notes["reason"]) == ["new", "changed", "resolved"] and set(notes["delivery"]) == {"recorded"}
    assert ops.alerts.counts()["groups"] == 1
    assert ops.alerts.tick(later(2000)).flushed == 0  # the group closed


def test_group_flapping_within_group_wait_sends_nothing(ops) -> None:
    a = am_alert(LAT)
    ops.alerts.ingest_alertmanager(am_body([a]))
    ops.alerts.ingest_alertmanager(am_body([{**a, "status": "resolved"}]))
    rep = ops.alerts.tick(later(31))
    assert rep.flushed == 1 and rep.notifications == []


def test_silence_keeps_alerts_but_holds_notifications_and_is_audited(ops) -> None:
    sil = ops.alerts.create_silence(matchers='service="checkout"', duration="1h", comment="deploying",
                                    reason="planned")
    assert sil["active"] and sil["matchers"] == 'service="checkout"'
    ops.alerts.ingest_alertmanager(am_body([am_alert(LAT)]))
    assert ops.alerts.counts()["alerts"] == 1
    assert bool(ops.alerts.list()["silenced"][0])
    assert ops.alerts.tick(later(31)).notifications == []
    ops.alerts.expire_silence(sil["id"], reason="done early")
    with pytest.raises(Conflict):
        ops.alerts.expire_silence(sil["id"])
    with pytest.raises(NotFound):
        ops.alerts.expire_silence("nope")
    assert len(ops.alerts.tick(later(400)).notifications) == 1
    actions = set(ops.audit.list()["action"])
    assert {"alerts.silence.create", "alerts.silence.expire"} <= actions
    assert len(ops.alerts.list_silences()) == 0 and len(ops.alerts.list_silences(include_expired=True)) == 1


def test_maintenance_window_and_inhibition_hold_notifications(ops) -> None:
    now = utcnow()
    ops.alerts.create_maintenance(matchers='service="search"', start=f"{now:%H}:00", duration="2h",
                                  timezone="UTC", comment="weekly reindex", starts_at=now - timedelta(days=1))
    ops.alerts.create_inhibit_rule(name="down-hides-latency", source='alertname="ServiceDown"',
                                   target='alertname="HighLatency"', equal=["service"])
    ops.alerts.ingest_alertmanager(am_body([am_alert({"alertname": "Slow", "service": "search"})]))
    ops.alerts.ingest_alertmanager(am_body([am_alert({"alertname": "ServiceDown", "service": "checkout"})]))
    ops.alerts.ingest_alertmanager(am_body([am_alert(LAT)]))
    notes = ops.alerts.tick(later(31)).notifications
    assert [n.group_labels["alertname"] for n in notes] == ["ServiceDown"]
    assert ops.alerts.counts()["alerts"] == 3
    with pytest.raises(Conflict):
        ops.alerts.create_inhibit_rule(name="down-hides-latency", source='a="b"', target='c="d"')


def test_silence_validation(ops) -> None:
    for kwargs in ({"matchers": 'service=~".*"', "duration": "1h", "comment": "x"},
                   {"matchers": 'service="a"', "duration": "1h", "comment": " "},
                   {"matchers": 'service="a"', "comment": "x"},
                   {"matchers": 'service="a"', "duration": "soon", "comment": "x"},
                   {"matchers": 'service="a"', "ends_at": datetime(2020, 1, 1), "comment": "x"},
                   {"matchers": 'service="a"', "ends_at": utcnow() - timedelta(hours=1), "comment": "x"}):
        with pytest.raises(ValidationError):
            ops.alerts.create_silence(**kwargs)
    assert ops.alerts.counts()["silences"] == 0


def test_roles_viewer_cannot_change_responder_cannot_silence(ops) -> None:
    ops.access.grant("rita", "responder")
    ops.access.grant("vic", "viewer")
    ops.user = "vic"
    with pytest.raises(PermissionDenied):
        ops.alerts.ingest_events(event("trigger"))
    ops.user = "rita"
    ops.alerts.ingest_events(event("trigger"))
    with pytest.raises(PermissionDenied):
        ops.alerts.create_silence(matchers='service="a"', duration="1h", comment="x")
    with pytest.raises(PermissionDenied):
        ops.alerts.create_incident_rule(name="r", matchers='severity="critical"')
    assert ops.alerts.counts()["silences"] == 0


def test_incident_rules_open_then_join_and_track_resolution(ops) -> None:
    ops.alerts.create_incident_rule(name="crit", matchers='severity="critical"', severity="SEV2")
    ops.alerts.ingest_alertmanager(am_body([am_alert({"alertname": "Down", "service": "payments",
                                                      "severity": "critical"}, summary="payments down")]))
    ops.alerts.ingest_alertmanager(am_body([am_alert({"alertname": "Errors", "service": "payments",
                                                      "severity": "critical"})]))
    ops.alerts.ingest_alertmanager(am_body([am_alert({"alertname": "Warn", "service": "payments",
                                                      "severity": "warning"})]))
    rep = ops.alerts.tick(later(1))
    assert len(rep.incidents) == 1
    inc = ops.incidents.get(rep.incidents[0])
    assert inc.severity == "SEV2" and inc.service == "payments" and inc.title == "payments down"
    assert len(inc.linked("alert")) == 2
    df = ops.alerts.list(labels='severity="critical"')
    assert set(df["incident_id"]) == {inc.id}
    ops.alerts.ingest_alertmanager(am_body([am_alert({"alertname": "Down", "service": "payments",
                                                      "severity": "critical"}, status="resolved", ends=utcnow())]))
    ops.alerts.tick(later(2))
    kinds = list(ops.incidents.timeline(inc.id)["kind"])
    assert kinds.count("alert") == 3  # two fired, one resolved


def test_notifications_go_through_notify_when_a_channel_is_set(ops, tmp_path) -> None:
    pytest.importorskip("opsnb.notify.service")
    ops.settings._values["alerts_channel"] = "nowhere"  # a channel that does not exist: recorded as failed
    ops.alerts.ingest_alertmanager(am_body([am_alert(LAT)]))
    rep = ops.alerts.tick(later(31))
    assert len(rep.notifications) == 1
    n = ops.alerts.notifications()
    assert n["delivery"][0] == "failed" and "nowhere" in n["error"][0]


def test_replay_from_stored_receipts(ops) -> None:
    for _ in range(10):
        ops.alerts.ingest_alertmanager(am_body([am_alert({**LAT, "instance": i}) for i in ("a", "b")]))
    rep = ops.alerts.replay()
    assert rep.received == 20 and rep.unique_alerts == 2 and rep.notifications == 1
    assert rep.reduction_pct == 95.0


def test_raw_receipts_are_append_only(ops) -> None:
    ops.alerts.ingest_events(event("trigger"))
    from sqlalchemy.exc import DBAPIError

    with pytest.raises(DBAPIError), ops.db.session() as s:
        s.execute(text("UPDATE alert_receipts SET body = 'x'"))


def test_group_notification_reaches_a_real_local_slack_webhook(ops) -> None:
    """Through ops.notify to a real HTTP server on loopback: queued with the flush, delivered once."""
    pytest.importorskip("opsnb.notify.service")
    import http.server
    import threading

    got: list[dict] = []

    class Hook(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            got.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: object) -> None:
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        ops.notify.create_channel(name="ops-slack", kind="slack",
                                  target=f"http://127.0.0.1:{srv.server_port}/hook")
        ops.settings._values["alerts_channel"] = "ops-slack"
        ops.alerts.ingest_alertmanager(am_body([am_alert({**LAT, "instance": i}, summary=f"slow <{i}>")
                                                for i in ("a", "b")]))
        rep = ops.alerts.tick(later(31))
        assert len(rep.notifications) == 1
        assert len(got) == 1 and "[FIRING:2]" in got[0]["text"] and "slow &lt;a&gt;" in got[0]["text"]
        n = ops.alerts.notifications()
        assert n["delivery"][0].startswith("queued:") and n["error"][0] == ""
        ops.alerts.tick(later(400))  # nothing new: nothing sent again
        assert len(got) == 1
    finally:
        srv.shutdown()
        srv.server_close()


def test_concurrent_ingest_of_the_same_alerts_loses_nothing(ops) -> None:
    from concurrent.futures import ThreadPoolExecutor

    bodies = [am_body([am_alert({**LAT, "instance": f"i{k}"}) for k in range(5)]) for _ in range(40)]
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda b: ops.alerts.ingest_alertmanager(b, _via_api=True), bodies))
    assert sum(r.new for r in results) == 5 and sum(r.deduped for r in results) == 195
    c = ops.alerts.counts()
    assert c["alerts"] == 5 and c["receipts"] == 40 and c["groups"] == 1
    assert (ops.alerts.list()["receive_count"] == 40).all()


def test_repeats_keep_the_latest_payload_and_annotations(ops) -> None:
    ops.alerts.ingest_events(event("trigger", summary="disk 91%"))
    ops.alerts.ingest_events(event("trigger"))  # same text: a plain repeat
    ops.alerts.ingest_events(event("trigger", summary="disk 97%"))
    a = ops.alerts.get("disk-web-1")
    assert a.receive_count == 3 and a.annotations["summary"] == "disk 97%"
    assert a.last_payload["payload"]["summary"] == "disk 97%" and a.status == "firing"
