"""``opsnb traces``: show a trace, list traces, the service graph."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import click

from opsnb.cliutil import emit, format_option, pass_ops, range_options


@click.group("traces")
def cli() -> None:
    """Traces from the lake: one trace's spans, finding traces, the service graph.

    \b
    Example:
        opsnb traces find --since -1h --status error
        opsnb traces show 4bf92f3577b34da6a3ce929d0e0e4736
    """


@cli.command("show")
@click.argument("trace_id")
@click.option("--critical-path", "critical", is_flag=True, help="Show the critical path instead of every span.")
@format_option
@pass_ops
def show_cmd(ops: Any, trace_id: str, critical: bool, fmt: str) -> None:
    """Show a trace's spans (indented by depth) with durations and self time.

    \b
    Example:
        opsnb traces show 4bf92f3577b34da6a3ce929d0e0e4736 --format json
    """
    tr = ops.traces.get(trace_id)
    if critical:
        emit(tr.critical_path(), fmt)
        return
    df = tr.spans.drop(columns=["attributes"])
    if fmt == "table":
        df = df.assign(span=["  " * int(d) + f"{s}: {n}" for d, s, n in zip(df["depth"], df["service"], df["name"],
                                                                                strict=True)])
        emit(df, fmt, columns=["span", "offset_ms", "duration_ms", "self_ms", "status", "span_id"])
    else:
        emit(df, fmt)


@cli.command("find")
@range_options("-1h")
@click.option("--service", default=None, help="Only traces touching this service.")
@click.option("--min-duration", type=float, default=None, help="Only traces at least this many ms long.")
@click.option("--status", type=click.Choice(["any", "error", "ok"]), default="any", show_default=True)
@click.option("--limit", type=click.IntRange(1, 10_000), default=50, show_default=True)
@format_option
@pass_ops
def find_cmd(ops: Any, since: datetime, until: datetime, service: str | None, min_duration: float | None, status: str,
             limit: int, fmt: str) -> None:
    """List traces of a window, longest first.

    \b
    Example:
        opsnb traces find --since -6h --service payments --min-duration 1000 --status error
    """
    emit(ops.traces.find(since, until, service=service, min_duration=min_duration, status=status, limit=limit), fmt)


@cli.command("graph")
@range_options("-1h")
@format_option
@pass_ops
def graph_cmd(ops: Any, since: datetime, until: datetime, fmt: str) -> None:
    """The service graph: requests, errors and p50/p99 duration per caller -> callee edge.

    \b
    Example:
        opsnb traces graph --since -1h
    """
    emit(ops.traces.service_graph(since, until), fmt)
