"""Postmortem follow-through on a copy of the demo world: auto-draft on resolve, review and publishing,
action items, the overdue digest, export, and their CLI.

One module-scoped world: INC-2 (SEV1) is resolved again, which drafts its postmortem; the tests
then review, publish and re-draft it in order (each kernel run costs seconds).
"""

from __future__ import annotations

import json
import stat
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from opsnb import connect
from opsnb.cli import cli
from opsnb.errors import Conflict, PermissionDenied, PostmortemError, ValidationError
from opsnb.postmortems.models import CHECKLIST
from opsnb.store.types import utcnow
from opsnb.workbench import Workbench
from tests.notify.servers import HttpReceiver, http_receiver
from tests.postmortems.conftest import demo_world


@pytest.fixture(scope="module")
def world(demo_workspace: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workbench]:
    with demo_world(demo_workspace, tmp_path_factory, "pmflow") as wb:
        yield wb


def _postmortem_entries(wb: Workbench, iid: str) -> list[dict]:
    tl = wb.incidents.timeline(iid)
    return list(tl.loc[tl["kind"] == "postmortem", "data"])


def test_resolving_a_sev1_drafts_its_postmortem_and_links_it(world: Workbench) -> None:
    assert world.incidents.get("INC-2").severity == "SEV1"
    world.incidents.update("INC-2", status="triggered", reason="came back")
    world.incidents.update("INC-2", status="resolved", reason="fixed for good")
    pm = world.postmortems.get("INC-2")
    assert [v.version for v in pm.versions] == [1] and pm.status == "draft"
    assert pm.owner == world.incidents.get("INC-2").commander  # the commander owns it until someone else does
    (entry,) = _postmortem_entries(world, "INC-2")
    assert entry["event"] == "drafted" and entry["path"] == pm.path and entry["version"] == 1
    tl = world.incidents.timeline("INC-2")
    assert tl.loc[tl["kind"] == "postmortem", "what"].iloc[0] == f"postmortem v1 drafted: {pm.path}"
    audit = world.audit.list(action="postmortem.draft", target="INC-2")
    assert audit["reason"].iloc[0] == "auto-draft on resolve" and audit["actor"].iloc[0] == "carol"


def test_auto_draft_is_configurable_and_only_for_its_severities(world: Workbench) -> None:
    off = connect(world.workspace, postmortem_auto_draft="")
    off.user = "carol"
    try:
        off.incidents.update("INC-2", status="triggered")
        off.incidents.update("INC-2", status="resolved")
    finally:
        off.close()
    assert len(world.postmortems.versions("INC-2")) == 1 and len(_postmortem_entries(world, "INC-2")) == 1
    world.incidents.update("INC-3", status="triggered")  # SEV3: not in the default SEV1,SEV2
    world.incidents.update("INC-3", status="resolved")
    with pytest.raises(LookupError):
        world.postmortems.get("INC-3")


def test_review_checklist_and_publishing(world: Workbench) -> None:
    pms = world.postmortems
    pms.update("INC-2", owner="")  # nobody owns it
    with pytest.raises(PostmortemError, match="cannot go in review") as e:
        pms.update("INC-2", status="in_review")
    assert e.value.problems == ["an owner (--owner)", "a reviewer (--reviewer)"]
    pm = pms.update("INC-2", owner="carol", reviewers=["dave"], status="in_review")
    assert pm.status == "in_review" and pm.reviewers == ["dave"] and pm.checklist_missing == list(CHECKLIST)
    with pytest.raises(PermissionDenied, match="not a reviewer"):
        pms.update("INC-2", check=["data_collected"])  # carol owns it; dave reviews it
    with pytest.raises(ValidationError, match="unknown review criteria"):
        pms.update("INC-2", check=["looks_fine"])
    world.user = "dave"
    try:
        with pytest.raises(PostmortemError, match="cannot be published") as e:
            pms.update("INC-2", status="published")
        assert len(e.value.problems) == len(CHECKLIST)
        pm = pms.update("INC-2", check=list(CHECKLIST))
        assert pm.checklist_missing == [] and pm.checklist["actions_owned"]["by"] == "dave"
        # people's text since the draft is what gets published: the working copy is frozen as a version
        work = Path(pm.path)
        nb = json.loads(work.read_text())
        next(c for c in nb["cells"] if c["id"] == "summary")["source"] = "The catalog cache stampeded; dave."
        work.write_text(json.dumps(nb))
        pm = pms.update("INC-2", status="published", reason="reviewed by dave")
    finally:
        world.user = "carol"
    assert pm.status == "published" and pm.published_version == 2 and pm.published_by == "dave"
    frozen = world.workspace / pm.versions[1].path
    assert not frozen.stat().st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)
    assert "The catalog cache stampeded; dave." in frozen.read_text()
    pub = world.audit.list(action="postmortem.publish", target="INC-2")
    assert len(pub) == 1 and pub["actor"].iloc[0] == "dave" and pub["params"].iloc[0]["version"] == 2
    with pytest.raises(Conflict, match="published"):
        pms.update("INC-2", check=["data_collected"])
    with pytest.raises(Conflict, match="cannot become in_review"):
        pms.update("INC-2", status="in_review")


