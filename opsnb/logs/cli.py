"""``opsnb logs``: ingest files, query, and look at what was quarantined."""

from __future__ import annotations

import json
import os
import sys
from datetime import datetime, timedelta
from typing import Any

import click

from opsnb.cliutil import (
    DURATION,
    INSTANT,
    INSTANT_HELP,
    emit,
    emit_json,
    format_option,
    pass_ops,
    range_options,
)
from opsnb.logs.explain import check_services, why_empty

FORMAT_CHOICES = ["auto", "jsonl", "journald", "otlp", "logfmt", "syslog5424", "syslog3164", "access", "plain"]


@click.group("logs")
def cli() -> None:
    """Logs: ingest, query, windows around incidents, patterns and errors.

    \b
    Example:
        opsnb logs ingest /var/log/nginx/access.log*
        opsnb logs query --since -1h --service checkout --grep 'timeout|refused'
    """


class _Progress:
    """A one-line progress bar on stderr (bytes read from disk), redrawn at most 5 times a second."""

    def __init__(self, total: int) -> None:
        import time

        self.total = total
        self.done = 0
        self._clock = time.monotonic
        self._t0 = self._last = self._clock()

    def _draw(self, final: bool = False) -> None:
        frac = min(self.done / self.total, 1.0) if self.total else 1.0
        width = 30
        fill = int(frac * width)
        mb = self.done / 1e6
        rate = mb / max(self._clock() - self._t0, 1e-9)
        sys.stderr.write(f"\ringest [{'#' * fill}{'-' * (width - fill)}] {frac:4.0%} {mb:,.1f} MB "
                         f"{rate:,.1f} MB/s" + ("\n" if final else ""))
        sys.stderr.flush()

    def update(self, n: int) -> None:
        self.done += n
        now = self._clock()
        if now - self._last >= 0.2:
            self._last = now
            self._draw()

    def close(self) -> None:
        self.done = max(self.done, self.total)
        self._draw(final=True)


def _total_bytes(paths: tuple[str, ...]) -> int | None:
    from opsnb.logs.service import ingest_iter

    files = ingest_iter(paths)
    if "-" in files:
        return None
    return sum(os.path.getsize(f) for f in files) or None


def _check_format(ctx: click.Context, param: click.Parameter, value: str) -> str:
    """A registered format's name (any case), or a usage error that suggests the closest one."""
    from opsnb.errors import NotFound
    from opsnb.logs.formats import FORMATS

    if value.lower() == "auto":
        return "auto"
    try:
        return FORMATS.get(value).name
    except NotFound as exc:
        raise click.BadParameter(str(exc)) from None


@cli.command("ingest")
@click.argument("paths", nargs=-1, required=True)
@click.option("--format", "log_format", default="auto", show_default=True, metavar="NAME", callback=_check_format,
              help="Log format: auto (detected per file from its first MiB), " + ", ".join(FORMAT_CHOICES[1:])
                   + ", or one a plugin registered (opsnb.log_formats).")
@click.option("--service", default=None, help="ServiceName of events that do not name one.")
@click.option("--host", default=None, help="HostName of events that do not name one.")
@click.option("--header-regex", default=None, metavar="REGEX",
              help="For plain text: regex of an entry's first line, named groups ts, level, msg, ...")
@click.option("--assume-tz", default="UTC", show_default=True, help="Zone of time stamps written without one.")
@click.option("--max-future", default="5m", show_default=True,
              help="Quarantine events stamped further than this after now.")
@click.option("--invalid-utf8", type=click.Choice(["quarantine", "replace"]), default="quarantine",
              show_default=True, help="What to do with lines that are not UTF-8.")
@click.option("--format-out", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True,
              help="Summary output format.")
@click.option("--no-progress", is_flag=True, help="No progress bar on stderr.")
@click.option("--from-start", is_flag=True,
              help="Read files from their first byte even if read before (their rows are stored again).")
@pass_ops
def ingest_cmd(ops: Any, paths: tuple[str, ...], log_format: str, service: str | None, host: str | None,
               header_regex: str | None, assume_tz: str, max_future: str, invalid_utf8: str, fmt: str,
               no_progress: bool, from_start: bool) -> None:
    """Ingest log files (globs, directories, gzip, - for stdin) into the lake.

    Bad lines are quarantined with their reason (see `opsnb logs quarantine`); the
    exit status is 1 only when nothing at all could be stored. Each file is read once:
    a rerun (after a kill too) resumes where the committed rows end; a rotated or
    truncated file starts over; --from-start reads it all again.

    \b
    Example:
        opsnb logs ingest 'logs/**/*.log.gz' --service checkout
        journalctl -o json -u nginx | opsnb logs ingest - --format journald
        opsnb logs ingest app.log --format plain --header-regex '^(?P<ts>\\S+ \\S+) (?P<level>\\w+) (?P<msg>.*)'
    """
    total = None if no_progress else _total_bytes(paths)
    bar = _Progress(total) if total and (sys.stderr.isatty() or os.environ.get("OPSNB_PROGRESS") == "1") else None
    try:
        summary = ops.logs.ingest(list(paths), format=None if log_format == "auto" else log_format,
                                  service=service, host=host, header_regex=header_regex, assume_tz=assume_tz,
                                  max_future=max_future, invalid_utf8=invalid_utf8,
                                  progress=bar.update if bar is not None else None, from_start=from_start)
    finally:
        if bar is not None:
            bar.close()
    if fmt == "json":
        click.echo(json.dumps(summary.as_dict(), default=str))
    else:
        emit(summary.table(), "table", columns=["source", "format", "formats", "events", "stored", "spans", "quarantined",
                                                 "blank", "error", "reasons"])
        click.echo(f"{summary}; peak memory {summary.peak_rss_mb or 0:,.0f} MB", err=False)
    for s in summary.sources:
        if s.error:
            click.echo(f"warning: {s.source}: {s.error}", err=True)
    if not summary.ok:
        click.echo("error: nothing could be stored", err=True)
        sys.exit(1)


