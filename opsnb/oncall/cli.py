"""``opsnb oncall``: who is on call, shifts, escalation plans, iCalendar, imports, acks, ticks."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import click

from opsnb.cliutil import INSTANT, INSTANT_HELP, DurationType, emit, format_option, pass_ops


@click.group("oncall")
def cli() -> None:
    """On-call schedules and escalation.

    \b
    Example:
        opsnb oncall who primary --at 2025-03-10T13:00:00Z
        opsnb oncall plan default --at 2025-03-10T12:00:00Z
    """


@cli.command("list")
@format_option
@pass_ops
def list_cmd(ops: Any, fmt: str) -> None:
    """Every schedule and who is on call now.

    \b
    Example:
        opsnb oncall list
    """
    emit(ops.oncall.list(), fmt)


@cli.command("who")
@click.argument("schedule")
@click.option("--at", "at", type=INSTANT, default=None, help="When (default now): " + INSTANT_HELP + ".")
@format_option
@pass_ops
def who(ops: Any, schedule: str, at: datetime | None, fmt: str) -> None:
    """Who is on call in SCHEDULE (at a time).

    \b
    Example:
        opsnb oncall who primary --at 2025-03-10T13:00:00Z
    """
    person = ops.oncall.who_is_on_call(schedule, at)
    emit([{"schedule": schedule, "at": at or "now", "person": person}], fmt)


@cli.command("shifts")
@click.argument("schedule")
@click.option("--start", type=INSTANT, required=True, help="Start: " + INSTANT_HELP + ".")
@click.option("--end", type=INSTANT, required=True, help="End: " + INSTANT_HELP + ".")
@format_option
@pass_ops
def shifts(ops: Any, schedule: str, start: datetime, end: datetime, fmt: str) -> None:
    """Final shifts of SCHEDULE in [start, end), after layers and overrides.

    \b
    Example:
        opsnb oncall shifts primary --start 2025-03-01 --end 2025-04-01
    """
    emit(ops.oncall.final_shifts(schedule, start, end), fmt)


@cli.command("plan")
@click.argument("policy")
@click.option("--at", "at", type=INSTANT, default=None, help="When the escalation starts (default now): " + INSTANT_HELP + ".")
@click.option("--ack-at", type=INSTANT, default=None, help="When it is acknowledged, if it is.")
@format_option
@pass_ops
def plan(ops: Any, policy: str, at: datetime | None, ack_at: datetime | None, fmt: str) -> None:
    """Who POLICY would notify when (a dry run: nothing is sent).

    \b
    Example:
        opsnb oncall plan default --at 2025-03-10T12:00:00Z --ack-at 2025-03-10T12:20:00Z
    """
    emit(ops.oncall.plan(policy, at, ack_at), fmt)


@cli.command("export-ical")
@click.argument("schedule")
@click.option("--start", type=INSTANT, required=True, help="Start: " + INSTANT_HELP + ".")
@click.option("--end", type=INSTANT, required=True, help="End: " + INSTANT_HELP + ".")
@click.option("--output", "-o", type=click.Path(dir_okay=False, writable=True), default=None,
              help="File to write (default stdout).")
@click.option("--tzid", is_flag=True, help="Local times in the schedule's zone (TZID + VTIMEZONE) instead of UTC.")
@pass_ops
def export_ical(ops: Any, schedule: str, start: datetime, end: datetime, output: str | None, tzid: bool) -> None:
    """Final shifts of SCHEDULE as an iCalendar file.

    \b
    Example:
        opsnb oncall export-ical primary --start 2025-03-01 --end 2025-06-01 -o primary.ics
    """
    text = ops.oncall.export_ical(schedule, start, end, tzid=tzid)
    if output:
        Path(output).write_bytes(text.encode("utf-8"))
        click.echo(f"wrote {output}")
    else:
        click.echo(text, nl=False)


@cli.command("export")
@click.argument("schedule")
@click.option("--format", "fmt", type=click.Choice(["pagerduty"]), required=True,
              help="pagerduty: a PagerDuty REST API v2 Schedule object (schedule layers).")
@click.option("--user-id", "user_ids", multiple=True, metavar="NAME=PID",
              help="PagerDuty user id of a person (repeatable); unmapped names are written as they are.")
@click.option("--overrides", is_flag=True, help="Print the overrides body (POST /schedules/{id}/overrides) instead.")
@pass_ops
def export_cmd(ops: Any, schedule: str, fmt: str, user_ids: tuple[str, ...], overrides: bool) -> None:
    """SCHEDULE as a PagerDuty Schedule object (JSON on stdout; notes on stderr).

    \b
    Example:
        opsnb oncall export primary --format pagerduty --user-id alice=PXPGF42 > primary.json
    """
    import json

    ids: dict[str, str] = {}
    for item in user_ids:
        name, sep, pid = item.partition("=")
        if not sep or not name.strip() or not pid.strip():
            raise click.BadParameter(f"{item!r} is not NAME=PID", param_hint="--user-id")
        ids[name.strip()] = pid.strip()
    out = ops.oncall.export_pagerduty(schedule, user_ids=ids)
    click.echo(json.dumps(out.overrides if overrides else out.body, indent=2))
    for note in out.notes:
        click.echo(f"note: {note}", err=True)


@cli.command("import-ical")
@click.argument("schedule")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--reason", default="", help="Recorded in the audit trail.")
@pass_ops
def import_ical(ops: Any, schedule: str, file: str, reason: str) -> None:
    """Import the events of an iCalendar FILE as overrides of SCHEDULE (all or nothing).

    \b
    Example:
        opsnb oncall import-ical primary vacation-cover.ics
    """
    ids = ops.oncall.import_ical(schedule, Path(file).read_bytes(), reason=reason)
    click.echo(f"imported {len(ids)} override(s)")
    for note in ids.notes:
        click.echo(f"note: {note}", err=True)


@cli.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@format_option
@pass_ops
def import_yaml(ops: Any, file: str, fmt: str) -> None:
    """Create people, schedules and escalation policies from an on-call YAML FILE.

    \b
    Example:
        opsnb oncall import oncall.yaml
    """
    done = ops.oncall.import_yaml(file)
    emit([{"kind": k, "created": ", ".join(v)} for k, v in done.items()], fmt)


@cli.command("override")
@click.argument("schedule")
@click.option("--person", required=True)
@click.option("--start", type=INSTANT, required=True, help="Start: " + INSTANT_HELP + ".")
@click.option("--end", type=INSTANT, required=True, help="End: " + INSTANT_HELP + ".")
@click.option("--reason", default="")
@pass_ops
def override(ops: Any, schedule: str, person: str, start: datetime, end: datetime, reason: str) -> None:
    """Let PERSON cover SCHEDULE from start to end (needs responder).

    \b
    Example:
        opsnb oncall override primary --person dave --start 2025-03-05T00:00Z --end 2025-03-06T00:00Z
    """
    oid = ops.oncall.add_override(schedule, person=person, start=start, end=end, reason=reason)
    click.echo(f"override {oid} added")


@cli.command("ack")
@click.argument("incident_id")
@format_option
@pass_ops
def ack(ops: Any, incident_id: str, fmt: str) -> None:
    """Acknowledge INCIDENT_ID's pages: pending notifications are cancelled (needs responder).

    \b
    Example:
        opsnb oncall ack INC-7
    """
    emit(ops.oncall.acknowledge(incident_id), fmt)


@cli.command("tick")
@click.option("--every", type=DurationType(maximum=timedelta(hours=1)), default=None,
              help="Keep ticking at this interval (e.g. 15s; until interrupted) instead of once.")
@click.option("--times", type=click.IntRange(1), default=None, hidden=True, help="Stop after this many ticks.")
@format_option
@pass_ops
def tick(ops: Any, every: timedelta | None, times: int | None, fmt: str) -> None:
    """Fire due escalation timers, then try due notifications (the scheduler runs this).

    Safe from several hosts at once: each timer and delivery is claimed by one process.

    \b
    Example:
        opsnb oncall tick
        opsnb oncall tick --every 15s
    """
    import time

    n = 0
    while True:
        fired = ops.oncall.tick()
        ops.notify.tick()
        if len(fired) or every is None:
            emit(fired.drop(columns=["result"]), fmt)
        n += 1
        if every is None or (times is not None and n >= times):
            return
        time.sleep(every.total_seconds())