def test_redraft_after_publishing_makes_a_new_draft_and_keeps_the_published_one(world: Workbench) -> None:
    before = world.postmortems.get("INC-2")
    published_sha = before.versions[1].sha256
    world.postmortems.warm(wait=True)  # a kernel started ahead, the templates' libraries imported
    pm = world.postmortems.draft("INC-2")
    assert pm.status == "draft" and [v.version for v in pm.versions] == [1, 2, 3]
    assert pm.published_version == 2 and pm.versions[1].sha256 == published_sha and pm.checklist == {}
    assert world.postmortems.notebook("INC-2", published=True) == json.loads(
        (world.workspace / pm.versions[1].path).read_text())
    summary = next(c for c in json.loads(Path(pm.path).read_text())["cells"] if c["id"] == "summary")
    assert summary["source"] == "The catalog cache stampeded; dave."  # the person's text carried on


def test_action_items_across_incidents_overdue_and_backlog(world: Workbench) -> None:
    pms = world.postmortems
    now = utcnow()
    a = pms.create_action_item("INC-2", title="Rate-limit cache refills", type="prevent", owner="bob",
                               due=now - timedelta(days=3), link="https://tickets.example.com/OPS-1")
    b = pms.create_action_item("inc-2", title="Alert on cache hit ratio", type="mitigate", owner="bob",
                               due=now - timedelta(days=1))
    c = pms.create_action_item("INC-2", title="Runbook for cache flush", type="process", owner="dave",
                               due=now - timedelta(hours=2))
    pms.create_action_item("INC-2", title="Capacity review", type="process", owner="dave", due=now + timedelta(days=9))
    with pytest.raises(ValidationError, match="type must be one of") as e:
        pms.create_action_item("INC-2", title="x", type="fix", link="javascript:alert(1)")
    assert len(e.value.problems) == 2  # the type and the link, both named
    with pytest.raises(LookupError):
        pms.create_action_item("INC-999", title="x")
    items = pms.action_items()
    assert len(items) == 4 and set(items["incident_id"]) == {"INC-2"}
    assert sorted(pms.action_items(overdue=True)["id"]) == sorted([a.id, b.id, c.id])
    assert list(pms.action_items(owner="dave", overdue=True)["id"]) == [c.id]
    assert pms.get("INC-2").open_action_items == 4
    done = pms.update_action_item(c.id, status="done")
    assert done.closed_at is not None and pms.get("INC-2").open_action_items == 3
    back = pms.backlog(start=now - timedelta(hours=1), end=now + timedelta(hours=1), every="1h")
    assert back["open"].tolist() == [0, 4, 3] or back["open"].tolist()[-1] == 3
    assert back["overdue"].iloc[-1] == 2  # a and b; c is done
    fig = pms.backlog_chart(start=now - timedelta(hours=1), end=now + timedelta(hours=1), every="1h")
    assert [t.name for t in fig.data] == ["open", "overdue"]
    audit = world.audit.list(action="postmortem.action_item", target="INC-2")
    assert len(audit) == 5


@pytest.fixture
def rx(monkeypatch: pytest.MonkeyPatch) -> Iterator[HttpReceiver]:
    monkeypatch.setenv("OPSNB_TEST_PM_KEY", "postmortem-digest-signing-key")
    with http_receiver() as r:
        yield r


def test_overdue_items_make_one_daily_digest_per_owner(world: Workbench, rx: HttpReceiver) -> None:
    world.user = "alice"  # an admin sets up the channel and bob, with a contact method
    try:
        world.notify.create_channel(name="pm-hook", kind="webhook", target=rx.url + "/x",
                                    secret_ref="env:OPSNB_TEST_PM_KEY")
        world.oncall.create_person("bob", contacts=[{"channel": "pm-hook", "target": rx.url + "/bob"}])
    finally:
        world.user = "carol"
    world.postmortems.create_action_item("INC-2", title="Document the cache", owner="dave",
                                         due=utcnow() - timedelta(days=2))
    out = world.postmortems.notify_overdue().set_index("owner")
    assert out.loc["bob", "status"] == "recorded" and out.loc["bob", "items"] == 2
    assert out.loc["dave", "status"] == "no channel"  # dave has no contact and no digest channel is set
    assert len(rx.requests) == 1 and rx.requests[0].path == "/bob"  # one message for bob's two items
    body = rx.requests[0].body.decode()
    assert "Rate-limit cache refills" in body and "Alert on cache hit ratio" in body
    world.user = "erin"  # the scheduler's tick needs no role; a second run the same day sends nothing
    try:
        again = world.postmortems.tick().set_index("owner")
    finally:
        world.user = "carol"
    assert again.loc["bob", "status"] == "sent today" and len(rx.requests) == 1
    assert len(world.audit.list(action="postmortem.digest")) == 1


