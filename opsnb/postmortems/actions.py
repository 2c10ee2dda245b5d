"""Action items of postmortems: records, the view across incidents, the open backlog, the overdue digest.

An action item is a row (title, type prevent/mitigate/process, owner, due, status
open/done/wontfix, a ticket link) of one postmortem. :func:`frame` lists them across
incidents with an ``overdue`` column; :func:`backlog` counts the open (and overdue) ones at
each step of a range, from each item's creation and closing times, so the chart shows the
backlog as it was, not as it is.

The digest: once a day each owner of overdue items gets *one* message listing them all
(never one per item), through the owner's first on-call contact method (``ops.oncall``
people), else the ``postmortem_digest_channel`` setting. The notify dedup key
``postmortem-overdue:<owner>:<day>`` makes a second run the same day send nothing, so the
scheduler may call it at every tick.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from opsnb.errors import NotFound, ValidationError
from opsnb.postmortems.models import (
    ACTION_STATUSES,
    ACTION_TYPES,
    ActionItem,
    ActionItemRow,
    PostmortemRow,
)
from opsnb.store.types import utcnow
from opsnb.timeparse import parse_duration, parse_instant

if TYPE_CHECKING:
    import pandas as pd

    from opsnb.postmortems.service import Postmortems
    from opsnb.workbench import Workbench

log = logging.getLogger(__name__)

COLUMNS = ["id", "incident_id", "title", "type", "owner", "due", "status", "link", "created_at", "closed_at",
           "overdue"]
MAX_TITLE = 500


def _check(title: Any = None, type: Any = None, status: Any = None, link: Any = None, owner: Any = None) -> None:
    problems: list[str] = []
    if title is not None and (not isinstance(title, str) or not title.strip() or len(title) > MAX_TITLE):
        problems.append(f"title must be non-empty text of at most {MAX_TITLE} characters")
    if type is not None and type not in ACTION_TYPES:
        problems.append(f"type must be one of {', '.join(ACTION_TYPES)}, got {type!r}")
    if status is not None and status not in ACTION_STATUSES:
        problems.append(f"status must be one of {', '.join(ACTION_STATUSES)}, got {status!r}")
    if link is not None and link != "" and (not isinstance(link, str) or len(link) > 2000
                                            or not link.startswith(("https://", "http://"))):
        problems.append("link must be an http(s) URL of at most 2000 characters")
    if owner is not None and (not isinstance(owner, str) or len(owner) > 200 or "\n" in owner):
        problems.append("owner must be a user name of at most 200 characters")
    if problems:
        raise ValidationError("invalid action item:", problems, field="action_item")


def _of(r: ActionItemRow, incident_id: str) -> ActionItem:
    return ActionItem(id=int(r.id), incident_id=incident_id, title=r.title, type=r.type, owner=r.owner, due=r.due,
                      status=r.status, link=r.link, created_at=r.created_at, closed_at=r.closed_at)


def create(ops: Workbench, pms: Postmortems, incident_id: str, *, title: str, type: str = "prevent",
           owner: str | None = None, due: Any = None, link: str | None = None) -> ActionItem:
    """Add an action item to a postmortem. Needs responder; audited as ``postmortem.action_item``."""
    _check(title=title, type=type, link=link, owner=owner)
    when = parse_instant(due, name="due") if due is not None else None
    with ops.db.session() as s:
        ops.access.require("responder", action="postmortem.action_item")
        row = pms._row(s, incident_id)
        now = utcnow()
        item = ActionItemRow(postmortem_seq=row.seq, title=title.strip(), type=type, owner=owner or None, due=when,
                             status="open", link=link or None, created_at=now, updated_at=now)
        s.add(item)
        s.flush()
        ops.audit.record(action="postmortem.action_item", target=row.incident_id,
                         params={"id": int(item.id), "title": item.title, "type": type, "owner": owner,
                                 "due": when.isoformat() if when else None, "link": link})
        return _of(item, row.incident_id)


def update(ops: Workbench, item_id: int, *, title: str | None = None, type: str | None = None,
           owner: str | None = None, due: Any = None, status: str | None = None, link: str | None = None,
           reason: str = "") -> ActionItem:
    """Change an action item; closing it (done, wontfix) records when. Needs responder; audited."""
    _check(title=title, type=type, status=status, link=link, owner=owner)
    when = parse_instant(due, name="due") if due is not None else None
    with ops.db.session() as s:
        ops.access.require("responder", action="postmortem.action_item")
        item = s.get(ActionItemRow, int(item_id))
        if item is None:
            raise NotFound(f"no action item {item_id}", kind="action_item", key=int(item_id))
        pm = s.get(PostmortemRow, item.postmortem_seq)
        iid = pm.incident_id if pm is not None else "?"
        changes: dict[str, Any] = {}
        for name, value in (("title", title), ("type", type), ("owner", owner), ("link", link), ("due", when)):
            if value is not None and value != getattr(item, name):
                changes[name] = value.isoformat() if isinstance(value, datetime) else value
                setattr(item, name, value or None if name in ("owner", "link") else value)
        if status is not None and status != item.status:
            changes["status"] = {"from": item.status, "to": status}
            item.status = status
            item.closed_at = None if status == "open" else utcnow()
        if not changes:
            raise ValidationError("nothing to change: give title, type, owner, due, status or link",
                                  field="action_item")
        item.updated_at = utcnow()
        ops.audit.record(action="postmortem.action_item", target=iid, params={"id": int(item_id), **changes},
                         reason=reason)
        return _of(item, iid)


def _rows(ops: Workbench, incident_id: str | None = None) -> list[ActionItem]:
    from opsnb.incidents.service import normalise_id

    with ops.db.session() as s:
        q = (select(ActionItemRow, PostmortemRow.incident_id)
             .join(PostmortemRow, PostmortemRow.seq == ActionItemRow.postmortem_seq).order_by(ActionItemRow.id))
        if incident_id is not None:
            q = q.where(PostmortemRow.incident_id == normalise_id(incident_id))
        return [_of(r, iid) for r, iid in s.execute(q).all()]


def frame(ops: Workbench, incident_id: str | None = None, *, owner: str | None = None, status: str | None = None,
          overdue: bool = False, now: Any = None) -> pd.DataFrame:
    """Action items across incidents; ``overdue`` keeps the open ones past their due time."""
    import pandas as pd

    if status is not None:
        _check(status=status)
    at = parse_instant(now, name="now") if now is not None else utcnow()
    items = [i for i in _rows(ops, incident_id) if (owner is None or i.owner == owner)
             and (status is None or i.status == status) and (not overdue or i.overdue(at))]
    df = pd.DataFrame([{**i.as_dict(), "overdue": i.overdue(at)} for i in items], columns=COLUMNS)
    for c in ("due", "created_at", "closed_at"):
        df[c] = pd.to_datetime(df[c], utc=True)
    df["overdue"] = df["overdue"].astype(bool)
    return df


def backlog(ops: Workbench, *, start: Any = None, end: Any = None, every: Any = "1d") -> pd.DataFrame:
    """At each step: items open then (created, not yet closed), and those of them past due."""
    import pandas as pd

    step = parse_duration(every, name="every")
    items = _rows(ops)
    stop = parse_instant(end, name="end") if end is not None else utcnow()
    first = min((i.created_at for i in items), default=stop - 14 * step)
    at = parse_instant(start, name="start") if start is not None else first
    if stop < at:
        raise ValidationError("end is before start", field="end")
    if (stop - at) / step > 10_000:
        raise ValidationError(f"{(stop - at) / step:.0f} steps of {every}; use a longer step", field="every")
    rows = []
    while True:
        open_ = [i for i in items if i.created_at <= at and (i.closed_at is None or i.closed_at > at)]
        rows.append({"at": at, "open": len(open_),
                     "overdue": sum(1 for i in open_ if i.due is not None and i.due < at)})
        if at >= stop:
            break
        at = min(at + step, stop)
    df = pd.DataFrame(rows, columns=["at", "open", "overdue"])
    df["at"] = pd.to_datetime(df["at"], utc=True)
    return df


def backlog_chart(df: pd.DataFrame) -> Any:
    """The open and overdue backlog as a Plotly step chart."""
    import plotly.graph_objects as go

    fig = go.Figure()
    fig.add_trace(go.Scatter(x=df["at"], y=df["open"], name="open", mode="lines", line_shape="hv"))
    fig.add_trace(go.Scatter(x=df["at"], y=df["overdue"], name="overdue", mode="lines", line_shape="hv",
                             line={"color": "#c0392b"}))
    fig.update_layout(title="Open postmortem action items", yaxis_title="items", height=320,
                      margin={"l": 40, "r": 10, "t": 40, "b": 30})
    return fig


def _route(ops: Workbench, owner: str, contacts: dict[str, list[dict[str, str]]]) -> tuple[str, str | None] | None:
    for c in contacts.get(owner, []):
        if c.get("channel"):
            return str(c["channel"]), c.get("target") or None
    fallback = str(ops.settings.postmortem_digest_channel or "")
    return (fallback, None) if fallback else None


def notify_overdue(ops: Workbench, *, now: Any = None, check_role: bool = True) -> pd.DataFrame:
    """One digest per owner of overdue items, for the day of ``now``; returns what was recorded.

    Columns: owner, items, channel, target, delivery_id, status (``recorded``, or why not:
    ``no channel``, ``unassigned``, or the error).
    """
    import pandas as pd

    from opsnb.notify import hooks as notify_hooks

    at = parse_instant(now, name="now") if now is not None else utcnow()
    if check_role:
        ops.access.require("responder", action="postmortem.digest")
    by_owner: dict[str, list[ActionItem]] = {}
    for i in _rows(ops):
        if i.overdue(at):
            by_owner.setdefault(i.owner or "", []).append(i)
    cols = ["owner", "items", "channel", "target", "delivery_id", "status"]
    if not by_owner:
        return pd.DataFrame([], columns=cols)
    contacts = {str(p["name"]): list(p["contacts"] or []) for p in ops.oncall.people().to_dict("records")}
    out, ids = [], []
    day = at.strftime("%Y-%m-%d")
    midnight = at.replace(hour=0, minute=0, second=0, microsecond=0)
    for owner, items in sorted(by_owner.items()):
        row: dict[str, Any] = {"owner": owner or None, "items": len(items), "channel": None, "target": None,
                               "delivery_id": None, "status": "unassigned" if not owner else "no channel"}
        route = _route(ops, owner, contacts) if owner else None
        if route is not None and len(ops.audit.list(action="postmortem.digest", target=owner, since=midnight,
                                                     limit=1)):
            row.update(channel=route[0], target=route[1], status="sent today")
        elif route is not None:
            channel, target = route
            lines = [f"- {i.incident_id} #{i.id} [{i.type}] {i.title} (due {i.due:%Y-%m-%d}, "
                     f"{(at - i.due).days}d late){' ' + i.link if i.link else ''}" for i in items if i.due]
            subject = f"{len(items)} overdue postmortem action item{'s' if len(items) != 1 else ''} for {owner}"
            try:
                with ops.db.session():
                    did = notify_hooks.record(ops, channel=channel, target=target, subject=subject,
                                              body="\n".join(lines), dedup_key=f"postmortem-overdue:{owner}:{day}",
                                              context={"source": "postmortems.digest", "owner": owner,
                                                       "items": [i.id for i in items]}, now=at)
                    ops.audit.record(action="postmortem.digest", target=owner, actor=ops.user,
                                     params={"delivery": did, "items": [i.id for i in items], "day": day})
                row.update(channel=channel, target=target, delivery_id=did, status="recorded")
                ids.append(did)
            except Exception as exc:  # one owner's bad channel must not stop the others' digest
                row.update(channel=channel, target=target, status=f"{type(exc).__name__}: {exc}"[:300])
                log.warning("postmortem digest for %s not recorded: %s", owner, exc)
        out.append(row)
    ops.notify.attempt(ids, now=at)
    return pd.DataFrame(out, columns=cols)
