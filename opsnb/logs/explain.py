"""Helpful failures for log commands: unknown service names get a suggestion, empty results a reason."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from opsnb.errors import NotFound

if TYPE_CHECKING:
    from opsnb.workbench import Workbench


def known_services(ops: Workbench) -> list[str]:
    """Services opsnb has seen: in the logs, in deploys and in incidents (sorted, each once)."""
    names: set[str] = set(ops.logs.services()["service"])
    for frame in (ops.deploys.list(), ops.incidents.list()):
        if "service" in frame:
            names.update(str(s) for s in frame["service"] if s)
    return sorted(names)


def check_services(ops: Workbench, services: Iterable[str] | None) -> None:
    """Fail with a did-you-mean when a service name is not one opsnb has seen.

    Raises:
        NotFound: A name is unknown (while some are known: an empty workspace accepts any name).
    """
    wanted = [s for s in (services or []) if s]
    if not wanted:
        return
    known = known_services(ops)
    if not known:
        return
    for name in wanted:
        if name in known:
            continue
        close = difflib.get_close_matches(name, known, n=2, cutoff=0.6)
        hint = ("did you mean " + " or ".join(repr(c) for c in close) + "?") if close else (
            "services: " + ", ".join(known[:30]))
        raise NotFound(f"no service {name!r} in the logs, deploys or incidents; {hint}", kind="service", key=name)


def _utc(t: Any) -> str:
    return f"{t:%Y-%m-%d %H:%M:%S} UTC"


def why_empty(ops: Workbench, since: datetime, until: datetime, services: Sequence[str] | None = None,
              filtered: bool = False) -> str:
    """Why ``[since, until)`` holds no log events, in one line (for an empty table).

    Args:
        ops: The workbench.
        since: Start of the range asked for (aware).
        until: End of the range (aware).
        services: The services asked for, if any.
        filtered: Whether other filters (severity, text, ...) were given too.
    """
    seen = ops.logs.services()
    if services:
        seen = seen[seen["service"].isin(list(services))]
    who = f" of {', '.join(services)}" if services else ""
    span = f"between {_utc(since)} and {_utc(until)}"
    if seen.empty:
        return f"(none: no log events{who} at all)"
    first, last = seen["first_seen"].min(), seen["last_seen"].max()
    if since > last:
        return f"(none: no events{who} after {_utc(last)}, the newest)"
    if until <= first:
        return f"(none: no events{who} before {_utc(first)}, the oldest)"
    if filtered:
        return f"(none: events{who} exist {span}, but none match the filters)"
    return f"(none: no events{who} {span}; they run from {_utc(first)} to {_utc(last)})"
