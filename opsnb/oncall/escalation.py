"""Escalation policies as values, and the pure plan of who is notified when.

Semantics (reference): levels run in order; each notifies its targets, then
waits its delay. ``repeat = N`` runs the whole chain 1 + N times; when the last
level's delay of the last round has passed unacknowledged, the escalation is
*exhausted* (the incident stays open). An acknowledgement cancels every pending
notification: a step due strictly before the ack is sent, one due at or after
it is not. With an ``ack_timeout``, an acknowledgement that is not followed by
a resolution re-triggers the chain from level 1 after the timeout.

A schedule target is resolved to a person when the level fires; :func:`plan`
does the same with the planned firing time, so a handoff during escalation
shows up in the plan.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pandas as pd

from opsnb.errors import ValidationError
from opsnb.timeparse import parse_duration

MAX_LEVELS = 20
MAX_REPEAT = 20
MAX_TARGETS = 50
PLAN_COLUMNS = ["at", "action", "round", "level", "target_kind", "target", "person"]

_MAX_DELAY = timedelta(days=7)


def policy_duration(value: Any, *, what: str = "delay") -> timedelta:
    """A level delay or ack timeout in the time grammar (``15m``, ``1h30m``, ``1d``), 0 to 7 days.

    A bare number is refused, as everywhere: ``15`` has meant both seconds and minutes.
    """
    return parse_duration(value, name=what, allow_zero=True, maximum=_MAX_DELAY)


@dataclass(frozen=True)
class Target:
    """Whom a level notifies: a ``person`` or the person on call in a ``schedule``."""

    kind: str
    name: str


@dataclass(frozen=True)
class Level:
    targets: tuple[Target, ...]
    delay: timedelta


@dataclass(frozen=True)
class PolicySpec:
    """An escalation policy as a value."""

    name: str
    levels: tuple[Level, ...]
    repeat: int = 0
    ack_timeout: timedelta | None = None
    channel: str | None = None

    @property
    def cycle(self) -> timedelta:
        """One run of the chain: the sum of every level's delay."""
        return sum((lv.delay for lv in self.levels), timedelta(0))


def target_from(value: Any) -> Target:
    """``{"schedule": "primary"}``, ``{"person": "alice"}``, ``"schedule:primary"`` or ``"alice"``."""
    if isinstance(value, Target):
        return value
    if isinstance(value, dict) and len(value) == 1:
        kind, name = next(iter(value.items()))
    elif isinstance(value, dict) and {"kind", "name"} <= set(value):
        kind, name = value["kind"], value["name"]
    elif isinstance(value, str):
        kind, _, name = value.partition(":") if ":" in value else ("person", "", value)
    else:
        raise ValidationError(f"target {value!r} is not {{person: NAME}} or {{schedule: NAME}}", field="targets")
    if kind not in ("person", "schedule"):
        raise ValidationError(f"target kind {kind!r} is not person or schedule", field="targets")
    if not isinstance(name, str) or not name.strip() or len(name) > 200 or any(c in name for c in "\r\n\x00"):
        raise ValidationError(f"target name {name!r} is not a name", field="targets")
    return Target(kind, name.strip())


def policy_from_dict(d: dict[str, Any]) -> PolicySpec:
    """A policy from its YAML/JSON form; every problem is reported at once."""
    if not isinstance(d, dict):
        raise ValidationError(f"an escalation policy must be a mapping, got {type(d).__name__}")
    problems: list[str] = [f"unknown policy field {k!r}" for k in d
                           if k not in ("name", "levels", "repeat", "ack_timeout", "channel", "description")]
    name = d.get("name")
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}", name):
        problems.append(f"name {name!r} must be 1-100 letters, digits, '.', '_' or '-'")
    levels: list[Level] = []
    raw = d.get("levels")
    if not isinstance(raw, list) or not raw:
        problems.append("levels must be a non-empty list")
        raw = []
    if len(raw) > MAX_LEVELS:
        problems.append(f"at most {MAX_LEVELS} levels")
    for i, lv in enumerate(raw[:MAX_LEVELS], 1):
        if not isinstance(lv, dict):
            problems.append(f"level {i}: must be a mapping with targets and delay")
            continue
        extra = [k for k in lv if k not in ("targets", "delay")]
        if extra:
            problems.append(f"level {i}: unknown field(s) {', '.join(map(repr, extra))}")
        targets = lv.get("targets")
        if not isinstance(targets, list) or not targets or len(targets) > MAX_TARGETS:
            problems.append(f"level {i}: targets must be a list of 1..{MAX_TARGETS} person/schedule targets")
            continue
        try:
            ts = tuple(target_from(t) for t in targets)
            delay = policy_duration(lv.get("delay", "0s"), what=f"level {i} delay")
        except ValidationError as exc:
            problems.append(f"level {i}: {exc}")
            continue
        levels.append(Level(ts, delay))
    repeat = d.get("repeat", 0)
    if isinstance(repeat, bool) or not isinstance(repeat, int) or not 0 <= repeat <= MAX_REPEAT:
        problems.append(f"repeat must be a whole number 0..{MAX_REPEAT}, got {repeat!r}")
        repeat = 0
    ack_timeout = None
    if d.get("ack_timeout") not in (None, "", 0):
        try:
            ack_timeout = policy_duration(d["ack_timeout"], what="ack_timeout")
            if ack_timeout <= timedelta(0):
                problems.append("ack_timeout must be positive")
        except ValidationError as exc:
            problems.append(str(exc))
    channel = d.get("channel")
    if channel is not None and (not isinstance(channel, str) or not channel.strip()):
        problems.append("channel must be a channel name")
    spec = PolicySpec(str(name), tuple(levels), int(repeat), ack_timeout, channel)
    if levels and len(levels) == len(raw) and repeat and spec.cycle <= timedelta(0):
        problems.append("a repeating policy needs a positive total delay (it would page in a tight loop)")
    if problems:
        raise ValidationError(f"invalid escalation policy {name!r}:", problems)
    return spec


