"""Helpers every domain's CLI uses: the workspace option, opening the workbench, printing records."""

from __future__ import annotations

import functools
import json
import math
import os
import shutil
import sys
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar, cast

import click

if TYPE_CHECKING:
    from opsnb.workbench import Workbench

F = TypeVar("F", bound=Callable[..., Any])


def workspace_option(f: F) -> F:
    """Add ``--workspace DIR`` to a command (it wins over the group's and OPSNB_WORKSPACE)."""
    return click.option(
        "--workspace", "-w", "workspace", type=click.Path(file_okay=True, dir_okay=True),
        default=None, expose_value=False, is_eager=True,
        callback=_remember_workspace, help="Workspace directory (default $OPSNB_WORKSPACE or ./data/workspace).",
    )(f)


def _remember_workspace(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    if value is not None:
        ctx.ensure_object(dict)["workspace"] = value


def workspace_arg(ctx: click.Context) -> str | None:
    """The ``--workspace`` given to this invocation (the innermost wins), or None."""
    c: click.Context | None = ctx
    while c is not None:
        if isinstance(c.obj, dict) and c.obj.get("workspace"):
            return str(c.obj["workspace"])
        c = c.parent
    return None


def open_workbench(ctx: click.Context | None = None) -> Workbench:
    """The workbench for this invocation (opened once, on first use)."""
    from opsnb.workbench import connect

    ctx = ctx or click.get_current_context()
    root = ctx.find_root()
    obj = root.ensure_object(dict)
    if "ops" not in obj:
        from pathlib import Path

        from opsnb.config import Settings

        where = Path(Settings.load(workspace_arg(ctx)).workspace).resolve()
        existed = where.is_dir()
        obj["ops"] = connect(workspace_arg(ctx))
        root.call_on_close(obj["ops"].close)
        if not existed:  # a typo in --workspace should not go unnoticed
            click.echo(f"note: created a new, empty workspace at {where} (build a demo one with 'opsnb demo')",
                       err=True)
    ops: Workbench = obj["ops"]
    return ops


def pass_ops(f: F) -> F:
    """Decorator: open the workbench and pass it as the first argument."""

    @functools.wraps(f)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return f(open_workbench(), *args, **kwargs)

    return workspace_option(cast(F, wrapper))


# --- time flags -------------------------------------------------------------------------------
# Every flag that takes a duration or an instant uses these, so the CLI speaks the one grammar
# of opsnb.timeparse; a bad value is a usage error (exit 2) that shows the accepted forms.


class DurationType(click.ParamType):
    """A click type for durations (``30s``, ``5m``, ``1h30m``, ``2d``, ``1w``); converts to a timedelta."""

    name = "duration"

    def __init__(self, *, allow_zero: bool = False, maximum: timedelta | None = None) -> None:
        self.allow_zero = allow_zero
        self.maximum = maximum

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> timedelta:
        from opsnb.errors import ValidationError
        from opsnb.timeparse import parse_duration

        try:
            return parse_duration(value, name=_flag(param), allow_zero=self.allow_zero, maximum=self.maximum)
        except ValidationError as exc:
            self.fail(exc.message, param, ctx)


class InstantType(click.ParamType):
    """A click type for instants (ISO 8601, naive = UTC, ``now``, ``today``, ``-1h``); converts to a UTC datetime.

    Args:
        ago: The flag starts a range (``--since``, ``--start``): a bare duration ``1h`` means an hour ago.
    """

    name = "time"

    def __init__(self, *, ago: bool = False) -> None:
        self.ago = ago

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> datetime:
        from opsnb.errors import ValidationError
        from opsnb.timeparse import is_naive, parse_instant

        try:
            when = parse_instant(value, name=_flag(param), ago=self.ago)
        except ValidationError as exc:
            self.fail(exc.message, param, ctx)
        meta = ctx.find_root().meta if ctx is not None else {}
        if is_naive(value) and not meta.get("opsnb.naive_noted"):
            meta["opsnb.naive_noted"] = True  # said once per command, however many flags had no zone
            click.echo(f"note: {value} has no time zone; read as UTC", err=True)
        return when


def _flag(param: click.Parameter | None) -> str:
    opts = getattr(param, "opts", None) or []
    return max(opts, key=len) if opts else (param.name or "value") if param else "value"


DURATION = DurationType()
INSTANT = InstantType()
SINCE = InstantType(ago=True)
SINCE_HELP = "-1h, 1h (ago), today, yesterday, or an ISO time (no zone = UTC)"
INSTANT_HELP = "now, -30m, today+9h, or an ISO time (no zone = UTC)"


def range_options(default_since: str | None = "-1h", *, required: bool = False,
                  what: str = "the window") -> Callable[[F], F]:
    """Add ``--since`` (a start; ``1h`` means an hour ago) and ``--until`` (default now) in the time grammar."""
    def deco(f: F) -> F:
        f = click.option("--until", type=INSTANT, default="now", show_default=True,
                         help=f"End of {what}: {INSTANT_HELP}.")(f)
        return click.option("--since", type=SINCE, default=default_since, required=required,
                            show_default=default_since is not None,
                            help=f"Start of {what}: {SINCE_HELP}.")(f)
    return deco


# --- printing records -------------------------------------------------------------------------
# Tables are for people: numbers rounded (ratios as percentages, seconds as durations), lists
# comma-joined, columns fitted to the terminal, status and severity coloured on a terminal.
# JSON is for scripts: full precision, ISO times, null for every missing value (NaN, NaT).

_COLOUR_WORDS: dict[str, str] = {
    **dict.fromkeys(("ok", "resolved", "closed", "succeeded", "success", "delivered", "passed", "healthy",
                     "active", "info", "true", "up", "done"), "green"),
    **dict.fromkeys(("at risk", "acknowledged", "mitigated", "warning", "warn", "pending", "running",
                     "queued", "investigating", "identified", "monitoring", "sev3", "sev4", "medium", "low",
                     "silenced", "skipped", "dry-run", "degraded", "retrying"), "yellow"),
    **dict.fromkeys(("breached", "firing", "failed", "failure", "error", "open", "triggered", "critical",
                     "fatal", "sev1", "sev2", "high", "timeout", "timed_out", "cancelled", "dead", "broken",
                     "exhausted", "false", "down", "rolled_back"), "red"),
}
_COLOUR_COLUMNS = ("status", "severity", "severitytext", "level", "state", "result")
# Names (or name endings) of columns that hold a fraction 0..1, printed as a percentage.
_RATIO_NAMES = ("sli", "target", "objective", "availability", "ratio", "fraction", "share", "budget_remaining",
                "budget_left", "budget_consumed", "pct_of_budget", "success_rate", "error_rate", "compliance")
_SECONDS_SUFFIXES = ("_s", "_secs", "_sec", "_seconds")
_SECONDS_NAMES = ("secs", "seconds", "duration_s", "age_s", "elapsed_s")
_MINUTES_SUFFIXES = ("_min", "_mins")
# Free-text columns, which may be cut (with …) to fit the terminal before any column is hidden.
_TEXT_NAMES = ("title", "description", "summary", "body", "message", "msg", "template", "text", "what", "reason",
               "stdout", "stderr", "label", "help", "detail", "details", "error", "command", "note", "notes")
_MIN_TEXT_WIDTH = 24  # a text column is never cut narrower than this when fitting the terminal


def format_option(f: F) -> F:
    """Add ``--format table|json`` and ``--columns a,b,c`` to a command that prints records."""
    f = columns_option(f)
    return click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
                        show_default=True, help="Output format; json is for scripts.")(f)


