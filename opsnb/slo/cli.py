"""``opsnb slo ...``: list, report, status, export, rules, backtest, load, exclude, budget."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import click

from opsnb.cliutil import (
    DURATION,
    INSTANT,
    INSTANT_HELP,
    emit,
    emit_json,
    emit_record,
    format_option,
    pass_ops,
)


@click.group("slo")
def cli() -> None:
    """SLOs: error budgets, burn rates, alert policies and backtests.

    \b
    Example:
        opsnb slo status
        opsnb slo report checkout-availability --at 2026-11-02T10:00Z --format json
    """


@cli.command("list")
@format_option
@pass_ops
def list_cmd(ops: Any, fmt: str) -> None:
    """List every SLO defined in the workspace's OpenSLO files.

    \b
    Example:
        opsnb slo list --format json
    """
    emit(ops.slos.list(), fmt)
    for p in ops.slos.problems():
        click.echo(f"warning: {p}", err=True)


@cli.command("report")
@click.argument("name", required=False)
@click.option("--at", "at", type=INSTANT, default=None, help="When (default now): " + INSTANT_HELP + ".")
@format_option
@pass_ops
def report_cmd(ops: Any, name: str | None, at: datetime | None, fmt: str) -> None:
    """Where an SLO's budget stands: SLI, budget, burn rates, exhaustion, data quality.

    Without NAME, every SLO is reported.

    \b
    Example:
        opsnb slo report checkout-availability --at 2026-11-02T10:00Z --format json
    """
    reports = ops.slos.reports(at, [name] if name else None)
    if fmt == "json":
        emit_json([r.as_dict() for r in reports] if not name else reports[0].as_dict())
        return
    for r in reports:
        d = r.as_dict()
        burns = d.pop("burn_rates")
        dq = d.pop("data_quality")
        issues = d.pop("issues")
        d.update({f"burn {k}": v for k, v in burns.items()})
        d.update({f"data {k}": v for k, v in dq.items()})
        d.update({f"issue {i}": v for i, v in enumerate(issues, 1)})
        emit_record(d)
        click.echo("")


@cli.command("status")
@click.option("--at", "at", type=INSTANT, default=None, help="When (default now): " + INSTANT_HELP + ".")
@format_option
@pass_ops
def status_cmd(ops: Any, at: datetime | None, fmt: str) -> None:
    """One line per SLO: status, SLI, budget remaining, burn rates, firing tiers.

    \b
    Example:
        opsnb slo status --format json
    """
    df = ops.slos.status(at)
    if fmt == "table":
        # an overspent budget has no time left to run out: say "exhausted", not "0s"
        spent = df["budget_remaining"].astype(float) <= 0
        df["exhaustion_s"] = df["exhaustion_s"].astype(object).where(~spent, "exhausted")
    emit(df, fmt)


@cli.command("export")
@click.argument("name")
@pass_ops
def export_cmd(ops: Any, name: str) -> None:
    """Print an SLO and what it references as OpenSLO YAML (exactly as loaded).

    \b
    Example:
        opsnb slo export checkout-availability > checkout.yaml
    """
    click.echo(ops.slos.export(name), nl=False)


@cli.command("load")
@click.argument("path", type=click.Path(exists=True))
@click.option("--reason", default="", help="Why (kept in the audit trail).")
@pass_ops
def load_cmd(ops: Any, path: str, reason: str) -> None:
    """Validate OpenSLO YAML (file or directory) and add it to the workspace.

    \b
    Example:
        opsnb slo load ./slos/ --reason "new checkout SLO"
    """
    loaded = ops.slos.load(path, reason=reason)
    for n in loaded:
        click.echo(n)
    for note in loaded.notes:
        click.echo(f"note: {note}", err=True)


@cli.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--reason", default="", help="Why (kept in the audit trail).")
@pass_ops
def import_cmd(ops: Any, path: str, reason: str) -> None:
    """Import an SLO spec file: OpenSLO v1 or Sloth's prometheus/v1 (converted to OpenSLO).

    Prints the SLOs imported; notes on stderr say what could not be represented.

    \b
    Example:
        opsnb slo import ./sloth/getting-started.yml --reason "from Sloth"
    """
    loaded = ops.slos.import_file(path, reason=reason)
    for n in loaded:
        click.echo(n)
    for note in loaded.notes:
        click.echo(f"note: {note}", err=True)


@cli.command("rules")
@click.argument("name")
@click.option("--policy", default=None, help="AlertPolicy name or 'workbook'; default the SLO's own.")
@pass_ops
def rules_cmd(ops: Any, name: str, policy: str | None) -> None:
    """Prometheus recording and alerting rules for an SLO (YAML for rule_files).

    \b
    Example:
        opsnb slo rules api-availability --policy workbook > api-slo.rules.yml
    """
    click.echo(ops.slos[name].rules(policy), nl=False)


@cli.command("backtest")
@click.option("--slo", "slos", multiple=True, help="SLO name (repeatable); default all.")
@click.option("--incidents", default="demo", show_default=True,
              help="'demo' (the demo world's) or a JSON file of {id, start, end, service, slos}.")
@click.option("--start", type=INSTANT, default=None, help="Start of the replay: " + INSTANT_HELP + ".")
@click.option("--end", type=INSTANT, default=None, help="End of the replay: " + INSTANT_HELP + ".")
@click.option("--grace", type=DURATION, default="1h", show_default=True, help="How late after an incident a fire still counts.")
@format_option
@pass_ops
def backtest_cmd(ops: Any, slos: tuple[str, ...], incidents: str, start: datetime | None, end: datetime | None, grace: timedelta,
                 fmt: str) -> None:
    """Replay the Workbook and single-window policies over history and score them.

    \b
    Example:
        opsnb slo backtest --incidents demo --format json
    """
    bt = ops.slos.backtest(incidents=incidents, slos=list(slos) or None, start=start, end=end, grace=grace)
    emit(bt.summary, fmt)


@cli.command("exclude")
@click.argument("name")
@click.option("--start", type=INSTANT, required=True, help="Start: " + INSTANT_HELP + ".")
@click.option("--end", type=INSTANT, required=True, help="End: " + INSTANT_HELP + ".")
@click.option("--every", type=click.Choice(["", "day", "week"]), default="", help="Repeat daily or weekly.")
@click.option("--until", type=INSTANT, default=None, help="Last start of a recurrence.")
@click.option("--timezone", default="UTC", show_default=True, help="Zone whose wall time recurrences keep.")
@click.option("--reason", default="", help="Why (kept in the audit trail).")
@pass_ops
def exclude_cmd(ops: Any, name: str, start: datetime, end: datetime, every: str, until: datetime | None, timezone: str,
                reason: str) -> None:
    """Leave a maintenance window out of an SLO's budget (NAME '*' for all).

    \b
    Example:
        opsnb slo exclude checkout-availability --start 2026-11-03T02:00Z --end 2026-11-03T03:00Z --every week
    """
    click.echo(ops.slos.exclude(name, start=start, end=end, every=every, until=until, timezone=timezone,
                                reason=reason))


@cli.command("budget")
@click.option("--at", "at", type=INSTANT, default=None, help="When (default now): " + INSTANT_HELP + ".")
@click.option("--dry-run", is_flag=True, help="Evaluate only; take no step.")
@format_option
@pass_ops
def budget_cmd(ops: Any, at: datetime | None, dry_run: bool, fmt: str) -> None:
    """Evaluate error budget policies and take the steps whose conditions are newly met.

    \b
    Example:
        opsnb slo budget --dry-run
    """
    emit(ops.slos.evaluate_budget_policies(at, dry_run=dry_run), fmt)
