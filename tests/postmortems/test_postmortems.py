"""Postmortems drafted from the demo world: sections and figures, re-draft, versions, diff, roles, bad input, CLI.

One module-scoped workspace is drafted once (a kernel start costs seconds) and shared by the
tests that only read it; tests that change state work in that copy in a fixed order.
"""

from __future__ import annotations

import json
import stat
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from opsnb.cli import cli
from opsnb.errors import NotFound, PermissionDenied, PostmortemError
from opsnb.postmortems.models import CHECKLIST
from opsnb.postmortems.service import HUMAN_TAG, keep_human_cells
from opsnb.workbench import Workbench
from tests.conftest import make_ops, pg_base_url
from tests.postmortems.conftest import demo_world

SECTIONS = ("## Summary", "## Impact", "## Root causes", "## Trigger", "## Resolution", "## Detection",
            "## Action items", "## Lessons learned", "## Timeline", "## Supporting information")


def _text(nb: dict) -> str:
    parts: list[str] = []
    for c in nb["cells"]:
        parts.append("".join(c["source"]) if isinstance(c["source"], list) else c["source"])
        for o in c.get("outputs", []):
            for v in (o.get("data", {}).get("text/markdown"), o.get("data", {}).get("text/plain"), o.get("text")):
                if v:
                    parts.append("".join(v) if isinstance(v, list) else v)
    return "\n".join(parts)


@pytest.fixture(scope="module")
def drafted(demo_workspace: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workbench]:
    """A copy of the demo world with INC-1's postmortem drafted once, by carol (a responder)."""
    with demo_world(demo_workspace, tmp_path_factory, "pm", draft=("INC-1",)) as wb:
        yield wb


def test_draft_fills_the_sections_from_the_incident(drafted: Workbench) -> None:
    pm = drafted.postmortems.get("INC-1")
    inc = drafted.incidents.get("INC-1")
    assert pm.status == "draft" and pm.template == "postmortem" and pm.authors == ["carol"]
    assert Path(pm.path) == drafted.postmortems.path("INC-1") == drafted.workspace / "postmortems/INC-1/postmortem.ipynb"
    nb = json.loads(Path(pm.path).read_text())
    assert not [o for c in nb["cells"] for o in c.get("outputs", []) if o["output_type"] == "error"]
    text = _text(nb)
    for heading in SECTIONS:
        assert heading in text, heading
    assert inc.title in text and f"| Severity | {inc.severity} |" in text
    duration = inc.milestones["resolved"] - inc.started_at
    assert f"| Duration | {duration} |" in text
    mttr = (inc.milestones["resolved"] - inc.milestones["impact_start"]).total_seconds() / 60
    assert f"MTTR (resolved - impact start): {round(mttr, 1)}" in text
    burned = drafted.incidents.slo_impact("INC-1")["budget_burned"].iloc[0]
    assert f"{burned:.6f}"[:5] in text  # the budget burned figure is shown
    assert text.count("*Source: ") >= 10  # each figure says where it came from
    assert sum(HUMAN_TAG in c["metadata"].get("tags", []) for c in nb["cells"]) >= 8
    # impact: requests failed against the logs' own count, no user id in the demo's logs, pages
    summary = drafted.logs.service_summary(since=inc.started_at, until=inc.milestones["resolved"],
                                           service=inc.service)
    failed, total = int(summary["errors"].sum()), int(summary["requests"].sum())
    assert f"**Requests failed:** {failed:,} of {total:,}" in text
    assert "no user id in these logs" in text and "**Pages sent:** " in text
    assert f"{burned:.2%}" in text  # the share of the window's budget
    # the trigger proposed from the vocabulary: the demo's bad deploy landed 3 minutes before impact
    prime = drafted.deploys.suspects("INC-1").iloc[0]  # ids follow the build date: ask, do not pin
    assert prime["env"] == "prod" and prime["rolled_back"]
    assert f"**Proposed trigger:** binary push — deploy {prime['id']}" in text
    # the merged timeline: deploys, alerts, milestones flagged as key moments
    assert "| deploys | deploy |" in text and "| alerts | alert firing |" in text and "**★ impact started**" in text
    patterns = _text({"cells": [c for c in nb["cells"] if c["id"] == "patterns"]})
    assert "unhandled exception" in patterns and " new " in patterns  # the pattern new in the impact window
    assert "f5a326b9e5bc0501" in text or "NullPointerException" in text  # top error fingerprint
    charts = [c["id"] for c in nb["cells"] for o in c.get("outputs", [])
              if "application/vnd.plotly.v1+json" in o.get("data", {})]
    assert charts == ["impact-chart", "mttx"]
    impact = next(c for c in nb["cells"] if c["id"] == "impact-chart")["outputs"][0]["data"][
        "application/vnd.plotly.v1+json"]
    marker = f"checkout {drafted.deploys.suspects('INC-1').iloc[0]['version']}"  # the bad deploy, by its data
    assert any(a.get("text") == marker for a in impact["layout"].get("annotations", []))  # deploy marker


