"""Escalation for real: DB timers fired by tick, notifications to a real HTTP receiver, acks, restarts."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from opsnb.errors import NotFound, PermissionDenied, ValidationError
from opsnb.workbench import Workbench, connect
from tests.conftest import make_ops
from tests.notify.servers import HttpReceiver, http_receiver

T0 = datetime(2025, 3, 10, 12, 30, tzinfo=UTC)  # 30 minutes before bob's Monday 09:00 EDT handoff


def m(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


@pytest.fixture
def rx() -> Iterator[HttpReceiver]:
    with http_receiver() as r:
        yield r


def setup(ops: Workbench, rx: HttpReceiver, *, repeat: int = 1, ack_timeout: str | None = None) -> None:
    ops.notify.create_channel(name="hook", kind="slack", target=rx.url + "/channel")
    for p in ("alice", "bob", "carol"):
        ops.oncall.create_person(p, contacts=[{"channel": "hook", "target": f"{rx.url}/{p}"}])
    ops.oncall.create_schedule(name="primary", timezone="America/New_York", members=["alice", "bob", "carol"],
                               rotation="weekly", first_handoff="2025-03-03T09:00")
    ops.oncall.create_policy(name="default", repeat=repeat, ack_timeout=ack_timeout, levels=[
        {"targets": [{"schedule": "primary"}], "delay": "30m"},
        {"targets": [{"person": "carol"}], "delay": "30m"}])


def paged(rx: HttpReceiver) -> list[str]:
    return [r.path.lstrip("/") for r in rx.requests]


def test_escalation_runs_on_timers_and_honours_a_handoff(ops: Workbench, rx: HttpReceiver) -> None:
    setup(ops, rx)
    eid = ops.oncall.escalate(policy="default", incident_id="INC-7", subject="checkout down", body="5xx at 40%",
                              at=T0)
    assert paged(rx) == ["alice"]  # level 1 fires at once
    assert rx.requests[0].json()["text"].startswith("*checkout down*\nPaging alice for INC-7 (level 1, round 1")
    timers = ops.oncall.timers("INC-7")
    assert timers["kind"].tolist() == ["page"] * 4 + ["exhaust"]
    assert timers["due_at"].tolist() == [m(0), m(30), m(60), m(90), m(120)]
    assert ops.oncall.tick(now=m(29)).empty
    assert ops.oncall.tick(now=m(30))["kind"].tolist() == ["page"]
    assert paged(rx) == ["alice", "carol"]
    ops.oncall.tick(now=m(60))
    assert paged(rx)[-1] == "bob"  # round 2: the schedule is resolved when the level fires, after the handoff
    fired = ops.oncall.tick(now=m(200))  # a late tick fires everything due, in order
    assert fired["kind"].tolist() == ["page", "exhaust"]
    assert paged(rx) == ["alice", "carol", "bob", "carol"]
    esc = ops.oncall.escalations("INC-7")
    assert esc["status"].tolist() == ["exhausted"] and esc["id"].tolist() == [eid]
    assert set(ops.notify.deliveries()["status"]) == {"sent"}
    assert ops.audit.verify().ok
    acts = ops.audit.list(action="oncall.*")
    assert acts["action"].value_counts().to_dict() == {
        "oncall.page": 4, "oncall.exhausted": 1, "oncall.escalate": 1, "oncall.create_policy": 1,
        "oncall.create_schedule": 1, "oncall.create_person": 3}
    assert set(acts[acts["action"] == "oncall.page"]["actor"]) == {"opsnb-scheduler"}
    # Exhausted stays open: a new escalate for the same incident returns the same one; an ack still counts.
    assert ops.oncall.escalate(policy="default", incident_id="INC-7", subject="again", at=m(201)) == eid
    assert ops.oncall.acknowledge("INC-7", at=m(202))["escalations"] == 1


def test_acknowledgement_cancels_everything_pending(ops: Workbench, rx: HttpReceiver) -> None:
    setup(ops, rx)
    ops.oncall.escalate(policy="default", incident_id="INC-8", subject="db slow", at=T0)
    ops.oncall.tick(now=m(30))
    ack = ops.oncall.acknowledge("INC-8", by="carol", at=m(35))
    # INC-8 is not an incident opsnb tracks (no incidents row): incident_status None
    assert ack == {"incident_id": "INC-8", "escalations": 1, "cancelled": 3, "retrigger_at": None,
                   "incident_status": None}
    assert ops.oncall.tick(now=m(500)).empty
    assert paged(rx) == ["alice", "carol"]
    t = ops.oncall.timers("INC-8")
    assert t["status"].tolist() == ["fired", "fired", "cancelled", "cancelled", "cancelled"]
    e = ops.oncall.escalations("INC-8").iloc[0]
    assert e["status"] == "acknowledged" and e["acked_by"] == "carol" and e["acked_at"] == m(35)
    # Acknowledging again, or an incident never paged, is harmless.
    assert ops.oncall.acknowledge("INC-8")["cancelled"] == 0
    assert ops.oncall.acknowledge("INC-404") == {"incident_id": "INC-404", "escalations": 0, "cancelled": 0,
                                                 "retrigger_at": None, "incident_status": None}


def test_ack_timeout_retriggers_until_resolved(ops: Workbench, rx: HttpReceiver) -> None:
    setup(ops, rx, repeat=0, ack_timeout="45m")
    ops.oncall.escalate(policy="default", incident_id="INC-9", subject="queue backlog", at=T0)
    assert ops.oncall.acknowledge("INC-9", at=m(10))["retrigger_at"] == m(55)
    assert ops.oncall.tick(now=m(54)).empty
    fired = ops.oncall.tick(now=m(55))
    assert fired["kind"].tolist() == ["retrigger", "page"]
    assert paged(rx) == ["alice", "bob"]  # the re-triggered chain pages who is on call now
    e = ops.oncall.escalations("INC-9").iloc[0]
    assert e["status"] == "active" and e["generation"] == 1
    ops.oncall.resolve("INC-9", at=m(60))
    assert ops.oncall.tick(now=m(600)).empty
    assert ops.oncall.escalations("INC-9")["status"].tolist() == ["resolved"]
    # The plan predicts the same.
    plan = ops.oncall.plan("default", T0, ack_at=m(10))
    assert plan[plan["action"] == "notify"]["person"].tolist()[:2] == ["alice", "bob"]


def test_timers_survive_a_restart(tmp_path: Path, db_url: str, rx: HttpReceiver) -> None:
    url = db_url if "postgres" in db_url else ""
    ops = make_ops(tmp_path / "ws", url)
    setup(ops, rx)
    ops.oncall.escalate(policy="default", incident_id="INC-10", subject="disk full", at=T0)
    ops.close()  # the process is gone; only the database remembers
    del ops
    again = connect(tmp_path / "ws", database_url=url or None)
    try:
        again.oncall.tick(now=m(30))
        again.oncall.tick(now=m(60))
        assert paged(rx) == ["alice", "carol", "bob"]
    finally:
        again.close()


def test_page_recorded_before_a_crash_is_sent_after_restart(tmp_path: Path, db_url: str) -> None:
    url = db_url if "postgres" in db_url else ""
    with http_receiver(statuses=[503]) as rx:
        ops = make_ops(tmp_path / "ws", url)
        setup(ops, rx)
        ops.oncall.escalate(policy="default", incident_id="INC-11", subject="x", at=T0)
        assert ops.notify.deliveries()["status"].tolist() == ["retrying"]
        ops.close()
        again = connect(tmp_path / "ws", database_url=url or None)
        try:
            again.notify.tick(now=m(5))
            assert again.notify.deliveries()["status"].tolist() == ["sent"]
        finally:
            again.close()
    assert paged(rx) == ["alice", "alice"]


def test_concurrent_tickers_page_once(ops: Workbench, rx: HttpReceiver) -> None:
    setup(ops, rx, repeat=3)
    ops.oncall.escalate(policy="default", incident_id="INC-12", subject="x", at=T0)
    other = connect(ops.workspace, database_url=None if ops.db.dialect == "sqlite" else ops.db.url)
    errors: list[BaseException] = []

    def run(wb: Workbench) -> None:
        try:
            wb.oncall.tick(now=m(1000))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(wb,)) for wb in (ops, other)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(60)
    other.close()
    assert not errors
    assert len(rx.requests) == 8  # 4 rounds x 2 levels, each exactly once
    assert ops.oncall.timers("INC-12")["status"].tolist() == ["fired"] * 9


def test_fallbacks_and_gaps_are_recorded(ops: Workbench, rx: HttpReceiver) -> None:
    ops.notify.create_channel(name="hook", kind="slack", target=rx.url + "/team")
    ops.oncall.create_schedule(name="later", timezone="UTC", members=["zoe"], first_handoff="2030-01-01T00:00")
    ops.oncall.create_policy(name="p", channel="hook", levels=[
        {"targets": [{"schedule": "later"}, {"person": "nocontacts"}], "delay": "5m"}])
    ops.oncall.escalate(policy="p", incident_id="INC-13", subject="x", at=T0)
    res = ops.oncall.timers("INC-13").iloc[0]["result"]
    assert res[0] == {"target": "schedule:later", "person": None, "error": "nobody on call"}
    assert res[1]["person"] == "nocontacts" and res[1]["sent"][0]["channel"] == "hook"
    assert paged(rx) == ["team"]
    assert "Paging nocontacts" in rx.requests[0].json()["text"]


def test_roles_and_bad_input(ops: Workbench, rx: HttpReceiver) -> None:
    setup(ops, rx)
    for bad in ("", "INC\n7", "x" * 200, None):
        with pytest.raises(ValidationError):
            ops.oncall.escalate(policy="default", incident_id=bad, subject="x", at=T0)  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        ops.oncall.escalate(policy="default", incident_id="INC-1", subject="", at=T0)
    with pytest.raises(NotFound):
        ops.oncall.escalate(policy="nope", incident_id="INC-1", subject="x", at=T0)
    ops.access.grant("vic", "viewer")
    ops.user = "vic"
    with pytest.raises(PermissionDenied):
        ops.oncall.escalate(policy="default", incident_id="INC-1", subject="x", at=T0)
    with pytest.raises(PermissionDenied):
        ops.oncall.acknowledge("INC-1")
    assert ops.oncall.escalations().empty and rx.requests == []


def test_pages_and_acks_reach_the_incident_timeline(ops: Workbench, rx: HttpReceiver) -> None:
    setup(ops, rx, repeat=0)
    inc = ops.incidents.create(title="checkout down", service="checkout", severity="SEV2", detected_at=T0)
    iid = inc.id if hasattr(inc, "id") else inc["id"]
    ops.oncall.escalate(policy="default", incident_id=iid, subject="checkout down", at=T0)
    ops.oncall.tick(now=m(30))
    ops.oncall.acknowledge(iid, by="carol", at=m(31))
    tl = ops.incidents.timeline(iid)
    mine = tl[tl["kind"].isin(["page", "ack"])]
    assert mine["kind"].tolist() == ["page", "page", "ack"]
    assert mine["at"].tolist() == [m(0), m(30), m(31)]
    assert [d["notified"] for d in mine["data"][:2]] == [["alice"], ["carol"]]
    assert mine["actor"].tolist()[-1] == "carol"


def test_an_acknowledgement_is_audited_even_when_nothing_was_paged(ops: Workbench) -> None:
    """An incident opsnb does not track (an external id) leaves no other record of the ack."""
    out = ops.oncall.acknowledge("INC-404", at=T0)
    assert out["escalations"] == 0
    rec = ops.audit.list(action="oncall.acknowledge")
    assert len(rec) == 1 and rec.iloc[0]["target"] == "INC-404" and rec.iloc[0]["actor"] == "tester"


def test_incident_ids_are_case_insensitive_for_on_call_too(ops: Workbench) -> None:
    out = ops.oncall.acknowledge("inc-404", at=T0)
    assert out["incident_id"] == "INC-404"
    assert ops.audit.list(action="oncall.acknowledge").iloc[0]["target"] == "INC-404"