@cli.command("tail")
@click.argument("directory", type=click.Path(file_okay=False))
@click.option("--pattern", default="*", show_default=True, help="Glob of the file names to follow in DIRECTORY.")
@click.option("--format", "log_format", default="auto", show_default=True, metavar="NAME", callback=_check_format,
              help="Log format (as for ingest): auto detects it per file.")
@click.option("--service", default=None, help="ServiceName of events that do not name one.")
@click.option("--host", default=None, help="HostName of events that do not name one.")
@click.option("--header-regex", default=None, metavar="REGEX", help="For plain text: regex of an entry's first line.")
@click.option("--poll", type=DURATION, default="500ms", show_default=True, help="Time between looks at the files.")
@click.option("--idle", type=DURATION, default=None, help="Stop after this long without new lines.")
@click.option("--for", "run_for", type=DURATION, default=None, help="Stop after this long.")
@click.option("--only-new", is_flag=True, help="Files never read before start at their end (only what is appended).")
@click.option("--from-start", is_flag=True, help="Read every file again from its first byte (rows stored again).")
@click.option("--format-out", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True,
              help="Summary output format (as for ingest; --format is the log format).")
@pass_ops
def tail_cmd(ops: Any, directory: str, pattern: str, log_format: str, service: str | None, host: str | None,
             header_regex: str | None, poll: timedelta, idle: timedelta | None, run_for: timedelta | None,
             only_new: bool, from_start: bool, fmt: str) -> None:
    """Follow the log files of a directory, storing whole lines as they are appended.

    Runs until --idle or --for ends it, or SIGINT/SIGTERM (Ctrl-C), then prints what
    was stored. Each file resumes from its checkpoint, so a tail killed at any moment
    (kill -9 too) and started again loses and repeats nothing; rotated files
    (rename + create, copytruncate) are finished before the new file is read.

    \b
    Example:
        opsnb logs tail /var/log/nginx --pattern 'error.log*' --service nginx
        opsnb logs tail ./logs --pattern '*.jsonl' --idle 5m --format-out json
    """
    import signal

    asked_to_stop: list[int] = []

    def _stop(signum: int, frame: Any) -> None:
        asked_to_stop.append(signum)

    previous = {sig: signal.signal(sig, _stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        summary = ops.logs.tail(directory, pattern=pattern, format=None if log_format == "auto" else log_format,
                                service=service, host=host, header_regex=header_regex,
                                poll=poll.total_seconds(), from_start=from_start, only_new=only_new,
                                idle_timeout=idle.total_seconds() if idle is not None else None,
                                max_seconds=run_for.total_seconds() if run_for is not None else None,
                                stop=lambda _summary: bool(asked_to_stop))
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if fmt == "json":
        click.echo(json.dumps(summary.as_dict(), default=str))
    else:
        emit(summary.table(), "table", columns=["source", "format", "events", "stored", "quarantined", "error"])
        click.echo(str(summary))
    for s in summary.sources:
        if s.error:
            click.echo(f"warning: {s.source}: {s.error}", err=True)


@cli.command("query")
@range_options(None, required=True, what="the query")
@click.option("--service", multiple=True, help="ServiceName (repeatable).")
@click.option("--severity", default=None, help="Minimum severity: debug, info, warn, error, fatal.")
@click.option("--host", multiple=True, help="HostName (repeatable).")
@click.option("--grep", "regex", default=None, help="RE2 regex the message must match.")
@click.option("--contains", default=None, help="Substring the message must contain.")
@click.option("--trace-id", default=None, help="Trace id.")
@click.option("--correlation-id", default=None, help="Trace, request or correlation id.")
@click.option("--attr", "attrs", multiple=True, metavar="KEY=VALUE", help="Attribute matcher (repeatable).")
@click.option("--status", default=None, help="HTTP status or class (500, 5xx).")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 1_000_000))
@click.option("--order", type=click.Choice(["asc", "desc"]), default="desc", show_default=True)
@format_option
@pass_ops
def query_cmd(ops: Any, since: datetime, until: datetime, service: tuple[str, ...], severity: str | None,
              host: tuple[str, ...], regex: str | None, contains: str | None, trace_id: str | None,
              correlation_id: str | None, attrs: tuple[str, ...], status: str | None, limit: int, order: str,
              fmt: str) -> None:
    """Log lines of a time range matching filters.

    \b
    Example:
        opsnb logs query --since -1h --service checkout --severity error --grep 'timeout'
        opsnb logs query --since -15m --status 5xx --format json
    """
    matchers: dict[str, list[str]] = {}
    for a in attrs:
        if "=" not in a:
            raise click.BadParameter(f"{a!r} is not KEY=VALUE", param_hint="--attr")
        k, v = a.split("=", 1)
        matchers.setdefault(k, []).append(v)
    st: Any = status
    if status is not None and status.isdigit():
        st = int(status)
    check_services(ops, service)
    df = ops.logs.query(since, until, service=list(service) or None, severity=severity, host=list(host) or None,
                        regex=regex, contains=contains, trace_id=trace_id, correlation_id=correlation_id,
                        attrs=matchers or None, status=st, limit=limit, order=order)
    if fmt == "json":
        emit(df, "json")
    else:
        empty = None
        if df.empty:
            filtered = any(x for x in (severity, host, regex, contains, trace_id, correlation_id, matchers, status))
            empty = why_empty(ops, since, until,
                              list(service), filtered=filtered)
        emit(df, "table", columns=["Timestamp", "ServiceName", "SeverityText", "HttpStatus", "Body"], empty=empty)


