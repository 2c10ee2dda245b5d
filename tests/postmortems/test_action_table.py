"""The action items table of the postmortem notebook becomes records: once, in both directions.

Table parsing is tested on text; the sync through re-drafts, a review step and publishing on a
copy of the demo world, in order (each re-draft runs the template in a kernel).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from opsnb.errors import PostmortemError
from opsnb.postmortems.models import CHECKLIST
from opsnb.postmortems.table import find_table, row_values
from opsnb.workbench import Workbench
from tests.postmortems.conftest import demo_world

HEADER = ("| ID | Type (prevent/mitigate/process) | Item | Owner | Due | Status (open/done/wontfix) | Tracking link |\n"
          "|---|---|---|---|---|---|---|\n")


def test_a_table_of_any_column_order_is_found_and_read() -> None:
    src = ("Written by the team.\n\n| Owner | Action | Ticket | Due |\n|:--|---|---|--:|\n"
           "| @bob | Canary for checkout | [OPS-12](https://t.example.com/OPS-12) | 2026-03-01 |\n\nMore text.")
    t = find_table(src)
    assert t is not None and t.columns == {"owner": 0, "title": 1, "link": 2, "due": 3}
    ((_, cells),) = t.rows()
    values, problems = row_values(cells, t.columns)
    assert problems == []
    assert values == {"title": "Canary for checkout", "owner": "bob", "due": "2026-03-01",
                      "link": "https://t.example.com/OPS-12"}
    t.add_id_column()
    assert t.lines[2].startswith("| ID | Owner") and t.lines[3].startswith("|---|:--")
    assert t.columns["id"] == 0 and t.columns["owner"] == 1
    assert t.lines[0] == "Written by the team." and t.lines[-1] == "More text."


def test_bad_cells_are_named() -> None:
    t = find_table(HEADER + "| | fix | Do it | bob | someday | maybe | ftp://x |")
    assert t is not None
    _, problems = row_values(t.rows()[0][1], t.columns)
    assert any("type 'fix'" in p for p in problems) and any("status 'maybe'" in p for p in problems)
    assert any("due 'someday'" in p for p in problems) and any("not an http(s) URL" in p for p in problems)
    assert find_table("| Owner | Due |\n|---|---|\n| bob | now |") is None  # no item column: not this table


@pytest.fixture(scope="module")
def world(demo_workspace: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workbench]:
    with demo_world(demo_workspace, tmp_path_factory, "pmtable", draft=("INC-1",)) as wb:
        yield wb


def _cell(wb: Workbench, cell_id: str = "action-items") -> dict:
    nb = json.loads(wb.postmortems.path("INC-1").read_text())
    return next(c for c in nb["cells"] if c["id"] == cell_id)


def _set_table(wb: Workbench, text: str) -> None:
    work = wb.postmortems.path("INC-1")
    nb = json.loads(work.read_text())
    next(c for c in nb["cells"] if c["id"] == "action-items")["source"] = text
    work.write_text(json.dumps(nb))


def _rows(wb: Workbench) -> list[list[str]]:
    t = find_table(_cell(wb)["source"])
    assert t is not None
    return [cells for _, cells in t.rows()]


def test_rows_become_records_once_with_their_ids_written_back(world: Workbench) -> None:
    _set_table(world, HEADER +
               "| | prevent | Canary for checkout deploys | @bob | now+14d | | [OPS-12](https://t.example.com/OPS-12) |\n"
               "| | Process | Page the payments team too | dave | 2030-01-31 | open | |\n"
               "| | | | | | | |")
    world.postmortems.draft("INC-1")
    items = world.postmortems.action_items("INC-1").sort_values("id")
    assert list(items["title"]) == ["Canary for checkout deploys", "Page the payments team too"]
    assert list(items["owner"]) == ["bob", "dave"] and list(items["type"]) == ["prevent", "process"]
    assert items["link"].iloc[0] == "https://t.example.com/OPS-12" and items["status"].eq("open").all()
    ids = [str(i) for i in items["id"]]
    rows = _rows(world)
    assert [r[0] for r in rows[:2]] == ids
    assert rows[0][4] == f"{items['due'].iloc[0]:%Y-%m-%d %H:%M}"  # now+14d is written down as the day it meant
    assert rows[0][6] == "[OPS-12](https://t.example.com/OPS-12)"  # people's own formatting stays
    # the template ran after the sync: its records cell lists what the table added
    shown = json.dumps(_cell(world, "action-items-records")["outputs"])
    assert "Canary for checkout deploys" in shown and "Page the payments team too" in shown
    audit = world.audit.list(action="postmortem.action_item", target="INC-1")
    assert len(audit) == 2

    world.postmortems.draft("INC-1")  # unchanged: nothing new, nothing changed
    world.postmortems.draft("INC-1")
    assert len(world.postmortems.action_items("INC-1")) == 2
    assert len(world.audit.list(action="postmortem.action_item", target="INC-1")) == 2
    assert [r[0] for r in _rows(world)[:2]] == ids


def test_edits_on_either_side_win_where_they_were_made(world: Workbench) -> None:
    first, second = (int(i) for i in world.postmortems.action_items("INC-1").sort_values("id")["id"])
    rows = _rows(world)
    rows[0][3] = "erin"  # the notebook changes the owner of the first
    rows[1][5] = "done"  # and closes the second
    _set_table(world, HEADER + "\n".join("| " + " | ".join(r) + " |" for r in rows))
    world.postmortems.update_action_item(first, link="https://t.example.com/OPS-99")  # the CLI changes a link

    world.postmortems.update("INC-1", owner="alice", reason="review")  # a review step syncs the table
    items = world.postmortems.action_items("INC-1").set_index("id")
    assert items.loc[first, "owner"] == "erin" and items.loc[first, "link"] == "https://t.example.com/OPS-99"
    assert items.loc[second, "status"] == "done" and pd.notna(items.loc[second, "closed_at"])
    rows = _rows(world)
    assert rows[0][6] == "https://t.example.com/OPS-99"  # the record's change is written into its cell
    assert rows[0][3] == "erin" and rows[1][5] == "done"
    assert len(items) == 2

    world.postmortems.update_action_item(second, status="open", reason="not done after all")
    world.postmortems.draft("INC-1")
    assert _rows(world)[1][5] == "open"  # the table had not changed since: the record's status stands
    assert world.postmortems.action_items("INC-1").set_index("id").loc[second, "status"] == "open"


def test_a_lost_id_finds_its_record_and_bad_rows_are_noted_not_recorded(world: Workbench) -> None:
    rows = _rows(world)
    ids = [r[0] for r in rows[:2]]
    rows[0][0] = ""  # a failed draft keeps the old working copy: the id it would have written is lost
    rows.insert(2, ["", "fix", "Something vague", "bob", "someday", "", ""])
    _set_table(world, HEADER + "\n".join("| " + " | ".join(r) + " |" for r in rows))
    world.postmortems.draft("INC-1")
    assert len(world.postmortems.action_items("INC-1")) == 2
    assert [r[0] for r in _rows(world)[:2]] == ids
    note = _cell(world, "postmortem-notes")["source"]
    assert "row 3 ('Something vague')" in note and "type 'fix'" in note and "not recorded" in note
    assert _rows(world)[2][1] == "fix"  # the person's text is kept for them to fix

    if world.incidents.get("INC-1").is_open:
        world.incidents.update("INC-1", status="resolved", reason="for publishing")
    world.postmortems.update("INC-1", reviewers=["bob"], status="in_review")
    world.user = "bob"
    try:
        world.postmortems.update("INC-1", check=list(CHECKLIST))
        with pytest.raises(PostmortemError) as err:
            world.postmortems.update("INC-1", status="published", reason="reviewed")
        assert any("Something vague" in p and "type 'fix'" in p for p in err.value.problems)
        rows = _rows(world)
        del rows[2]
        _set_table(world, HEADER + "\n".join("| " + " | ".join(r) + " |" for r in rows))
        pm = world.postmortems.update("INC-1", status="published", reason="reviewed")
    finally:
        world.user = "carol"
    assert pm.status == "published"
    published = world.postmortems.notebook("INC-1", published=True)
    table = next(c for c in published["cells"] if c["id"] == "action-items")["source"]
    assert all(f"| {i} |" in table for i in ids) and len(world.postmortems.action_items("INC-1")) == 2


def test_sync_on_both_databases_without_a_kernel(ops: Workbench) -> None:
    """The sync alone, on a postmortem row made by hand, on SQLite and on PostgreSQL."""
    from opsnb.postmortems import table
    from opsnb.postmortems.models import ActionItemRow, PostmortemRow
    from opsnb.store.types import utcnow

    nb = {"cells": [{"cell_type": "markdown", "id": "action-items", "metadata": {"tags": ["postmortem:human"]},
                     "source": "| Item | Owner | Due |\n|---|---|---|\n| Add a disk alert | bob | 2030-02-01 |"}]}
    with ops.db.session() as s:
        now = utcnow()
        pm = PostmortemRow(incident_id="INC-9", template="postmortem", status="draft", path="x.ipynb",
                           authors="tester", owner="", reviewers=[], checklist={}, created_at=now, updated_at=now)
        s.add(pm)
        s.flush()
        first = table.sync(ops, s, pm, nb, source="review")
        again = table.sync(ops, s, pm, nb, source="review")
        items = list(s.query(ActionItemRow).filter(ActionItemRow.postmortem_seq == pm.seq))
    assert len(first.created) == 1 and first.rewritten == 1 and not first.problems
    assert again.created == [] and again.updated == [] and again.rewritten == 0
    assert len(items) == 1 and items[0].owner == "bob" and items[0].notebook_row == {
        "title": "Add a disk alert", "owner": "bob", "due": "2030-02-01"}
    assert nb["cells"][0]["source"].splitlines()[2] == f"| {items[0].id} | Add a disk alert | bob | 2030-02-01 |"