def policy_to_dict(p: PolicySpec) -> dict[str, Any]:
    """The JSON form stored in the database."""
    return {
        "name": p.name, "repeat": p.repeat, "channel": p.channel,
        "ack_timeout": f"{int(p.ack_timeout.total_seconds())}s" if p.ack_timeout else None,
        "levels": [{"delay": f"{int(lv.delay.total_seconds())}s",
                    "targets": [{t.kind: t.name} for t in lv.targets]} for lv in p.levels],
    }


@dataclass(frozen=True)
class Step:
    """One firing of a level: when, which round (0-based) and level (0-based)."""

    at: datetime
    round: int
    level: int


def steps(policy: PolicySpec, start: datetime) -> tuple[list[Step], datetime]:
    """Every level firing of a full chain started at ``start``, and when it is exhausted."""
    out: list[Step] = []
    t = start
    for r in range(policy.repeat + 1):
        for i, lv in enumerate(policy.levels):
            out.append(Step(t, r, i))
            t = t + lv.delay
    return out, t


Resolver = Callable[[str, datetime], "str | None"]


def plan(policy: PolicySpec, trigger_at: datetime, ack_at: datetime | None = None,
         resolve: Resolver | None = None) -> pd.DataFrame:
    """Who would be notified when; nothing is sent.

    Args:
        policy: The policy.
        trigger_at: When the escalation starts (aware).
        ack_at: When it is acknowledged, if it is: steps due at or after it are left out.
        resolve: ``(schedule, at) -> person`` for schedule targets; None leaves person empty.

    Returns:
        DataFrame with columns ``at, action, round, level, target_kind, target, person``;
        ``action`` is ``notify``, ``ack``, ``retrigger`` or ``exhausted``; round and level are 1-based.
    """
    rows: list[dict[str, Any]] = []

    def run_chain(start: datetime, stop: datetime | None) -> bool:
        chain, exhausted_at = steps(policy, start)
        for st in chain:
            if stop is not None and st.at >= stop:
                return False
            for t in policy.levels[st.level].targets:
                person = t.name if t.kind == "person" else (resolve(t.name, st.at) if resolve else None)
                rows.append({"at": st.at, "action": "notify", "round": st.round + 1, "level": st.level + 1,
                             "target_kind": t.kind, "target": t.name, "person": person})
        if stop is not None and exhausted_at >= stop:
            return False
        rows.append({"at": exhausted_at, "action": "exhausted", "round": None, "level": None,
                     "target_kind": None, "target": None, "person": None})
        return True

    if ack_at is not None and ack_at < trigger_at:
        raise ValidationError(f"ack_at {ack_at.isoformat()} is before trigger_at {trigger_at.isoformat()}",
                              field="ack_at")
    run_chain(trigger_at, ack_at)
    if ack_at is not None:  # after exhaustion too: the incident stays open, so an ack still counts
        rows.append({"at": ack_at, "action": "ack", "round": None, "level": None, "target_kind": None,
                     "target": None, "person": None})
        if policy.ack_timeout is not None:
            again = ack_at + policy.ack_timeout
            rows.append({"at": again, "action": "retrigger", "round": None, "level": None, "target_kind": None,
                         "target": None, "person": None})
            run_chain(again, None)
    df = pd.DataFrame(rows, columns=PLAN_COLUMNS)
    df["at"] = pd.to_datetime(df["at"], utc=True)
    for c in ("round", "level"):
        df[c] = df[c].astype("Int64")
    return df
