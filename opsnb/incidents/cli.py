"""``opsnb incident``: list, show, create, update, note, timeline, metrics."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import click

from opsnb.cliutil import (
    INSTANT,
    INSTANT_HELP,
    SINCE,
    SINCE_HELP,
    emit,
    emit_show,
    format_option,
    pass_ops,
)

SEVS = click.Choice(["SEV1", "SEV2", "SEV3", "SEV4"])


@click.group("incident")
def cli() -> None:
    """Incidents: lifecycle, timeline, metrics.

    \b
    Example:
        opsnb incident list --status open
    """


@cli.command("list")
@click.option("--status", default=None, help="A status, or 'open'.")
@click.option("--service", default=None)
@click.option("--since", type=SINCE, default=None, help="Opened since: " + SINCE_HELP + ".")
@format_option
@pass_ops
def list_cmd(ops: Any, status: str | None, service: str | None, since: datetime | None, fmt: str) -> None:
    """List incidents, newest first.

    \b
    Example:
        opsnb incident list --status open --service checkout
    """
    from opsnb.logs.explain import check_services

    check_services(ops, [service] if service else None)
    emit(ops.incidents.list(status=status, service=service, since=since), fmt,
         columns=["id", "severity", "status", "service", "title", "commander", "impact_start", "resolved_at"])


@cli.command("show")
@click.argument("incident_id")
@format_option
@pass_ops
def show_cmd(ops: Any, incident_id: str, fmt: str) -> None:
    """Show an incident: fields, milestones, links, and the top suspect changes with their reasons.

    \b
    Example:
        opsnb incident show INC-7
    """
    inc = ops.incidents.get(incident_id)
    d = inc.as_dict()
    d.pop("timeline")
    d.update({f"milestone.{k}": v for k, v in d.pop("milestones").items()})
    d["links"] = ", ".join(f"{ln['kind']}:{ln['ref']}" for ln in d["links"])
    emit_show(d, fmt, suspects=_suspects(ops, incident_id, fmt))


def _suspects(ops: Any, incident_id: str, fmt: str, n: int = 3) -> Any:
    """The top ``n`` suspect changes (``ops.deploys.suspects``); reasons joined for a table."""
    df = ops.deploys.suspects(incident_id).head(n)
    df = df[["rank", "score", "kind", "id", "service", "env", "summary", "at", "minutes_before", "reasons"]]
    return df if fmt == "json" else df.assign(reasons=df["reasons"].map("; ".join))


@cli.command("create")
@click.option("--title", required=True)
@click.option("--service", required=True)
@click.option("--severity", type=SEVS, default="SEV3", show_default=True)
@click.option("--impact-start", type=INSTANT, default=None, help="When impact began (default now): " + INSTANT_HELP + ".")
@click.option("--commander", default="")
@click.option("--policy", default=None, help="Page at once under this on-call escalation policy.")
@format_option
@pass_ops
def create_cmd(ops: Any, title: str, service: str, severity: str, impact_start: datetime | None, commander: str,
               policy: str | None, fmt: str) -> None:
    """Open an incident (and page it with --policy).

    \b
    Example:
        opsnb incident create --title "Checkout 5xx" --service checkout --severity SEV2 --policy sre
    """
    inc = ops.incidents.create(title=title, service=service, severity=severity, commander=commander,
                               impact_start=impact_start, policy=policy)
    emit({"id": inc.id, "status": inc.status, "severity": inc.severity,
          "paged_at": inc.milestones.get("paged")}, fmt)


@cli.command("page")
@click.argument("incident_id")
@click.option("--policy", required=True, help="On-call escalation policy name.")
@click.option("--reason", default="")
@format_option
@pass_ops
def page_cmd(ops: Any, incident_id: str, policy: str, reason: str, fmt: str) -> None:
    """Page an incident under an escalation policy (level 1 now, later levels by 'opsnb oncall tick').

    \b
    Example:
        opsnb incident page INC-7 --policy sre
    """
    emit({"incident_id": incident_id, "policy": policy,
          "escalation": ops.incidents.page(incident_id, policy=policy, reason=reason)}, fmt)


@cli.command("update")
@click.argument("incident_id")
@click.option("--status", default=None)
@click.option("--severity", type=SEVS, default=None)
@click.option("--commander", default=None)
@click.option("--scribe", default=None)
@click.option("--communications", default=None)
@click.option("--reason", default="")
@format_option
@pass_ops
def update_cmd(ops: Any, incident_id: str, status: str | None, severity: str | None, commander: str | None,
               scribe: str | None, communications: str | None, reason: str, fmt: str) -> None:
    """Change status (validated), severity or roles.

    \b
    Example:
        opsnb incident update INC-7 --status acknowledged --commander alice
    """
    inc = ops.incidents.update(incident_id, status=status, severity=severity, commander=commander, scribe=scribe,
                               communications=communications, reason=reason)
    emit({"id": inc.id, "status": inc.status, "severity": inc.severity, "commander": inc.commander}, fmt)


@cli.command("note")
@click.argument("incident_id")
@click.argument("text")
@pass_ops
def note_cmd(ops: Any, incident_id: str, text: str) -> None:
    """Add a note to the timeline.

    \b
    Example:
        opsnb incident note INC-7 "rolled back to v41"
    """
    eid = ops.incidents.add_note(incident_id, text)
    click.echo(f"{incident_id}: note {eid}")


@cli.command("timeline")
@click.argument("incident_id")
@click.option("--suspects", type=click.IntRange(0, 50), default=3, show_default=True,
              help="Merge in this many top suspect changes (kind 'suspect', with their reasons); 0: none.")
@format_option
@pass_ops
def timeline_cmd(ops: Any, incident_id: str, suspects: int, fmt: str) -> None:
    """Print the timeline in time order, with the top suspect changes marked as such.

    \b
    Example:
        opsnb incident timeline INC-7 --suspects 5
    """
    emit(ops.incidents.timeline(incident_id, suspects=suspects), fmt, columns=["at", "kind", "actor", "what"])


@cli.command("metrics")
@click.option("--since", type=SINCE, default=None, help="Impact started at or after: " + SINCE_HELP + ".")
@click.option("--by", default="service,severity", show_default=True, help="Comma-separated; empty for overall.")
@format_option
@pass_ops
def metrics_cmd(ops: Any, since: datetime | None, by: str, fmt: str) -> None:
    """MTTD, MTTA, MTTM, MTTR in minutes (n, mean, median, p90).

    \b
    Example:
        opsnb incident metrics --since 30d --by service
    """
    groups = tuple(b.strip() for b in by.split(",") if b.strip())
    emit(ops.incidents.metrics(start=since, by=groups), fmt)