def columns_option(f: F) -> F:
    """Add ``--columns a,b,c``: which columns the command's (first) table or JSON records keep, in order."""
    return click.option(
        "--columns", "columns", default=None, metavar="A,B,C", expose_value=False,
        callback=_remember_columns, help="Only these columns, in this order (comma-separated).",
    )(f)


def _remember_columns(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    if value:
        ctx.ensure_object(dict)["columns"] = [c.strip() for c in value.split(",") if c.strip()]


def _requested_columns() -> list[str] | None:
    """The ``--columns`` of this invocation, once: only the command's first table takes them."""
    ctx = click.get_current_context(silent=True)
    c: click.Context | None = ctx
    while c is not None:
        if isinstance(c.obj, dict) and c.obj.get("columns"):
            cols: list[str] = c.obj.pop("columns")
            return cols
        c = c.parent
    return None


def _plain(v: Any) -> Any:
    """A value as plain Python: numpy scalars and arrays unwrapped, NaN/NaT/inf as None."""
    if v is None or isinstance(v, str | bool | int):
        return v
    if type(v).__name__ in ("NaTType", "_NaT") or (isinstance(v, float) and not math.isfinite(v)):
        return None
    if hasattr(v, "tolist") and callable(v.tolist) and not isinstance(v, datetime | date | timedelta):
        try:
            return _plain(v.tolist())  # numpy scalars and arrays
        except (ValueError, TypeError):
            pass
    if isinstance(v, list | tuple | set | frozenset):
        return [_plain(x) for x in v]
    if isinstance(v, Mapping):
        return {str(k): _plain(x) for k, x in v.items()}
    if hasattr(v, "to_pytimedelta"):  # pandas Timedelta
        return v.to_pytimedelta()
    return v


def _jsonable(v: Any) -> Any:
    v = _plain(v)
    if isinstance(v, datetime | date):
        return v.isoformat()
    if isinstance(v, timedelta):
        return v.total_seconds()
    if isinstance(v, list):
        return [_jsonable(x) for x in v]
    if isinstance(v, dict):
        return {k: _jsonable(x) for k, x in v.items()}
    return v if isinstance(v, str | int | float | bool | type(None)) else str(v)


def _rows(data: Any) -> list[dict[str, Any]]:
    if hasattr(data, "to_dict") and hasattr(data, "columns"):
        data = data.to_dict(orient="records")
    elif isinstance(data, Mapping):
        data = [data]
    out = []
    for r in data:
        row = r if isinstance(r, Mapping) else (r.as_dict() if hasattr(r, "as_dict") else vars(r))
        out.append({str(k): _plain(v) for k, v in row.items()})
    return out


def records_of(data: Any) -> list[dict[str, Any]]:
    """Turn a DataFrame, a mapping or an iterable of mappings/objects into JSON-ready records.

    Times become ISO strings, durations seconds, and NaN/NaT/infinity ``None``.
    """
    return [{k: _jsonable(v) for k, v in r.items()} for r in _rows(data)]


def emit(data: Any, fmt: str = "table", *, columns: Iterable[str] | None = None,
         empty: str | None = None) -> None:
    """Print records as a table for people or as JSON (one array, full precision) for scripts.

    Args:
        data: A DataFrame, a mapping, or an iterable of mappings or objects.
        fmt: ``table`` or ``json``.
        columns: The columns to show, in order (``--columns`` given on the command line wins).
        empty: What to say when there are no records (default ``(none)``), e.g. why there are none.
    """
    rows = _rows(data)
    wanted = _requested_columns()
    if wanted:
        have = list(dict.fromkeys(k for r in rows for k in r)) or list(columns or [])
        _check_columns(wanted, have)
        columns = wanted
    if fmt == "json":
        recs = [{k: _jsonable(r.get(k)) for k in columns} if columns else {k: _jsonable(v) for k, v in r.items()}
                for r in rows]
        click.echo(json.dumps(recs, ensure_ascii=False, default=str))
        return
    if not rows:
        click.echo(empty or "(none)")
        return
    cols = list(columns) if columns else list(rows[0])
    colour = colour_enabled()
    cells = [[_cell(c, r.get(c)) for c in cols] for r in rows]
    width = _output_width()
    if width is not None and len(rows) == 1 and _table_width(cols, cells) > width:
        _emit_vertical(cols, cells[0], colour)
        return
    cols, cells, hidden = _fit(cols, cells, width)
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(cols)]
    click.echo("  ".join(c.ljust(w) for c, w in zip(cols, widths, strict=True)).rstrip())
    for row in cells:
        parts = [_paint(c, v, v.ljust(w), colour) for c, v, w in zip(cols, row, widths, strict=True)]
        click.echo("  ".join(parts).rstrip(), color=colour)
    if hidden:
        click.echo(f"({len(hidden)} more columns: {', '.join(hidden)}; choose with --columns or see --format json)",
                   err=True)


