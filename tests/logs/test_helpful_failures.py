"""Log commands fail helpfully: unknown services get a did-you-mean, empty results say why,
``logs window --incident`` finds the moment itself."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from opsnb.cli import cli
from opsnb.errors import NotFound
from opsnb.logs.explain import check_services, known_services, why_empty
from opsnb.workbench import Workbench

LINES = "\n".join(json.dumps({"time": f"2025-03-03T12:0{i}:00Z", "level": "error" if i == 3 else "info",
                              "service": "checkout", "msg": f"request {i}"}) for i in range(6)) + "\n"


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_service_names_come_from_logs_deploys_and_incidents(ops: Workbench) -> None:
    check_services(ops, ["anything"])  # an empty workspace: nothing to check against
    ops.logs.ingest_bytes(LINES, format="jsonl")
    ops.deploys.create(service="payments", version="1.0.0")
    ops.incidents.create(title="slow", service="search")
    assert known_services(ops) == ["checkout", "payments", "search"]
    seen = ops.logs.services()
    assert seen["service"].tolist() == ["checkout"] and int(seen["events"].iloc[0]) == 6
    assert seen["last_seen"].iloc[0] == _utc("2025-03-03T12:05:00")
    check_services(ops, ["checkout", "payments"])
    with pytest.raises(NotFound, match=r"no service 'chekout' .*did you mean 'checkout'\?"):
        check_services(ops, ["chekout"])
    with pytest.raises(NotFound, match="services: checkout, payments, search"):
        check_services(ops, ["zzz"])


def test_empty_results_say_why(ops: Workbench) -> None:
    assert why_empty(ops, _utc("2025-03-03T12:00:00"), _utc("2025-03-03T13:00:00")) == (
        "(none: no log events at all)")
    ops.logs.ingest_bytes(LINES, format="jsonl")
    assert why_empty(ops, _utc("2025-03-04T00:00:00"), _utc("2025-03-04T01:00:00"), ["checkout"]) == (
        "(none: no events of checkout after 2025-03-03 12:05:00 UTC, the newest)")
    assert why_empty(ops, _utc("2025-03-02T00:00:00"), _utc("2025-03-02T01:00:00")) == (
        "(none: no events before 2025-03-03 12:00:00 UTC, the oldest)")
    assert "but none match the filters" in why_empty(ops, _utc("2025-03-03T12:00:00"),
                                                     _utc("2025-03-03T13:00:00"), filtered=True)


def test_cli_query_and_window(demo_workspace: Path) -> None:
    def run(*args: str) -> tuple[int, str, str]:
        res = CliRunner().invoke(cli, ["logs", *args, "--workspace", str(demo_workspace)])
        return res.exit_code, res.stdout, res.stderr + str(res.exception or "")  # OpsnbError: main() prints it

    code, out, err = run("query", "--since", "-1h", "--service", "chekout")
    assert code == 1 and "did you mean 'checkout'?" in err and out == ""
    code, out, _ = run("query", "--since", "2100-01-01T00:00Z", "--until", "2100-01-01T01:00Z",
                       "--service", "checkout")
    assert code == 0 and out.startswith("(none: no events of checkout after ") and out.rstrip().endswith("the newest)")
    code, out, _ = run("window", "--incident", "inc-1", "--format", "json")
    assert code == 0
    summary = json.loads(out)["summary"]
    assert summary["service"] == "checkout" and summary["errors"] > 0
    code, _, err = run("window")
    assert code == 2 and "--around TIME or --incident ID" in err