@cli.command("quarantine")
@range_options("-24h", what="when the lines were read")
@click.option("--source", default=None, help="Only lines of this source.")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 100_000))
@format_option
@pass_ops
def quarantine_cmd(ops: Any, since: datetime, until: datetime, source: str | None, limit: int, fmt: str) -> None:
    """Lines ingest could not store, with the reason.

    \b
    Example:
        opsnb logs quarantine --since -1h --format json
    """
    df = ops.logs.quarantine(since, until, source=source, limit=limit).drop(columns=["Raw"])
    emit(df, fmt, columns=["Timestamp", "Source", "Line", "Format", "Reason", "Text"])


@cli.command("window")
@click.option("--around", type=INSTANT, default=None, help="The moment: " + INSTANT_HELP + ".")
@click.option("--incident", "incident_id", default=None, metavar="INC-N",
              help="Around this incident's start, for its service (instead of --around).")
@click.option("--service", default=None, help="Only this service.")
@click.option("--before", type=DURATION, default="30m", show_default=True, help="Window length before the moment.")
@click.option("--after", type=DURATION, default="15m", show_default=True, help="Window length after the moment.")
@click.option("--baseline", type=DURATION, default="1h", show_default=True, help="Baseline length before the window.")
@format_option
@pass_ops
def window_cmd(ops: Any, around: datetime | None, incident_id: str | None, service: str | None,
               before: timedelta, after: timedelta, baseline: timedelta, fmt: str) -> None:
    """Error ratio and latency per minute around a moment, with patterns, errors and deploys; an
    incident's window also lists its top suspect changes with their reasons.

    \b
    Example:
        opsnb logs window --around 2026-01-05T14:03Z --service checkout
        opsnb logs window --incident INC-1
    """
    if (around is None) == (incident_id is None):
        raise click.UsageError("give --around TIME or --incident ID (one of them)")
    check_services(ops, [service] if service else None)
    w = ops.logs.window(around, incident=incident_id, service=service, before=before, after=after,
                        baseline=baseline)
    if fmt == "json":
        emit_json({
            "summary": w.summary(),
            "per_minute": w.error_rate.merge(w.latency, on="time").to_dict(orient="records"),
            "patterns": w.patterns.to_dict(orient="records"), "errors": w.errors.to_dict(orient="records"),
            "trace_ids": w.trace_ids.to_dict(orient="records"), "deploys": w.deploys.to_dict(orient="records"),
            "suspects": w.suspects.to_dict(orient="records"), "notes": w.notes})
        return
    emit(w.error_rate.merge(w.latency, on="time"), "table",
         columns=["time", "total", "errors", "error_ratio", "p50", "p99"])
    suspects = w.suspects.assign(reasons=w.suspects["reasons"].map("; ".join)) if len(w.suspects) else w.suspects
    for title, df in (("patterns", w.patterns), ("errors", w.errors), ("traces", w.trace_ids),
                      ("deploys", w.deploys), ("suspect changes", suspects)):
        if len(df):
            click.echo(f"\n{title}:")
            emit(df.head(10), "table")
    for n in w.notes:
        click.echo(f"note: {n}", err=True)


from opsnb.logs.patterns_cli import errors_cmd, patterns_cmd, templates_cmd  # noqa: E402 - they extend cli

for _cmd in (templates_cmd, patterns_cmd, errors_cmd):
    cli.add_command(_cmd)
