"""``opsnb alerts``: list alerts, silence them, ingest a payload file, tick, replay for fatigue."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import click

from opsnb.cliutil import (
    DURATION,
    INSTANT,
    INSTANT_HELP,
    SINCE,
    SINCE_HELP,
    emit,
    format_option,
    pass_ops,
)


@click.group("alerts")
def cli() -> None:
    """Alerts: ingest, list, silence, replay.

    \b
    Example:
        opsnb alerts list --status firing --labels 'service="checkout"'
    """


@cli.command("list")
@click.option("--status", type=click.Choice(["firing", "acknowledged", "resolved"]), default=None)
@click.option("--since", type=SINCE, default=None, help="Received since: " + SINCE_HELP + ".")
@click.option("--labels", default=None, help='Matchers, e.g. \'service="checkout",severity=~"crit.*"\'.')
@format_option
@pass_ops
def list_cmd(ops: Any, status: str | None, since: datetime | None, labels: str | None, fmt: str) -> None:
    """List alerts, most recently received first.

    \b
    Example:
        opsnb alerts list --status firing --since 24h --format json
    """
    df = ops.alerts.list(status=status, since=since, labels=labels)
    emit(df, fmt, columns=["fingerprint", "status", "alertname", "service", "severity", "summary", "starts_at",
                           "receive_count", "incident_id", "silenced"])


@cli.command("silence")
@click.option("--matchers", "-m", required=True, help='e.g. \'service="search",alertname=~"Disk.*"\'.')
@click.option("--duration", "-d", type=DURATION, default=None, help="How long, e.g. 2h or 1h30m (or give --ends-at).")
@click.option("--ends-at", type=INSTANT, default=None, help="When the silence ends: " + INSTANT_HELP + ".")
@click.option("--comment", "-c", required=True, help="Why.")
@click.option("--every", default=None, help="Recurring maintenance: weekdays, e.g. sun or mon,thu (or 'day').")
@click.option("--at", "start", default=None, help="Recurring maintenance: local start HH:MM.")
@click.option("--timezone", default="UTC", show_default=True, help="Recurring maintenance: IANA zone.")
@format_option
@pass_ops
def silence_cmd(ops: Any, matchers: str, duration: timedelta | None, ends_at: datetime | None, comment: str,
                every: str | None, start: str | None, timezone: str, fmt: str) -> None:
    """Silence matching alerts (kept, not notified); with --every/--at, a recurring maintenance window.

    \b
    Example:
        opsnb alerts silence -m 'service="search"' -d 2h -c "reindexing"
        opsnb alerts silence -m 'service="db"' --every sun --at 02:00 -d 1h --timezone Europe/Berlin -c backup
    """
    if every or start:
        if not (every and start and duration):
            raise click.UsageError("a maintenance window needs --every, --at and --duration")
        days = None if every == "day" else [d.strip() for d in every.split(",")]
        out = ops.alerts.create_maintenance(matchers=matchers, start=start, duration=duration, days=days,
                                            timezone=timezone, comment=comment)
    else:
        out = ops.alerts.create_silence(matchers=matchers, duration=duration, comment=comment,
                                        ends_at=ends_at)
    emit(out, fmt)


@cli.command("silences")
@click.option("--all", "show_all", is_flag=True, help="Include expired silences.")
@format_option
@pass_ops
def silences_cmd(ops: Any, show_all: bool, fmt: str) -> None:
    """List silences and maintenance windows.

    \b
    Example:
        opsnb alerts silences --all
    """
    emit(ops.alerts.list_silences(include_expired=show_all), fmt,
         columns=["id", "kind", "matchers", "starts_at", "ends_at", "created_by", "comment", "active"])


@cli.command("expire")
@click.argument("silence_id")
@click.option("--reason", default="", help="Why.")
@pass_ops
def expire_cmd(ops: Any, silence_id: str, reason: str) -> None:
    """End a silence now.

    \b
    Example:
        opsnb alerts expire 3f1c... --reason "maintenance done"
    """
    ops.alerts.expire_silence(silence_id, reason=reason)
    click.echo(f"expired {silence_id}")


@cli.command("ingest")
@click.argument("path", type=click.File("rb"))
@click.option("--source", type=click.Choice(["alertmanager", "events"]), required=True)
@format_option
@pass_ops
def ingest_cmd(ops: Any, path: Any, source: str, fmt: str) -> None:
    """Ingest a payload file (an Alertmanager webhook body, or an event / array of events); - is stdin.

    \b
    Example:
        opsnb alerts ingest webhook.json --source alertmanager
    """
    data = path.read(1_048_577)
    if len(data) > 1_048_576:
        raise click.BadParameter("payload larger than 1 MiB", param_hint="PATH")
    fn = ops.alerts.ingest_alertmanager if source == "alertmanager" else ops.alerts.ingest_events
    emit(fn(data).as_dict(), fmt)


@cli.command("tick")
@format_option
@pass_ops
def tick_cmd(ops: Any, fmt: str) -> None:
    """Flush due groups, send notifications, open incidents by rule (the API server does this every second).

    \b
    Example:
        opsnb alerts tick
    """
    rep = ops.alerts.tick()
    emit({"flushed": rep.flushed, "notifications": len(rep.notifications), "incidents": ",".join(rep.incidents),
          "pages": len([p for p in rep.pages if not p["error"]]),
          "page_errors": "; ".join(f"{p['incident_id']}: {p['error']}" for p in rep.pages if p["error"]),
          "runbooks": rep.runbooks}, fmt)


@cli.command("incident-rule")
@click.option("--name", required=True)
@click.option("--matchers", "-m", required=True, help='Alerts to match, e.g. \'severity="critical"\'.')
@click.option("--severity", default="SEV2", show_default=True, help="Severity of the incident it opens.")
@click.option("--no-join", is_flag=True, help="Always open a new incident (default: join an open one of the service).")
@click.option("--policy", default=None, help="On-call escalation policy that pages a new incident.")
@click.option("--reason", default="")
@pass_ops
def incident_rule_cmd(ops: Any, name: str, matchers: str, severity: str, no_join: bool, policy: str | None,
                      reason: str) -> None:
    """Make matching alerts open (or join) an incident, paged under --policy when new.

    \b
    Example:
        opsnb alerts incident-rule --name crit -m 'severity="critical"' --severity SEV2 --policy sre
    """
    ops.alerts.create_incident_rule(name=name, matchers=matchers, severity=severity, join_open=not no_join,
                                    policy=policy, reason=reason)
    click.echo(f"incident rule {name} created")


@cli.command("incident-rules")
@format_option
@pass_ops
def incident_rules_cmd(ops: Any, fmt: str) -> None:
    """List incident rules in the order they are tried.

    \b
    Example:
        opsnb alerts incident-rules --format json
    """
    emit(ops.alerts.incident_rules(), fmt)


@cli.command("replay")
@click.option("--since", type=SINCE, default=None, help="Replay receipts since: " + SINCE_HELP + ".")
@click.option("--no-silences", is_flag=True, help="Leave out silences, maintenance windows and inhibition.")
@format_option
@pass_ops
def replay_cmd(ops: Any, since: datetime | None, no_silences: bool, fmt: str) -> None:
    """Replay the stored alert stream: notifications sent vs alerts received (alert fatigue).

    \b
    Example:
        opsnb alerts replay --since 7d
    """
    rep = ops.alerts.replay(since=since, use_silences=not no_silences)
    emit(rep.as_dict(), fmt)
