"""Every file of ``data/`` loads, on a fresh workspace, through the commands and calls a user would type.

The README's "Bring your own system" section points at these files; if one of them stops loading (a
renamed field, a stricter validator), this fails before a reader finds out.
"""

from __future__ import annotations

import json
import shutil
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

import opsnb
from opsnb.cli import cli
from opsnb.config import SETTINGS
from opsnb.workbench import Workbench
from tests.alerts.factory import am_alert, am_body
from tests.hermetic import REPO

DATA = REPO / "data"


def opsnb_cli(ws: Path, *args: str) -> str:
    """Run ``opsnb ARGS --workspace WS`` in process; return its output, failing on a non-zero exit."""
    res = CliRunner().invoke(cli, [*args, "--workspace", str(ws)], catch_exceptions=False)
    assert res.exit_code == 0, f"opsnb {' '.join(args)}: {res.output}"
    return res.output


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    """A fresh workspace with the example opsnb.toml, whose first admin is the acting user (tester)."""
    ws = tmp_path / "ws"
    ws.mkdir()
    shutil.copy(DATA / "opsnb.toml", ws / "opsnb.toml")
    assert "tester is now admin" in opsnb_cli(ws, "user", "grant", "tester", "admin", "--reason", "first admin")
    return ws


@pytest.fixture
def ops(ws: Path) -> Iterator[Workbench]:
    wb = opsnb.connect(ws)
    yield wb
    wb.close()


def test_opsnb_toml_names_every_setting_and_holds_no_secret(ws: Path, ops: Workbench) -> None:
    text = (DATA / "opsnb.toml").read_text(encoding="utf-8")
    table = tomllib.loads(text)["opsnb"]
    # every setting is set or named in a comment (a new setting must be added to the example)
    missing = [s.name for s in SETTINGS if s.name not in text and s.env not in text]
    assert missing == []
    secrets = {s.name for s in SETTINGS if s.secret}
    assert secrets == {"database_url", "api_token", "github_webhook_secret", "gitlab_webhook_token"}
    assert not secrets & set(table)
    for s in secrets:  # referenced from the environment, in the comments
        assert f"OPSNB_{s.upper()}" in text
    assert "workspace" not in table  # the workspace is never chosen by the file inside it
    # the file is what a connect() on the workspace uses, value by value
    for name, value in table.items():
        assert ops.settings[name] == value, name
        assert ops.settings.source(name) == str(ws / "opsnb.toml"), name
    assert ops.settings.timezone == "Europe/Paris" and ops.settings.ssh_passphrase_env == "OPSNB_SSH_PASSPHRASE"
    shown = json.loads(opsnb_cli(ws, "config", "--format", "json"))
    assert {r["name"]: r["source"] for r in shown}["retention_days"] == str(ws / "opsnb.toml")


def test_ansible_inventories_ini_and_yaml(ws: Path, ops: Workbench) -> None:
    out = opsnb_cli(ws, "fleet", "import", "ansible", str(DATA / "inventory" / "hosts.ini"), "--format", "json")
    assert sorted(r["name"] for r in json.loads(out) if r["action"] == "created") == [
        "bastion.example.com", "db-1.example.com", "db-2.example.com", "web-1.example.com", "web-2.example.com",
        "web-3.example.com"]
    opsnb_cli(ws, "fleet", "import", "ansible", str(DATA / "inventory" / "hosts.yml"))
    web = {s.name: s for s in ops.fleet.select("group=web,env=prod")}
    assert sorted(web) == ["web-1.example.com", "web-2.example.com", "web-3.example.com"]
    w2 = web["web-2.example.com"]
    assert (w2.user, w2.port, w2.credential, w2.proxy_jump) == ("deploy", 22, "key:~/.ssh/deploy_ed25519",
                                                                 "bastion.example.com")
    assert w2.labels == {"env": "prod", "region": "eu-west-1", "role": "web", "groups": "prod,web"}
    assert [s.name for s in ops.fleet.select("role=db,tier=primary")] == ["db-1.example.com"]
    stg = {s.name: s for s in ops.fleet.select("env=staging")}
    assert sorted(stg) == ["stg-db-1.example.com", "stg-web-1.example.com", "stg-web-2.example.com"]
    assert stg["stg-db-1.example.com"].port == 2222 and stg["stg-web-2.example.com"].labels["canary"] == "true"
    assert ops.fleet.select("bastion.example.com")[0].labels == {}  # ungrouped, no prod vars