def emit_record(record: Mapping[str, Any], fmt: str = "table") -> None:
    """Print one record: ``name  value`` lines for people (values formatted by name), or one JSON object."""
    if fmt == "json":
        emit_json(record)
        return
    rec = {str(k): _plain(v) for k, v in record.items()}
    _emit_vertical(list(rec), [_cell(k.replace(" ", "_").replace(".", "_"), v) for k, v in rec.items()],
                   colour_enabled())


def emit_show(record: Mapping[str, Any], fmt: str = "table", **tables: Any) -> None:
    """Print what a ``show`` command shows: one record, and the tables that belong to it.

    Args:
        record: The record's fields (values formatted by name for people).
        fmt: ``json``: a one-element array, as :func:`emit` prints records, with each table as a
            list of records under its name; ``table``: ``name  value`` lines, then each table
            under its name.
        tables: Rows that belong to the record (a postmortem's versions), anything :func:`emit` takes.
    """
    if fmt == "json":
        emit([{**record, **{name: records_of(rows) for name, rows in tables.items()}}], fmt)
        return
    emit_record(record)
    for name, rows in tables.items():
        click.echo(f"\n{name.replace('_', ' ')}:")
        emit(rows)


def emit_json(obj: Any) -> None:
    """Print any value as JSON: times ISO, durations seconds, NaN/NaT/infinity null, full precision."""
    click.echo(json.dumps(_jsonable(obj), ensure_ascii=False, default=str))


