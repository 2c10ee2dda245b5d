"""Sloth ``prometheus/v1`` specs imported as opsnb SLOs, from Sloth's own examples (tests/data/sloth).

The last test evaluates an imported Sloth spec (events and raw SLIs) against a real Prometheus.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from opsnb.cli import cli
from opsnb.errors import ValidationError
from opsnb.slo import sloth
from opsnb.slo.sources import PrometheusSource
from tests.conftest import make_ops
from tests.slo.test_prometheus import BAD_PER_S, GOOD_PER_S, at_next_minute, prometheus  # noqa: F401

DATA = Path(__file__).resolve().parents[1] / "data" / "sloth"


def docs_of(conv: sloth.Conversion, kind: str) -> dict[str, dict]:
    return {d["metadata"]["name"]: d for d in conv.docs if d["kind"] == kind}


def test_every_published_example_imports(ops) -> None:
    got = {}
    for f in sorted(DATA.glob("*.yml")):
        if f.name == "plugin-getting-started.yml":  # the same SLO as getting-started: imported apart below
            continue
        got[f.name] = list(ops.slos.import_file(f, reason="from Sloth"))
    assert got == {
        "getting-started.yml": ["myservice-requests-availability"],
        "home-wifi.yml": ["home-wifi-good-wifi-client-satisfaction", "home-wifi-risk-wifi-client-satisfaction"],
        "no-alerts.yml": ["myapp-http-availability"],
        "raw-home-wifi.yml": ["home-wifi-wifi-client-satisfaction"],
    }
    listed = ops.slos.list().set_index("name")
    assert set(listed["source"]) == {"prometheus"}
    assert listed.loc["home-wifi-risk-wifi-client-satisfaction", "target"] == pytest.approx(0.999)
    assert listed.loc["myapp-http-availability", "target"] == pytest.approx(0.9999)
    assert listed.loc["myservice-requests-availability", "window"] == "30d rolling"
    assert sorted(p.name for p in ops.slos.directory.iterdir()) == [
        "sloth-getting-started.yaml", "sloth-home-wifi.yaml", "sloth-no-alerts.yaml", "sloth-raw-home-wifi.yaml"]
    audit = ops.audit.list(action="slo.load")
    assert len(audit) == 4 and set(audit["reason"]) == {"from Sloth"}
    # importing again replaces the converted file instead of clashing with itself
    assert list(ops.slos.import_file(DATA / "home-wifi.yml")) == [
        "home-wifi-good-wifi-client-satisfaction", "home-wifi-risk-wifi-client-satisfaction"]


def test_getting_started_maps_objective_queries_labels_and_alerts() -> None:
    conv = sloth.convert_file(DATA / "getting-started.yml")
    slo = docs_of(conv, "SLO")["myservice-requests-availability"]
    assert slo["metadata"]["labels"] == {"owner": "myteam", "repo": "myorg/myservice", "tier": "2"}
    assert slo["spec"]["objectives"] == [{"displayName": "99.9 %", "target": 0.999}]
    ratio = slo["spec"]["indicator"]["spec"]["ratioMetric"]
    bad = ratio["bad"]["metricSource"]["spec"]["query"]
    assert bad == 'sum(rate(http_request_duration_seconds_count{job="myservice",code=~"(5..|429)"}[{{window}}]))'
    assert ratio["total"]["metricSource"]["type"] == "prometheus" and "{{.window}}" not in str(ratio)
    policy = docs_of(conv, "AlertPolicy")["myservice-requests-availability-alerts"]
    tiers = policy["spec"]["x-opsnb-multiwindow"]["tiers"]
    assert [(t["severity"], t["longWindow"], t["shortWindow"], t["burnRate"]) for t in tiers] == [
        ("page", "1h", "5m", 14.4), ("page", "6h", "30m", 6.0), ("ticket", "1d", "2h", 3.0), ("ticket", "3d", "6h", 1.0)]
    ann = policy["metadata"]["annotations"]
    assert policy["metadata"]["displayName"] == "MyServiceHighErrorRate"
    assert ann["sloth.slok.dev/page_alert.for"] == "5m" and ann["sloth.slok.dev/ticket_alert.labels.slack_channel"] == "#alerts-myteam"
    notes = " ".join(conv.notes)
    assert "slo_plugins (sloth.dev/contrib/alert_for/v1) not represented" in notes and "'for'" in notes
    # the rate query is evaluated as written, at window=1m
    assert PrometheusSource.rate_query(None, bad) == bad  # type: ignore[arg-type]


def test_raw_sli_weighs_each_minute_once() -> None:
    conv = sloth.convert_file(DATA / "raw-home-wifi.yml")
    ratio = docs_of(conv, "SLO")["home-wifi-wifi-client-satisfaction"]["spec"]["indicator"]["spec"]["ratioMetric"]
    bad, total = (ratio[k]["metricSource"]["spec"]["query"] for k in ("bad", "total"))
    assert bad.startswith("(1 - (") and "[{{window}}]" in bad and total == bad + " * 0 + 1"


def test_plugin_sli_is_kept_and_reported_not_evaluated(ops_sqlite) -> None:
    loaded = ops_sqlite.slos.import_file(DATA / "plugin-getting-started.yml")
    assert list(loaded) == ["myservice-requests-availability"]
    notes = " ".join(loaded.notes)
    assert "SLI plugin 'getting_started_availability' cannot be represented" in notes
    assert "no source registered for type 'sloth-plugin'" in notes or "sloth-plugin" in notes
    assert ops_sqlite.slos.list().set_index("name").loc["myservice-requests-availability", "source"] \
        == "sloth-plugin (no source)"
    status = ops_sqlite.slos.status().set_index("name")
    assert status.loc["myservice-requests-availability", "status"] == "no source"
    exported = list(yaml.safe_load_all(ops_sqlite.slos.export("myservice-requests-availability")))
    src = next(d for d in exported if d["kind"] == "SLO")["spec"]["indicator"]["spec"]["ratioMetric"]["total"]
    assert src["metricSource"] == {"type": "sloth-plugin", "spec": {"id": "getting_started_availability",
                                                                    "options": {"job": "myservice"}, "part": "total"}}


def test_both_alerts_disabled_means_nothing_alerts(ops_sqlite) -> None:
    ops_sqlite.slos.import_file(DATA / "no-alerts.yml")
    assert ops_sqlite.slos["myapp-http-availability"].policy().tiers == []


def test_kubernetes_resource_and_several_documents() -> None:
    text = """\
