"""OpenSLO parsing: strict validation with file/field/fix in the message, lossless round trip, windows."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from opsnb.errors import ParseError, ValidationError
from opsnb.slo import demo
from opsnb.slo.spec import Duration, TimeWindow, load_paths, parse_text
from opsnb.workbench import Workbench

from .conftest import AVAILABILITY


def text(**kw: object) -> str:
    base = {"name": "checkout-availability", "service": "checkout", "target": 0.999, "window": "30d"}
    return AVAILABILITY.format(**{**base, **kw})


def test_valid_slo_parses_to_typed_objects(tmp_path: Path) -> None:
    p = tmp_path / "a.yaml"
    p.write_text(text())
    cat = load_paths([p])
    s = cat.slo("checkout-availability")
    assert s.target == 0.999 and s.service == "checkout" and s.method == "Occurrences"
    assert s.window.rolling and s.window.duration == Duration(30, "d")
    assert s.sli.kind == "ratio" and s.sli.good.type == "lake" and s.sli.good.spec["filter"] == "HttpStatus < 500"


def test_demo_files_round_trip_without_loss(tmp_path: Path) -> None:
    files = demo.write(tmp_path / "in", ("checkout", "search", "frontend"))
    cat = load_paths(files)
    assert {"checkout-availability", "checkout-latency", "checkout-availability-monthly", "search-latency",
            "frontend-availability-slices"} <= set(cat.names("SLO"))
    # export of each document, re-read, equals the original documents exactly
    for f in files:
        original = [d for d in yaml.safe_load_all(f.read_text())]
        again = [d.raw for d in parse_text(f.read_text(), str(f))]
        assert again == original
    monthly = cat.slo("checkout-availability-monthly")
    assert not monthly.window.rolling and monthly.window.tz == "Europe/Paris"
    wb = cat.policy("workbook")
    assert [t.name for t in wb.tiers] == ["page-1h", "page-6h", "ticket-1d", "ticket-3d"]
    assert wb.fractions == [0.02, 0.05, 0.1, 0.1]
    assert cat.budget_policies()[0].steps[0].remaining_below == 0.25


def test_minute_vs_month_gets_a_message_naming_file_field_and_fix(tmp_path: Path) -> None:
    p = tmp_path / "bad.yaml"
    p.write_text(text(window="1M"))
    with pytest.raises(ValidationError) as ei:
        load_paths([p])
    msg = str(ei.value)
    assert "bad.yaml" in msg and "timeWindow.duration" in msg and "1m is a minute, 1M a month" in msg
    assert "28d" in msg or "30d" in msg


@pytest.mark.parametrize("target", [1.5, 0, 1, -0.1, "high", 99.9])
def test_target_outside_zero_one(tmp_path: Path, target: object) -> None:
    p = tmp_path / "t.yaml"
    p.write_text(text(target=target))
    with pytest.raises(ValidationError) as ei:
        load_paths([p])
    assert "objectives[0].target" in str(ei.value) and "t.yaml" in str(ei.value)


def test_unknown_field_is_named_with_the_known_ones(tmp_path: Path) -> None:
    p = tmp_path / "u.yaml"
    p.write_text(text().replace("  budgetingMethod: Occurrences", "  budgetingMethod: Occurrences\n  budgetMethod: x"))
    with pytest.raises(ValidationError) as ei:
        load_paths([p])
    assert "spec.budgetMethod: unknown field" in str(ei.value) and "budgetingMethod" in str(ei.value)


def test_malformed_yaml_is_a_parse_error_with_the_line(tmp_path: Path) -> None:
    with pytest.raises(ParseError) as ei:
        parse_text("apiVersion: openslo/v1\nkind: SLO\nmetadata: {name: [x\n", "m.yaml")
    assert ei.value.source == "m.yaml" and ei.value.line is not None and "m.yaml:" in str(ei.value)


@pytest.mark.parametrize("doc,needle", [
    ("- just\n- a list\n", "expected a mapping"),
    ("apiVersion: openslo/v1\nkind: Nope\nmetadata: {name: a}\nspec: {}\n", "kind 'Nope'"),
    ("apiVersion: openslo/v2\nkind: Service\nmetadata: {name: a}\nspec: {}\n", "apiVersion"),
    ("apiVersion: openslo/v1\nkind: Service\nmetadata: {name: Bad_Name}\nspec: {}\n", "DNS label"),
    ("apiVersion: openslo/v1\nkind: Service\nspec: {}\n", "metadata: required"),
])
def test_hostile_documents(doc: str, needle: str) -> None:
    with pytest.raises(ValidationError) as ei:
        parse_text(doc, "h.yaml")
    assert needle in str(ei.value)


def test_window_shorter_than_the_evaluation_step(tmp_path: Path) -> None:
    p = tmp_path / "w.yaml"
    p.write_text(text(window="30s"))
    with pytest.raises(ValidationError, match="shorter than the evaluation step"):
        load_paths([p])
    p.write_text(text().replace("budgetingMethod: Occurrences", "budgetingMethod: Timeslices")
                 .replace("      target: 0.999", "      target: 0.999\n      timeSliceTarget: 0.9\n"
                          "      timeSliceWindow: 30s"))
    with pytest.raises(ValidationError, match="whole minutes"):
        load_paths([p])


def test_duplicate_names_across_files(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(text())
    (tmp_path / "b.yaml").write_text(text())
    with pytest.raises(ValidationError, match="already defined"):
        load_paths([tmp_path])


def test_alert_policy_with_two_conditions_points_to_the_extension(tmp_path: Path) -> None:
    cond = ("    - kind: AlertCondition\n      metadata: {name: c}\n      spec:\n        severity: page\n"
            "        condition: {kind: burnrate, op: gt, threshold: 14.4, lookbackWindow: 1h}\n")
    p = tmp_path / "p.yaml"
    p.write_text("apiVersion: openslo/v1\nkind: AlertPolicy\nmetadata: {name: two}\nspec:\n  conditions:\n"
                 + cond + cond)
    with pytest.raises(ValidationError, match="x-opsnb-multiwindow"):
        load_paths([p])


def test_single_condition_policy_and_condition_ref(tmp_path: Path) -> None:
    p = tmp_path / "p.yaml"
    p.write_text("apiVersion: openslo/v1\nkind: AlertCondition\nmetadata: {name: fast}\nspec:\n  severity: page\n"
                 "  condition: {kind: burnrate, op: gt, threshold: 14.4, lookbackWindow: 1h}\n---\n"
                 "apiVersion: openslo/v1\nkind: AlertPolicy\nmetadata: {name: pol}\nspec:\n"
                 "  conditions:\n    - conditionRef: fast\n")
    cat = load_paths([p])
    t = cat.policy("pol").tiers[0]
    assert (t.name, t.burn_rate, str(t.long), t.short) == ("fast", 14.4, "1h", None)


def test_calendar_month_in_a_time_zone_has_real_lengths() -> None:
    w = TimeWindow(Duration(1, "M"), False, datetime(2020, 1, 1), "Europe/Paris")
    lo, hi = w.bounds(datetime(2026, 11, 15, 12, tzinfo=UTC))
    assert lo == datetime(2026, 10, 31, 23, tzinfo=UTC) and hi == datetime(2026, 11, 30, 23, tzinfo=UTC)
    assert (hi - lo).days == 30
    lo, hi = w.bounds(datetime(2026, 10, 15, tzinfo=UTC))  # October has 31 days and loses an hour to DST
    assert (hi - lo).total_seconds() == 31 * 86400 + 3600
    lo, hi = w.bounds(datetime(2026, 2, 10, tzinfo=UTC))
    assert (hi - lo).days == 28
    # the instant of midnight belongs to the new month
    lo2, _ = w.bounds(datetime(2026, 10, 31, 23, tzinfo=UTC))
    assert lo2 == datetime(2026, 10, 31, 23, tzinfo=UTC)
    q = TimeWindow(Duration(1, "Q"), False, datetime(2020, 1, 1), "UTC")
    assert q.bounds(datetime(2026, 5, 5, tzinfo=UTC)) == (datetime(2026, 4, 1, tzinfo=UTC), datetime(2026, 7, 1, tzinfo=UTC))
    wk = TimeWindow(Duration(1, "w"), False, datetime(2026, 1, 5), "America/New_York")  # Mondays
    lo, hi = wk.bounds(datetime(2026, 11, 4, tzinfo=UTC))
    assert lo == datetime(2026, 11, 2, 5, tzinfo=UTC) and hi == datetime(2026, 11, 9, 5, tzinfo=UTC)


def test_calendar_window_checks(tmp_path: Path) -> None:
    body = text().replace("    - duration: 30d\n      isRolling: true",
                          "    - duration: 1M\n      isRolling: false\n      calendar:\n"
                          "        startTime: '2020-01-01 00:00:00'\n        timeZone: Mars/Olympus")
    p = tmp_path / "c.yaml"
    p.write_text(body)
    with pytest.raises(ValidationError, match="IANA"):
        load_paths([p])
    p.write_text(body.replace("Mars/Olympus", "Europe/Paris").replace("duration: 1M", "duration: 1m"))
    with pytest.raises(ValidationError, match="1m is a minute"):
        load_paths([p])


def test_threshold_sli_needs_op_and_value(tmp_path: Path) -> None:
    files = demo.write(tmp_path, ("search",))
    body = files[-1].read_text() if "search" in files[-1].name else (tmp_path / "search.yaml").read_text()
    (tmp_path / "search.yaml").write_text(body.replace("    op: lte\n", ""))
    with pytest.raises(ValidationError, match="op and value"):
        load_paths([tmp_path])


def test_inline_alert_policy_exports_with_its_slo(ops_sqlite) -> None:
    inline = ("  alertPolicies:\n    - kind: AlertPolicy\n      metadata: {name: inline-fast}\n      spec:\n"
              "        conditions:\n          - kind: AlertCondition\n            metadata: {name: fast}\n"
              "            spec:\n              severity: page\n              condition: {kind: burnrate, op: gt, "
              "threshold: 10, lookbackWindow: 1h}\n")
    ops_sqlite.slos.directory.mkdir(parents=True)
    (ops_sqlite.slos.directory / "s.yaml").write_text(text() + inline)
    slo = ops_sqlite.slos["checkout-availability"]
    assert slo.spec.alert_policies == ["inline-fast"] and slo.tiers()[0].burn_rate == 10
    docs = list(yaml.safe_load_all(ops_sqlite.slos.export("checkout-availability")))
    assert [d["kind"] for d in docs] == ["SLO"] and docs[0] == yaml.safe_load(text() + inline)


# ------------------------------------------------------------------ the specification's own shapes

OPENSLO = Path(__file__).parents[1] / "data" / "openslo"


def test_every_shape_of_the_specification_examples_is_accepted() -> None:
    docs = parse_text((OPENSLO / "spec-examples.yaml").read_text(), "spec-examples.yaml")
    kinds = [(d.kind, d.name) for d in docs]
    assert ("AlertNotificationTarget", "oncall-slack") in kinds and ("DataSource", "cloudwatch-production") in kinds
    listed = parse_text((OPENSLO / "list-of-objects.yaml").read_text(), "list-of-objects.yaml")
    assert [d.name for d in listed] == ["listed-service", "pager"]


def test_pre_v1_files_are_refused_with_the_fix_named() -> None:
    with pytest.raises(ValidationError, match=r"apiVersion 'openslo/v1alpha' is not supported.*oslo convert"):
        parse_text((OPENSLO / "v1alpha.yaml").read_text(), "v1alpha.yaml")


def test_unknown_sources_are_kept_reported_and_exported_unchanged(ops: Workbench, tmp_path: Path) -> None:
    src = tmp_path / "in"
    src.mkdir()
    (src / "spec-examples.yaml").write_text((OPENSLO / "spec-examples.yaml").read_text())
    loaded = ops.slos.load(src)
    assert sorted(loaded) == ["latency-cloudwatch", "web-availability"]
    assert any("no source registered for metricSource type 'CloudWatch'" in n for n in loaded.notes)
    status = ops.slos.status().set_index("name")
    assert status.loc["latency-cloudwatch", "status"] == "no source"
    assert status.loc["web-availability", "status"] == "error"  # prometheus without a URL: said, not raised
    assert "prometheus" in status.loc["web-availability", "note"]
    exported = list(yaml.safe_load_all(ops.slos.export("latency-cloudwatch")))
    original = {d["metadata"]["name"]: d for d in yaml.safe_load_all((OPENSLO / "spec-examples.yaml").read_text())}
    for d in exported:
        assert d == original[d["metadata"]["name"]]  # exactly as loaded, connectionDetails list included


def test_a_counter_query_without_a_range_is_evaluated_as_a_rate() -> None:
    from opsnb.slo.sources import PrometheusSource
    from opsnb.slo.spec import Catalog

    cat = Catalog()
    for d in parse_text((OPENSLO / "spec-examples.yaml").read_text(), "x.yaml"):
        cat.add(d)
    slo = cat.slo("web-availability")
    assert PrometheusSource().validate(slo) == []
    q = PrometheusSource.rate_query(slo, 'sum(http_requests{component="web"})')
    assert q == 'rate((sum(http_requests{component="web"}))[{{window}}:])'
    assert PrometheusSource.rate_query(slo, "sum(rate(x[{{window}}]))") == "sum(rate(x[{{window}}]))"


@pytest.mark.parametrize("text", ["100000000d", "11Y", "5000d", "999999999999999999999w"])
def test_durations_past_ten_years_are_refused_where_written(text: str) -> None:
    with pytest.raises(ValidationError, match="longer than 10 years"):
        Duration.parse(text, "timeWindow[0].duration")
    assert Duration.parse("10Y", "x").value == 10 and Duration.parse("3650d", "x").value == 3650