def test_export_html_interactive_and_markdown_with_images(world: Workbench, tmp_path: Path) -> None:
    html = world.postmortems.export("INC-2", format="html", output=tmp_path / "pm.html", published=True)
    page = html.read_text()
    assert page.count("Plotly.newPlot(") == 2 and "The catalog cache stampeded; dave." in page
    assert "USER_KEYS" not in page  # code hidden by default
    shown = world.postmortems.export("INC-2", format="html", output=tmp_path / "code.html", hide_code=False)
    assert "USER_KEYS" in shown.read_text()
    with pytest.raises(ValidationError, match="format must be one of"):
        world.postmortems.export("INC-2", format="pdf", output=tmp_path / "x.pdf")
    try:
        md = world.postmortems.export("INC-2", format="md", output=tmp_path / "pm.md")
    except PostmortemError as e:
        pytest.skip(f"no way to draw static images here: {e}")
    text = md.read_text()
    pngs = sorted((tmp_path / "pm_files").glob("*.png"))
    assert len(pngs) == 2 and all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in pngs)
    assert "](pm_files/figure-1.png)" in text and "## Impact" in text and "Plotly" not in text


def test_cli_review_actions_export(world: Workbench, tmp_path: Path) -> None:
    ws = str(world.workspace)
    run = CliRunner()
    env = {"OPSNB_USER": "dave"}
    res = run.invoke(cli, ["postmortem", "review", "INC-2", "--reviewer", "dave", "--status", "in_review",
                           "-w", ws], env=env)
    assert res.exit_code == 0, res.output
    assert "INC-2: in_review" in res.output and "criteria left: data_collected" in res.output
    res = run.invoke(cli, ["postmortem", "action", "add", "INC-2", "--title", "Shard the cache", "--owner", "dave",
                           "--due", "now+14d", "-w", ws], env=env)
    assert res.exit_code == 0 and "added to INC-2" in res.output, res.output
    res = run.invoke(cli, ["postmortem", "action", "list", "--owner", "dave", "--format", "json", "-w", ws], env=env)
    assert res.exit_code == 0 and "Shard the cache" in {r["title"] for r in json.loads(res.output)}
    res = run.invoke(cli, ["postmortem", "action", "add", "INC-2", "--title", "x", "--due", "90", "-w", ws], env=env)
    assert res.exit_code != 0 and "Traceback" not in res.output  # a bare number is not an instant
    out = tmp_path / "INC-2.html"
    res = run.invoke(cli, ["postmortem", "export", "INC-2", "--format", "html", "-o", str(out), "-w", ws], env=env)
    assert res.exit_code == 0 and out.is_file() and res.output.strip() == str(out), res.output
    res = run.invoke(cli, ["postmortem", "review", "INC-2", "--status", "published", "-w", ws], env=env)
    # opsnb.cli.main prints an OpsnbError as one line and exits 1; the runner hands us the error itself
    assert res.exit_code != 0 and isinstance(res.exception, PostmortemError)
    assert "cannot be published" in str(res.exception)


def test_dashboard_lists_postmortems_and_renders_the_published_one(world: Workbench, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """dashboards/postmortems.ipynb executed as Voila would, on this world (INC-2 published v2, in review since)."""
    import html as html_lib

    import nbformat
    import papermill as pm

    monkeypatch.setenv("OPSNB_WORKSPACE", str(world.workspace))  # the kernel inherits it
    out = tmp_path / "out.ipynb"
    pm.execute_notebook(str(Path(__file__).resolve().parents[2] / "dashboards/postmortems.ipynb"), str(out),
                        kernel_name="python3", parameters={}, progress_bar=False, cwd=str(tmp_path))
    nb = nbformat.read(out, as_version=4)

    def html_of(tag: str) -> str:
        (cell,) = [c for c in nb.cells if tag in c.metadata.get("tags", [])]
        assert not [o for o in cell.outputs if o.output_type == "error"]
        return "".join(str(o.get("data", {}).get("text/html", "")) + str(o.get("data", {}).get("text/markdown", ""))
                       for o in cell.outputs)

    listing = html_of("list")
    assert "INC-2" in listing and "in_review" in listing and "open_action_items" in listing
    actions = html_of("actions")
    assert "overdue**" in actions and "Rate-limit cache refills" in actions
    published = html_of("published")
    assert "version 2, published" in published and "sandbox='allow-scripts'" in published
    frame = html_lib.unescape(published.split('srcdoc="', 1)[1].split('"></iframe>', 1)[0])
    assert "The catalog cache stampeded; dave." in frame and frame.count("Plotly.newPlot(") == 2