apiVersion: sloth.slok.dev/v1
kind: PrometheusServiceLevel
metadata: {name: svc}
spec:
  service: "Cart API"
  slos:
    - name: "Requests_OK"
      objective: 99.5
      sli: {events: {errorQuery: 'sum(rate(e[{{.window}}]))', totalQuery: 'sum(rate(t[{{.window}}]))'}}
      alerting: {name: A, pageAlert: {disable: true}}
---
version: "prometheus/v1"
service: "cart-api"
slos:
  - name: latency
    objective: 99
    sli: {events: {error_query: 'sum(rate(s[{{ .window }}]))', total_query: 'sum(rate(t[{{.window}}]))'}}
"""
    conv = sloth.convert(text, source="k8s.yml")
    assert conv.slos == ["cart-api-requests-ok", "cart-api-latency"]
    assert [d["metadata"]["name"] for d in conv.docs if d["kind"] == "Service"] == ["cart-api"]
    first = docs_of(conv, "AlertPolicy")["cart-api-requests-ok-alerts"]["spec"]["x-opsnb-multiwindow"]["tiers"]
    assert {t["severity"] for t in first} == {"ticket"}
    assert "named 'cart-api-requests-ok'" in " ".join(conv.notes)
    assert docs_of(conv, "SLO")["cart-api-latency"]["spec"]["indicator"]["spec"]["ratioMetric"]["bad"][
        "metricSource"]["spec"]["query"] == "sum(rate(s[{{window}}]))"


@pytest.mark.parametrize(("text", "match"), [
    ('version: "prometheus/v2"\nservice: a\nslos: []\n', "version 'prometheus/v2' is not supported"),
    ('version: "prometheus/v1"\nservice: a\nslos:\n  - {name: x, objective: 150, sli: {events: '
     '{error_query: "e[{{.window}}]", total_query: "t[{{.window}}]"}}}\n', r"objective: expected a percentage"),
    ('version: "prometheus/v1"\nservice: a\nslos:\n  - {name: x, objective: 99, sli: {events: '
     '{error_query: "sum(rate(e[5m]))", total_query: "t[{{.window}}]"}}}\n', r"error_query: a Sloth query needs"),
    ('version: "prometheus/v1"\nservice: a\nslos:\n  - {name: x, objective: 99, sli: {}}\n',
     "give exactly one of events, raw or plugin"),
    ('version: "prometheus/v1"\nslos: []\n', "service: required"),
])
def test_bad_specs_are_refused_naming_the_field_and_nothing_is_written(ops_sqlite, tmp_path: Path, text: str,
                                                                       match: str) -> None:
    f = tmp_path / "bad.yml"
    f.write_text(text)
    with pytest.raises(ValidationError, match=match) as err:
        ops_sqlite.slos.import_file(f)
    assert "bad.yml" in str(err.value)
    assert not ops_sqlite.slos.directory.exists() or not any(ops_sqlite.slos.directory.iterdir())


def test_cli_import_sloth_and_openslo(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    make_ops(ws).close()
    r = CliRunner().invoke(cli, ["--workspace", str(ws), "slo", "import", str(DATA / "getting-started.yml")])
    assert r.exit_code == 0, r.output
    assert r.stdout.strip() == "myservice-requests-availability" and "note: " in r.stderr
    openslo = Path(__file__).resolve().parents[1] / "data" / "openslo" / "spec-examples.yaml"
    r = CliRunner().invoke(cli, ["--workspace", str(ws), "slo", "import", str(openslo)])
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(cli, ["--workspace", str(ws), "slo", "import", str(tmp_path / "missing.yml")])
    assert r.exit_code != 0 and "missing.yml" in r.output and "Traceback" not in r.output


@pytest.mark.prometheus
def test_imported_sloth_spec_evaluates_against_prometheus(tmp_path: Path, prometheus: dict) -> None:  # noqa: F811
    spec = tmp_path / "api.yml"
    spec.write_text("""\
