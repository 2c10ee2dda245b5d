"""``ops.runbooks``: the catalog, safe runs, the ledger, reruns, diffs and cancellation.

A run goes: validate parameters (before any kernel) -> check role and reason ->
resolve the target selector against the inventory -> take the per-target lock,
write the ledger row and the audit record in one transaction -> execute on the
executor -> write the outcome, the cell timings and the results, free the lock.
While it executes, its owner (this process) heartbeats; a run whose owner died is
ended ``interrupted`` by the next process that owns runs (recovery.py).
"""

from __future__ import annotations

import builtins
import contextlib
import json
import os
import secrets as _secrets
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from opsnb.errors import Conflict, NotFound, OpsnbError, ValidationError
from opsnb.redact import (
    REDACTED,
    install_log_scrubber,
    redact,
    register_secrets,
    scrub,
    settings_secrets,
)
from opsnb.runbooks.catalog import Catalog, Runbook
from opsnb.runbooks.models import RunCell, RunLock, RunRecord
from opsnb.runbooks.run import Run
from opsnb.runbooks.runner import FINAL, Job, Outcome
from opsnb.store.types import utcnow

if TYPE_CHECKING:
    from opsnb.runbooks.executors import Executor
    from opsnb.workbench import Workbench

TRIGGERS: tuple[str, ...] = ("manual", "schedule", "alert", "rerun", "api")
LOCK_GRACE_S = 120.0
MAX_RESULTS_JSON = 1_000_000


def new_run_id() -> str:
    """Sortable, readable and unique enough: ``R-20260101-120000-a1b2c3``."""
    return f"R-{utcnow():%Y%m%d-%H%M%S}-{_secrets.token_hex(3)}"


