"""The action items table people write in the postmortem notebook, kept in step with the records.

The template's ``action-items`` cell (tagged ``postmortem:human``) holds a Markdown table:

    | ID | Type (prevent/mitigate/process) | Item | Owner | Due | Status (open/done/wontfix) | Tracking link |

On every re-draft, review step and publication (:func:`sync`) each filled row becomes an
action item record, and the record's id is written into the row's ``ID`` cell (the column is
added to a table that lacks it), so the next sync finds the same record: repeated re-drafts never
duplicate an item. A row without an id whose title matches a record made from this table
earlier is that record (its id was written, then lost: a failed draft keeps the old working copy).

Both sides may change: the table in JupyterLab, the record through ``opsnb postmortem action
update`` or the API. Each record keeps the row's values as last synced (``notebook_row``), so
per cell the side that changed wins: a cell edited since the last sync updates the record; a
record changed elsewhere rewrites its cell. A row whose values are invalid (an unknown type or
status, a due time that does not parse, a link that is not http(s)) changes nothing and is
reported; a row deleted from the table leaves its record as it is (close it with a status).
Column headers are matched by word, so a workspace's own template may order or name them its way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from opsnb.errors import ValidationError
from opsnb.postmortems.models import ACTION_STATUSES, ACTION_TYPES, ActionItemRow, PostmortemRow
from opsnb.store.types import utcnow

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from opsnb.workbench import Workbench

CELL_ID = "action-items"
HUMAN_TAG = "postmortem:human"  # the people's cells: a re-draft keeps their text
FIELDS: tuple[str, ...] = ("type", "title", "owner", "due", "status", "link")
# Header word -> field, the first match in this order winning ("Tracking link" is a link, not an item).
_HEADER_WORDS: tuple[tuple[str, str], ...] = (
    ("status", "status"), ("type", "type"), ("owner", "owner"), ("due", "due"), ("link", "link"),
    ("ticket", "link"), ("tracking", "link"), ("url", "link"), ("item", "title"), ("title", "title"),
    ("action", "title"), ("what", "title"),
)
_SPLIT = re.compile(r"(?<!\\)\|")
_SEPARATOR = re.compile(r"^\s*\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)*\|?\s*$")
_MD_LINK = re.compile(r"^\[[^\]]*\]\((\S+?)\)$")


@dataclass
class SyncResult:
    """What one sync did: records created and updated, rows written back, rows refused and why."""

    created: list[int] = field(default_factory=list)
    updated: list[int] = field(default_factory=list)
    rewritten: int = 0  # rows of the table written back (ids filled in, values changed elsewhere)
    problems: list[str] = field(default_factory=list)


def _cells(line: str) -> list[str]:
    body = line.strip()
    if body.startswith("|"):
        body = body[1:]
    if body.endswith("|") and not body.endswith("\\|"):
        body = body[:-1]
    return [c.strip() for c in _SPLIT.split(body)]


def _render(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _column(header: str) -> str | None:
    low = header.strip().lower()
    if low in ("id", "#", "no", "no."):
        return "id"
    for word, name in _HEADER_WORDS:
        if re.search(rf"\b{word}", low):
            return name
    return None


@dataclass
class Table:
    """A Markdown table inside a cell's text: where it is and which column holds what."""

    lines: list[str]  # every line of the cell
    header: int  # index of the header line
    end: int  # one past the last row line
    columns: dict[str, int]  # field (or "id") -> column index

    def rows(self) -> list[tuple[int, list[str]]]:
        """(line index, cells) of each body row."""
        return [(i, _cells(self.lines[i])) for i in range(self.header + 2, self.end)]

    def add_id_column(self) -> None:
        """Put an ``ID`` column first (a table from an older template, or a workspace's own)."""
        for i in range(self.header, self.end):
            line = self.lines[i].strip()
            if i == self.header + 1:
                self.lines[i] = "|---" + (line if line.startswith("|") else "|" + line)
            else:
                self.lines[i] = _render(["ID" if i == self.header else "", *_cells(line)])
        self.columns = {k: v + 1 for k, v in self.columns.items()}
        self.columns["id"] = 0