version: "prometheus/v1"
service: "api"
slos:
  - name: "availability"
    objective: 99
    sli:
      events:
        error_query: sum(rate(demo_requests_total{code=~"5.."}[{{.window}}]))
        total_query: sum(rate(demo_requests_total[{{.window}}]))
    alerting: {name: ApiErrors}
  - name: "availability-raw"
    objective: 99
    sli:
      raw:
        errorRatioQuery: |
          sum(rate(demo_requests_total{code=~"5.."}[{{.window}}]))
          /
          sum(rate(demo_requests_total[{{.window}}]))
    alerting: {name: ApiErrorsRaw}
""")
    ops = make_ops(tmp_path / "ws", prometheus_url=str(prometheus["url"]))
    try:
        assert list(ops.slos.import_file(spec)) == ["api-availability", "api-availability-raw"]
        at = at_next_minute()
        events = ops.slos["api-availability"].report(at=at)
        assert events.sli == pytest.approx(GOOD_PER_S / (GOOD_PER_S + BAD_PER_S), rel=1e-6)
        raw = ops.slos["api-availability-raw"].report(at=at)
        assert raw.sli == pytest.approx(GOOD_PER_S / (GOOD_PER_S + BAD_PER_S), rel=1e-6)
    finally:
        ops.close()