def test_openslo_files_and_the_sample_log(ws: Path, ops: Workbench) -> None:
    out = opsnb_cli(ws, "slo", "load", str(DATA / "slos"), "--reason", "our SLOs")
    assert out.split() == ["checkout-availability", "checkout-latency"]
    assert sorted((ws / "slos").glob("*.yaml")) == [ws / "slos" / f for f in (
        "alert-policies.yaml", "budget-policy.yaml", "checkout.yaml")]
    assert ops.slos.problems() == []
    listed = ops.slos.list().set_index("name")
    assert listed.loc["checkout-availability", "target"] == 0.995
    assert listed.loc["checkout-latency", "sli"] == "threshold"
    assert set(listed["alert_policies"]) == {"workbook"}
    cat = ops.slos.catalog()
    assert cat.names("ErrorBudgetPolicy") == ["default"] and cat.names("AlertPolicy") == ["workbook"]
    # the sample log feeds them: 120 checkout requests, 6 of them 502s between 13:10 and 13:13 UTC
    out = opsnb_cli(ws, "logs", "ingest", str(DATA / "logs" / "checkout.jsonl"))
    assert "stored 120, quarantined 0" in out
    rep = ops.slos["checkout-availability"].report(at="2026-11-30T14:00Z")
    assert (rep.events_total, rep.events_bad) == (120, 6) and rep.sli == pytest.approx(0.95)
    assert rep.budget_remaining < 0 and rep.status == "breached"
    lat = ops.slos["checkout-latency"].report(at="2026-11-30T14:00Z")
    assert lat.events_bad == 6  # the 502s took over 2 s, every other request under 200 ms


def test_oncall_schedule_and_escalation_policy(ws: Path, ops: Workbench) -> None:
    out = opsnb_cli(ws, "oncall", "import", str(DATA / "oncall.yaml"), "--format", "json")
    made = {r["kind"]: r["created"] for r in json.loads(out)}
    assert made == {"people": "alice, bob, carol, dave", "schedules": "primary, secondary",
                    "escalation_policies": "default"}
    who = ops.oncall.who_is_on_call
    assert who("primary", "2026-11-04T03:00Z") == "alice"      # night: the weekly layer, week 1
    assert who("primary", "2026-11-10T03:00Z") == "bob"        # week 2
    assert who("primary", "2026-11-02T10:00Z") == "carol"      # office hours (11:00 Paris): the daily layer
    assert who("primary", "2026-11-03T10:00Z") == "dave"
    assert who("primary", "2026-12-24T12:00Z") == "dave"       # the override
    assert who("secondary", "2026-11-04T03:00Z") == "bob"
    plan = ops.oncall.plan("default", "2026-11-04T03:00Z")
    notify = plan[plan["action"] == "notify"]
    assert notify["person"].tolist()[:3] == ["alice", "bob", "alice"]
    assert (notify["at"].iloc[1] - notify["at"].iloc[0]).total_seconds() == 600  # level 2 after 10 minutes
    assert plan["action"].iloc[-1] == "exhausted" and notify["round"].max() == 2  # repeat: 1


def test_alert_and_incident_rules(ws: Path, ops: Workbench) -> None:
    opsnb_cli(ws, "oncall", "import", str(DATA / "oncall.yaml"))  # incident rules page its policy
    rules = yaml.safe_load((DATA / "alert-rules.yaml").read_text(encoding="utf-8"))
    assert set(rules) == {"incident_rules", "inhibit_rules", "maintenance_windows"}
    for r in rules["incident_rules"]:
        ops.alerts.create_incident_rule(**r)
    for r in rules["inhibit_rules"]:
        ops.alerts.create_inhibit_rule(**r)
    for r in rules["maintenance_windows"]:
        ops.alerts.create_maintenance(**r)
    listed = json.loads(opsnb_cli(ws, "alerts", "incident-rules", "--format", "json"))
    assert [(r["name"], r["severity"], r["policy"]) for r in listed] == [
        ("critical-pages", "SEV2", "default"), ("slo-fast-burn", "SEV2", "default"),
        ("warnings-record-only", "SEV4", None)]
    assert listed[1]["matchers"] == 'alertname="SLOBurnRate",tier=~"page-.*"'
    win = ops.alerts.list_silences()
    assert win["kind"].tolist() == ["maintenance"] and win["matchers"].tolist() == ['service="search"']
    assert win["recurrence"].iloc[0] == {"start": "02:00", "duration_s": 3600, "days": ["sun"],
                                         "timezone": "Europe/Paris"}
    # the rules act: a critical alert opens a SEV2 incident paged under the imported policy
    labels = {"alertname": "ServiceDown", "service": "checkout", "severity": "critical"}
    ops.alerts.ingest_alertmanager(am_body([am_alert(labels, summary="checkout is down")]))
    ops.alerts.tick()
    incs = ops.incidents.list()
    assert len(incs) == 1 and incs["severity"].iloc[0] == "SEV2"


def test_the_example_alertmanager_webhook(ws: Path, ops: Workbench) -> None:
    out = opsnb_cli(ws, "alerts", "ingest", "--source", "alertmanager", str(DATA / "alertmanager-webhook.json"))
    assert out.strip()
    alerts = ops.alerts.list()
    assert sorted(alerts["alertname"]) == ["HighErrorRate", "HighLatency"]
    assert set(alerts["service"]) == {"checkout"} and set(alerts["status"]) == {"firing"}
