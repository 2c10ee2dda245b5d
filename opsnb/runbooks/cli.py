"""``opsnb runbook ...`` and ``opsnb scheduler``: thin wrappers over ``ops.runbooks``."""

from __future__ import annotations

import json
import sys
import time
from datetime import timedelta
from typing import Any

import click

from opsnb.cliutil import DURATION, DurationType, emit, format_option, pass_ops


@click.group("runbook")
def cli() -> None:
    """Runbooks: list, show, run (dry by default), history, rerun, lint, cancel, diff.

    \b
    Example:
        opsnb runbook run disk-usage -p host role=web
    """


@cli.command("list")
@format_option
@pass_ops
def list_cmd(ops: Any, fmt: str) -> None:
    """List the runbooks in the catalog.

    \b
    Example:
        opsnb runbook list --format json
    """
    emit(ops.runbooks.list(), fmt, columns=["name", "category", "risk", "roles", "target", "parameters", "title"])


@cli.command("show")
@click.argument("name")
@format_option
@pass_ops
def show_cmd(ops: Any, name: str, fmt: str) -> None:
    """Show a runbook's contract: metadata and typed parameters.

    \b
    Example:
        opsnb runbook show restart-service
    """
    rb = ops.runbooks.get(name)
    if fmt == "json":
        click.echo(json.dumps(rb.as_dict(), default=str))
        return
    click.echo(f"{rb.name}: {rb.title}\n  {rb.description}")
    click.echo(f"  category {rb.category}, risk {rb.risk}, roles {','.join(rb.roles)}, timeout {rb.timeout:g}s"
               f"{', target ' + rb.target if rb.target else ''}")
    emit([p.as_dict() for p in rb.parameters], "table", columns=["name", "type", "default", "choices", "help"])


def _progress(event: dict[str, Any]) -> None:
    kind = event.get("event")
    if kind == "cell_started":
        click.echo(f"  cell {event['index']:>2} started   {event.get('source', '')}", err=True)
    elif kind == "cell_finished":
        click.echo(f"  cell {event['index']:>2} {event.get('status', ''):<10}{event.get('duration', 0):7.2f}s", err=True)
    elif kind == "run_started":
        click.echo(f"run {event['run_id']} started", err=True)


def _emit_run(run: Any, fmt: str) -> None:
    row = run.as_dict()
    if fmt == "json":
        click.echo(json.dumps(row, default=str))
    else:
        click.echo(f"run {row['id']} {row['runbook']}: {row['status']}{' (dry run)' if row['dry_run'] else ''}"
                   f"{' in {:.2f}s'.format(row['duration']) if row['duration'] is not None else ''}")
        if row["targets"]:
            click.echo(f"  targets: {', '.join(row['targets'])}")
        for k, v in row["results"].items():
            click.echo(f"  {k} = {json.dumps(v, default=str)[:200]}")
        if row["error"]:
            click.echo(f"  error: {row['error']}")
        click.echo(f"  output: {row['output_path']}")
    if row["status"] not in ("succeeded", "queued", "running"):
        raise click.exceptions.Exit(1)


@cli.command("run")
@click.argument("name")
@click.option("-p", "--param", "params", nargs=2, multiple=True, metavar="KEY VALUE",
              help="A parameter (repeatable); values are converted to the declared type.")
@click.option("--real", is_flag=True, help="A real run of a mutating runbook (needs its role and --reason).")
@click.option("--reason", default="", help="Why: required for a real run; audited.")
@click.option("--approve", multiple=True, metavar="STEP", help="Pre-approve a confirm() step ('*' for all).")
@click.option("--timeout", type=DURATION, default=None, help="Wall-clock limit, e.g. 10m (default: the runbook's).")
@click.option("--no-wait", is_flag=True, help="Queue the run and print its id.")
@click.option("--quiet", "-q", is_flag=True, help="No per-cell progress on stderr.")
@click.option("--interactive/--unattended", default=None,
              help="Prompt at confirm() steps (default when stdin is a terminal); unattended runs fail "
                   "closed at a step not pre-approved with --approve.")
@format_option
@pass_ops
def run_cmd(ops: Any, name: str, params: tuple[tuple[str, str], ...], real: bool, reason: str,
            approve: tuple[str, ...], timeout: timedelta | None, no_wait: bool, quiet: bool,
            interactive: bool | None, fmt: str) -> None:
    """Run a runbook; per-cell progress goes to stderr. Mutating runbooks run dry unless --real.

    \b
    Example:
        opsnb runbook run restart-service -p host web-1 -p service nginx
        opsnb runbook run restart-service -p host web-1 --real --reason "INC-7: nginx wedged"
    """
    given: dict[str, Any] = {}
    for key, value in params:
        given[key] = value
    follow = (sys.stdin.isatty() if interactive is None else interactive) and not no_wait
    run = ops.runbooks.run(name, params=given, dry_run=False if real else None, reason=reason,
                           approve=approve, timeout=timeout.total_seconds() if timeout else None, wait=not no_wait and not follow, from_strings=True,
                           interactive=follow, on_event=None if quiet else _progress)
    if follow:
        run = _follow(ops, run)
    _emit_run(run, fmt)


def _follow(ops: Any, run: Any) -> Any:
    """Wait for a run, asking the user at each confirm() step it pauses on."""
    while not run.refresh().done:
        pending = ops.runbooks.approvals(run.id)
        for step in pending.loc[pending["status"] == "pending", "step"]:
            ok = click.confirm(f"APPROVE step: {step}", default=False, err=True)
            ops.runbooks.decide(run.id, approve=ok, step=step, reason="answered at the CLI prompt")
        time.sleep(0.2)
    return run


