"""The one time grammar (opsnb.timeparse): round trips, refusals, the old parsers' meanings, the CLI's agreement."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from opsnb.cli import cli
from opsnb.errors import ValidationError
from opsnb.oncall.escalation import policy_duration, policy_from_dict
from opsnb.timeparse import (
    DURATION_FORMS,
    format_duration,
    is_naive,
    parse_duration,
    parse_instant,
    parse_range,
)

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
UNITS = {"w": timedelta(weeks=1), "d": timedelta(days=1), "h": timedelta(hours=1), "m": timedelta(minutes=1),
         "s": timedelta(seconds=1), "ms": timedelta(milliseconds=1), "us": timedelta(microseconds=1)}
durations = st.timedeltas(min_value=timedelta(microseconds=1), max_value=timedelta(days=365 * 200))


# ----------------------------------------------------------------------------- properties
@given(durations)
def test_an_exact_duration_reads_back_as_itself(td: timedelta) -> None:
    assert parse_duration(format_duration(td, exact=True)) == td


@given(durations)
def test_a_printed_duration_reads_back_within_its_rounding(td: timedelta) -> None:
    # what the CLI prints (two largest units) is itself valid input, off by less than the dropped units
    text = format_duration(td)
    back = parse_duration(text)
    assert abs(back - td) <= max(td * 0.05, timedelta(milliseconds=1)), (td, text, back)


@given(st.lists(st.tuples(st.integers(0, 10_000), st.sampled_from(sorted(UNITS))), min_size=1, max_size=5),
       st.sampled_from(["", " "]))
def test_parts_add_up(parts: list[tuple[int, str]], sep: str) -> None:
    text = sep.join(f"{n}{u}" for n, u in parts)
    expected = sum((n * UNITS[u] for n, u in parts), timedelta(0))
    if expected == timedelta(0):
        with pytest.raises(ValidationError, match="is zero"):
            parse_duration(text)
    else:
        assert parse_duration(text) == expected


@given(st.one_of(st.integers(-10**12, 10**12), st.floats(allow_nan=False, allow_infinity=False)))
def test_a_bare_number_is_never_a_duration(n: float) -> None:
    for value in (n, str(n), f" {n} ", f"+{n}" if n >= 0 else str(n)):
        with pytest.raises(ValidationError) as info:
            parse_duration(value, name="--every")
        assert "--every" in str(info.value) and DURATION_FORMS in str(info.value)


@given(st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30),
                    timezones=st.one_of(st.none(), st.timezones(), st.builds(
                        lambda m: timezone(timedelta(minutes=m)), st.integers(-14 * 60, 14 * 60)))))
def test_an_iso_time_reads_back_as_the_same_instant(t: datetime) -> None:
    expected = t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)
    text = t.isoformat()
    assert parse_instant(text) == expected
    assert is_naive(text) == (t.tzinfo is None or t.utcoffset() is None)


@settings(max_examples=50)
@given(durations.filter(lambda d: d < timedelta(days=365 * 100)))
def test_relative_instants_count_from_now(td: timedelta) -> None:
    text = format_duration(td, exact=True).replace(" ", "")
    assert parse_instant(f"-{text}", now=NOW) == NOW - td
    assert parse_instant(f"now-{text}", now=NOW) == NOW - td
    assert parse_instant(f"+{text}", now=NOW) == NOW + td
    assert parse_instant(text, now=NOW, ago=True) == NOW - td  # "--since 1h": an hour ago
    with pytest.raises(ValidationError, match="is a duration, not a time"):
        parse_instant(text, now=NOW)  # where an instant is meant, "1h" alone is ambiguous


# ------------------------------------------------------------ what the old parsers meant
@pytest.mark.parametrize("text, ago, expected", [
    # logs (opsnb.logs.query.parse_time)
    ("-1h", False, NOW - timedelta(hours=1)),
    ("now-90m", False, NOW - timedelta(minutes=90)),
    ("+1h30m", False, NOW + timedelta(minutes=90)),
    ("now", False, NOW),
    ("2026-03-01T10:00:00Z", False, datetime(2026, 3, 1, 10, tzinfo=UTC)),
    ("2026-03-01 10:00", False, datetime(2026, 3, 1, 10, tzinfo=UTC)),  # naive means UTC
    # patterns and traces (parse_when): a bare span before now
    ("2d", True, NOW - timedelta(days=2)),
    ("-90m", True, NOW - timedelta(minutes=90)),
    ("2026-01-01T10:00+02:00", False, datetime(2026, 1, 1, 8, tzinfo=UTC)),
    # alerts and incidents (--since 24h / 7d)
    ("24h", True, NOW - timedelta(hours=24)),
    ("7d", True, NOW - timedelta(days=7)),
    # new: midnight anchors
    ("today", False, datetime(2026, 3, 1, tzinfo=UTC)),
    ("yesterday", False, datetime(2026, 2, 28, tzinfo=UTC)),
    ("today+9h", False, datetime(2026, 3, 1, 9, tzinfo=UTC)),
])
def test_instants_keep_the_old_intended_meanings(text: str, ago: bool, expected: datetime) -> None:
    assert parse_instant(text, now=NOW, ago=ago) == expected


def test_values_already_typed_are_taken_as_given() -> None:
    assert parse_instant(datetime(2026, 3, 1, 11)) == datetime(2026, 3, 1, 11, tzinfo=UTC)
    assert parse_instant(pd.Timestamp("2026-03-01T11:00:00+01:00")) == datetime(2026, 3, 1, 10, tzinfo=UTC)
    assert parse_instant(date(2026, 3, 1)) == datetime(2026, 3, 1, tzinfo=UTC)
    assert parse_duration(pd.Timedelta("90s")) == timedelta(seconds=90)
    assert parse_duration("1.5h") == timedelta(minutes=90)
    assert parse_duration("10min") == timedelta(minutes=10)


@pytest.mark.parametrize("value, why", [
    ("last tuesday", "is not a time"), ("", "is not a time"), (None, "is not a time"),
    (1_700_000_000, "bare number"), ("1700000000", "bare number"),
    ("0000-01-01T00:00:00", "is not a time"), ("10000-01-01T00:00:00", "is not a time"),
    ("now-1x", "is not a time"), ("-99999999999d", "is not a time"), ("x" * 5000, "is not a time"),
])
def test_bad_instants_are_refused_naming_the_argument(value: object, why: str) -> None:
    with pytest.raises(ValidationError) as info:
        parse_instant(value, name="since", now=NOW)
    msg = str(info.value)
    assert why in msg and msg.startswith("since:") and "write one of:" in msg and len(msg) < 300


def test_durations_refuse_signs_zero_and_out_of_range() -> None:
    for bad in ("-5m", "0s", "1x", "5 parsecs", "99999999999999d"):
        with pytest.raises(ValidationError):
            parse_duration(bad)
    assert parse_duration("0s", allow_zero=True) == timedelta(0)
    with pytest.raises(ValidationError, match="longer than the limit of 1w"):
        parse_duration("8d", maximum=timedelta(weeks=1))


def test_ranges_are_half_open_and_never_empty() -> None:
    assert parse_range("1h", None, now=NOW) == (NOW - timedelta(hours=1), NOW)
    assert parse_range(None, "now", now=NOW, default_since="-24h") == (NOW - timedelta(days=1), NOW)
    with pytest.raises(ValidationError, match="the time range is empty"):
        parse_range("-1h", "-2h", now=NOW)
    with pytest.raises(ValidationError, match="start is required"):
        parse_range(None, None, names=("start", "end"))


def test_on_call_delays_take_days_and_refuse_bare_numbers() -> None:
    # on-call once read a bare 15 as 15 minutes (logs and alerts as 15 seconds) and refused 1d
    assert policy_duration("1d") == timedelta(days=1)
    assert policy_duration("1h30m") == timedelta(minutes=90)
    with pytest.raises(ValidationError, match="bare number"):
        policy_duration(15)
    with pytest.raises(ValidationError, match="level 1 delay"):
        policy_from_dict({"name": "p", "levels": [{"targets": [{"person": "a"}], "delay": 15}]})
    with pytest.raises(ValidationError, match="limit of 1w"):
        policy_duration("8d")


# ----------------------------------------------------------------------------------- the CLI
@pytest.fixture
def workspace(tmp_path: Path) -> str:
    return str(tmp_path / "ws")


@pytest.mark.parametrize("args", [
    ["logs", "query", "--since", "1h"],
    ["logs", "errors", "--since", "1h"],
    ["logs", "patterns", "--since", "1h"],
    ["traces", "find", "--since", "1h"],
    ["alerts", "list", "--since", "1h"],
    ["incident", "list", "--since", "1h"],
    ["deploys", "list", "--since", "1h"],
])
def test_every_since_flag_speaks_the_same_grammar(args: list[str], workspace: str) -> None:
    runner = CliRunner()
    ok = runner.invoke(cli, [*args, "--workspace", workspace, "--format", "json"])
    assert ok.exit_code == 0, ok.output + ok.stderr
    bad = runner.invoke(cli, [*args[:-1], "90", "--workspace", workspace])
    assert bad.exit_code == 2 and "bare number" in bad.stderr and "--since" in bad.stderr


def test_a_naive_time_is_read_as_utc_and_said_once(workspace: str) -> None:
    out = CliRunner().invoke(cli, ["logs", "query", "--since", "2026-03-01T10:00", "--until", "2026-03-01T11:00",
                                   "--workspace", workspace, "--format", "json"])
    assert out.exit_code == 0, out.stderr
    notes = [ln for ln in out.stderr.splitlines() if "read as UTC" in ln]
    assert notes == ["note: 2026-03-01T10:00 has no time zone; read as UTC"]
    zoned = CliRunner().invoke(cli, ["incident", "list", "--since", "2026-03-01T10:00Z", "--workspace", workspace])
    assert zoned.exit_code == 0 and "read as UTC" not in zoned.stderr


def test_duration_flags_refuse_bare_numbers(workspace: str) -> None:
    out = CliRunner().invoke(cli, ["oncall", "tick", "--every", "15", "--workspace", workspace])
    assert out.exit_code == 2 and "bare number" in out.stderr and "15s" not in out.stdout
