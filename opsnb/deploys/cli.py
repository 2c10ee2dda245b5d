"""``opsnb deploys``: list deploys, show current versions, record deploys and rollbacks."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import click

from opsnb.cliutil import (
    DURATION,
    INSTANT,
    SINCE,
    SINCE_HELP,
    emit,
    emit_json,
    format_option,
    pass_ops,
)
from opsnb.errors import Conflict

TIME = INSTANT  # the one time grammar (opsnb.timeparse)


@click.group("deploys")
def cli() -> None:
    """Deployment records: who shipped which version where.

    \b
    Example:
        opsnb deploys list --service checkout
    """


@cli.command("list")
@click.option("--service", help="Only this service.")
@click.option("--env", help="Only this environment.")
@click.option("--since", type=SINCE, help="Started at or after: " + SINCE_HELP + ".")
@click.option("--until", type=TIME, help="Started before this time.")
@click.option("--limit", type=click.IntRange(1, 1_000_000), default=100, show_default=True)
@format_option
@pass_ops
def list_cmd(ops: Any, service: str | None, env: str | None, since: datetime | None, until: datetime | None,
             limit: int, fmt: str) -> None:
    """List deploys, newest first.

    \b
    Example:
        opsnb deploys list --service checkout --env prod --format json
    """
    from opsnb.logs.explain import check_services

    check_services(ops, [service] if service else None)
    df = ops.deploys.list(service=service, env=env, since=since, until=until, limit=limit)
    emit(df, fmt, columns=["id", "service", "env", "version", "previous_version", "status", "started_at", "actor"])


@cli.command("current")
@click.option("--env", help="Only this environment.")
@format_option
@pass_ops
def current_cmd(ops: Any, env: str | None, fmt: str) -> None:
    """Show the version running now per service and environment.

    \b
    Example:
        opsnb deploys current --env prod
    """
    emit(ops.deploys.current(env=env), fmt)


@cli.command("record")
@click.option("--service", required=True)
@click.option("--version", "version", required=True)
@click.option("--env", default="prod", show_default=True)
@click.option("--commit")
@click.option("--actor", help="Who deployed (default: you).")
@click.option("--status", type=click.Choice(["running", "succeeded", "failed"]), default="succeeded",
              show_default=True)
@click.option("--started-at", type=TIME, help="Default now.")
@click.option("--reason", default="")
@click.option("--override-freeze", is_flag=True, help="Deploy through an active freeze (needs --reason).")
@format_option
@pass_ops
def record_cmd(ops: Any, service: str, version: str, env: str, commit: str | None, actor: str | None,
               status: str, started_at: datetime | None, reason: str, override_freeze: bool, fmt: str) -> None:
    """Record a deploy (needs operator).

    \b
    Example:
        opsnb deploys record --service checkout --version 2.15.0 --commit 3f9a2c1
    """
    try:
        dep = ops.deploys.create(service=service, version=version, env=env, commit=commit, actor=actor,
                                 status=status, started_at=started_at, reason=reason,
                                 override_freeze=override_freeze)
    except Conflict as exc:
        if exc.kind != "freeze":
            raise
        raise click.ClickException(_freeze_hint(exc)) from None
    emit([dep], fmt)


@cli.command("record-rollback")
@click.argument("deploy_id")
@click.option("--to-version", help="Version restored (default: the deploy's previous version).")
@click.option("--reason", default="")
@format_option
@pass_ops
def record_rollback_cmd(ops: Any, deploy_id: str, to_version: str | None, reason: str, fmt: str) -> None:
    """Record that a deploy was rolled back by other means (needs operator); runs nothing.

    \b
    Example:
        opsnb deploys record-rollback DEP-42 --reason "5xx after release"
    """
    emit([ops.deploys.record_rollback(deploy_id, to_version=to_version, reason=reason)], fmt)


@cli.command("rollback")
@click.argument("service")
@click.option("--env", default="prod", show_default=True)
@click.option("--reason", required=True, help="Why; kept in the audit trail.")
@click.option("--to-version", help="Version to restore (default: the current deploy's previous version).")
@click.option("--hosts", help="Fleet selector of the hosts (default: the deploy_hosts setting).")
@click.option("--override-freeze", is_flag=True, help="Go through a deploy freeze (with --reason).")
@click.option("--verify-timeout", type=DURATION, help="How long to wait for recovery (default the setting).")
@click.option("--check", type=click.Choice(["auto", "slo", "error-ratio"]), default="auto", show_default=True,
              help="How recovery is judged: auto is the SLO burn rate when the service has SLOs (prod), else the "
                   "error ratio.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@format_option
@pass_ops
def rollback_cmd(ops: Any, service: str, env: str, reason: str, to_version: str | None, hosts: str | None,
                 override_freeze: bool, verify_timeout: timedelta | None, check: str, yes: bool, fmt: str) -> None:
    """Roll SERVICE back on its hosts over SSH, record it, and verify it recovered (needs operator).

    Recovery is the service's SLOs burning under 1x over the 5 minutes after the command, or,
    without an SLO, its error ratio under rollback_error_threshold; the answer names the check
    and its figures. Exits 0 when the service recovered, 1 when it did NOT.

    \b
    Example:
        opsnb deploys rollback checkout --env prod --reason "5xx after 2.16.0"
    """
    cur = ops.deploys.current(env=env)
    row = cur[cur["service"] == service]
    if row.empty:
        raise click.ClickException(f"no deploy of {service} in {env} to roll back")
    target = to_version or row.iloc[0]["previous_version"]
    if not yes:
        click.confirm(f"Roll {service} in {env} back from {row.iloc[0]['version']} to {target}?", abort=True)
    try:
        res = ops.deploys.rollback(service, env=env, reason=reason, confirm=True, to_version=to_version,
                                   hosts=hosts, override_freeze=override_freeze, check=check.replace("-", "_"),
                                   verify_timeout=verify_timeout.total_seconds() if verify_timeout else None)
    except Conflict as exc:
        raise click.ClickException(_freeze_hint(exc)) from None
    if fmt == "json":
        emit_json(res.as_dict())
    else:
        click.echo(str(res))
    if not res.recovered:
        raise SystemExit(1)


@cli.command("history")
@click.argument("service")
@click.option("--env", help="Only this environment.")
@click.option("--limit", type=click.IntRange(1, 1_000_000), default=50, show_default=True)
@format_option
@pass_ops
def history_cmd(ops: Any, service: str, env: str | None, limit: int, fmt: str) -> None:
    """One service's deploys and rollbacks, newest first; `live` marks what runs now.

    \b
    Example:
        opsnb deploys history checkout --env prod
    """
    emit(ops.deploys.history(service, env=env, limit=limit), fmt,
         columns=["id", "env", "version", "kind", "status", "live", "started_at", "actor"])


@cli.command("environments")
@format_option
@pass_ops
def environments_cmd(ops: Any, fmt: str) -> None:
    """The version running in every environment, one row per service.

    \b
    Example:
        opsnb deploys environments --format json
    """
    emit(ops.deploys.environments(), fmt)


@cli.command("dora")
@click.option("--since", type=SINCE, default="30d", show_default=True, help="Period start: " + SINCE_HELP + ".")
@click.option("--until", type=TIME, help="Period end (default now).")
@click.option("--service", help="Only this service.")
@click.option("--env", help="Only this environment.")
@format_option
@pass_ops
def dora_cmd(ops: Any, since: datetime, until: datetime | None, service: str | None, env: str | None,
             fmt: str) -> None:
    """DORA figures per service and environment: frequency, lead time, failure rate, recovery time.

    \b
    Example:
        opsnb deploys dora --since 30d --env prod --format json
    """
    df = ops.deploys.dora(start=since, end=until or "now", service=service, env=env)
    emit(df.drop(columns=["start", "end"]) if fmt != "json" else df, fmt)


@cli.command("suspects")
@click.argument("incident")
@click.option("--within", type=DURATION, default="6h", show_default=True, help="How far before impact to look.")
@format_option
@pass_ops
def suspects_cmd(ops: Any, incident: str, within: timedelta, fmt: str) -> None:
    """Changes (deploys, config, flags) before INCIDENT's impact, ranked, with the reasons.

    \b
    Example:
        opsnb deploys suspects INC-1
    """
    df = ops.deploys.suspects(incident, within=within)
    if fmt != "json":
        df = df.assign(reasons=df["reasons"].map("; ".join))
    emit(df, fmt, columns=["rank", "score", "kind", "id", "service", "env", "version", "minutes_before", "reasons"])


def _freeze_hint(exc: Conflict) -> str:
    """A freeze refusal in CLI words: the flags, not the Python argument."""
    from opsnb.deploys.freezes import in_face

    return in_face(exc, "cli")


@cli.command("freeze")
@click.argument("service")
@click.option("--env", default="prod", show_default=True)
@click.option("--reason", required=True, help="Why; shown to whoever tries to deploy.")
@click.option("--until", type=TIME, help="Lift automatically at this time (ISO 8601).")
@pass_ops
def freeze_cmd(ops: Any, service: str, env: str, reason: str, until: datetime | None) -> None:
    """Refuse new deploys of SERVICE ('*' for all) until lifted; rollbacks stay allowed.

    \b
    Example:
        opsnb deploys freeze checkout --reason "error budget exhausted" --until 2026-12-01T09:00Z
    """
    fid = ops.deploys.freeze(service=service, env=env, reason=reason, until=until)
    click.echo(f"freeze {fid}: deploys of {service} to {env} refused")


@cli.command("unfreeze")
@click.argument("service", required=False)
@click.option("--id", "freeze_id", type=int, help="Lift this freeze only.")
@click.option("--env", default="prod", show_default=True)
@click.option("--reason", default="", help="Why; kept in the audit trail.")
@pass_ops
def unfreeze_cmd(ops: Any, service: str | None, freeze_id: int | None, env: str, reason: str) -> None:
    """Lift the active freezes of SERVICE, or one freeze by --id.

    \b
    Example:
        opsnb deploys unfreeze checkout --reason "budget recovered"
    """
    n = ops.deploys.unfreeze(id=freeze_id, service=service, env=env, reason=reason)
    click.echo(f"{n} freeze(s) lifted")


@cli.command("freezes")
@click.option("--all", "show_all", is_flag=True, help="Include lifted and expired freezes.")
@format_option
@pass_ops
def freezes_cmd(ops: Any, show_all: bool, fmt: str) -> None:
    """List deploy freezes.

    \b
    Example:
        opsnb deploys freezes --format json
    """
    emit(ops.deploys.freezes(active=not show_all), fmt)
