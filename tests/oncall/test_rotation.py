"""Wall-clock rotations, DST, layers and overrides: every worked example of the reference."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import numpy as np
import pandas as pd
import pytest

from opsnb.errors import ValidationError
from opsnb.oncall import rotation as rot
from opsnb.oncall.rotation import Layer, Override, ScheduleSpec, place, shifts, who, zone

NY = "America/New_York"


def z(s: str) -> datetime:
    return datetime.fromisoformat(s.replace("Z", "+00:00"))


def weekly(members: tuple[str, ...] = ("alice", "bob", "carol"), first: str = "2025-03-03T09:00",
           **kw: object) -> Layer:
    return Layer("weekly", members, datetime.fromisoformat(first), 7, **kw)  # type: ignore[arg-type]


REF = ScheduleSpec("primary", NY, (weekly(),))


@pytest.mark.parametrize("at,expected", [
    ("2025-03-03T13:59:59Z", None),
    ("2025-03-03T14:00:00Z", "alice"),
    ("2025-03-10T12:59:59Z", "alice"),
    ("2025-03-10T13:00:00Z", "bob"),  # Mon 09:00 EDT
])
def test_reference_example(at: str, expected: str | None) -> None:
    assert who(REF, at) == expected


def test_naive_fixed_week_would_be_wrong() -> None:
    # A fixed 604,800 s week from the first handoff still says alice at 13:00Z.
    naive_handoff = z("2025-03-03T14:00:00Z") + timedelta(seconds=604_800)
    assert z("2025-03-10T13:00:00Z") < naive_handoff
    assert who(REF, "2025-03-10T13:00:00Z") == "bob"


def test_weeks_across_dst_are_167_and_169_hours() -> None:
    df = shifts(REF, "2025-03-03T14:00Z", "2025-11-10T15:00Z")
    hours = dict(zip(df["start"].dt.strftime("%Y-%m-%d"), df["hours"], strict=True))
    assert hours["2025-03-03"] == 167.0  # spring forward inside the week
    assert hours["2025-10-27"] == 169.0  # fall back inside the week (starts 13:00Z EDT)
    assert hours["2025-03-10"] == 168.0
    # Every handoff is at 09:00 local.
    local = df["start"].dt.tz_convert(NY)
    assert set(local.dt.strftime("%a %H:%M")) == {"Mon 09:00"}


def test_gap_takes_offset_before_the_gap_and_fold_takes_first_occurrence() -> None:
    tz = zone(NY)
    assert place(datetime(2025, 3, 9, 2, 30), tz) == z("2025-03-09T07:30:00Z")
    assert place(datetime(2025, 11, 2, 1, 30), tz) == z("2025-11-02T05:30:00Z")
    gap = ScheduleSpec("g", NY, (Layer("d", ("a", "b"), datetime(2025, 3, 8, 2, 30), 1),))
    # Handoff 1 is 2025-03-09 02:30 local, which does not exist: 07:30Z.
    assert rot.handoff(gap.layers[0], NY, 1) == z("2025-03-09T07:30:00Z")
    assert who(gap, "2025-03-09T07:29:59Z") == "a" and who(gap, "2025-03-09T07:30:00Z") == "b"
    # The day after, wall-clock 02:30 EDT again: 06:30Z.
    assert rot.handoff(gap.layers[0], NY, 2) == z("2025-03-10T06:30:00Z")
    fold = ScheduleSpec("f", NY, (Layer("d", ("a", "b"), datetime(2025, 11, 1, 1, 30), 1),))
    assert rot.handoff(fold.layers[0], NY, 1) == z("2025-11-02T05:30:00Z")
    assert who(fold, "2025-11-02T05:30:00Z") == "b"


def test_daily_and_custom_periods() -> None:
    daily = ScheduleSpec("d", "Europe/Berlin", (Layer("d", ("a", "b", "c"), datetime(2025, 3, 28, 8), 1),))
    df = shifts(daily, "2025-03-28T07:00Z", "2025-04-01T06:00Z")
    assert df["person"].tolist() == ["a", "b", "c", "a"]
    assert df["start"].dt.tz_convert("Europe/Berlin").dt.hour.tolist() == [8, 8, 8, 8]
    assert df["hours"].tolist()[:3] == [24.0, 23.0, 24.0]  # Berlin springs forward on 2025-03-30
    assert rot.period_of("custom", "3d") == 3 and rot.period_of("custom", "2w") == 14
    assert rot.period_of("weekly", 2) == 14 and rot.period_of("daily", 1) == 1
    three = ScheduleSpec("c", "UTC", (Layer("c", ("x", "y"), datetime(2025, 1, 1), 3),))
    assert [who(three, f"2025-01-0{d}T12:00Z") for d in (1, 3, 4, 7)] == ["x", "x", "y", "x"]


def test_layers_overrides_and_fall_through() -> None:
    base = weekly()
    business = Layer("business", ("dave",), datetime(2025, 3, 3, 0, 0), 7, window=(time(9), time(17)))
    spec = ScheduleSpec("s", NY, (base, business))
    # Inside business hours (10:00 EST = 15:00Z), the higher layer wins.
    assert who(spec, "2025-03-04T15:00Z") == "dave"
    # Outside (20:00 EST = 01:00Z next day) its slot is empty and falls through.
    assert who(spec, "2025-03-05T01:00Z") == "alice"
    # An override beats the higher layer; a later override beats an earlier one.
    o1 = Override("erin", z("2025-03-04T14:00Z"), z("2025-03-04T18:00Z"), id=1)
    o2 = Override("frank", z("2025-03-04T16:00Z"), z("2025-03-04T17:00Z"), id=2)
    spec2 = ScheduleSpec("s", NY, (base, business), (o2, o1))
    assert [who(spec2, f"2025-03-04T{h}:30Z") for h in (14, 16, 17, 18)] == ["erin", "frank", "erin", "dave"]
    # An empty higher layer slot with a layer end falls through too.
    ended = Layer("temp", ("gina",), datetime(2025, 3, 3), 7, end=z("2025-03-05T00:00Z"))
    spec3 = ScheduleSpec("s", NY, (base, ended))
    assert who(spec3, "2025-03-04T20:00Z") == "gina" and who(spec3, "2025-03-05T20:00Z") == "alice"


def test_overrides_do_not_move_the_queue() -> None:
    cover = Override("zed", z("2025-03-03T14:00Z"), z("2025-03-10T13:00Z"), id=1)  # covers alice's whole week
    spec = ScheduleSpec("s", NY, (weekly(),), (cover,))
    assert who(spec, "2025-03-05T00:00Z") == "zed"
    assert who(spec, "2025-03-10T13:00Z") == "bob"  # bob's week as planned, not alice's
    df = shifts(spec, "2025-03-03", "2025-03-18")
    assert df[["person", "source"]].values.tolist() == [["zed", "override"], ["bob", "weekly"],
                                                        ["carol", "weekly"]]


def test_vectorised_equals_scalar() -> None:
    business = Layer("business", ("dave", "erin"), datetime(2025, 1, 6, 0, 0), 7, window=(time(22), time(6)))
    spec = ScheduleSpec("s", NY, (weekly(first="2025-01-06T09:00"), business),
                        (Override("o", z("2025-03-09T06:00Z"), z("2025-03-09T09:00Z"), 1),))
    rng = np.random.default_rng(7)
    t = pd.to_datetime(rng.integers(z("2025-01-01T00:00Z").timestamp(), z("2026-01-01T00:00Z").timestamp(), 400),
                       unit="s", utc=True)
    many = who(spec, pd.DatetimeIndex(t))
    assert isinstance(many, pd.Series) and len(many) == 400
    assert many.tolist() == [who(spec, ts.to_pydatetime()) for ts in t]
    assert set(many.dropna()) >= {"alice", "bob", "carol", "dave", "erin"}


def test_year_of_quarter_hours_is_fast_enough_to_be_vectorised() -> None:
    idx = pd.date_range("2025-01-01", periods=35_040, freq="15min", tz="UTC")
    out = who(REF, idx)
    assert len(out) == 35_040 and out.index.equals(idx)
    assert out.isna().sum() == (idx < z("2025-03-03T14:00Z")).sum()


def test_shift_edges() -> None:
    df = shifts(REF, "2025-03-01", "2025-03-20")
    assert df.iloc[0]["start"] == pd.Timestamp("2025-03-03T14:00Z")  # the gap before the first handoff has no row
    assert df.iloc[-1]["end"] == pd.Timestamp("2025-03-20T00:00Z")
    assert str(df["start"].dtype) == "datetime64[ns, UTC]"
    with pytest.raises(ValidationError):
        shifts(REF, "2025-03-20", "2025-03-01")
    empty = shifts(REF, "2025-01-01", "2025-01-02")
    assert empty.empty and list(empty.columns) == rot.SHIFT_COLUMNS


@pytest.mark.parametrize("bad", [
    {"members": ["a"], "first_handoff": "2025-03-03T09:00-05:00"},
    {"members": [], "first_handoff": "2025-03-03T09:00"},
    {"members": "alice", "first_handoff": "2025-03-03T09:00"},
    {"members": ["a"], "first_handoff": "next monday"},
    {"members": ["a"]},
    {"members": ["a"], "first_handoff": "2025-03-03T09:00", "rotation": "hourly"},
    {"members": ["a"], "first_handoff": "2025-03-03T09:00", "rotation": "custom", "every": "5y"},
    {"members": ["a"], "first_handoff": "2025-03-03T09:00", "every": 0},
    {"members": ["a"], "first_handoff": "2025-03-03T09:00", "window": ["25:00", "17:00"]},
    {"members": ["a\nb"], "first_handoff": "2025-03-03T09:00"},
    {"members": ["a"], "first_handoff": "2025-03-03T09:00", "colour": "red"},
])
def test_bad_layers(bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        rot.layer_from_dict(bad)


@pytest.mark.parametrize("name", ["Mars/Olympus", "", "../../etc/passwd", "x" * 100, "/etc/localtime"])
def test_bad_zones(name: str) -> None:
    with pytest.raises(ValidationError):
        zone(name)


def test_time_inputs() -> None:
    assert rot.to_utc("2025-03-03T09:00") == datetime(2025, 3, 3, 9, tzinfo=UTC)  # naive means UTC
    assert rot.to_utc("2025-03-03T09:00-05:00") == datetime(2025, 3, 3, 14, tzinfo=UTC)
    with pytest.raises(ValidationError):
        rot.to_utc("the day before")
    with pytest.raises(ValidationError):
        rot.as_instants(pd.DatetimeIndex([pd.NaT]))
    assert rot.first_weekday_handoff("monday 09:00", datetime(2025, 3, 5).date()) == datetime(2025, 3, 10, 9)
