"""SLIs from a real Prometheus (Debian's), scraping counters this test serves; rules checked by promtool
and loaded by the same Prometheus."""

from __future__ import annotations

import http.server
import json
import math
import socket
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from opsnb.errors import ConnectError, ValidationError
from opsnb.slo import policy as pol
from tests.conftest import make_ops, need_program

pytestmark = [pytest.mark.prometheus]

GOOD_PER_S, BAD_PER_S = 100, 1


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Metrics(http.server.BaseHTTPRequestHandler):
    t0 = time.time()

    def do_GET(self) -> None:  # noqa: N802 - http.server API
        t = time.time() - self.t0  # both counters from one instant: their ratio is exact
        body = ("# TYPE demo_requests_total counter\n"
                f'demo_requests_total{{code="200"}} {GOOD_PER_S * t:.6f}\n'
                f'demo_requests_total{{code="500"}} {BAD_PER_S * t:.6f}\n').encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        return


SLO = """\
apiVersion: openslo/v1
kind: DataSource
metadata: {{name: prom}}
spec:
  type: prometheus
  connectionDetails: {{url: "{url}"}}
---
apiVersion: openslo/v1
kind: SLO
metadata: {{name: api-availability}}
spec:
  service: api
  indicator:
    metadata: {{name: api-ok}}
    spec:
      ratioMetric:
        counter: true
        good:
          metricSource:
            metricSourceRef: prom
            spec: {{query: 'sum(rate(demo_requests_total{{code!~"5.."}}[{{{{window}}}}]))'}}
        total:
          metricSource:
            metricSourceRef: prom
            spec: {{query: 'sum(rate(demo_requests_total[{{{{window}}}}]))'}}
  timeWindow: [{{duration: 1h, isRolling: true}}]
  budgetingMethod: Occurrences
  objectives: [{{target: 0.99}}]
---
apiVersion: openslo/v1
kind: SLO
metadata: {{name: api-nothing}}
spec:
  service: api
  indicator:
    metadata: {{name: nothing}}
    spec:
      ratioMetric:
        good:
          metricSource: {{metricSourceRef: prom, spec: {{query: 'sum(rate(no_such_metric_total[{{{{window}}}}]))'}}}}
        total:
          metricSource: {{metricSourceRef: prom, spec: {{query: 'sum(rate(no_such_metric_total[{{{{window}}}}]))'}}}}
  timeWindow: [{{duration: 1h, isRolling: true}}]
  budgetingMethod: Occurrences
  objectives: [{{target: 0.99}}]
"""


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, object]]:
    binary = need_program("/usr/bin/prometheus")
    base = tmp_path_factory.mktemp("prom")
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Metrics)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    port = free_port()
    rules = base / "rules.yml"
    rules.write_text("groups: []\n")
    cfg = base / "prometheus.yml"
    cfg.write_text(yaml.safe_dump({
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(rules)],
        "scrape_configs": [{"job_name": "demo", "static_configs": [{"targets": [f"127.0.0.1:{srv.server_port}"]}]}],
    }))
    proc = subprocess.Popen([binary, f"--config.file={cfg}", f"--storage.tsdb.path={base / 'data'}",
                             f"--web.listen-address=127.0.0.1:{port}", "--web.enable-lifecycle"],
                            stdout=subprocess.DEVNULL, stderr=(base / "prom.log").open("w"))
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 60
        while True:  # ready, and at least 4 scrapes of our counters stored
            try:
                q = urllib.request.urlopen(f"{url}/api/v1/query?query=count_over_time(demo_requests_total[1m])",
                                           timeout=2)
                res = json.loads(q.read())["data"]["result"]
                if res and float(res[0]["value"][1]) >= 4:
                    break
            except OSError:
                pass
            if time.time() > deadline or proc.poll() is not None:
                pytest.fail("prometheus did not start: " + (base / "prom.log").read_text()[-2000:])
            time.sleep(0.5)
        yield {"url": url, "rules": rules, "base": base}
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        srv.shutdown()


@pytest.fixture
def prom_ops(tmp_path: Path, prometheus: dict[str, object]):
    ops = make_ops(tmp_path / "ws")
    ops.slos.directory.mkdir(parents=True)
    (ops.slos.directory / "api.yaml").write_text(SLO.format(url=prometheus["url"]))
    yield ops
    ops.close()


def at_next_minute() -> datetime:
    return datetime.fromtimestamp(math.ceil(time.time() / 60) * 60, UTC)


