"""Runbooks: typed, safe, audited notebooks executed by papermill.

This package is imported inside runbook kernels, so it stays light: it defines
only what a runbook calls. :func:`record` stores a named result that the runner
reads back from the output notebook; :func:`confirm` gates a dangerous step;
:func:`secret` resolves a secret reference inside the kernel. Everything else
(catalog, runner, scheduler, ledger) lives in submodules imported on use.

Example (inside a runbook)::

    import opsnb.runbooks as rb
    rb.record("free_pct", 42.5)
    if not dry_run:
        rb.confirm("restart nginx on web-1")
"""

from __future__ import annotations

import json
from typing import Any

from opsnb.runbooks.approval import ApprovalRequired, confirm, run_context, secret

MIME = "application/vnd.opsnb.record+json"

__all__ = ["MIME", "ApprovalRequired", "confirm", "record", "run_context", "secret"]


def _jsonable(value: Any) -> Any:
    if hasattr(value, "to_dict") and hasattr(value, "columns"):  # a DataFrame: records
        return json.loads(value.to_json(orient="records", date_format="iso"))
    if hasattr(value, "to_dict") and hasattr(value, "index"):  # a Series: mapping
        return json.loads(value.to_json(date_format="iso"))
    return json.loads(json.dumps(value, default=str))


def record(name: str, value: Any) -> Any:
    """Record a named result of this run; the runner reads it back from the output notebook.

    Args:
        name: Result name (later calls with the same name win).
        value: Anything JSON-serialisable; DataFrames become lists of records, other
            objects their ``str``.

    Returns:
        ``value``, so ``x = record("x", compute())`` reads naturally.
    """
    if not isinstance(name, str) or not name:
        raise ValueError("record(name, value): name must be a non-empty string")
    payload = {"name": name, "value": _jsonable(value)}
    try:
        from IPython.display import display

        display({MIME: payload, "text/plain": f"{name} = {json.dumps(payload['value'])[:200]}"}, raw=True)
    except ImportError:  # outside IPython: nothing to record into
        pass
    return value
