"""Incident ids are case-insensitive everywhere; the timeline's "what" reads as a sentence, linked in HTML."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from opsnb.cli import cli
from opsnb.errors import NotFound
from opsnb.incidents.service import normalise_id

T0 = datetime(2025, 3, 3, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(("given", "stored"), [("inc-7", "INC-7"), (" INC-7 ", "INC-7"), ("7", "INC-7"),
                                               ("Inc-12", "INC-12"), ("ext-7", "ext-7")])
def test_normalise_id(given: str, stored: str) -> None:
    assert normalise_id(given) == stored


def test_lower_case_ids_find_and_change_the_incident(ops) -> None:
    inc = ops.incidents.create(title="Checkout 5xx", service="checkout", severity="SEV2", impact_start=T0)
    assert inc.id == "INC-1"
    assert ops.incidents.get("inc-1").id == "INC-1" and ops.incidents.get("1").id == "INC-1"
    ops.incidents.add_note("inc-1", "looking")
    ops.incidents.add_timeline("inc-1", kind="runbook_run", data={"run_id": "42", "runbook": "restart",
                                                                   "status": "succeeded"})
    ops.incidents.link("inc-1", slo="checkout-availability")
    ops.incidents.update("inc-1", status="acknowledged")
    tl = ops.incidents.timeline("inc-1")
    assert {"note", "runbook_run", "link", "status"} <= set(tl["kind"])
    assert ops.incidents.get("INC-1").status == "acknowledged"
    assert set(ops.audit.list(action="incident.note")["target"]) == {"INC-1"}
    with pytest.raises(NotFound, match="no incident INC-2; the newest is INC-1"):
        ops.incidents.get("inc-2")


def test_api_routes_take_lower_case_ids() -> None:
    from opsnb.web.incidents import routes

    pattern = dict((h.__name__, p) for p, h in routes())["IncidentHandler"]
    m = re.fullmatch(pattern, "/incidents/inc-3")
    assert m is not None and normalise_id(m.group(1)) == "INC-3"


def test_cli_show_takes_a_lower_case_id(demo_workspace: Path) -> None:
    out = CliRunner().invoke(cli, ["incident", "show", "inc-1", "--workspace", str(demo_workspace)])
    assert out.exit_code == 0, out.output
    assert out.output.splitlines()[0].split() == ["id", "INC-1"]
    assert "['" not in out.output  # lists are comma-joined, not Python reprs


def test_timeline_what_is_a_sentence_and_links_in_html(ops) -> None:
    ops.incidents.create(title="Search slow", service="search", impact_start=T0, detected_at=T0, commander="carol")
    ops.incidents.add_timeline("INC-1", kind="page", at=T0 + timedelta(minutes=1),
                               data={"user": "carol", "channel": "slack", "level": 1})
    ops.incidents.add_timeline("INC-1", kind="runbook_run", at=T0 + timedelta(minutes=2),
                               data={"run_id": "42", "runbook": "restart <svc>", "status": "failed"})
    ops.incidents.add_timeline("INC-1", kind="ack", at=T0 + timedelta(minutes=3),
                               data={"cancelled": 2, "retrigger_at": "2025-03-03T12:33:00+00:00"})
    what = list(ops.incidents.timeline("INC-1")["what"])
    assert what[0] == "opened SEV3 “Search slow” on search, commander carol"
    assert "paged carol by slack (level 1)" in what
    assert "runbook restart <svc> run 42: failed" in what
    assert "acknowledged; 2 pending page(s) cancelled; pages again at 2025-03-03 12:33:00Z" in what
    assert not any(w.startswith("{") for w in what)  # no raw JSON
    page = ops.incidents.get("INC-1")._repr_html_()
    assert "<a href='/opsnb/api/v1/runs/42' target='_blank'>42</a>" in page
    assert "restart &lt;svc&gt;" in page and "restart <svc>" not in page  # escaped
