"""``opsnb deploys``: list deploys, show current versions, record deploys and rollbacks."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import click

from opsnb.cliutil import INSTANT, SINCE, SINCE_HELP, emit, format_option, pass_ops

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
@format_option
@pass_ops
def record_cmd(ops: Any, service: str, version: str, env: str, commit: str | None, actor: str | None,
               status: str, started_at: datetime | None, reason: str, fmt: str) -> None:
    """Record a deploy (needs operator).

    \b
    Example:
        opsnb deploys record --service checkout --version 2.15.0 --commit 3f9a2c1
    """
    dep = ops.deploys.create(service=service, version=version, env=env, commit=commit, actor=actor,
                             status=status, started_at=started_at, reason=reason)
    emit([dep], fmt)


@cli.command("rollback")
@click.argument("deploy_id")
@click.option("--to-version", help="Version restored (default: the deploy's previous version).")
@click.option("--reason", default="")
@format_option
@pass_ops
def rollback_cmd(ops: Any, deploy_id: str, to_version: str | None, reason: str, fmt: str) -> None:
    """Record that a deploy was rolled back (needs operator).

    \b
    Example:
        opsnb deploys rollback DEP-42 --reason "5xx after release"
    """
    emit([ops.deploys.record_rollback(deploy_id, to_version=to_version, reason=reason)], fmt)


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
