"""``opsnb lake``: look at and maintain the event lake."""

from __future__ import annotations

import click

from opsnb.cliutil import emit, format_option, pass_ops
from opsnb.workbench import Workbench


@click.group("lake")
def cli() -> None:
    """Inspect, compact and trim the event lake.

    \b
    Example:
        opsnb lake stats
    """


@cli.command("stats")
@format_option
@pass_ops
def stats(ops: Workbench, fmt: str) -> None:
    """Rows, segments, days and bytes per lake table.

    \b
    Example:
        opsnb lake stats --format json
    """
    emit(ops.lake.stats(), fmt)


@cli.command("compact")
@click.option("--table", "tables", multiple=True, help="Lake table (default: all).")
@click.option("--min-segments", type=click.IntRange(2), default=None,
              help="Compact a closed day with at least this many segments (default: the setting).")
@pass_ops
def compact(ops: Workbench, tables: tuple[str, ...], min_segments: int | None) -> None:
    """Merge the small segments of closed days (safe while others read and write).

    \b
    Example:
        opsnb lake compact --table logs
    """
    for table, n in ops.store.compact(tables=tables, min_segments=min_segments).items():
        click.echo(f"{table}: {n} days compacted")


@cli.command("retain")
@click.option("--days", type=click.IntRange(1), default=None, help="Days to keep (default: the setting).")
@click.option("--table", "tables", multiple=True, help="Lake table (default: all).")
@pass_ops
def retain(ops: Workbench, days: int | None, tables: tuple[str, ...]) -> None:
    """Delete whole day partitions older than the retention period.

    \b
    Example:
        opsnb lake retain --days 30
    """
    for table, deleted in ops.store.retain(days=days, tables=tables).items():
        click.echo(f"{table}: {len(deleted)} days deleted")
