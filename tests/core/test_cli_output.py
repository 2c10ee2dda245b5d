"""CLI output for people: rounded numbers, percentages, durations, lists, width, colour; JSON for scripts."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click
import pandas as pd
import pytest
from click.testing import CliRunner

from opsnb.cli import cli
from opsnb.cliutil import emit, emit_record, format_duration, format_option, records_of


@click.command()
@format_option
def _table(fmt: str) -> None:
    emit(pd.DataFrame({
        "name": ["checkout-availability", "auth-availability"],
        "status": ["breached", "ok"],
        "sli": [0.9986285700228776, 0.9958289885297185],
        "p99": [395.83299999999997, 12.0],
        "exhaustion_s": [150484.056, float("nan")],
        "services": [["checkout"], ["auth", "frontend"]],
        "at": [pd.Timestamp("2026-12-05T20:17:00Z"), pd.NaT],
        "events": [3836.0, 12435.0],
    }), fmt)


def _invoke(*args: str, env: dict[str, str] | None = None, cmd: Any = _table) -> str:
    out = CliRunner().invoke(cmd, list(args), env={"COLUMNS": "", "NO_COLOR": "", "FORCE_COLOR": "", **(env or {})})
    assert out.exit_code == 0, out.output
    return str(out.output)


def test_table_rounds_for_people_and_formats_by_column_name() -> None:
    text = _invoke()
    header, first, second = text.splitlines()
    assert header.split() == ["name", "status", "sli", "p99", "exhaustion_s", "services", "at", "events"]
    assert "99.863 %" in first and "0.998628" not in first  # a ratio column is a percentage, 5 digits
    assert "395.8" in first and "395.83299" not in first
    assert "1d 17h" in first and "150484" not in first  # seconds where a duration is meant
    assert "checkout" in first and "['checkout']" not in first
    assert "auth, frontend" in second
    assert "3836" in first and "3836.0" not in first
    assert "NaT" not in text and "nan" not in text


def test_json_keeps_full_precision_and_nulls() -> None:
    rows = json.loads(_invoke("--format", "json"))
    assert rows[0]["sli"] == 0.9986285700228776 and rows[0]["exhaustion_s"] == 150484.056
    assert rows[1]["exhaustion_s"] is None and rows[1]["at"] is None  # NaN and NaT become null
    assert rows[0]["at"] == "2026-12-05T20:17:00+00:00" and rows[1]["services"] == ["auth", "frontend"]


def test_records_of_nulls_every_missing_kind() -> None:
    recs = records_of([{"a": pd.NaT, "b": float("inf"), "c": math.nan, "d": timedelta(minutes=5),
                        "e": datetime(2026, 1, 1, tzinfo=UTC)}])
    assert recs == [{"a": None, "b": None, "c": None, "d": 300.0, "e": "2026-01-01T00:00:00+00:00"}]


def test_columns_option_chooses_and_orders_and_suggests() -> None:
    text = _invoke("--columns", "sli,name")
    assert text.splitlines()[0].split() == ["sli", "name"]
    assert json.loads(_invoke("--format", "json", "--columns", "name"))[1] == {"name": "auth-availability"}
    bad = CliRunner().invoke(_table, ["--columns", "nme"])
    assert bad.exit_code == 2 and "did you mean 'name'" in bad.output


def test_table_fits_the_terminal_width_and_says_what_it_hid() -> None:
    out = CliRunner().invoke(_table, [], env={"COLUMNS": "50"})
    lines = out.stdout.splitlines()
    assert max(len(ln) for ln in lines) <= 50
    assert lines[0].split()[:2] == ["name", "status"]  # the leftmost columns stay
    assert "more columns:" in out.stderr and "events" in out.stderr and "--columns" in out.stderr
    wide = CliRunner().invoke(_table, [])  # piped (not a terminal, no COLUMNS): nothing is hidden
    assert "events" in wide.stdout.splitlines()[0]


def test_colour_only_when_forced_or_a_terminal_and_never_with_no_color() -> None:
    assert "\x1b[" not in _invoke()  # CliRunner is not a terminal
    coloured = _invoke(env={"FORCE_COLOR": "1"})
    assert click.style("breached", fg="red", bold=True) in coloured and click.style("ok", fg="green") in coloured
    assert "\x1b[" not in _invoke(env={"FORCE_COLOR": "1", "NO_COLOR": "1"})
    assert "\x1b[" not in _invoke("--format", "json", env={"CLICOLOR_FORCE": "1"})


def test_one_wide_record_prints_as_lines() -> None:
    @click.command()
    def one() -> None:
        emit_record({"id": "INC-1", "services": ["checkout"], "budget_remaining": -0.4521452145214595,
                     "burn 1h": 14.4000001})

    text = _invoke(cmd=one)
    assert text.splitlines() == ["id                INC-1", "services          checkout",
                                 "budget_remaining  -45.215 %", "burn 1h           14.4"]


@pytest.mark.parametrize(("secs", "text"), [(150484.056, "1d 17h"), (330, "5m 30s"), (2.5, "2.5s"), (0.12, "120ms"),
                                            (-5860, "-1h 37m"), (3600, "1h"), (0, "0s"), (8 * 86400, "1w 1d")])
def test_format_duration(secs: float, text: str) -> None:
    assert format_duration(secs) == text


def test_real_commands_read_well(demo_workspace: Path) -> None:
    env = {"COLUMNS": "100", "NO_COLOR": "", "FORCE_COLOR": ""}
    status = CliRunner().invoke(cli, ["slo", "status", "--workspace", str(demo_workspace)], env=env)
    assert status.exit_code == 0, status.output
    assert max(len(ln) for ln in status.stdout.splitlines()) <= 100
    assert " %" in status.stdout and "0.99" not in status.stdout
    js = CliRunner().invoke(cli, ["slo", "report", "--workspace", str(demo_workspace), "--format", "json"], env=env)
    assert "NaN" not in js.stdout and "NaT" not in js.stdout and json.loads(js.stdout)
    rota = CliRunner().invoke(cli, ["oncall", "list", "--workspace", str(demo_workspace)], env=env)
    assert "alice, bob" in rota.stdout and "['" not in rota.stdout