def test_the_kernel_ran_with_a_scrubbed_environment(drafted: Workbench, monkeypatch: pytest.MonkeyPatch) -> None:
    """No variable of the drafting process reaches the kernel but what Python needs; no URL in the notebook."""
    monkeypatch.setenv("OPSNB_API_TOKEN", "tok-very-secret-4711")
    monkeypatch.setenv("SOME_PASSWORD", "hunter2-hunter2")
    tdir = drafted.workspace / "templates"
    tdir.mkdir(exist_ok=True)
    good = json.loads((Path(__file__).resolve().parents[2] / "notebooks/templates/postmortem-lite.ipynb").read_text())
    probe = {"cell_type": "code", "id": "probe", "metadata": {}, "execution_count": None, "outputs": [],
             "source": "print('ENV', sorted(os.environ))"}
    (tdir / "envprobe.ipynb").write_text(json.dumps({**good, "cells": [*good["cells"], probe]}))
    pm = drafted.postmortems.draft("INC-3", template="envprobe")
    nb = json.loads(Path(pm.path).read_text())
    env_line = next("".join(o["text"]) for c in nb["cells"] if c["id"] == "probe" for o in c["outputs"])
    assert "OPSNB_WORKSPACE" in env_line and "OPSNB_API_TOKEN" not in env_line and "SOME_PASSWORD" not in env_line
    raw = Path(pm.path).read_text()
    assert "tok-very-secret-4711" not in raw and "OPSNB_DATABASE_URL" not in raw and "database_url" not in raw
    runs = drafted.postmortems.runs("INC-3")
    assert runs["status"].iloc[0] == "succeeded" and runs["kernel_start_s"].iloc[0] > 0


def test_version_is_read_only_and_hashed(drafted: Workbench) -> None:
    import hashlib

    (v1,) = drafted.postmortems.versions("INC-1")[:1]
    f = drafted.workspace / v1.path
    assert f.name == "v1.ipynb" and not f.stat().st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)
    assert hashlib.sha256(f.read_bytes()).hexdigest() == v1.sha256


def test_audit_records_the_draft(drafted: Workbench) -> None:
    rows = drafted.audit.list(action="postmortem.draft", target="INC-1")
    assert len(rows) >= 1 and (rows["actor"] == "carol").all()


def test_viewer_is_refused(drafted: Workbench) -> None:
    drafted.user = "erin"  # a viewer in the demo world
    try:
        with pytest.raises(PermissionDenied):
            drafted.postmortems.draft("INC-1")
        with pytest.raises(PermissionDenied):
            drafted.postmortems.update("INC-1", status="in_review")
        assert drafted.postmortems.get("INC-1").status == "draft"  # reading needs no role
    finally:
        drafted.user = "carol"


def test_unknown_incident_and_missing_postmortem(drafted: Workbench) -> None:
    with pytest.raises(NotFound):
        drafted.postmortems.draft("INC-999")
    with pytest.raises(NotFound, match="no postmortem for INC-2"):
        drafted.postmortems.get("INC-2")


