"""From a firing alert to the right person, end to end: alerts -> incidents -> oncall -> notify.

A real HTTP receiver on loopback is a signed generic-webhook channel; an Alertmanager v4
payload is ingested, ticks run at chosen times, and what the receiver got is checked against
who is on call at that moment (computed here from the rotation, not asked from opsnb).
Both SQLite and PostgreSQL (the ``ops`` fixture), plus one run through the HTTP API.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from opsnb.errors import Conflict, NotFound, ValidationError
from opsnb.notify.channels import verify
from opsnb.store.types import utcnow
from opsnb.workbench import Workbench
from tests.alerts.apiserver import ApiServer, call
from tests.alerts.factory import am_alert, am_body
from tests.notify.servers import HttpReceiver, Received, http_receiver

KEY = "pager-signing-key-for-tests"
MEMBERS = ["alice", "bob", "carol"]
CRIT = {"alertname": "CheckoutErrors", "service": "checkout", "severity": "critical"}


@pytest.fixture
def rx(monkeypatch: pytest.MonkeyPatch) -> Iterator[HttpReceiver]:
    monkeypatch.setenv("OPSNB_TEST_PAGER_KEY", KEY)
    with http_receiver() as r:
        yield r


def first_day(t0: datetime) -> date:
    return (t0 - timedelta(days=10)).date()


def on_call(t: datetime, t0: datetime) -> str:
    """Who the daily UTC rotation below puts on call at ``t`` (independent of opsnb's rotation code)."""
    return MEMBERS[(t.date() - first_day(t0)).days % len(MEMBERS)]


def setup(ops: Workbench, rx: HttpReceiver, t0: datetime, *, ack_timeout: str | None = "30m") -> None:
    ops.notify.create_channel(name="pager", kind="webhook", target=rx.url + "/pager",
                              secret_ref="env:OPSNB_TEST_PAGER_KEY")
    ops.oncall.create_schedule(name="primary", timezone="UTC", members=MEMBERS, rotation="daily",
                               first_handoff=f"{first_day(t0).isoformat()}T00:00")
    # people have no contact methods: the policy's channel reaches them
    ops.oncall.create_policy(name="sre", channel="pager", repeat=1, ack_timeout=ack_timeout, levels=[
        {"targets": [{"schedule": "primary"}], "delay": "10m"},
        {"targets": [{"person": "carol"}], "delay": "10m"}])
    ops.alerts.create_incident_rule(name="crit", matchers='severity="critical"', severity="SEV2", policy="sre")


def pages(rx: HttpReceiver) -> list[dict[str, Any]]:
    """Every request the receiver got, checked to be signed with the channel's key."""
    out = []
    for r in rx.requests:
        assert isinstance(r, Received) and r.path == "/pager"
        assert verify(KEY, r.headers["X-Opsnb-Timestamp"], r.body, r.headers["X-Opsnb-Signature"])
        out.append(r.json())
    return out


def test_firing_alert_pages_the_person_on_call_and_ack_stops_it(ops: Workbench, rx: HttpReceiver) -> None:
    t0 = utcnow()
    setup(ops, rx, t0)
    ops.alerts.ingest_alertmanager(am_body([am_alert({**CRIT, "instance": "web-1"}, starts=t0 - timedelta(minutes=1),
                                                     summary="checkout 5xx at 40%")]))
    assert rx.requests == [] and ops.incidents.list().empty  # nothing happens at ingest
    tp = t0 + timedelta(seconds=31)  # past group_wait
    rep = ops.alerts.tick(now=tp)
    assert len(rep.incidents) == 1
    iid = rep.incidents[0]
    assert [(p["incident_id"], p["policy"], p["rule"], p["error"]) for p in rep.pages] == [(iid, "sre", "crit", None)]
    eid = rep.pages[0]["escalation"]
    outbox = ops.alerts.pages()
    assert outbox[["incident_id", "state", "escalation_id"]].values.tolist() == [[iid, "started", eid]]
    # level 1 went out at once, to whoever the rotation has on call at that moment
    got = pages(rx)
    who = on_call(tp, t0)
    assert len(got) == 1
    assert got[0]["context"]["incident_id"] == iid and got[0]["context"]["person"] == who
    assert got[0]["context"]["fingerprint"] and got[0]["context"]["rule"] == "crit"
    assert got[0]["subject"] == f"{iid} [SEV2] checkout 5xx at 40%"
    assert got[0]["body"].startswith(f"Paging {who} for {iid} (level 1, round 1 of 2, policy sre)")
    assert "checkout 5xx at 40%" in got[0]["body"] and "service=checkout" in got[0]["body"]
    inc = ops.incidents.get(iid)
    assert inc.status == "triggered" and inc.severity == "SEV2"
    assert inc.milestones["paged"] == tp and inc.milestones["detected"] == t0 - timedelta(minutes=1)
    tl = inc.timeline
    kinds = tl["kind"].tolist()
    assert kinds.index("alert") < kinds.index("page")  # alert -> page
    assert tl[tl["kind"] == "page"]["data"].iloc[0]["notified"] == [who]

    # Another critical alert of the same service joins the open incident: nobody is paged again.
    ops.alerts.ingest_alertmanager(am_body([am_alert({**CRIT, "instance": "web-2"}, starts=t0)]))
    rep2 = ops.alerts.tick(now=tp + timedelta(seconds=5))
    assert rep2.incidents == [iid] and rep2.pages == []
    assert ops.oncall.escalations(iid)["id"].tolist() == [eid] and len(rx.requests) == 1

    # Nobody acked: level 2 (carol) at +10 minutes.
    assert ops.oncall.tick(now=tp + timedelta(minutes=9)).empty
    assert ops.oncall.tick(now=tp + timedelta(minutes=10))["kind"].tolist() == ["page"]
    assert [p["context"]["person"] for p in pages(rx)] == [who, "carol"]

    # Ack the incident: pending pages are cancelled, later ticks send nothing.
    ops.incidents.update(iid, status="acknowledged", at=tp + timedelta(minutes=12))
    esc = ops.oncall.escalations(iid).iloc[0]
    assert esc["status"] == "acknowledged" and esc["acked_by"] == ops.user
    for minutes in (20, 30, 41):  # the ack timeout would re-page at +42
        assert ops.oncall.tick(now=tp + timedelta(minutes=minutes)).empty
    assert ops.notify.tick(now=tp + timedelta(minutes=41)).empty
    assert len(rx.requests) == 2
    tl = ops.incidents.timeline(iid)
    assert tl["kind"].tolist().count("ack") == 1  # written once, by oncall
    assert [d["to"] for d in tl[tl["kind"] == "status"]["data"]] == ["acknowledged"]

    # Resolve: the escalation ends, so the ack-timeout re-trigger never fires.
    ops.incidents.update(iid, status="resolved", at=tp + timedelta(minutes=41))
    assert ops.oncall.escalations(iid)["status"].tolist() == ["resolved"]
    assert ops.oncall.tick(now=tp + timedelta(hours=5)).empty
    assert ops.notify.tick(now=tp + timedelta(hours=5)).empty
    assert len(rx.requests) == 2
    assert set(ops.oncall.timers(iid)["status"]) == {"fired", "cancelled"}
    assert ops.audit.verify().ok


def test_ack_from_oncall_acknowledges_the_incident_once(ops: Workbench, rx: HttpReceiver) -> None:
    t0 = utcnow()
    setup(ops, rx, t0)
    ops.alerts.ingest_alertmanager(am_body([am_alert(CRIT, starts=t0)]))
    iid = ops.alerts.tick(now=t0 + timedelta(seconds=31)).incidents[0]
    ack_at = t0 + timedelta(minutes=3)
    out = ops.oncall.acknowledge(iid, by="bob", at=ack_at)  # what `opsnb oncall ack` does
    assert out["incident_status"] == "acknowledged" and out["cancelled"] == 4
    inc = ops.incidents.get(iid)
    assert inc.status == "acknowledged" and inc.milestones["acknowledged"] == ack_at
    tl = inc.timeline
    status = tl[tl["kind"] == "status"]
    assert len(status) == 1 and status["actor"].iloc[0] == "bob"
    assert tl["kind"].tolist().count("ack") == 1
    # Acking again through either side changes nothing more.
    assert ops.oncall.acknowledge(iid, by="bob")["incident_status"] == "acknowledged"
    with pytest.raises(Conflict):
        ops.incidents.update(iid, status="acknowledged")
    assert ops.incidents.timeline(iid)["kind"].tolist().count("status") == 1
    # Without resolving, the ack timeout re-pages (30 minutes after the ack) ...
    fired = ops.oncall.tick(now=ack_at + timedelta(minutes=30))
    assert fired["kind"].tolist()[:2] == ["retrigger", "page"]
    # ... and mitigating stops it for good.
    ops.incidents.update(iid, status="mitigated", at=ack_at + timedelta(minutes=31))
    n = len(rx.requests)
    assert ops.oncall.tick(now=ack_at + timedelta(hours=6)).empty and len(rx.requests) == n
    assert ops.oncall.escalations(iid)["status"].tolist() == ["resolved"]


def test_manual_page_on_create_and_page(ops: Workbench, rx: HttpReceiver) -> None:
    t0 = utcnow()
    setup(ops, rx, t0)
    with pytest.raises(NotFound):
        ops.incidents.create(title="db slow", service="db", policy="nope")
    with pytest.raises(ValidationError):
        ops.incidents.create(title="db slow", service="db", policy="")
    assert ops.incidents.list().empty  # refused before anything was written
    inc = ops.incidents.create(title="db slow", service="db", severity="SEV3", policy="sre")
    got = pages(rx)
    assert len(got) == 1 and got[0]["context"]["incident_id"] == inc.id
    assert got[0]["context"]["person"] == on_call(utcnow(), t0) or got[0]["context"]["person"] == on_call(t0, t0)
    assert ops.incidents.get(inc.id).milestones["paged"] is not None
    # paging again while the escalation is open starts nothing new
    eid = int(ops.oncall.escalations(inc.id)["id"].iloc[0])
    assert ops.incidents.page(inc.id, policy="sre") == eid and len(rx.requests) == 1
    with pytest.raises(NotFound):
        ops.incidents.page("INC-999", policy="sre")
    # resolve, then reopen: paged again under the same policy
    ops.incidents.update(inc.id, status="resolved")
    ops.incidents.update(inc.id, status="triggered", reason="came back")
    esc = ops.oncall.escalations(inc.id)
    assert esc["status"].tolist() == ["active", "resolved"] and len(rx.requests) == 2


def test_a_page_that_cannot_start_is_visible(ops: Workbench, rx: HttpReceiver,
                                             caplog: pytest.LogCaptureFixture) -> None:
    t0 = utcnow()
    setup(ops, rx, t0)
    ops.alerts.ingest_alertmanager(am_body([am_alert(CRIT, starts=t0)]))
    ops.access.grant("ticker", "viewer")
    ops.user = "ticker"  # a tick running as a user who may not page
    with caplog.at_level(logging.ERROR, logger="opsnb.alerts.tick"):
        rep = ops.alerts.tick(now=t0 + timedelta(seconds=31))
    iid = rep.incidents[0]  # the incident is opened all the same
    assert rep.pages[0]["escalation"] is None and "PermissionDenied" in rep.pages[0]["error"]
    assert any(iid in r.getMessage() and "failed" in r.getMessage() for r in caplog.records)
    ops.user = "tester"
    tl = ops.incidents.timeline(iid)
    failed = tl[tl["kind"] == "escalation"]
    assert len(failed) == 1 and failed["data"].iloc[0]["event"] == "page_failed"
    assert ops.oncall.escalations(iid).empty and rx.requests == []
    assert ops.audit.list(action="alerts.page_failed")["target"].tolist() == [iid]
    failed_pages = ops.alerts.pages(state="failed")
    assert failed_pages["incident_id"].tolist() == [iid] and "PermissionDenied" in failed_pages["error"].iloc[0]
    # not retried every tick (it would fail the same way): still one timeline entry
    assert ops.alerts.tick(now=t0 + timedelta(seconds=40)).pages == []
    assert ops.incidents.timeline(iid)["kind"].tolist().count("escalation") == 1


def test_a_tick_that_dies_after_opening_the_incident_loses_no_page(ops: Workbench, rx: HttpReceiver,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    t0 = utcnow()
    setup(ops, rx, t0)
    ops.alerts.ingest_alertmanager(am_body([am_alert(CRIT, starts=t0)]))

    class Died(BaseException):
        """The process is killed between the commit that opened the incident and paging."""

    def die(self: Any, now: datetime, rep: Any) -> None:
        raise Died

    with monkeypatch.context() as mp:
        mp.setattr(type(ops.alerts), "_start_pages", die)
        with pytest.raises(Died):
            ops.alerts.tick(now=t0 + timedelta(seconds=31))
    iid = ops.incidents.list()["id"].tolist()[0]  # committed before the "crash"
    assert ops.alerts.pages()["state"].tolist() == ["pending"] and rx.requests == []
    rep = ops.alerts.tick(now=t0 + timedelta(seconds=32))  # the next tick (any process) pages
    assert [p["incident_id"] for p in rep.pages] == [iid] and rep.pages[0]["error"] is None
    assert len(rx.requests) == 1 and ops.alerts.pages()["state"].tolist() == ["started"]
    assert ops.alerts.tick(now=t0 + timedelta(seconds=33)).pages == [] and len(rx.requests) == 1


def test_incident_rule_policy_is_checked_and_listed(ops: Workbench, rx: HttpReceiver) -> None:
    setup(ops, rx, utcnow())
    with pytest.raises(NotFound):
        ops.alerts.create_incident_rule(name="other", matchers='severity="warning"', policy="nope")
    for bad in ("", "x" * 101, 7, "a\x00b"):
        with pytest.raises(ValidationError):
            ops.alerts.create_incident_rule(name="other", matchers='severity="warning"', policy=bad)
    ops.alerts.create_incident_rule(name="warn", matchers='severity="warning"', severity="SEV4")
    rules = ops.alerts.incident_rules()
    assert rules[["name", "severity"]].values.tolist() == [["crit", "SEV2"], ["warn", "SEV4"]]
    assert rules["policy"].iloc[0] == "sre" and rules["policy"].isna().tolist() == [False, True]
    assert rules["matchers"].tolist() == ['severity="critical"', 'severity="warning"']
    # A rule without a policy opens incidents and pages nobody.
    ops.alerts.ingest_alertmanager(am_body([am_alert({"alertname": "Disk", "service": "db",
                                                      "severity": "warning"})]))
    rep = ops.alerts.tick(now=utcnow())
    assert len(rep.incidents) == 1 and rep.pages == [] and rx.requests == []


def test_alert_to_page_through_the_http_api(ops: Workbench, rx: HttpReceiver) -> None:
    """The webhook endpoint stores the alert; the server's own ticker opens the incident and pages;
    an ack posted to the on-call endpoint acknowledges the incident; resolving over PATCH ends paging."""
    token = "s3cret-token-for-paging-tests"
    ops.settings._values["api_token"] = token
    t0 = utcnow()
    setup(ops, rx, t0)
    api = ApiServer(ops).start()
    try:
        status, out = call(f"{api.base}/alerts/alertmanager", am_body([am_alert(CRIT, summary="checkout down")]),
                           token=token)
        assert status == 202 and out["new"] == 1
        deadline = time.monotonic() + 20
        while not rx.requests and time.monotonic() < deadline:
            time.sleep(0.1)
        got = pages(rx)
        assert len(got) == 1
        iid = got[0]["context"]["incident_id"]
        assert got[0]["context"]["person"] in (on_call(t0, t0), on_call(utcnow(), t0))
        status, ack = call(f"{api.base}/oncall/incidents/{iid}/ack", {"by": "alice"}, token=token)
        assert status == 200 and ack["incident_status"] == "acknowledged" and ack["cancelled"] == 4
        status, inc = call(f"{api.base}/incidents/{iid}", token=token)
        assert status == 200 and inc["status"] == "acknowledged"
        assert [e["kind"] for e in inc["timeline"]].count("ack") == 1
        status, inc = call(f"{api.base}/incidents/{iid}", {"status": "resolved"}, token=token, method="PATCH")
        assert status == 200 and inc["status"] == "resolved"
    finally:
        api.stop()
    assert ops.oncall.escalations(iid)["status"].tolist() == ["resolved"]
    assert ops.oncall.tick(now=utcnow() + timedelta(days=1)).empty and len(rx.requests) == 1


def test_first_day_helper_matches_the_schedule(ops: Workbench, rx: HttpReceiver) -> None:
    """Guard for the tests above: the independent rotation arithmetic agrees with opsnb's."""
    t0 = datetime(2026, 3, 1, 12, tzinfo=UTC)
    setup(ops, rx, t0)
    for h in (0, 11, 12, 13, 36, 60, 200):
        t = t0 + timedelta(hours=h)
        assert ops.oncall.who_is_on_call("primary", t) == on_call(t, t0)


def test_paging_from_the_cli(tmp_path: Any) -> None:
    import json

    from click.testing import CliRunner

    from opsnb.cli import cli
    from tests.conftest import make_ops

    ws = tmp_path / "ws"
    with http_receiver() as hook:
        ops = make_ops(ws)
        ops.notify.create_channel(name="pager", kind="slack", target=hook.url + "/pager")
        ops.oncall.create_schedule(name="primary", timezone="UTC", members=["alice"], rotation="daily",
                                   first_handoff="2020-01-01T00:00")
        ops.oncall.create_policy(name="sre", channel="pager", levels=[{"targets": [{"schedule": "primary"}],
                                                                        "delay": "10m"}])
        ops.close()

        def run(*args: str, ok: bool = True) -> Any:
            res = CliRunner().invoke(cli, ["--workspace", str(ws), *args])
            assert (res.exit_code == 0) == ok, (res.output, res.exception)
            return res

        run("alerts", "incident-rule", "--name", "crit", "-m", 'severity="critical"', "--policy", "sre")
        res = run("alerts", "incident-rule", "--name", "x", "-m", 'severity="x"', "--policy", "nope", ok=False)
        assert "nope" in str(res.exception)
        rules = json.loads(run("alerts", "incident-rules", "--format", "json").output)
        assert [(r["name"], r["policy"]) for r in rules] == [("crit", "sre")]
        out = json.loads(run("incident", "create", "--title", "db slow", "--service", "db", "--policy", "sre",
                             "--format", "json").output)[0]
        iid = out["id"]
        assert out["paged_at"] and len(hook.requests) == 1
        assert f"Paging alice for {iid}" in hook.requests[0].json()["text"]
        page = json.loads(run("incident", "page", iid, "--policy", "sre", "--format", "json").output)[0]
        assert page["escalation"] >= 1 and len(hook.requests) == 1  # open escalation: nothing new
        run("oncall", "ack", iid)
        shown = json.loads(run("incident", "show", iid, "--format", "json").output)[0]
        assert shown["status"] == "acknowledged" and shown["milestone.acknowledged"]


def test_rule_policy_migration_down_and_up(ops: Workbench) -> None:
    """alerts_0002 adds the column to a database that has rules already, and can be undone."""
    from pathlib import Path

    from alembic import command
    from alembic.config import Config
    from sqlalchemy import inspect

    import opsnb.store.db as dbmod

    ops.alerts.create_incident_rule(name="old", matchers='severity="critical"')
    cfg = Config()
    cfg.set_main_option("script_location", str(Path(dbmod.__file__).parent / "migrations"))
    cfg.set_main_option("version_locations", " ".join(dbmod.migration_dirs()))
    cfg.set_main_option("path_separator", "space")

    def columns() -> set[str]:
        return {c["name"] for c in inspect(ops.db.engine).get_columns("alert_incident_rules")}

    with ops.db.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "alerts_0001")
    assert "policy" not in columns()
    ops.db.upgrade()
    assert "policy" in columns()
    assert ops.alerts.incident_rules()["name"].tolist() == ["old"]
    assert ops.alerts.incident_rules()["policy"].isna().all()


def test_create_with_policy_and_page_over_http(ops: Workbench, rx: HttpReceiver) -> None:
    token = "s3cret-token-for-paging-tests"
    ops.settings._values["api_token"] = token
    setup(ops, rx, utcnow())
    api = ApiServer(ops).start()
    try:
        status, out = call(f"{api.base}/incidents", {"title": "db slow", "service": "db", "policy": "nope"},
                           token=token)
        assert status == 404 and ops.incidents.list().empty  # unknown policy: nothing written
        status, inc = call(f"{api.base}/incidents", {"title": "db slow", "service": "db", "policy": "sre"},
                           token=token)
        assert status == 201 and len(pages(rx)) == 1
        status, out = call(f"{api.base}/incidents", {"title": "cache cold", "service": "cache"}, token=token)
        iid = out["id"]
        assert status == 201 and len(pages(rx)) == 1
        status, out = call(f"{api.base}/incidents/{iid}/page", {"reason": "x"}, token=token)
        assert status == 400 and "policy" in out["error"]["message"]
        status, out = call(f"{api.base}/incidents/{iid}/page", {"policy": "sre", "reason": "escalating"},
                           token=token)
        assert status == 202 and out["incident"] == iid and out["escalation"]
        assert len(pages(rx)) == 2
    finally:
        api.stop()
