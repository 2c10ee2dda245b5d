"""Approval gates and secret references, used inside runbook kernels (keep this module light).

A run started by opsnb tells its kernel about itself in ``OPSNB_RUN_CONTEXT``
(JSON: run id, runbook, dry run, pre-approved steps, whether someone is there to
answer). :func:`confirm` then:

- proceeds when the step (or every step, ``"*"``) was pre-approved for the run;
- in a run someone follows (``interactive``: the CLI on a terminal, or the API), records a
  pending approval and pauses until a human approves or denies it;
- asks on stdin when a human drives the notebook (an interactive Jupyter session,
  no run context): the notebook pauses at the prompt;
- fails closed otherwise, raising :class:`ApprovalRequired`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


class ApprovalRequired(RuntimeError):
    """An unattended run reached a step that needs a human's approval."""


def run_context() -> dict[str, Any]:
    """The context the runner gave this kernel (empty when not run by opsnb)."""
    raw = os.environ.get("OPSNB_RUN_CONTEXT", "")
    if not raw:
        return {}
    try:
        ctx = json.loads(raw)
    except ValueError:
        return {}
    return ctx if isinstance(ctx, dict) else {}


def _interactive() -> bool:
    try:
        from IPython import get_ipython

        ip = get_ipython()
    except ImportError:
        return False
    # A kernel attached to a frontend allows stdin; papermill/nbclient kernels do not.
    return bool(ip is not None and getattr(getattr(ip, "kernel", None), "_allow_stdin", False))


def confirm(step: str, *, details: str = "") -> bool:
    """Gate a dangerous step behind an approval.

    Args:
        step: What is about to happen, e.g. ``"restart nginx on web-1"``. Pre-approvals
            name steps by this text (or ``"*"`` for all).
        details: More context shown in the prompt.

    Returns:
        True when approved (it never returns False: a refusal raises).

    Raises:
        ApprovalRequired: Unattended and not pre-approved, or the human said no.
    """
    ctx = run_context()
    approved = ctx.get("approve") or []
    if "*" in approved or step in approved:
        print(f"approved in advance: {step}")
        return True
    if ctx.get("interactive") and ctx.get("run_id"):
        # Someone is following this run (CLI or API): pause until they decide.
        from opsnb.runbooks.approvals import request_and_wait

        if request_and_wait(str(ctx["run_id"]), step, timeout=float(ctx.get("approval_timeout", 600))):
            return True
        raise ApprovalRequired(f"not approved: {step}")
    if not ctx and _interactive():
        answer = input(f"APPROVE: {step}{' - ' + details if details else ''} [yes/no] ")
        if answer.strip().lower() in ("y", "yes"):
            return True
        raise ApprovalRequired(f"not approved: {step}")
    raise ApprovalRequired(
        f"step {step!r} needs approval and this run is unattended; "
        "re-run with approve=[step] (CLI: --approve STEP) after review")


def secret(ref: str) -> str:
    """Resolve a secret reference inside the kernel: ``env:NAME`` or ``file:/path``.

    The value is never a parameter and never stored; the runner redacts it from outputs.

    Raises:
        KeyError: The environment variable is not set.
        FileNotFoundError: The file does not exist.
        ValueError: Not a reference.
    """
    if ref.startswith("env:"):
        return os.environ[ref[4:]]
    if ref.startswith("file:"):
        return Path(ref[5:]).read_text(encoding="utf-8").strip()
    raise ValueError("a secret reference is env:NAME or file:/path")
