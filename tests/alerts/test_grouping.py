"""Alertmanager grouping semantics (reference: oncall-and-alerts.md, "Alert grouping")."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from opsnb.alerts.grouping import GroupState, Policy, StreamEvent, group_key, replay, simulate
from opsnb.alerts.matchers import parse_matchers
from opsnb.alerts.silences import InhibitSpec, SilenceSpec, make_muter, make_recurrence

T0 = datetime(2025, 3, 3, 12, 0, tzinfo=UTC)
P = Policy(group_by=("alertname",), group_wait=timedelta(seconds=30), group_interval=timedelta(minutes=5),
           repeat_interval=timedelta(hours=4))


def ev(sec: float, inst: str = "a", status: str = "firing", name: str = "HighLatency", **extra: str) -> StreamEvent:
    return StreamEvent(at=T0 + timedelta(seconds=sec), labels={"alertname": name, "instance": inst, **extra},
                       status=status)


def times(notes: list) -> list[float]:
    return [(n.at - T0).total_seconds() for n in notes]


def test_new_group_waits_group_wait_then_one_notification_for_all_members() -> None:
    notes, c = simulate([ev(0, "a"), ev(10, "b"), ev(29, "c")], P, until=T0 + timedelta(minutes=1))
    assert times(notes) == [30.0]
    assert len(notes[0].firing) == 3 and notes[0].reason == "new"
    assert c["groups"] == 1


def test_alert_joining_after_first_notification_waits_for_group_interval() -> None:
    notes, _ = simulate([ev(0, "a"), ev(60, "b")], P, until=T0 + timedelta(minutes=10))
    # first flush at 30 s; the next flush is group_interval later (330 s), not at 60 s
    assert times(notes) == [30.0, 330.0]
    assert notes[1].reason == "changed" and len(notes[1].firing) == 2


def test_unchanged_firing_group_repeats_after_repeat_interval_only() -> None:
    stream = [ev(s, "a") for s in range(0, 5 * 3600, 60)]  # re-sent every evaluation for 5 h
    notes, c = simulate(stream, P, until=T0 + timedelta(hours=5))
    assert c["deduped"] == len(stream) - 1
    # 30 s, then the first flush at or after 4 h (flushes at 30 + k*300 s): 14430 s
    assert times(notes) == [30.0, 30.0 + 48 * 300]
    assert notes[1].reason == "repeat"


def test_group_that_flaps_within_group_wait_sends_nothing() -> None:
    notes, c = simulate([ev(0, "a"), ev(10, "a", "resolved"), ev(15, "b"), ev(20, "b", "resolved")], P,
                        until=T0 + timedelta(hours=1))
    assert notes == []
    assert c["received"] == 4


def test_resolution_is_notified_once_and_group_closes() -> None:
    notes, _ = simulate([ev(0, "a"), ev(100, "a", "resolved")], P, until=T0 + timedelta(hours=6))
    assert [n.status for n in notes] == ["firing", "resolved"]
    assert times(notes) == [30.0, 330.0]


def test_partial_resolution_is_sent_with_send_resolved() -> None:
    notes, _ = simulate([ev(0, "a"), ev(1, "b"), ev(100, "a", "resolved")], P, until=T0 + timedelta(minutes=10))
    assert len(notes) == 2 and notes[1].reason == "resolved" and notes[1].status == "firing"
    quiet = Policy(group_by=("alertname",), send_resolved=False)
    notes, _ = simulate([ev(0, "a"), ev(1, "b"), ev(100, "a", "resolved")], quiet, until=T0 + timedelta(minutes=10))
    assert len(notes) == 1


def test_group_by_splits_groups_and_key_is_stable() -> None:
    p = Policy(group_by=("alertname", "service"))
    notes, c = simulate([ev(0, "a", service="x"), ev(0, "b", service="y")], p, until=T0 + timedelta(minutes=1))
    assert c["groups"] == 2 and len(notes) == 2
    assert group_key({"service": "x", "alertname": "A", "z": "1"}, ("service", "alertname")) == \
        '{alertname="A", service="x"}'  # Alertmanager's LabelSet.String()
    assert group_key({"a": "1"}, ("...",)) == '{a="1"}'


def test_old_alert_in_new_group_is_sent_without_group_wait() -> None:
    g = GroupState.start("k", {}, T0, P)
    from opsnb.alerts.grouping import AlertView

    g.on_alert(AlertView("f", {}, "firing", T0 - timedelta(hours=1)), T0, P)
    assert g.next_flush_at == T0


def test_silence_keeps_alert_but_holds_notifications() -> None:
    sil = SilenceSpec("s1", parse_matchers('instance="a"'), T0, T0 + timedelta(hours=1))
    muter = make_muter([sil], [])
    rep = replay([ev(0, "a"), ev(60, "a")], P, muter=muter, until=T0 + timedelta(minutes=30))
    assert rep.notifications == 0 and rep.after_grouping == 1 and rep.silenced == 2  # both receipts
    # after the silence ends the still-firing alert is notified at the next flush
    rep = replay([ev(0, "a"), ev(3700, "a")], P, muter=muter, until=T0 + timedelta(hours=2))
    assert rep.notifications == 1 and rep.notes[0].at >= T0 + timedelta(hours=1)


def test_inhibition_mutes_targets_while_source_fires() -> None:
    rule = InhibitSpec("down", parse_matchers('alertname="ServiceDown"'), parse_matchers('alertname="HighLatency"'),
                       ("service",))
    stream = [ev(0, "a", name="ServiceDown", service="x"), ev(1, "a", service="x"), ev(2, "b", service="y")]
    rep = replay(stream, P, muter=make_muter([], [rule]), until=T0 + timedelta(minutes=2))
    # ServiceDown notifies; HighLatency on x is inhibited; on y (different service) it is not
    assert rep.notifications == 2
    assert {len(n.firing) for n in rep.notes} == {1}


def test_maintenance_window_follows_local_wall_clock_across_dst() -> None:
    rec = make_recurrence(start="02:00", duration="1h", days=["sun"], timezone="Europe/Berlin")
    w = SilenceSpec("m", parse_matchers('service="db"'), T0 - timedelta(days=30), None, rec)
    # Sunday 2025-03-23 02:00 CET = 01:00Z; Sunday 2025-03-30 after the DST change 02:00 CEST... the
    # local 02:00 does not exist that day (zoneinfo fold=0 gives 01:00Z); 2025-04-06 02:00 CEST = 00:00Z
    assert w.is_active(datetime(2025, 3, 23, 1, 30, tzinfo=UTC))
    assert not w.is_active(datetime(2025, 3, 23, 2, 0, tzinfo=UTC))
    assert w.is_active(datetime(2025, 4, 6, 0, 30, tzinfo=UTC))
    assert not w.is_active(datetime(2025, 4, 6, 1, 30, tzinfo=UTC))
    assert not w.is_active(datetime(2025, 4, 7, 0, 30, tzinfo=UTC))  # a Monday


@pytest.mark.parametrize("bad", [{"start": "25:00"}, {"duration": "0m"}, {"days": ["funday"]},
                                 {"timezone": "Mars/Olympus"}, {"duration": "9d"}])
def test_bad_recurrence_is_refused(bad: dict) -> None:
    from opsnb.errors import ValidationError

    args = {"start": "02:00", "duration": "1h", "days": ["sun"], "timezone": "UTC", **bad}
    with pytest.raises(ValidationError):
        make_recurrence(**args)


def test_replay_report_stages_are_monotone() -> None:
    stream = [ev(s, inst) for s in range(0, 3600, 60) for inst in ("a", "b", "c")]
    rep = replay(stream, P)
    assert rep.received == 180 and rep.unique_alerts == 3 and rep.after_dedup == 3
    assert rep.notifications == rep.after_grouping == 1
    assert rep.reduction_pct == pytest.approx(100 * (1 - 1 / 180), abs=0.1)
    assert "Alert fatigue" in rep._repr_html_()


def test_policy_from_settings_validates() -> None:
    from opsnb.config import Settings
    from opsnb.errors import ConfigError

    base = Settings.load("/nonexistent-ws", environ={})
    p = Policy.from_settings(base)
    assert p.group_by == ("alertname", "service") and p.group_wait == timedelta(seconds=30)
    for bad in ({"alerts_group_by": "service,bad-label"}, {"alerts_group_interval": 0},
                {"alerts_repeat_interval": -5}, {"alerts_group_wait": -1}):
        with pytest.raises(ConfigError):
            Policy.from_settings(Settings.load("/nonexistent-ws", environ={}, **bad))