def test_redraft_keeps_the_edited_human_cell_and_makes_v2(drafted: Workbench) -> None:
    work = drafted.postmortems.path("INC-1")
    nb = json.loads(work.read_text())
    summary = next(c for c in nb["cells"] if c["id"] == "summary")
    summary["source"] = "Checkout failed for an hour after 1.14.5; carol wrote this."
    header = next(c for c in nb["cells"] if c["id"] == "header")
    header["outputs"] = []  # a computed cell someone cleared comes back
    nb["cells"] = [c for c in nb["cells"] if c["id"] != "got-lucky"]  # a section cell deleted by hand
    work.write_text(json.dumps(nb))

    diff = drafted.postmortems.diff("INC-1")  # v1 against the edited working copy
    assert "+Checkout failed for an hour after 1.14.5; carol wrote this." in diff

    pm = drafted.postmortems.draft("INC-1")
    assert [v.version for v in pm.versions] == [1, 2]
    again = json.loads(work.read_text())
    assert next(c for c in again["cells"] if c["id"] == "summary")["source"] == summary["source"]
    assert next(c for c in again["cells"] if c["id"] == "header")["outputs"]
    note = next(c for c in again["cells"] if c["id"] == "postmortem-notes")
    assert "'got-lucky' was deleted from the working copy by hand" in note["source"]
    lucky = next(c for c in again["cells"] if c["id"] == "got-lucky")["source"]
    assert "".join(lucky).startswith("### Where we got lucky")  # the template's text is back
    v2 = json.loads((drafted.workspace / pm.versions[1].path).read_text())
    assert next(c for c in v2["cells"] if c["id"] == "summary")["source"] == summary["source"]
    d12 = drafted.postmortems.diff("INC-1", from_version=1, to_version=2)
    assert "-_What happened, in two or three sentences._" in d12
    assert "+Checkout failed for an hour after 1.14.5; carol wrote this." in d12
    with pytest.raises(NotFound):
        drafted.postmortems.diff("INC-1", from_version=9)


def test_workspace_template_bad_or_failing_keeps_the_previous_version(drafted: Workbench) -> None:
    work = drafted.postmortems.path("INC-1")
    before = work.read_bytes()
    versions = len(drafted.postmortems.versions("INC-1"))  # other tests of the module may have re-drafted
    tdir = drafted.workspace / "templates"
    tdir.mkdir(exist_ok=True)
    good = json.loads((Path(__file__).resolve().parents[2] / "notebooks/templates/postmortem-lite.ipynb").read_text())
    missing = {**good, "cells": [c for c in good["cells"] if c["id"] != "h-timeline"]}
    (tdir / "no-timeline.ipynb").write_text(json.dumps(missing))
    with pytest.raises(PostmortemError, match="Timeline") as bad:
        drafted.postmortems.draft("INC-1", template="no-timeline")
    assert bad.value.problems == ["a section '## Timeline'"] and bad.value.incident_id == "INC-1"
    failing = {**good, "cells": [*good["cells"], {"cell_type": "code", "id": "boom", "metadata": {},
                                                 "execution_count": None, "outputs": [],
                                                 "source": "raise RuntimeError('template bug')"}]}
    (tdir / "failing.ipynb").write_text(json.dumps(failing))
    with pytest.raises(PostmortemError, match="template bug.*the previous version stays current"):
        drafted.postmortems.draft("INC-1", template="failing")
    assert work.read_bytes() == before and len(drafted.postmortems.versions("INC-1")) == versions
    failed = drafted.audit.list(action="postmortem.draft", target="INC-1")
    assert any("failed" in json.dumps(p, default=str) for p in failed["params"])
    runs = drafted.postmortems.runs("INC-1")
    assert runs["status"].iloc[0] == "failed" and "template bug" in runs["error"].iloc[0]
    assert "boom" in runs["error"].iloc[0]  # the cell it failed in
    with pytest.raises(NotFound, match="no postmortem template 'nope'"):
        drafted.postmortems.draft("INC-1", template="nope")