@cli.command("history")
@click.argument("name", required=False)
@click.option("--status", default=None, help="Only runs with this status.")
@click.option("--limit", type=int, default=50, show_default=True)
@format_option
@pass_ops
def history_cmd(ops: Any, name: str | None, status: str | None, limit: int, fmt: str) -> None:
    """Past runs, newest first.

    \b
    Example:
        opsnb runbook history disk-usage --status failed
    """
    emit(ops.runbooks.history(name, status=status, limit=limit), fmt,
         columns=None if fmt == "json" else ["id", "runbook", "status", "dry_run", "trigger", "actor", "created_at",
                                             "duration", "error"])


@cli.command("rerun")
@click.argument("run_id")
@click.option("--real", is_flag=True, help="Rerun for real (needs the role and --reason).")
@click.option("--reason", default="", help="Why.")
@click.option("--quiet", "-q", is_flag=True)
@format_option
@pass_ops
def rerun_cmd(ops: Any, run_id: str, real: bool, reason: str, quiet: bool, fmt: str) -> None:
    """Run again with the same parameters.

    \b
    Example:
        opsnb runbook rerun R-20260101-120000-a1b2c3
    """
    run = ops.runbooks.rerun(run_id, reason=reason, dry_run=False if real else None,
                             on_event=None if quiet else _progress)
    _emit_run(run, fmt)


@cli.command("cancel")
@click.argument("run_id")
@click.option("--reason", default="")
@format_option
@pass_ops
def cancel_cmd(ops: Any, run_id: str, reason: str, fmt: str) -> None:
    """Cancel a queued or running run (its kernel is killed).

    \b
    Example:
        opsnb runbook cancel R-20260101-120000-a1b2c3
    """
    emit(ops.runbooks.cancel(run_id, reason=reason), fmt, columns=["id", "runbook", "status", "cancel_requested"])


@cli.command("diff")
@click.argument("run_a")
@click.argument("run_b")
@format_option
@pass_ops
def diff_cmd(ops: Any, run_a: str, run_b: str, fmt: str) -> None:
    """What differs between two runs: parameters, status, results, cell outputs.

    \b
    Example:
        opsnb runbook diff R-...-a1b2c3 R-...-d4e5f6
    """
    emit(ops.runbooks.diff(run_a, run_b), fmt)


@cli.command("lint")
@format_option
@pass_ops
def lint_cmd(ops: Any, fmt: str) -> None:
    """Check every runbook against the contract; exit 1 when any fails.

    \b
    Example:
        opsnb runbook lint
    """
    df = ops.runbooks.lint()
    emit(df, fmt)
    if len(df):
        raise click.exceptions.Exit(1)


@cli.command("schedules")
@format_option
@pass_ops
def schedules_cmd(ops: Any, fmt: str) -> None:
    """List runbook schedules.

    \b
    Example:
        opsnb runbook schedules
    """
    emit(ops.runbooks.schedules.list(), fmt)


@cli.command("schedule")
@click.argument("name")
@click.argument("runbook")
@click.option("--cron", default="", help="Cron expression, e.g. '*/15 * * * *'.")
@click.option("--tz", "timezone", default="UTC", show_default=True, help="IANA time zone of the cron expression.")
@click.option("--every", type=DURATION, default=None, help="Interval instead of cron: 30s, 5m, 1h.")
@click.option("-p", "--param", "params", nargs=2, multiple=True, metavar="KEY VALUE")
@click.option("--missed", type=click.Choice(["skip", "catchup"]), default="skip", show_default=True)
@click.option("--jitter", type=DurationType(allow_zero=True), default="0s", help="Random delay up to this long, e.g. 30s.")
@click.option("--real", is_flag=True, help="Scheduled runs are real runs (needs the role and --reason).")
@click.option("--reason", default="")
@format_option
@pass_ops
def schedule_cmd(ops: Any, name: str, runbook: str, cron: str, timezone: str, every: timedelta | None,
                 params: tuple[tuple[str, str], ...], missed: str, jitter: timedelta, real: bool, reason: str,
                 fmt: str) -> None:
    """Create a schedule for a runbook.

    \b
    Example:
        opsnb runbook schedule nightly-tls tls-cert-expiry --cron '0 6 * * *' --tz Europe/Paris
    """
    rec = ops.runbooks.schedules.create(name, runbook, cron=cron or None, timezone=timezone, every=every,
                                        params=dict(params), missed=missed, jitter=jitter.total_seconds(),
                                        dry_run=False if real else None, reason=reason, from_strings=True)
    emit(rec, fmt)


@click.command("scheduler")
@click.option("--once", is_flag=True, help="Evaluate one tick and exit.")
@click.option("--interval", type=DURATION, default="5s", show_default=True, help="Time between ticks.")
@format_option
@pass_ops
def scheduler(ops: Any, once: bool, interval: timedelta, fmt: str) -> None:
    """Run due schedules (and the workbench services' ticks) until stopped.

    Several schedulers may run at once: a lease in the state database makes each job run once.

    \b
    Example:
        opsnb scheduler --once
    """
    from opsnb.runbooks.scheduler import Scheduler

    sched = Scheduler(ops, interval=interval.total_seconds())
    if once:
        emit(sched.tick(wait=True), fmt)
        return
    sched.run_forever()
