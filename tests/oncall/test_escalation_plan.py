"""The pure escalation plan: level timing, repeats, acks, ack timeouts, late schedule resolution."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from opsnb.errors import ValidationError
from opsnb.oncall.escalation import plan, policy_duration, policy_from_dict

T0 = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)
POLICY = {"name": "default", "repeat": 1,
          "levels": [{"targets": [{"schedule": "primary"}], "delay": "10m"},
                     {"targets": [{"person": "carol"}, "person:dave"], "delay": "5m"}]}


def m(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def notified(df) -> list[tuple[float, str]]:  # type: ignore[no-untyped-def]
    rows = df[df["action"] == "notify"]
    return [((r.at - T0).total_seconds() / 60, r.target) for r in rows.itertuples()]


def test_levels_then_repeat_then_exhausted() -> None:
    df = plan(policy_from_dict(POLICY), T0)
    # Level 1 at 0, waits 10m; level 2 at 10, waits 5m; the chain runs 1 + repeat = 2 times.
    assert notified(df) == [(0, "primary"), (10, "carol"), (10, "dave"), (15, "primary"), (25, "carol"),
                            (25, "dave")]
    assert df["round"].dropna().tolist() == [1, 1, 1, 2, 2, 2]
    last = df.iloc[-1]
    assert last["action"] == "exhausted" and last["at"] == m(30)


def test_repeat_zero_runs_once() -> None:
    df = plan(policy_from_dict({**POLICY, "repeat": 0}), T0)
    assert len(df[df["action"] == "notify"]) == 3 and df.iloc[-1]["at"] == m(15)


def test_ack_cancels_everything_pending() -> None:
    df = plan(policy_from_dict(POLICY), T0, ack_at=m(12))
    assert notified(df) == [(0, "primary"), (10, "carol"), (10, "dave")]
    assert df["action"].tolist()[-1] == "ack" and "exhausted" not in df["action"].tolist()
    # A step due exactly at the ack is not sent.
    assert notified(plan(policy_from_dict(POLICY), T0, ack_at=m(10))) == [(0, "primary")]


def test_ack_timeout_retriggers_the_chain() -> None:
    spec = policy_from_dict({**POLICY, "repeat": 0, "ack_timeout": "30m"})
    df = plan(spec, T0, ack_at=m(5))
    assert df["action"].tolist() == ["notify", "ack", "retrigger", "notify", "notify", "notify", "exhausted"]
    assert df[df["action"] == "retrigger"]["at"].iloc[0] == m(35)
    assert notified(df)[1:] == [(35, "primary"), (45, "carol"), (45, "dave")]


def test_schedule_resolved_when_the_level_fires() -> None:
    handoff = m(12)

    def resolve(schedule: str, at: datetime) -> str:
        assert schedule == "primary"
        return "alice" if at < handoff else "bob"

    df = plan(policy_from_dict(POLICY), T0, resolve=resolve)
    prim = df[(df["action"] == "notify") & (df["target"] == "primary")]
    assert prim["person"].tolist() == ["alice", "bob"]  # round 2 fires after the handoff
    assert df[df["target"] == "carol"]["person"].tolist() == ["carol", "carol"]


@pytest.mark.parametrize("bad", [
    {"name": "p", "levels": []},
    {"name": "p", "levels": [{"targets": [], "delay": "5m"}]},
    {"name": "p", "levels": [{"targets": [{"team": "x"}], "delay": "5m"}]},
    {"name": "p", "levels": [{"targets": ["alice"], "delay": "soon"}]},
    {"name": "p", "levels": [{"targets": ["alice"], "delay": -5}]},
    {"name": "p", "levels": [{"targets": ["alice"], "delay": "5m"}], "repeat": 99},
    {"name": "p", "levels": [{"targets": ["alice"], "delay": 0}], "repeat": 3},  # tight loop
    {"name": "p", "levels": [{"targets": ["alice"], "delay": "5m", "extra": 1}]},
    {"name": "bad name", "levels": [{"targets": ["alice"], "delay": "5m"}]},
    {"name": "p", "levels": [{"targets": ["alice"], "delay": "5m"}], "ack_timeout": "forever"},
    ["not", "a", "mapping"],
])
def test_bad_policies(bad: object) -> None:
    with pytest.raises(ValidationError):
        policy_from_dict(bad)  # type: ignore[arg-type]


def test_durations_and_ack_before_trigger() -> None:
    assert policy_duration("1h30m") == timedelta(minutes=90)
    assert policy_duration("90s") == timedelta(seconds=90)
    with pytest.raises(ValidationError):
        plan(policy_from_dict(POLICY), T0, ack_at=m(-1))