def _check_columns(wanted: list[str], have: list[str]) -> None:
    import difflib

    if not have:
        return
    for c in wanted:
        if c not in have:
            near = difflib.get_close_matches(c, have, n=1)
            hint = f"; did you mean {near[0]!r}?" if near else ""
            raise click.BadParameter(f"no column {c!r}{hint} Columns: {', '.join(have)}", param_hint="--columns")


def _emit_vertical(cols: list[str], row: list[str], colour: bool) -> None:
    """One wide record as ``name  value`` lines."""
    w = max(len(c) for c in cols)
    for c, v in zip(cols, row, strict=True):
        click.echo(f"{c.ljust(w)}  {_paint(c, v, v, colour)}".rstrip(), color=colour)


def _output_width() -> int | None:
    """Columns to fit: ``$COLUMNS``, else the terminal's; None (no limit) when piped."""
    env = os.environ.get("COLUMNS", "")
    if env.isdigit() and int(env) > 0:
        return int(env)
    if sys.stdout.isatty():
        return shutil.get_terminal_size().columns
    return None


def _table_width(cols: list[str], cells: list[list[str]]) -> int:
    return sum(max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(cols)) + 2 * (len(cols) - 1)


def _fit(cols: list[str], cells: list[list[str]], width: int | None,
         ) -> tuple[list[str], list[list[str]], list[str]]:
    """Fit a table to ``width``: first shorten long text columns, then hide columns from the right."""
    if width is None or _table_width(cols, cells) <= width:
        return cols, cells, []
    cells = [list(r) for r in cells]
    texts = [i for i, c in enumerate(cols) if c.lower() in _TEXT_NAMES]  # never cut names and ids
    while texts and _table_width(cols, cells) > width:
        lens = {i: max(len(r[i]) for r in cells) for i in texts}
        i = max(texts, key=lambda j: lens[j])
        if lens[i] <= _MIN_TEXT_WIDTH:
            break
        cut = max(_MIN_TEXT_WIDTH, lens[i] - (_table_width(cols, cells) - width))
        for r in cells:
            if len(r[i]) > cut:
                r[i] = r[i][: cut - 1] + "…"
    hidden: list[str] = []
    while len(cols) > 1 and _table_width(cols, cells) > width:
        hidden.insert(0, cols.pop())
        for r in cells:
            r.pop()
    return cols, cells, hidden


