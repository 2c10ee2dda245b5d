"""``opsnb logs templates | patterns | errors``: thin commands over patterns and fingerprints.

The ``opsnb logs`` group (``opsnb/logs/cli.py``) attaches these commands.
``templates`` reads only its FILE and needs no workspace.
"""

from __future__ import annotations

import csv
import math
import sys
from datetime import datetime
from typing import Any

import click

from opsnb.cliutil import SINCE, SINCE_HELP, emit, format_option, pass_ops, range_options


@click.command("templates")
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True))
@click.option("--format", "fmt", default="auto", show_default=True,
              type=click.Choice(["auto", "raw", "json", "logfmt", "syslog", "apache", "access", "leveled"]),
              help="How to find each line's message: recognise common headers (auto), the whole line (raw), "
                   "a JSON field, logfmt msg=, or prefer one header shape.")
@click.option("--header-regex", default=None, metavar="REGEX",
              help="Python regex whose named group 'body' is the message (the rest is the header).")
@click.option("--load", "load_path", type=click.Path(dir_okay=False, exists=True), default=None,
              help="Continue from templates saved with --save (JSON).")
@click.option("--save", "save_path", type=click.Path(dir_okay=False), default=None,
              help="Save the mined templates as JSON afterwards.")
@click.option("--summary", is_flag=True, help="Print templates with counts instead of one row per line.")
@click.option("--name", "names", multiple=True, metavar="ID=NAME",
              help="Name a template of the --load file (repeatable); --name ID= clears it.")
@click.option("--pin", "pins", multiple=True, type=int, metavar="ID",
              help="Pin a template of the --load file: its text stays as it is (repeatable).")
def templates_cmd(file: str, fmt: str, header_regex: str | None, load_path: str | None,
                  save_path: str | None, summary: bool, names: tuple[str, ...] = (),
                  pins: tuple[int, ...] = ()) -> None:
    """Mine FILE's log templates; print CSV line,template_id,template for every line.

    Lines that cannot be mined (binary, cut, invalid UTF-8) are reported on
    stderr with their line numbers; a binary line gets an empty template_id.
    FILE may be - for standard input.

    \b
    Example:
        opsnb logs templates /var/log/syslog > templates.csv
        opsnb logs templates app.log --header-regex '^\\S+ \\S+ (?P<body>.*)$' --summary
        opsnb logs templates auth.log --load t.json --name 3="ssh brute force" --pin 3 --save t.json
    """
    from opsnb.logs.minefile import mine_file
    from opsnb.logs.patterns import TemplateMiner

    miner = TemplateMiner.load(load_path) if load_path else None
    if (names or pins) and miner is None:
        raise click.UsageError("--name and --pin refer to templates of a --load file")
    for spec in names:
        tid, eq, label = spec.partition("=")
        if not eq or not tid.strip().isdigit():
            raise click.BadParameter(f"{spec!r} is not ID=NAME", param_hint="--name")
        miner.rename(int(tid), label or None)  # type: ignore[union-attr]
    for tid_pin in pins:
        miner.pin(tid_pin)  # type: ignore[union-attr]
    source: Any = sys.stdin.buffer if file == "-" else file
    result = mine_file(source, fmt=fmt, header_regex=header_regex, miner=miner)
    for no, what in result.problems[:50]:
        click.echo(f"warning: {file}:{no}: {what}", err=True)
    if len(result.problems) > 50:
        click.echo(f"warning: {len(result.problems) - 50} more problem lines not shown", err=True)
    if summary:
        emit(result.miner.templates(), "table", columns=["template_id", "count", "name", "template"])
    else:
        out = csv.writer(sys.stdout, lineterminator="\n")
        out.writerow(["line", "template_id", "template"])
        out.writerows((no, "" if tid is None else tid, t) for no, tid, t in result.rows())
    if save_path:
        result.miner.save(save_path)
    click.echo(f"{len(result.ids)} lines, {len(result.miner)} templates, {len(result.problems)} problem lines",
               err=True)


@click.command("patterns")
@range_options("-1h", what="the window studied")
@click.option("--baseline", type=SINCE, default="-24h", show_default=True,
              help="Start of the baseline (it ends at --since): " + SINCE_HELP + ".")
@click.option("--service", default=None, help="Only this service.")
@click.option("--top", default=20, show_default=True, type=click.IntRange(1, 1000))
@format_option
@pass_ops
def patterns_cmd(ops: Any, since: datetime, until: datetime, baseline: datetime, service: str | None, top: int, fmt: str) -> None:
    """Templates new, vanished or spiking in a window against a baseline.

    \b
    Example:
        opsnb logs patterns --since -30m --baseline -24h --service checkout
    """
    from opsnb.logs.patterns import patterns_frame

    df = patterns_frame(ops, since, until, baseline, service=service, top=top)
    df["ratio"] = df["ratio"].astype(float).replace(math.inf, math.nan).round(2)  # JSON has no Infinity
    emit(df, fmt, columns=["status", "before", "after", "ratio", "template"])


@click.command("errors")
@range_options("-24h")
@click.option("--service", default=None, help="Only this service.")
@click.option("--new-since", "new_after", type=SINCE, default=None,
              help="Only fingerprints first seen after this time (the window is the baseline): " + SINCE_HELP + ".")
@format_option
@pass_ops
def errors_cmd(ops: Any, since: datetime, until: datetime, service: str | None, new_after: datetime | None,
               fmt: str) -> None:
    """Errors grouped by fingerprint (exception type + frames, else message template).

    \b
    Example:
        opsnb logs errors --since -6h --service payments
        opsnb logs errors --since -7d --new-since 2026-01-05T14:00
    """
    from opsnb.logs.fingerprints import errors_frame, new_since

    if new_after is not None:
        df = new_since(ops, new_after, since, until, service)
    else:
        df = errors_frame(ops, since, until, service)
    emit(df, fmt, columns=["fingerprint", "count", "first_seen", "last_seen", "services", "label"])