def test_report_from_prometheus_ranges(prom_ops) -> None:
    r = prom_ops.slos["api-availability"].report(at=at_next_minute())
    assert r.events_total > 0
    assert r.sli == pytest.approx(GOOD_PER_S / (GOOD_PER_S + BAD_PER_S), rel=1e-6)
    assert r.burn_rates["window (1h)"] == pytest.approx((1 / 101) / 0.01, rel=1e-6)
    # per-minute totals are rates x 60: about 101 events a second while scraped
    assert r.events_total / r.events_good == pytest.approx(101 / 100, rel=1e-6)
    assert prom_ops.slos.list().set_index("name").loc["api-availability", "source"] == "prometheus"


def test_query_that_returns_nothing_is_no_data(prom_ops) -> None:
    r = prom_ops.slos["api-nothing"].report(at=at_next_minute())
    assert r.status == "no data" and r.sli is None


def test_bad_queries_and_unreachable_servers(prom_ops, prometheus) -> None:
    p = prom_ops.slos.directory / "api.yaml"
    p.write_text(SLO.format(url=prometheus["url"]).replace("sum(rate(demo_requests_total[", "sum(rate(demo_requests_total{[", 1))
    with pytest.raises(ValidationError, match="prometheus rejected"):
        prom_ops.slos["api-availability"].report(at=at_next_minute())
    p.write_text(SLO.format(url=f"http://127.0.0.1:{free_port()}"))
    with pytest.raises(ConnectError, match="cannot reach prometheus"):
        prom_ops.slos["api-availability"].report(at=at_next_minute())
    p.write_text(SLO.format(url="file:///etc/passwd"))
    with pytest.raises(ValidationError, match="http"):
        prom_ops.slos["api-availability"].report(at=at_next_minute())


def test_rules_pass_promtool_and_load_in_prometheus(prom_ops, prometheus, tmp_path: Path) -> None:
    promtool = need_program("/usr/bin/promtool")
    slo = prom_ops.slos["api-availability"]
    text = slo.rules(pol.workbook())
    doc = yaml.safe_load(text)
    records = [r["record"] for r in doc["groups"][0]["rules"] if "record" in r]
    alerts = [r for r in doc["groups"][0]["rules"] if "alert" in r]
    assert records == ["slo:sli_error:ratio_rate1h", "slo:sli_error:ratio_rate5m", "slo:sli_error:ratio_rate6h",
                       "slo:sli_error:ratio_rate30m", "slo:sli_error:ratio_rate1d", "slo:sli_error:ratio_rate2h",
                       "slo:sli_error:ratio_rate3d"]
    assert [a["labels"]["tier"] for a in alerts] == ["page-1h", "page-6h", "ticket-1d", "ticket-3d"]
    # a 1 h SLO period: 2 % of it in 1 h is a burn rate of 0.02
    assert "(0.02 * 0.010000000000000009)" in alerts[0]["expr"]
    f = tmp_path / "slo.rules.yml"
    f.write_text(text)
    out = subprocess.run([promtool, "check", "rules", str(f)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "SUCCESS: 11 rules found" in out.stdout + out.stderr
    single = slo.rules(pol.single_window("1h", burn_rate=14.4))
    f.write_text(single)
    assert subprocess.run([promtool, "check", "rules", str(f)], capture_output=True, timeout=60).returncode == 0
    # the real server loads them and evaluates the recording rule to the true error ratio
    Path(str(prometheus["rules"])).write_text(text)
    urllib.request.urlopen(urllib.request.Request(f"{prometheus['url']}/-/reload", method="POST"), timeout=10)
    deadline = time.time() + 30
    while True:
        data = json.loads(urllib.request.urlopen(
            f"{prometheus['url']}/api/v1/query?query=slo:sli_error:ratio_rate5m", timeout=5).read())["data"]["result"]
        if data:
            break
        assert time.time() < deadline, "recording rule never evaluated"
        time.sleep(0.5)
    assert float(data[0]["value"][1]) == pytest.approx(1 / 101, rel=1e-6)
    assert data[0]["metric"]["slo"] == "api-availability"
    groups = json.loads(urllib.request.urlopen(f"{prometheus['url']}/api/v1/rules", timeout=5).read())["data"]["groups"]
    assert {r["health"] for g in groups for r in g["rules"]} <= {"ok", "unknown"}
    Path(str(prometheus["rules"])).write_text("groups: []\n")


def test_lake_slos_cannot_export_rules(ops_sqlite, slo_file) -> None:
    slo_file(ops_sqlite.slos.directory)
    with pytest.raises(ValidationError, match="Prometheus rules need"):
        ops_sqlite.slos["checkout-availability"].rules()