def colour_enabled() -> bool:
    """Colour on a terminal only: never with ``NO_COLOR``, always with ``FORCE_COLOR``/``CLICOLOR_FORCE``."""
    if os.environ.get("NO_COLOR"):
        return False
    if any(os.environ.get(k, "0") not in ("", "0") for k in ("FORCE_COLOR", "CLICOLOR_FORCE")):
        return True
    return sys.stdout.isatty()


def _paint(col: str, value: str, padded: str, colour: bool) -> str:
    if not colour or col.lower() not in _COLOUR_COLUMNS and not col.lower().endswith("_status"):
        return padded
    fg = _COLOUR_WORDS.get(value.strip().lower())
    if fg is None:
        return padded
    bold = value.strip().lower() in ("sev1", "critical", "fatal", "breached")
    return click.style(value, fg=fg, bold=bold or None) + padded[len(value):]


def _is_ratio(col: str) -> bool:
    c = col.lower()
    return any(c == n or c.endswith("_" + n) for n in _RATIO_NAMES)


def _cell(col: str, v: Any) -> str:
    """One value as a person reads it in a table column named ``col``."""
    if v is None:
        return ""
    c = col.lower()
    if isinstance(v, bool):
        s = str(v)
    elif isinstance(v, timedelta):
        s = format_duration(v.total_seconds())
    elif isinstance(v, int | float) and (c in _SECONDS_NAMES or c.endswith(_SECONDS_SUFFIXES)):
        s = format_duration(float(v))
    elif isinstance(v, int | float) and c.endswith(_MINUTES_SUFFIXES):
        s = format_duration(float(v) * 60)
    elif isinstance(v, float) and _is_ratio(col):
        s = f"{v * 100:.5g} %"  # five digits keep the nines an SLI is about: 99.863 %
    elif isinstance(v, float):
        s = _number(v)
    elif isinstance(v, datetime):
        s = v.isoformat().replace("+00:00", "Z")
    elif isinstance(v, list):
        s = ", ".join(_cell(col, x) if not isinstance(x, str) else x for x in v)
    elif isinstance(v, dict):
        s = ", ".join(f"{k}={_cell(k, x)}" for k, x in v.items())
    else:
        s = str(v)
    s = s.replace("\n", "\\n")
    return s if len(s) <= 80 else s[:79] + "…"


def _number(x: float) -> str:
    """Four significant digits, all of the integer part, no exponent unless tiny: 395.8, 1.522, 150484."""
    if x == int(x) and abs(x) < 1e15:
        return str(int(x))
    if abs(x) >= 1000:
        return f"{x:.0f}"
    if abs(x) < 1e-4:
        return f"{x:.2e}"
    s = f"{x:.4g}"
    return s


def format_duration(seconds: float) -> str:
    """A duration for people, in its two largest units: ``1d 17h``, ``5m 30s``, ``2.5s``, ``120ms``.

    The one time grammar (``opsnb.timeparse``) formats it.
    """
    from opsnb.timeparse import format_duration as one_grammar  # stdlib only: cheap to import here

    return one_grammar(seconds)