class _Live:
    """In-process state of a run executing here: events for live progress, cancel flag, done flag."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.listeners: list[Callable[[dict[str, Any]], None]] = []
        self.cancel = threading.Event()
        self.done = threading.Event()
        self.future: Any = None
        self.lock = threading.Lock()

    def emit(self, event: dict[str, Any]) -> None:
        with self.lock:
            self.events.append(event)
            listeners = list(self.listeners)
        for fn in listeners:
            with contextlib.suppress(Exception):  # a broken listener must not break the run
                fn(event)


class Runbooks:
    """The runbooks of a workbench (``ops.runbooks``).

    Example:
        >>> ops.runbooks.list()                                               # doctest: +SKIP
        >>> run = ops.runbooks.run("disk-usage", host="role=web")             # doctest: +SKIP
        >>> run.results["worst_used_pct"]                                     # doctest: +SKIP
    """

    def __init__(self, wb: Workbench) -> None:
        self._wb = wb
        d = Path(str(wb.settings.runbooks_dir)).expanduser()
        if not d.is_absolute():
            # Relative to where opsnb runs; else the library shipped beside the package (a checkout).
            shipped = Path(__file__).resolve().parents[2] / d
            d = Path.cwd() / d if (Path.cwd() / d).is_dir() or not shipped.is_dir() else shipped
        self.directory = d
        self.catalog = Catalog(self.directory)
        self._live: dict[str, _Live] = {}
        self._live_lock = threading.Lock()
        self._executor: Any = None
        self._exec_lock = threading.Lock()
        self._cancel_polls: dict[str, float] = {}
        self._recovered = False
        from opsnb.runbooks.recovery import Heartbeats

        self._heartbeats = Heartbeats(wb)
        # Every secret value the settings lead to is masked in outputs, the ledger and logs.
        register_secrets(settings_secrets(wb.settings))
        install_log_scrubber()

    # ------------------------------------------------------------------ catalog

    def list(self) -> pd.DataFrame:
        """Every runbook: name, title, category, risk, roles, timeout, tags, target, parameters."""
        rows = []
        for rb in self.catalog.all():
            rows.append({
                "name": rb.name, "title": rb.title, "category": rb.category, "risk": rb.risk,
                "roles": ",".join(rb.roles), "timeout": rb.timeout, "tags": ",".join(rb.tags),
                "target": rb.target or "", "parameters": ",".join(p.name for p in rb.parameters),
                "description": rb.description,
            })
        cols = ["name", "title", "category", "risk", "roles", "timeout", "tags", "target", "parameters",
                "description"]
        return pd.DataFrame(rows, columns=cols)

    def get(self, name: str) -> Runbook:
        """One runbook's contract (metadata and parameters), read without a kernel."""
        return self.catalog.get(name)

    def lint(self) -> pd.DataFrame:
        """Contract problems of every runbook (empty when all pass)."""
        from opsnb.runbooks.lint import lint_dir

        return pd.DataFrame([p.as_dict() for p in lint_dir(self.directory)], columns=["runbook", "problem"])

    # ------------------------------------------------------------------ executor

    @property
    def executor(self) -> Executor:
        """Where runs execute (the ``executor`` setting, built on first use)."""
        with self._exec_lock:
            if self._executor is None:
                from opsnb.runbooks.executors import make

                self._executor = make(str(self._wb.settings.executor), int(self._wb.settings.executor_workers))
            return self._executor

    def recover(self) -> builtins.list[dict[str, Any]]:
        """End the runs whose owner process is gone: ``interrupted``, kernel killed, locks freed.

        Called once by the first run of this service, by :meth:`warm` and by the scheduler's
        start; cheap (one indexed query) when nothing is left over.

        Returns:
            The runs interrupted: run_id, runbook, reason.
        """
        from opsnb.runbooks.recovery import recover

        self._recovered = True
        return recover(self._wb)

    def _recover_once(self) -> None:
        if not self._recovered:
            try:
                self.recover()
            except Exception as exc:  # noqa: BLE001 - a failed sweep must not block new runs
                import logging

                logging.getLogger("opsnb.runbooks").warning("run recovery failed: %s", exc)

    def warm(self, wait: bool = False) -> None:
        """Start the warm kernel pool now (``opsnb up`` and benchmarks call it)."""
        from opsnb.runbooks.runner import pool

        self._recover_once()
        pool(int(self._wb.settings.executor_workers)).warm(wait=wait)

    # ------------------------------------------------------------------ running

    def prepare(self, name: str, given: dict[str, Any], *, dry_run: bool | None = None,
                from_strings: bool = False) -> tuple[Runbook, dict[str, Any], bool]:
        """Validate a run request without running it: (runbook, parameters, dry run).

        Raises:
            NotFound: No such runbook.
            ValidationError: Every problem with the parameters, at once.
        """
        rb = self.catalog.get(name)
        given = dict(given)
        if "dry_run" in given:
            raw = given.pop("dry_run")
            if from_strings and isinstance(raw, str):
                raw = {"true": True, "false": False}.get(raw.strip().lower(), raw)
            if not isinstance(raw, bool):
                raise ValidationError(f"runbook {name!r}: invalid parameters:", [f"dry_run: expected bool, got {raw!r}"])
            if dry_run is None:
                dry_run = raw
        from opsnb.runbooks.params import validate

        declared = [p for p in rb.parameters if p.name != "dry_run"]
        values = validate(name, declared, given, from_strings=from_strings)
        if rb.mutating:
            dry = True if dry_run is None else bool(dry_run)
        else:  # read-only: "dry" means something only when the runbook has a dry-run path
            dry = bool(dry_run) and rb.has_dry_run
        if rb.has_dry_run:
            values["dry_run"] = dry
        elif dry and rb.mutating:
            raise ValidationError(f"runbook {name!r} mutates but has no dry-run path; fix it (opsnb runbook lint)")
        return rb, values, dry

    def _authorize(self, rb: Runbook, dry: bool, reason: str) -> None:
        if rb.mutating and not dry:
            self._wb.access.require(rb.required_role, action=f"runbook.run {rb.name} (real run)")
            if not reason.strip():
                raise ValidationError(f"a real run of {rb.name!r} (risk {rb.risk}) needs a reason",
                                      field="reason", source=rb.name)
        else:
            self._wb.access.require("responder", action=f"runbook.run {rb.name}")

    def resolve_targets(self, rb: Runbook, values: dict[str, Any]) -> builtins.list[str]:
        """The servers a run will touch: the target selector resolved against the inventory."""
        if not rb.target:
            return []
        selector = values.get(rb.target)
        if selector in (None, "", []):
            raise ValidationError(f"runbook {rb.name!r}: invalid parameters:",
                                  [f"{rb.target}: a target selector is required"])
        try:
            servers = self._wb.fleet.select(selector)
        except NotFound as exc:
            raise ValidationError(f"runbook {rb.name!r}: invalid parameters:",
                                  [f"{rb.target}: {exc}"]) from None
        except ValidationError as exc:
            raise ValidationError(f"runbook {rb.name!r}: invalid parameters:",
                                  [f"{rb.target}: {exc}"]) from None
        names = sorted(s.name for s in servers)
        if not names:
            raise ValidationError(f"runbook {rb.name!r}: invalid parameters:",
                                  [f"{rb.target}: {selector!r} matches no server"])
        return names

    @staticmethod
    def _lock_keys(rb: Runbook, targets: builtins.list[str]) -> builtins.list[str]:
        if targets:
            return [f"{rb.name}|{t}" for t in targets]
        return [f"{rb.name}|*"] if rb.mutating else []

    def _kernel_env(self, run_id: str, actor: str, context: dict[str, Any]) -> dict[str, str]:
        env: dict[str, str] = {}
        s = self._wb.settings
        from opsnb.config import SETTINGS

        secret = {x.name for x in SETTINGS if x.secret and x.name != "database_url"}  # the kernel connects
        for name in s:
            if s.source(name) != "default" and name != "workspace" and name not in secret:
                env["OPSNB_" + name.upper()] = str(s[name])
        env.update({
            "OPSNB_WORKSPACE": str(self._wb.workspace),
            "OPSNB_USER": actor,
            "OPSNB_RUN_ID": run_id,
            "OPSNB_RUN_CONTEXT": json.dumps(context),
            "OPSNB_RUNBOOKS_DIR": str(self.directory),
        })
        env.pop("OPSNB_EXECUTOR", None)  # a runbook that runs runbooks does so locally
        return env

    def _ledger_params(self, rb: Runbook, values: dict[str, Any]) -> dict[str, Any]:
        secret_names = set(rb.secret_params)
        # Secret parameters hold references (env:NAME, file:PATH), not secrets: keep them for reruns.
        clean = redact({k: v for k, v in values.items() if k not in secret_names})
        clean.update({k: values[k] for k in secret_names if k in values})
        return json.loads(json.dumps(clean, default=str))

    def run(self, name: str, /, *, dry_run: bool | None = None, reason: str = "", wait: bool = True,
            trigger: str = "manual", params: dict[str, Any] | None = None, approve: Iterable[str] = (),
            on_event: Callable[[dict[str, Any]], None] | None = None, timeout: float | None = None,
            trigger_ref: str = "", incident_id: str | None = None, actor: str | None = None,
            from_strings: bool = False, rerun_of: str | None = None, interactive: bool = False,
            _authorized: bool = False,
            **kwargs: Any) -> Run:
        """Run a runbook.

        Args:
            name: Runbook name (file name without ``.ipynb``).
            dry_run: For mutating runbooks the default is a dry run; pass False for a real run
                (needs the runbook's role and a ``reason``).
            reason: Why; required for a real run; audited.
            wait: Block until the run ends (default) or return at once.
            trigger: manual, schedule, alert, rerun or api.
            params: Parameters as a mapping (for names that clash with these keywords).
            approve: Steps pre-approved for :func:`opsnb.runbooks.confirm` (``"*"`` for all).
            on_event: Called with each progress event (cell started / finished).
            timeout: Wall-clock limit in seconds (default: the runbook's).
            trigger_ref: What triggered it (schedule name, alert fingerprint).
            incident_id: Link the run to an incident's timeline.
            actor: Act as this user (schedules and triggers run as their creator).
            from_strings: Parameter values are strings to convert (the CLI).
            interactive: Someone follows the run: ``confirm()`` steps pause for :meth:`decide`
                instead of failing closed.
            **kwargs: Parameters by name.

        Returns:
            The :class:`Run` (finished when ``wait``).

        Raises:
            NotFound: No such runbook.
            ValidationError: Bad parameters (all problems listed), a real run without reason.
            PermissionDenied: A real run without the runbook's role.
            Conflict: The runbook is already running on one of the targets.
        """
        if trigger not in TRIGGERS:
            raise ValidationError(f"trigger must be one of {', '.join(TRIGGERS)}, got {trigger!r}")
        if not isinstance(reason, str) or len(reason) > 2000:
            raise ValidationError("reason must be a string of at most 2000 characters")
        approve = [str(a) for a in approve]
        given = {**(params or {}), **kwargs}
        rb, values, dry = self.prepare(name, given, dry_run=dry_run, from_strings=from_strings)
        self._recover_once()  # a run left by a dead process must not hold the lock this run needs
        limit = float(timeout) if timeout is not None else rb.timeout
        if not limit > 0:
            raise ValidationError(f"timeout must be positive, got {timeout!r}")
        targets = self.resolve_targets(rb, values)
        run_id = new_run_id()
        who = actor or self._wb.user
        now = utcnow()
        output = self._wb.workspace / "runs" / rb.name / f"{now:%Y-%m-%d}" / f"{run_id}.ipynb"
        ledger_params = self._ledger_params(rb, values)
        keys = self._lock_keys(rb, targets)
        with self._wb.db.session() as s:
            if not _authorized:
                self._authorize(rb, dry, reason)
            self._take_locks(s, keys, run_id, now + timedelta(seconds=limit + LOCK_GRACE_S))
            s.add(RunRecord(
                id=run_id, runbook=rb.name, status="queued", trigger=trigger, trigger_ref=trigger_ref[:300],
                actor=who, reason=reason, dry_run=dry, risk=rb.risk, params=ledger_params, targets=targets,
                approve=approve, created_at=now, output_path=str(output), sha256="", error="",
                failed_cell="", results={}, executor=str(self._wb.settings.executor), rerun_of=rerun_of,
                incident_id=incident_id, cancel_requested=False, owner=_owner(), heartbeat_at=now,
            ))
            self._wb.audit.record(action="runbook.run", target=rb.name + (f" on {','.join(targets)}" if targets else ""),
                params={"run_id": run_id, "dry_run": dry, "trigger": trigger, **ledger_params},
                reason=reason, actor=who, secret_keys=frozenset(rb.secret_params))
            if incident_id:
                self._link_incident(s, incident_id, run_id, rb.name, "queued", who)
        context = {"run_id": run_id, "runbook": rb.name, "dry_run": dry, "approve": approve, "reason": reason,
                   "targets": targets, "trigger": trigger, "interactive": bool(interactive),
                   "approval_timeout": limit}
        job = Job(run_id=run_id, runbook=rb.name, input_path=str(rb.path), output_path=str(output),
                  parameters=values, env=self._kernel_env(run_id, who, context), cwd=str(self._wb.workspace),
                  timeout=limit, cell_timeout=rb.cell_timeout, kernel_name=rb.kernel_name,
                  secret_refs=[str(values[p]) for p in rb.secret_params if values.get(p)])
        live = _Live()
        if on_event is not None:
            live.listeners.append(on_event)
        with self._live_lock:
            self._live[run_id] = live
        try:
            live.future = self.executor.submit(job, perform=lambda j: self._perform(j, live),
                                               payload=lambda: self._remote_payload(job))
        except Exception as exc:
            self._finish(job, Outcome("failed", utcnow(), utcnow(), error=f"could not submit: {exc}"), live)
            raise
        run = Run(self, run_id)
        return run.wait() if wait else run

    def _remote_payload(self, job: Job) -> dict[str, Any]:
        from dataclasses import asdict

        s = self._wb.settings
        overrides = {n: s[n] for n in s if s.source(n) != "default" and n not in ("workspace", "executor")}
        return {"workspace": str(self._wb.workspace), "settings": overrides, "job": asdict(job),
                "runbooks_dir": str(self.directory)}

    def _take_locks(self, s: Any, keys: Sequence[str], run_id: str, expires: Any) -> None:
        now = utcnow()
        for key in keys:
            held = s.get(RunLock, key)
            if held is not None:
                if held.expires_at > now:
                    runbook, _, target = key.partition("|")
                    where = "" if target == "*" else f" on {target}"
                    raise Conflict(f"runbook {runbook!r} is already running{where} (run {held.run_id})",
                                   kind="runbook-lock", key=key, holder=held.run_id)
                s.delete(held)
                s.flush()
            s.add(RunLock(key=key, run_id=run_id, acquired_at=now, expires_at=expires))
        try:
            s.flush()
        except IntegrityError:
            raise Conflict(f"runbook lock {', '.join(keys)} was taken concurrently", kind="runbook-lock",
                           key=",".join(keys)) from None

    def _should_stop(self, run_id: str, live: _Live | None) -> bool:
        if live is not None and live.cancel.is_set():
            return True
        # A cancel may come from another process (CLI, API): look at the ledger at most once a second.
        now = time.monotonic()
        if now - self._cancel_polls.get(run_id, 0.0) < 1.0:
            return False
        self._cancel_polls[run_id] = now
        with self._wb.db.session() as s:
            return bool(s.scalar(select(RunRecord.cancel_requested).where(RunRecord.id == run_id)))

    def _perform(self, job: Job, live: _Live | None = None) -> str:
        """Execute a queued run and write its outcome (on the executor's worker)."""
        from opsnb.runbooks.runner import execute

        outcome: Outcome | None = None
        try:
            with self._wb.db.session() as s:
                rec = s.get(RunRecord, job.run_id)
                if rec is None:
                    return "missing"
                if rec.status in FINAL:
                    return rec.status  # ended by recovery while it waited
                if rec.cancel_requested or rec.status != "queued":
                    outcome = Outcome("cancelled", utcnow(), utcnow(), error="cancelled before it started")
                else:
                    rec.status, rec.started_at = "running", utcnow()
                    rec.owner, rec.heartbeat_at = _owner(), rec.started_at  # a remote worker owns it now
            if outcome is None:
                self._heartbeats.add(job.run_id)

                def on_event(ev: dict[str, Any]) -> None:
                    if ev["event"] == "kernel":
                        self._write_kernel(job.run_id, str(ev["kernel"]))
                        return
                    ev = {**ev, "run_id": job.run_id}
                    if ev["event"] == "cell_finished":
                        self._write_cell(job.run_id, ev)
                    if live is not None:
                        live.emit(ev)

                if live is not None:
                    live.emit({"event": "run_started", "run_id": job.run_id, "at": utcnow().isoformat()})
                outcome = execute(job, on_event=on_event, should_stop=lambda: self._should_stop(job.run_id, live))
        except Exception as exc:  # noqa: BLE001 - a bug here must still end the run and free its lock
            outcome = Outcome("failed", utcnow(), utcnow(), error=f"{type(exc).__name__}: {exc}")
        finally:
            self._heartbeats.remove(job.run_id)
            self._finish(job, outcome or Outcome("failed", utcnow(), utcnow(), error="no outcome"), live)
            self._cancel_polls.pop(job.run_id, None)
        return outcome.status if outcome else "failed"

    def _write_kernel(self, run_id: str, kernel: str) -> None:
        with self._wb.db.session() as s:
            rec = s.get(RunRecord, run_id)
            if rec is not None:
                rec.kernel = kernel[:200]

    def _write_cell(self, run_id: str, ev: dict[str, Any]) -> None:
        from datetime import datetime

        fin = datetime.fromisoformat(ev["at"])
        dur = float(ev.get("duration") or 0.0)
        with self._wb.db.session() as s:
            s.merge(RunCell(run_id=run_id, idx=int(ev["index"]), cell_id=str(ev.get("cell_id", ""))[:100],
                            source=str(ev.get("source", ""))[:200], status=str(ev.get("status", "")),
                            started_at=fin - timedelta(seconds=dur), finished_at=fin, duration=dur))

    def _finish(self, job: Job, out: Outcome, live: _Live | None) -> None:
        results = scrub(out.results)  # the secret values this process knows of (registered)
        if len(json.dumps(results, default=str)) > MAX_RESULTS_JSON:
            results = {"_truncated": f"results larger than {MAX_RESULTS_JSON} bytes; see the output notebook"}
        with self._wb.db.session() as s:
            rec = s.get(RunRecord, job.run_id)
            if rec is not None and rec.status == "interrupted":
                rec = None  # recovery ended it (its owner looked dead): that ending stands
            if rec is not None:
                rec.status = out.status
                rec.started_at = rec.started_at or out.started_at
                rec.finished_at = out.finished_at
                rec.duration = (out.finished_at - rec.started_at).total_seconds()
                rec.error = scrub(out.error)[:10_000]
                rec.failed_cell = out.cell[:100]
                rec.results = json.loads(json.dumps(results, default=str))
                rec.sha256 = out.sha256
                if not out.output_path:
                    rec.output_path = ""
                if rec.incident_id:
                    self._link_incident(s, rec.incident_id, job.run_id, job.runbook, out.status, rec.actor)
                for c in out.cells:
                    if c.get("status") in ("succeeded", "failed") and live is not None:
                        continue  # already written live
                    s.merge(RunCell(run_id=job.run_id, idx=int(c["index"]), cell_id=str(c.get("cell_id", ""))[:100],
                                    source=str(c.get("source", ""))[:200], status=str(c["status"]),
                                    started_at=c.get("started_at"), finished_at=c.get("finished_at"),
                                    duration=c.get("duration")))
            s.execute(delete(RunLock).where(RunLock.run_id == job.run_id))
        if live is not None:
            live.emit({"event": "run_finished", "run_id": job.run_id, "status": out.status,
                       "error": out.error, "at": utcnow().isoformat()})
            live.done.set()

    def _link_incident(self, s: Any, incident_id: str, run_id: str, runbook: str, status: str, actor: str) -> None:
        """Add the run to the incident's timeline, in the caller's (already audited) transaction."""
        from opsnb.incidents import hooks as incident_hooks

        try:
            with s.begin_nested():
                incident_hooks.add_timeline(self._wb, incident_id, kind="runbook_run", actor=actor,
                                            data={"run_id": run_id, "runbook": runbook, "status": status})
        except (OpsnbError, TypeError):
            pass  # a missing incident must not lose the run's ledger row

    # ------------------------------------------------------------------ ledger

    def record(self, run_id: str) -> dict[str, Any]:
        """The ledger row of a run as a dict."""
        with self._wb.db.session() as s:
            rec = s.get(RunRecord, run_id)
            if rec is None:
                raise NotFound(f"no run {run_id!r}", kind="run", key=str(run_id))
            return _row(rec)

    def cells(self, run_id: str) -> pd.DataFrame:
        """Per-cell timings of a run."""
        with self._wb.db.session() as s:
            rows = [{"index": c.idx, "cell_id": c.cell_id, "source": c.source, "status": c.status,
                     "started_at": c.started_at, "finished_at": c.finished_at, "duration": c.duration}
                    for c in s.scalars(select(RunCell).where(RunCell.run_id == run_id).order_by(RunCell.idx))]
        df = pd.DataFrame(rows, columns=["index", "cell_id", "source", "status", "started_at", "finished_at",
                                         "duration"])
        for col in ("started_at", "finished_at"):
            df[col] = pd.to_datetime(df[col], utc=True)
        return df

    def events(self, run_id: str, since: int = 0) -> builtins.list[dict[str, Any]]:
        """Progress events of a run: live ones when it runs in this process, else from the ledger."""
        live = self._live.get(run_id)
        if live is not None:
            with live.lock:
                return list(live.events[since:])
        evs: builtins.list[dict[str, Any]] = []
        for r in self.cells(run_id).to_dict(orient="records"):
            evs.append({"event": "cell_finished", "run_id": run_id, "index": r["index"], "cell_id": r["cell_id"],
                        "source": r["source"], "status": r["status"], "duration": r["duration"],
                        "at": r["finished_at"].isoformat() if r["finished_at"] is not None else None})
        return evs[since:]

    def history(self, name: str | None = None, *, status: str | None = None, trigger: str | None = None,
                limit: int = 100) -> pd.DataFrame:
        """Runs, newest first."""
        q = select(RunRecord).order_by(RunRecord.created_at.desc(), RunRecord.id.desc()).limit(max(1, int(limit)))
        if name:
            q = q.where(RunRecord.runbook == name)
        if status:
            q = q.where(RunRecord.status == status)
        if trigger:
            q = q.where(RunRecord.trigger == trigger)
        with self._wb.db.session() as s:
            rows = [_row(r) for r in s.scalars(q)]
        cols = ["id", "runbook", "status", "dry_run", "trigger", "actor", "targets", "created_at",
                "started_at", "finished_at", "duration", "error", "reason", "params", "results", "output_path"]
        df = pd.DataFrame(rows, columns=cols)
        for col in ("created_at", "started_at", "finished_at"):
            df[col] = pd.to_datetime(df[col], utc=True)
        return df

    def get_run(self, run_id: str) -> Run:
        """A handle on an existing run."""
        self.record(run_id)
        return Run(self, run_id)

    def wait(self, run_id: str, timeout: float | None = None) -> dict[str, Any]:
        """Block until a run ends (or ``timeout``); return its ledger row."""
        live = self._live.get(run_id)
        deadline = None if timeout is None else time.monotonic() + timeout
        from opsnb.runbooks.executors import ENDED

        while True:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            # A run performed in this process sets ``done``; one performed elsewhere is seen ending
            # through its handle, and its outcome read from the ledger its worker wrote.
            if live is not None and live.done.wait(0.1 if left is None else min(0.1, left)):
                return self.record(run_id)
            if live is None or (live.future is not None and self.executor.status(live.future) in ENDED):
                row = self.record(run_id)
                if row["status"] in FINAL:
                    return row
            if deadline is not None and time.monotonic() >= deadline:
                return self.record(run_id)
            if live is None:
                time.sleep(0.1)

    def rerun(self, run_id: str, *, reason: str = "", dry_run: bool | None = None, wait: bool = True,
              on_event: Callable[[dict[str, Any]], None] | None = None) -> Run:
        """Run again with the same parameters (and the same dry-run mode unless told otherwise)."""
        old = self.record(run_id)
        redacted = [k for k, v in old["params"].items() if v == REDACTED]
        if redacted:
            raise ValidationError(f"cannot rerun {run_id}: parameters {', '.join(redacted)} were redacted",
                                  field="params", source=run_id)
        params = {k: v for k, v in old["params"].items() if k != "dry_run"}
        return self.run(old["runbook"], params=params, dry_run=old["dry_run"] if dry_run is None else dry_run,
                        reason=reason or old["reason"], wait=wait, trigger="rerun", trigger_ref=run_id,
                        approve=old["approve"], on_event=on_event, rerun_of=run_id)

    def cancel(self, run_id: str, *, reason: str = "") -> dict[str, Any]:
        """Cancel a queued or running run: its kernel is killed, it ends ``cancelled``."""
        with self._wb.db.session() as s:
            self._wb.access.require("responder", action="runbook.cancel")
            rec = s.get(RunRecord, run_id)
            if rec is None:
                raise NotFound(f"no run {run_id!r}", kind="run", key=str(run_id))
            if rec.status in FINAL:
                raise Conflict(f"run {run_id} already ended ({rec.status})", kind="run", key=run_id)
            rec.cancel_requested = True
            self._wb.audit.record(action="runbook.cancel", target=run_id, params={"runbook": rec.runbook},
                                  reason=reason)
        live = self._live.get(run_id)
        if live is not None:
            live.cancel.set()
        return self.record(run_id)

    def approvals(self, run_id: str) -> pd.DataFrame:
        """Approval steps of a run (pending ones wait for :meth:`decide`)."""
        from opsnb.runbooks.models import ApprovalRecord

        with self._wb.db.session() as s:
            rows = [{"id": a.id, "step": a.step, "status": a.status, "requested_at": a.requested_at,
                     "decided_by": a.decided_by, "decided_at": a.decided_at, "reason": a.reason}
                    for a in s.scalars(select(ApprovalRecord).where(ApprovalRecord.run_id == run_id)
                                       .order_by(ApprovalRecord.id))]
        df = pd.DataFrame(rows, columns=["id", "step", "status", "requested_at", "decided_by", "decided_at",
                                         "reason"])
        for col in ("requested_at", "decided_at"):
            df[col] = pd.to_datetime(df[col], utc=True)
        return df

    def decide(self, run_id: str, *, approve: bool, step: str | None = None, reason: str = "") -> dict[str, Any]:
        """Approve or deny the oldest pending ``confirm()`` step of a run (or the one named).

        Needs the runbook's role (the one a real run needs); audited.

        Raises:
            NotFound: No such run, or nothing pending.
        """
        from opsnb.runbooks.models import ApprovalRecord

        if not isinstance(approve, bool):
            raise ValidationError("approve must be true or false", field="approve")
        with self._wb.db.session() as s:
            rec = s.get(RunRecord, run_id)
            if rec is None:
                raise NotFound(f"no run {run_id!r}", kind="run", key=str(run_id))
            role = self.catalog.get(rec.runbook).required_role if rec.runbook in self.catalog.names() else "admin"
            self._wb.access.require(role, action=f"runbook.approve {rec.runbook}")
            q = select(ApprovalRecord).where(ApprovalRecord.run_id == run_id, ApprovalRecord.status == "pending")
            if step is not None:
                q = q.where(ApprovalRecord.step == step)
            pending = s.scalars(q.order_by(ApprovalRecord.id).limit(1)).first()
            if pending is None:
                raise NotFound(f"run {run_id} has no pending approval{' for ' + repr(step) if step else ''}",
                               kind="approval", key=run_id)
            pending.status = "approved" if approve else "denied"
            pending.decided_by, pending.decided_at, pending.reason = self._wb.user, utcnow(), reason
            self._wb.audit.record(action="runbook.approve" if approve else "runbook.deny", target=run_id,
                                  params={"runbook": rec.runbook, "step": pending.step}, reason=reason)
            return {"id": pending.id, "run_id": run_id, "step": pending.step, "status": pending.status,
                    "decided_by": pending.decided_by}

    def diff(self, run_a: str, run_b: str) -> pd.DataFrame:
        """What differs between two runs: parameters, status, results and cell outputs."""
        import nbformat

        a, b = self.record(run_a), self.record(run_b)
        rows: builtins.list[dict[str, Any]] = []
        for field in ("runbook", "status", "dry_run", "targets", "error"):
            if a[field] != b[field]:
                rows.append({"what": field, "a": a[field], "b": b[field]})
        for kind in ("params", "results"):
            for k in sorted((set(a[kind]) | set(b[kind])) - {"dry_run"}):
                va, vb = a[kind].get(k), b[kind].get(k)
                if va != vb:
                    rows.append({"what": f"{kind[:-1] if kind == 'params' else 'result'}:{k}", "a": va, "b": vb})

        def outputs(path: str) -> dict[str, str]:
            if not path or not Path(path).is_file():
                return {}
            nb = nbformat.read(path, as_version=4)
            out = {}
            for c in nb.cells:
                if c.get("cell_type") == "code" and "injected-parameters" not in c.metadata.get("tags", []):
                    out[c.get("id", "")] = _outputs_text(c)
            return out

        oa, ob = outputs(a["output_path"]), outputs(b["output_path"])
        for cid in [c for c in oa if c in ob] + [c for c in ob if c not in oa]:
            if oa.get(cid) != ob.get(cid):
                rows.append({"what": f"cell:{cid}", "a": oa.get(cid), "b": ob.get(cid)})
        return pd.DataFrame(rows, columns=["what", "a", "b"])

    # ------------------------------------------------------------------ schedules and triggers

    @property
    def schedules(self) -> Any:
        """Schedules of runbooks (``ops.runbooks.schedules.create(...)``)."""
        from opsnb.runbooks.scheduler import Schedules

        return Schedules(self._wb)

    @property
    def triggers(self) -> Any:
        """Alert triggers (``ops.runbooks.triggers.create(...)``)."""
        from opsnb.runbooks.triggers import Triggers

        return Triggers(self._wb)

    def trigger_for_alert(self, alert: dict[str, Any]) -> builtins.list[str]:
        """Run every runbook whose trigger matches this alert; return the run ids started."""
        return self.triggers.fire(alert)

    def close(self) -> None:
        """Stop the executor (and its warm kernels); a later run starts a new one."""
        self._heartbeats.close()
        if self._executor is not None:
            self._executor.close()
            self._executor = None


