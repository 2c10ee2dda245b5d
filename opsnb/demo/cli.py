"""``opsnb demo``: build the demo workspace."""

from __future__ import annotations

import json
from typing import Any

import click

from opsnb.cliutil import format_option, workspace_arg, workspace_option


def _workspace(ctx: click.Context) -> str:
    """The workspace this invocation names, resolved like every command, without opening it."""
    from opsnb.config import Settings

    return str(Settings.load(workspace_arg(ctx)).workspace)


def _size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


@click.command("demo")
@click.option("--days", type=click.IntRange(1, 90), default=14, show_default=True, help="Length of the period.")
@click.option("--seed", type=click.IntRange(0, 2**63 - 1), default=7, show_default=True, help="Random seed.")
@click.option("--scale", type=click.FloatRange(0, 10, min_open=True), default=1.0, show_default=True,
              help="Request volume multiplier (1.0: about 2.2 million log events in 14 days).")
@click.option("--if-missing", is_flag=True, help="Do nothing when the workspace already holds a demo.")
@click.option("--force", is_flag=True, help="Replace the contents of a non-empty workspace that holds no demo.")
@format_option
@workspace_option
@click.pass_context
def demo(ctx: click.Context, days: int, seed: int, scale: float, if_missing: bool, force: bool, fmt: str) -> None:
    """Build a demo workspace: services, servers, deploys, 3 incidents, logs, spans, metrics.

    Deterministic: equal --seed and end hour give equal data. A previous demo in the
    workspace is replaced; other data is kept unless --force.

    \b
    Example:
        opsnb demo --days 14 --seed 7
        opsnb --workspace /tmp/ws demo --days 2 --scale 0.1 --format json
    """
    from opsnb.demo.generate import build, info

    ws = _workspace(ctx)
    existing = info(ws)
    if if_missing and existing is not None:
        if fmt == "json":
            click.echo(json.dumps({"workspace": ws, "built": False, **existing}, default=str))
        else:
            click.echo(f"demo already in {ws} (seed {existing.get('seed')}, {existing.get('days')} days); nothing to do")
        return
    say = (lambda m: click.echo(m, err=True)) if fmt == "table" else None
    build(ws, days=days, seed=seed, scale=scale, force=force, progress=say)
    summary: dict[str, Any] = {"workspace": ws, "built": True, **(info(ws) or {})}
    if fmt == "json":
        click.echo(json.dumps(summary, default=str))
        return
    counts = summary.get("counts", {})
    click.echo(f"demo built in {ws}")
    click.echo(f"  period     {summary['start']} .. {summary['end']} (seed {seed})")
    click.echo("  events     " + ", ".join(f"{v:,} {k}" for k, v in counts.items()))
    click.echo(f"  servers    {len(summary.get('servers', []))}, deploys {summary.get('deploys')}, "
               f"incidents {len(summary.get('incidents', []))}")
    click.echo(f"  seeded     {', '.join(summary.get('seeded', [])) or '-'}")
    click.echo(f"  took       {summary['seconds']:.1f} s, disk {_size(summary['disk_bytes'])}")
