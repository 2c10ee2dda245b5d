"""``opsnb change``: record and list configuration changes, feature-flag flips and maintenance toggles."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import click

from opsnb.changes.models import KINDS
from opsnb.cliutil import INSTANT, INSTANT_HELP, SINCE, SINCE_HELP, emit, format_option, pass_ops


@click.group("change")
def cli() -> None:
    """Changes other than deploys: config, feature flags, maintenance mode.

    \b
    Example:
        opsnb change record --kind feature_flag --service checkout --summary "new-cart on for 100%"
    """


@cli.command("record")
@click.option("--kind", type=click.Choice(KINDS), required=True, help="What kind of change.")
@click.option("--service", required=True, help="Service changed.")
@click.option("--summary", required=True, help="What changed, one line.")
@click.option("--env", default="prod", show_default=True)
@click.option("--at", type=INSTANT, help="When: " + INSTANT_HELP + " (default now).")
@click.option("--source", default="", help="System that made the change (launchdarkly, consul ...).")
@click.option("--detail", "details", multiple=True, metavar="KEY=VALUE", help="A detail; repeat for more.")
@click.option("--reason", default="", help="Why; kept in the audit trail.")
@format_option
@pass_ops
def record_cmd(ops: Any, kind: str, service: str, summary: str, env: str, at: datetime | None, source: str,
               details: tuple[str, ...], reason: str, fmt: str) -> None:
    """Record a change (needs responder).

    \b
    Example:
        opsnb change record --kind config --service checkout --summary "pool size 20 -> 5" --detail key=db.pool
    """
    parsed: dict[str, str] = {}
    for d in details:
        key, sep, value = d.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{d!r} is not KEY=VALUE", param_hint="--detail")
        parsed[key] = value
    ch = ops.changes.record(kind=kind, service=service, summary=summary, env=env, at=at, source=source,
                            details=parsed, reason=reason)
    emit([ch.as_dict()], fmt, columns=["id", "kind", "service", "env", "summary", "at", "actor"])


@cli.command("list")
@click.option("--service", help="Only this service.")
@click.option("--env", help="Only this environment.")
@click.option("--kind", type=click.Choice(KINDS), help="Only this kind.")
@click.option("--since", type=SINCE, help="At or after: " + SINCE_HELP + ".")
@click.option("--limit", type=click.IntRange(1, 1_000_000), default=100, show_default=True)
@format_option
@pass_ops
def list_cmd(ops: Any, service: str | None, env: str | None, kind: str | None, since: datetime | None,
             limit: int, fmt: str) -> None:
    """List changes, newest first.

    \b
    Example:
        opsnb change list --service checkout --since 1d --format json
    """
    df = ops.changes.list(service=service, env=env, kind=kind, since=since, limit=limit)
    if fmt != "json":
        df = df.assign(details=df["details"].map(lambda d: json.dumps(d, sort_keys=True)))
    emit(df, fmt, columns=["id", "kind", "service", "env", "summary", "source", "at", "actor", "details"])
