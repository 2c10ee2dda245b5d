"""ops.incidents on SQLite and PostgreSQL: lifecycle, roles, timeline, milestones, links, merge."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from opsnb.errors import Conflict, NotFound, PermissionDenied, ValidationError
from opsnb.incidents.lifecycle import TRANSITIONS, check_transition, order_problems

T0 = datetime(2025, 3, 3, 12, 0, tzinfo=UTC)


def t(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def test_transition_table() -> None:
    check_transition("INC-1", "triggered", "acknowledged")
    check_transition("INC-1", "resolved", "triggered")
    for final in ("closed", "declined", "merged"):
        assert TRANSITIONS[final] == frozenset()
    with pytest.raises(Conflict, match="cannot go from closed to triggered"):
        check_transition("INC-1", "closed", "triggered")
    with pytest.raises(Conflict, match="already"):
        check_transition("INC-1", "triggered", "triggered")
    with pytest.raises(ValidationError):
        check_transition("INC-1", "triggered", "exploded")
    assert order_problems({"impact_start": t(5), "detected": t(0)})
    assert not order_problems({"impact_start": t(0), "resolved": t(9), "detected": None})


def test_create_numbers_and_get(ops) -> None:
    a = ops.incidents.create(title="Checkout 5xx", service="checkout", severity="SEV2", impact_start=t(0),
                             detected_at=t(4), commander="alice")
    b = ops.incidents.create(title="Search slow", service="search")
    assert (a.id, b.id) == ("INC-1", "INC-2")
    inc = ops.incidents.get("INC-1")
    assert inc.status == "triggered" and inc.commander == "alice" and inc.started_at == t(0)
    assert inc.milestones["detected"] == t(4)
    assert list(inc.timeline["kind"]) == ["created"]
    html = inc._repr_html_()
    assert "INC-1" in html and "Checkout 5xx" in html
    with pytest.raises(NotFound):
        ops.incidents.get("INC-99")
    c = ops.incidents.create(title="import", service="x", id="INC-40")
    assert c.id == "INC-40" and ops.incidents.create(title="next", service="x").id == "INC-41"
    with pytest.raises(Conflict):
        ops.incidents.create(title="dup", service="x", id="INC-40")


@pytest.mark.parametrize("kwargs", [
    {"title": "", "service": "x"}, {"title": "t", "service": ""}, {"title": "t", "service": "x", "severity": "P1"},
    {"title": "t" * 600, "service": "x"}, {"title": "a\x00b", "service": "x"},
    {"title": "t", "service": "x", "impact_start": "soon"},
    {"title": "t", "service": "x", "impact_start": t(10), "detected_at": t(0)},
    {"title": "t", "service": "x", "id": "INC-abc"},
])
def test_bad_create_writes_nothing(ops, kwargs) -> None:
    with pytest.raises(ValidationError):
        ops.incidents.create(**kwargs)
    assert len(ops.incidents.list()) == 0


def test_lifecycle_sets_milestones_and_timeline(ops) -> None:
    inc = ops.incidents.create(title="t", service="checkout", impact_start=t(0), detected_at=t(2))
    ops.incidents.update(inc.id, status="acknowledged", commander="bob", at=t(5))
    ops.incidents.update(inc.id, status="mitigated", severity="SEV1", at=t(20), reason="rolled back")
    with pytest.raises(Conflict):
        ops.incidents.update(inc.id, status="closed")
    ops.incidents.update(inc.id, status="resolved", at=t(30))
    ops.incidents.update(inc.id, status="closed", at=t(60))
    got = ops.incidents.get(inc.id)
    assert got.status == "closed" and got.severity == "SEV1" and got.commander == "bob"
    assert [got.milestones[m] for m in ("acknowledged", "mitigated", "resolved", "closed")] == \
        [t(5), t(20), t(30), t(60)]
    tl = got.timeline
    assert list(tl["kind"]).count("status") == 4 and "severity" in set(tl["kind"]) and "role" in set(tl["kind"])
    assert tl["at"].is_monotonic_increasing
    with pytest.raises(Conflict):
        ops.incidents.update(inc.id, status="triggered")
    audit = ops.audit.list(target=inc.id)
    # resolving a SEV1 drafts its postmortem (the postmortem_auto_draft setting)
    assert set(audit["action"]) == {"incident.create", "incident.update", "postmortem.draft"}


def test_status_time_out_of_order_is_refused(ops) -> None:
    inc = ops.incidents.create(title="t", service="x", impact_start=t(0), detected_at=t(10))
    with pytest.raises(ValidationError, match="out of order"):
        ops.incidents.update(inc.id, status="acknowledged", at=t(5))
    assert ops.incidents.get(inc.id).status == "triggered"


def test_reopen_clears_resolved(ops) -> None:
    inc = ops.incidents.create(title="t", service="x", impact_start=t(0), detected_at=t(1))
    ops.incidents.update(inc.id, status="resolved", at=t(10))
    ops.incidents.update(inc.id, status="triggered", at=t(20), reason="came back")
    assert ops.incidents.get(inc.id).milestones["resolved"] is None
    ops.incidents.update(inc.id, status="resolved", at=t(40))
    assert ops.incidents.get(inc.id).milestones["resolved"] == t(40)


def test_milestones_editable_audited_and_ordered(ops) -> None:
    inc = ops.incidents.create(title="t", service="x", impact_start=t(10), detected_at=t(12))
    ops.incidents.set_milestone(inc.id, "impact_start", t(3), reason="logs show errors from 12:03")
    assert ops.incidents.get(inc.id).started_at == t(3)
    with pytest.raises(ValidationError, match="out of order"):
        ops.incidents.set_milestone(inc.id, "impact_start", t(13))
    with pytest.raises(ValidationError, match="unknown milestone"):
        ops.incidents.set_milestone(inc.id, "lunch", t(1))
    entry = ops.incidents.timeline(inc.id).query("kind == 'milestone'").iloc[0]
    assert entry["data"]["old"].startswith("2025-03-03T12:10") and entry["data"]["reason"].startswith("logs")
    rec = ops.audit.list(action="incident.milestone").iloc[0]
    assert rec["target"] == inc.id and rec["reason"].startswith("logs")


def test_notes_timeline_links_and_append_only(ops) -> None:
    inc = ops.incidents.create(title="t", service="x")
    ops.incidents.add_note(inc.id, "rolled back <b>v2</b>")
    ops.incidents.add_timeline(inc.id, kind="runbook_run", actor="runner",
                               data={"run": "r-1", "status": "succeeded", "at": T0})
    ops.incidents.link(inc.id, deploy="d-9", slo="checkout-availability", server="web-1")
    ops.incidents.link(inc.id, deploy="d-9")  # once only
    got = ops.incidents.get(inc.id)
    assert sorted(got.linked("deploy") + got.linked("slo") + got.linked("server")) == \
        ["checkout-availability", "d-9", "web-1"]
    assert "&lt;b&gt;" in got._repr_html_()
    with pytest.raises(ValidationError, match="unknown timeline kind"):
        ops.incidents.add_timeline(inc.id, kind="gossip")
    with pytest.raises(ValidationError):
        ops.incidents.add_timeline(inc.id, kind="note", data={"x": float("nan")})
    with pytest.raises(ValidationError):
        ops.incidents.add_note(inc.id, "")
    with pytest.raises(NotFound):
        ops.incidents.add_note("INC-77", "x")
    from sqlalchemy.exc import DBAPIError

    with pytest.raises(DBAPIError), ops.db.session() as s:
        s.execute(text("DELETE FROM incident_timeline"))
    assert len(ops.incidents.timeline(inc.id)) >= 4


def test_merge_and_decline(ops) -> None:
    a = ops.incidents.create(title="a", service="x")
    b = ops.incidents.create(title="b", service="x")
    ops.incidents.link(b.id, deploy="d-1")
    merged = ops.incidents.merge(b.id, into=a.id, reason="same cause")
    assert "d-1" in merged.linked("deploy") and ops.incidents.get(b.id).status == "merged"
    assert ops.incidents.get(b.id).merged_into == a.id
    with pytest.raises(ValidationError):
        ops.incidents.merge(a.id, into=a.id)
    c = ops.incidents.create(title="c", service="x")
    ops.incidents.decline(c.id, reason="test alert")
    assert ops.incidents.get(c.id).status == "declined"
    assert set(ops.incidents.list(status="open")["id"]) == {a.id}


def test_roles(ops) -> None:
    inc = ops.incidents.create(title="t", service="x")
    ops.access.grant("vic", "viewer")
    ops.user = "vic"
    for call in (lambda: ops.incidents.create(title="t", service="x"),
                 lambda: ops.incidents.update(inc.id, status="acknowledged"),
                 lambda: ops.incidents.add_note(inc.id, "x"),
                 lambda: ops.incidents.set_milestone(inc.id, "detected", T0)):
        with pytest.raises(PermissionDenied):
            call()
    assert len(ops.incidents.get(inc.id).timeline) == 1


def test_list_filters(ops) -> None:
    ops.incidents.create(title="a", service="x", severity="SEV1")
    ops.incidents.create(title="b", service="y")
    df = ops.incidents.list(service="x")
    assert list(df["id"]) == ["INC-1"] and str(df["created_at"].dt.tz) == "UTC"
    assert len(ops.incidents.list(status="open")) == 2 and len(ops.incidents.list(status="resolved")) == 0
    with pytest.raises(ValidationError):
        ops.incidents.list(status="sleeping")


def test_slo_impact_reports_each_linked_slo(ops) -> None:
    inc = ops.incidents.create(title="t", service="x", impact_start=t(0), detected_at=t(1))
    ops.incidents.link(inc.id, slo="no-such-slo")
    df = ops.incidents.slo_impact(inc.id)
    assert list(df["slo"]) == ["no-such-slo"] and df["error"][0]