def test_cli_draft_path_diff_list(drafted: Workbench) -> None:
    ws = str(drafted.workspace)
    run = CliRunner()
    env = {"OPSNB_USER": "dave"}  # a responder
    res = run.invoke(cli, ["postmortem", "draft", "INC-2", "-w", ws], env=env)
    assert res.exit_code == 0, res.output
    assert "INC-2: v1 drafted" in res.output
    inc2 = drafted.incidents.get("INC-2")
    assert ("postmortem-lite" in res.output) == (inc2.severity in ("SEV3", "SEV4"))
    res = run.invoke(cli, ["postmortem", "path", "INC-2", "-w", ws], env=env)
    assert res.exit_code == 0 and res.output.strip() == str(drafted.workspace / "postmortems/INC-2/postmortem.ipynb")
    res = run.invoke(cli, ["postmortem", "diff", "INC-2", "-w", ws], env=env)
    assert res.exit_code == 0 and res.output.strip() == ""  # the working copy is v1
    res = run.invoke(cli, ["postmortem", "list", "--format", "json", "-w", ws], env=env)
    assert res.exit_code == 0, res.output
    assert {r["incident_id"] for r in json.loads(res.output)} >= {"INC-1", "INC-2"}
    res = run.invoke(cli, ["postmortem", "show", "INC-2", "--format", "json", "-w", ws], env=env)
    assert res.exit_code == 0, res.output
    (shown,) = json.loads(res.output)
    assert shown["incident_id"] == "INC-2" and shown["status"] == "draft" and shown["version"] == 1
    assert [v["version"] for v in shown["versions"]] == [1] and shown["action_items"] == []
    res = run.invoke(cli, ["postmortem", "show", "INC-2", "-w", ws], env=env)
    assert res.exit_code == 0 and "versions:" in res.output and "action items:" in res.output


def test_keep_human_cells_notes_a_deleted_cell() -> None:
    tag = {"tags": [HUMAN_TAG]}
    new = {"cells": [{"id": "a", "metadata": tag, "source": "tpl a"}, {"id": "b", "metadata": tag, "source": "tpl b"}]}
    old = {"cells": [{"id": "a", "metadata": tag, "source": "mine"}]}
    notes = keep_human_cells(new, old)
    assert new["cells"][0]["source"] == "mine" and new["cells"][1]["source"] == "tpl b"
    assert notes and "b" in notes[0]


@pytest.mark.skipif(pg_base_url() is None, reason="OPSNB_TEST_DATABASE_URL not set")
def test_draft_on_postgres(tmp_path: Path, pg_url: str) -> None:
    ops = make_ops(tmp_path / "ws", pg_url)
    try:
        t0 = datetime.now(UTC) - timedelta(hours=2)
        inc = ops.incidents.create(title="Search latency", service="search", severity="SEV3", impact_start=t0,
                                   detected_at=t0 + timedelta(minutes=5))
        pm = ops.postmortems.draft(inc.id)
        assert pm.template == "postmortem-lite" and [v.version for v in pm.versions] == [1]
        text = _text(json.loads(Path(pm.path).read_text()))
        assert "Search latency" in text and "| Severity | SEV3 |" in text and "| Resolved | open |" in text
        # the kernel read this PostgreSQL database: the workspace's SQLite file has no such incident
        assert f"({inc.id})" in text
        assert pg_url not in Path(pm.path).read_text()  # the URL reached the kernel, not the notebook
        # an open incident may be drafted, not published
        ops.postmortems.update(inc.id, owner="tester", reviewers=["tester"], check=list(CHECKLIST),
                               status="in_review")
        with pytest.raises(PostmortemError, match="resolve it first"):
            ops.postmortems.update(inc.id, status="published")
        assert ops.postmortems.get(inc.id).status == "in_review"
        # resolved (now SEV2): a postmortem in review is not re-drafted by the hook; publishing freezes v1
        ops.incidents.update(inc.id, status="resolved", severity="SEV2")
        tl = ops.incidents.timeline(inc.id)
        assert "postmortem" not in set(tl["kind"])
        pm = ops.postmortems.update(inc.id, status="published")
        assert pm.status == "published" and pm.published_version == 1 and len(pm.versions) == 1
        assert len(ops.audit.list(action="postmortem.publish", target=inc.id)) == 1
    finally:
        ops.close()