def _outputs_text(cell: Any) -> str:
    parts = []
    for o in cell.get("outputs", []):
        if o.get("output_type") == "stream":
            parts.append(o.get("text", ""))
        elif o.get("output_type") in ("execute_result", "display_data"):
            parts.append(str((o.get("data") or {}).get("text/plain", "")))
        elif o.get("output_type") == "error":
            parts.append(f"{o.get('ename')}: {o.get('evalue')}")
    return "".join(parts)


def _owner() -> str:
    from opsnb.runbooks.recovery import identity

    return identity()


def _row(r: RunRecord) -> dict[str, Any]:
    return {
        "id": r.id, "runbook": r.runbook, "status": r.status, "dry_run": r.dry_run, "trigger": r.trigger,
        "trigger_ref": r.trigger_ref, "actor": r.actor, "reason": r.reason, "risk": r.risk,
        "params": dict(r.params or {}), "targets": list(r.targets or []), "approve": list(r.approve or []),
        "created_at": r.created_at, "started_at": r.started_at, "finished_at": r.finished_at,
        "duration": r.duration, "output_path": r.output_path, "sha256": r.sha256, "error": r.error,
        "failed_cell": r.failed_cell, "results": dict(r.results or {}), "executor": r.executor,
        "rerun_of": r.rerun_of, "incident_id": r.incident_id, "cancel_requested": r.cancel_requested,
        "owner": r.owner, "heartbeat_at": r.heartbeat_at, "kernel": r.kernel,
    }


_REMOTE: dict[tuple[str, str], Any] = {}
_REMOTE_LOCK = threading.Lock()


def perform_remote(payload: dict[str, Any]) -> str:
    """Perform a run on a remote worker (Dask): open the workspace here, then run as locally."""
    from opsnb.workbench import connect

    key = (payload["workspace"], json.dumps(payload["settings"], sort_keys=True, default=str))
    with _REMOTE_LOCK:
        ops = _REMOTE.get(key)
        if ops is None:
            ops = connect(payload["workspace"], **payload["settings"])
            _REMOTE[key] = ops
    job = Job(**payload["job"])
    os.environ.setdefault("OPSNB_RUNBOOKS_DIR", payload.get("runbooks_dir", ""))
    return ops.runbooks._perform(job, None)