def find_table(source: str) -> Table | None:
    """The first Markdown table of ``source`` with an item (title) column, or None."""
    lines = source.split("\n")
    for i in range(len(lines) - 1):
        if "|" not in lines[i] or not _SEPARATOR.match(lines[i + 1]):
            continue
        cols: dict[str, int] = {}
        for j, h in enumerate(_cells(lines[i])):
            name = _column(h)
            if name is not None and name not in cols:
                cols[name] = j
        if "title" not in cols:
            continue
        end = i + 2
        while end < len(lines) and lines[end].strip().startswith("|"):
            end += 1
        return Table(lines, i, end, cols)
    return None


def _source(cell: dict[str, Any]) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else str(src)


def table_cell(nb: dict[str, Any]) -> dict[str, Any] | None:
    """The human cell holding the action items table: id ``action-items``, else the first with one."""
    human = [c for c in nb.get("cells", []) if HUMAN_TAG in c.get("metadata", {}).get("tags", [])]
    for c in human:
        if c.get("id") == CELL_ID and find_table(_source(c)) is not None:
            return c
    return next((c for c in human if find_table(_source(c)) is not None), None)


# ----------------------------------------------------------------------------- values
def _due_text(d: datetime | None) -> str:
    if d is None:
        return ""
    return f"{d:%Y-%m-%d}" if (d.hour, d.minute, d.second) == (0, 0, 0) else f"{d:%Y-%m-%d %H:%M}"


def _link_of(text: str) -> str:
    m = _MD_LINK.match(text)
    if m:
        return m.group(1)
    return text[1:-1] if text.startswith("<") and text.endswith(">") else text


def record_values(item: ActionItemRow) -> dict[str, str]:
    """A record's values in the table's normal form."""
    return {"type": item.type, "title": item.title, "owner": item.owner or "", "due": _due_text(item.due),
            "status": item.status, "link": item.link or ""}


def row_values(cells: list[str], columns: dict[str, int]) -> tuple[dict[str, str], list[str]]:
    """A row's values in normal form (only the columns the table has), and what is wrong with them."""
    from opsnb.timeparse import parse_instant

    out: dict[str, str] = {}
    problems: list[str] = []
    for f in FIELDS:
        col = columns.get(f)
        if col is None:
            continue
        v = " ".join((cells[col] if col < len(cells) else "").replace("\\|", "|").split())
        if f in ("type", "status"):
            v = v.lower()
            allowed = ACTION_TYPES if f == "type" else ACTION_STATUSES
            if v and v not in allowed:
                problems.append(f"{f} {v!r} is not one of {', '.join(allowed)}")
        elif f == "owner":
            v = v.lstrip("@")
            if len(v) > 200:
                problems.append("the owner is longer than 200 characters")
        elif f == "due" and v:
            try:
                v = _due_text(parse_instant(v, name="due"))
            except ValidationError:
                problems.append(f"due {v!r} is not a time (2026-03-01, now+14d, ...)")
        elif f == "link" and v:
            v = _link_of(v)
            if not v.startswith(("https://", "http://")) or len(v) > 2000:
                problems.append(f"link {v[:60]!r} is not an http(s) URL")
        elif f == "title" and len(v) > 500:
            problems.append("the item is longer than 500 characters")
        out[f] = v
    return out, problems


def _apply(item: ActionItemRow, f: str, v: str) -> None:
    from opsnb.timeparse import parse_instant

    if f == "due":
        item.due = parse_instant(v, name="due") if v else None
    elif f == "status":
        new = v or "open"
        if new != item.status:
            item.status = new
            item.closed_at = None if new == "open" else utcnow()
    elif f == "type":
        item.type = v or "prevent"
    elif f in ("owner", "link"):
        setattr(item, f, v or None)
    else:
        item.title = v


# ----------------------------------------------------------------------------- sync
def _find(ref: str, title: str, mine: dict[int, ActionItemRow], by_title: dict[str, ActionItemRow],
          incident_id: str, problems: list[str]) -> ActionItemRow | None:
    if ref:
        if ref.isdigit() and int(ref) in mine:
            return mine[int(ref)]
        problems.append(f"#{ref} is not an action item of {incident_id}")
        return None
    return by_title.get(title.lower())


