"""Helpers every domain's CLI uses: the workspace option, opening the workbench, printing records."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime
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


def format_option(f: F) -> F:
    """Add ``--format table|json`` to a command that prints records."""
    return click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
                        show_default=True, help="Output format; json is for scripts.")(f)


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
        obj["ops"] = connect(workspace_arg(ctx))
        root.call_on_close(obj["ops"].close)
    ops: Workbench = obj["ops"]
    return ops


def pass_ops(f: F) -> F:
    """Decorator: open the workbench and pass it as the first argument."""

    @functools.wraps(f)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return f(open_workbench(), *args, **kwargs)

    return workspace_option(cast(F, wrapper))


def _jsonable(v: Any) -> Any:
    if isinstance(v, datetime | date):
        return v.isoformat()
    if hasattr(v, "item") and callable(v.item):  # numpy scalars
        try:
            return v.item()
        except (ValueError, TypeError):
            pass
    if isinstance(v, float) and v != v:
        return None
    return v if isinstance(v, str | int | float | bool | type(None) | list | dict) else str(v)


def records_of(data: Any) -> list[dict[str, Any]]:
    """Turn a DataFrame, a mapping or an iterable of mappings/objects into a list of records."""
    if hasattr(data, "to_dict") and hasattr(data, "columns"):
        data = data.to_dict(orient="records")
    elif isinstance(data, Mapping):
        data = [data]
    out = []
    for r in data:
        row = r if isinstance(r, Mapping) else (r.as_dict() if hasattr(r, "as_dict") else vars(r))
        out.append({str(k): _jsonable(v) for k, v in row.items()})
    return out


def emit(data: Any, fmt: str = "table", *, columns: Iterable[str] | None = None) -> None:
    """Print records as an aligned table or as JSON (one array)."""
    rows = records_of(data)
    if fmt == "json":
        click.echo(json.dumps(rows, ensure_ascii=False, default=str))
        return
    if not rows:
        click.echo("(none)")
        return
    cols = list(columns) if columns else list(rows[0])
    cells = [[_cell(r.get(c)) for c in cols] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(cols)]
    click.echo("  ".join(c.ljust(w) for c, w in zip(cols, widths, strict=True)).rstrip())
    for row in cells:
        click.echo("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())


def _cell(v: Any) -> str:
    s = "" if v is None else str(v)
    s = s.replace("\n", "\\n")
    return s if len(s) <= 80 else s[:77] + "..."