def _merge(item: ActionItemRow, values: dict[str, str]) -> dict[str, Any]:
    """Apply the cells people changed since the last sync; return the changes."""
    synced = dict(item.notebook_row or {})
    have = record_values(item)
    changes: dict[str, Any] = {}
    for f, v in values.items():
        if (f in synced and v == synced[f]) or (f not in synced and not v):
            continue  # the table did not change this cell: the record's value stands
        if v != have[f]:
            changes[f] = {"from": have[f], "to": v}
            _apply(item, f, v)
    return changes


def sync(ops: Workbench, s: Session, pm: PostmortemRow, nb: dict[str, Any], *, source: str) -> SyncResult:
    """Make the table of ``nb`` and ``pm``'s records agree; ``nb``'s table cell is changed in place.

    Runs in the caller's unit of work (which checked the role); every created or changed record
    is audited as ``postmortem.action_item`` with where it came from (``source``: re-draft,
    review, publish).
    """
    result = SyncResult()
    cell = table_cell(nb)
    t = find_table(_source(cell)) if cell is not None else None
    if cell is None or t is None:
        return result
    filled = [i for i, c in t.rows() if any(x for x in c)]
    if not filled:
        return result
    if "id" not in t.columns:
        t.add_id_column()
    width = len(_cells(t.lines[t.header]))
    mine = {int(r.id): r for r in s.scalars(select(ActionItemRow).where(ActionItemRow.postmortem_seq == pm.seq))}
    by_title = {r.title.lower(): r for r in mine.values() if r.notebook_row}
    claimed: set[int] = set()
    for n, i in enumerate(filled, start=1):
        cells = (_cells(t.lines[i]) + [""] * width)[:width]
        values, problems = row_values(cells, t.columns)
        title = values.get("title", "")
        if not title:
            problems.append("the item (title) is empty")
        item = _find(cells[t.columns["id"]].lstrip("#").strip(), title, mine, by_title, pm.incident_id, problems)
        if item is not None and int(item.id) in claimed:
            problems.append(f"#{item.id} is on two rows")
        if problems:
            label = f"action items table, row {n}" + (f" ({title[:40]!r})" if title else "")
            result.problems.append(f"{label}: " + "; ".join(problems) + " (not recorded)")
            continue
        now = utcnow()
        if item is None:
            item = ActionItemRow(postmortem_seq=pm.seq, title=title, type=values.get("type") or "prevent",
                                 owner=values.get("owner") or None, status="open", created_at=now, updated_at=now)
            for f in ("due", "status", "link"):
                if values.get(f):
                    _apply(item, f, values[f])
            s.add(item)
            s.flush()
            mine[int(item.id)] = item
            result.created.append(int(item.id))
            ops.audit.record(action="postmortem.action_item", target=pm.incident_id,
                             params={"id": int(item.id), "source": f"notebook table ({source})",
                                     **{f: v for f, v in record_values(item).items() if v}})
        else:
            changes = _merge(item, values)
            if changes:
                item.updated_at = now
                result.updated.append(int(item.id))
                ops.audit.record(action="postmortem.action_item", target=pm.incident_id,
                                 params={"id": int(item.id), "source": f"notebook table ({source})", **changes})
        claimed.add(int(item.id))
        final = record_values(item)
        item.notebook_row = {f: final[f] for f in values}
        new_cells = list(cells)
        new_cells[t.columns["id"]] = str(item.id)
        for f in values:
            typed = cells[t.columns[f]]
            # Written back when the record's value differs, and a due time not written as the date
            # itself (now+14d would mean another day at every sync).
            if row_values([typed], {f: 0})[0].get(f) != final[f] or (f == "due" and typed != final[f]):
                new_cells[t.columns[f]] = final[f].replace("|", "\\|")
        if _render(new_cells) != t.lines[i]:
            t.lines[i] = _render(new_cells)
            result.rewritten += 1
    if result.rewritten:
        cell["source"] = "\n".join(t.lines)
    return result
