"""Rollback that verifies recovery: run the deploy command on the service's hosts, record it, then watch.

``ops.deploys.rollback("checkout", env="prod", reason="5xx after 2.16.0", confirm=True)``:

1. needs the operator role, a reason and a confirmation; audited (``deploy.rollback``) before
   anything runs and again with the outcome;
2. checks every host of the service answers over SSH (``true``; nothing is changed if one does not);
3. runs the configured ``deploy_command`` (a JSON argument list, ``{service}``, ``{env}`` and
   ``{version}`` filled into single arguments, never a shell string) on those hosts;
4. records the rollback as a deploy (``rollback_of`` the deploy it replaces);
5. **verifies recovery**: the service's error ratio over requests logged since the command
   finished must be under ``rollback_error_threshold`` (at least ``min_requests`` of them), within
   ``rollback_verify_timeout``. The answer is ``rolled back, recovered`` or
   ``rolled back, NOT recovered`` — never success on the command's exit status alone.

A freeze does not block a rollback to a version that ran before (the remedy); a "rollback" to a
version never deployed there is a deploy, and a freeze refuses it unless ``override_freeze``.
"""

from __future__ import annotations

import html
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from opsnb.errors import Conflict, NotFound, ValidationError
from opsnb.store.types import utcnow

if TYPE_CHECKING:
    from opsnb.deploys.models import Deploy
    from opsnb.workbench import Workbench

Verifier = Callable[["Workbench", str, str, datetime], tuple[bool | None, str]]
"""``verify(ops, service, env, since) -> (recovered, detail)``; ``None`` means "not enough data yet"."""


@dataclass
class RollbackResult:
    """What a rollback did and whether the service recovered."""

    service: str
    env: str
    from_version: str
    to_version: str
    deploy: Deploy | None
    recovered: bool
    detail: str
    hosts: list[str]
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def outcome(self) -> str:
        return "rolled back, recovered" if self.recovered else "rolled back, NOT recovered"

    def as_dict(self) -> dict[str, Any]:
        return {"service": self.service, "env": self.env, "from_version": self.from_version,
                "to_version": self.to_version, "deploy": self.deploy.id if self.deploy else None,
                "outcome": self.outcome, "recovered": self.recovered, "detail": self.detail,
                "hosts": self.hosts, "timings": self.timings}

    def __str__(self) -> str:
        t = ", ".join(f"{k} {v:.2f}s" for k, v in self.timings.items())
        return (f"{self.service}@{self.env} {self.from_version} -> {self.to_version}: {self.outcome}"
                f" ({self.detail}; {t})")

    def _repr_html_(self) -> str:
        colour = "#1e8449" if self.recovered else "#c0392b"
        return (f"<b>{html.escape(self.service)}@{html.escape(self.env)}</b> "
                f"<code>{html.escape(self.from_version)}</code> &rarr; <code>{html.escape(self.to_version)}</code>: "
                f"<span style='color:{colour}'><b>{html.escape(self.outcome)}</b></span> &middot; "
                f"{html.escape(self.detail)}")


def error_ratio_verifier(threshold: float, min_requests: int = 20) -> Verifier:
    """Recovered when the error ratio of the requests logged since ``since`` is under ``threshold``."""

    def verify(wb: Workbench, service: str, env: str, since: datetime) -> tuple[bool | None, str]:
        df = wb.logs.service_metrics(since=since, until=utcnow(), service=service, step="1h")
        req = int(df["requests"].sum()) if len(df) else 0
        if req < min_requests:
            return None, f"{req} requests since the rollback (waiting for {min_requests})"
        ratio = float(df["errors"].sum()) / req
        ok = ratio < threshold
        return ok, f"error ratio {ratio:.1%} over {req} requests ({'under' if ok else 'not under'} {threshold:.1%})"

    return verify


def _argv(template: Any, **values: str) -> list[str]:
    if isinstance(template, str):
        if not template.strip():
            raise ValidationError("no deploy command configured: set deploy_command to a JSON argument list, "
                                  'e.g. ["/usr/local/bin/deploy", "{service}", "{version}"]', field="deploy_command")
        try:
            template = json.loads(template)
        except ValueError:
            raise ValidationError("deploy_command must be a JSON list of arguments (no shell strings)",
                                  field="deploy_command") from None
    if not isinstance(template, list | tuple) or not template or not all(isinstance(a, str) for a in template):
        raise ValidationError("deploy_command must be a non-empty list of strings", field="deploy_command")
    out = []
    for arg in template:
        for k, v in values.items():
            arg = arg.replace("{" + k + "}", v)  # a value fills one argument; it is never re-split
        out.append(arg)
    return out


def rollback(wb: Workbench, service: str, *, env: str = "prod", reason: str, confirm: bool = False,
             to_version: str | None = None, hosts: str | list[str] | None = None, command: Any = None,
             override_freeze: bool = False, verify: Verifier | None = None, verify_timeout: float | None = None,
             threshold: float | None = None, timeout: float = 300.0) -> RollbackResult:
    """Roll ``service`` in ``env`` back and verify it recovered (see the module docstring).

    Args:
        service, env: What to roll back.
        reason: Why (required; audited).
        confirm: Must be True: the CLI and the runbook ask the person first.
        to_version: Version to restore (default the current deploy's previous version).
        hosts: Fleet selector or names (default the ``deploy_hosts`` setting, ``service={service}``).
        command: Argument list (default the ``deploy_command`` setting).
        override_freeze: Go through a freeze when the target version never ran here (needs the reason).
        verify: ``verify(ops, service, env, since) -> (recovered, detail)`` instead of the error ratio.
        verify_timeout: Seconds to wait for recovery (default ``rollback_verify_timeout``).
        threshold: Error ratio under which the service counts as recovered (``rollback_error_threshold``).
        timeout: Seconds the deploy command may run per host.

    Raises:
        ValidationError: No reason, not confirmed, no target version, no command configured.
        PermissionDenied: Not an operator. NotFound: No deploy of the service there.
        Conflict: A freeze refuses a version that never ran here. CommandError: The command failed
            on a host (nothing recorded as a rollback; the audit trail has the attempt).
    """
    from opsnb.errors import CommandError

    if not isinstance(reason, str) or not reason.strip():
        raise ValidationError("a rollback needs a reason", field="reason")
    if confirm is not True:
        raise ValidationError("a rollback needs confirmation (confirm=True; the CLI asks, or --yes)",
                              field="confirm")
    deploys = wb.deploys
    settings = wb.settings
    with wb.db.session() as s:
        wb.access.require("operator", action="deploy.rollback")
        cur = deploys._current_row(s, service, env)
        if cur is None:
            raise NotFound(f"no deploy of {service} in {env} to roll back", kind="deploy", key=f"{service}@{env}")
        current_id, from_version = cur.id, cur.version
        target = to_version or cur.previous_version
        if not target:
            raise ValidationError(f"deploy {cur.id} has no previous version; give to_version", field="to_version")
        seen = deploys._seen_before(s, cur, target)
        from opsnb.deploys import freezes

        blocking = freezes.active(s, service=service, env=env)
        if blocking is not None and not seen and not override_freeze:
            raise Conflict(f"deploys of {service} to {env} are frozen by {blocking.created_by}: {blocking.reason}"
                           f" (freeze {blocking.id}); {target} never ran there, so this is a deploy, not a rollback;"
                           " override_freeze=True with a reason deploys anyway", kind="freeze", key=str(blocking.id))
        selector = hosts if hosts is not None else str(settings.deploy_hosts).format(service=service, env=env)
        argv = _argv(command if command is not None else settings.deploy_command,
                     service=service, env=env, version=target)
        wb.audit.record(action="deploy.rollback", target=f"{service}@{env}", reason=reason,
                        params={"phase": "start", "from": from_version, "to": target, "hosts": selector,
                                "command": argv, "override_freeze": override_freeze})
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    # every host answers before anything changes, so a rollback never stops half-applied for a dead host
    reach = wb.fleet.run(selector, ["true"], mutating=False, progress=False, timeout=30)
    timings["ssh"] = time.perf_counter() - t0
    bad = reach[reach["exit_status"].ne(0) | reach["error"].notna()]
    if len(bad):
        raise CommandError(f"hosts not reachable, nothing changed: {', '.join(bad['host'])}",
                           command=" ".join(argv), host=",".join(bad["host"]))
    t1 = time.perf_counter()
    ran = wb.fleet.run(selector, argv, mutating=True, progress=False, timeout=timeout,
                       reason=f"rollback {service}@{env} to {target}: {reason}")
    timings["command"] = time.perf_counter() - t1
    failed = ran[ran["exit_status"].ne(0) | ran["error"].notna()]
    if len(failed):
        first = failed.iloc[0]
        with wb.db.session():
            wb.audit.record(action="deploy.rollback", target=f"{service}@{env}", reason=reason,
                            params={"phase": "failed", "hosts": list(failed["host"])})
        raise CommandError(f"deploy command failed on {', '.join(failed['host'])}: {str(first['stderr'])[:500]}",
                           command=" ".join(argv), host=str(first["host"]),
                           exit_status=None if first["exit_status"] is None else int(first["exit_status"]),
                           stderr=str(first["stderr"])[:2000])
    done = utcnow()
    if seen:
        dep = deploys.record_rollback(current_id, to_version=target, reason=reason, at=done)
    else:
        dep = deploys.create(service=service, env=env, version=target, reason=reason, started_at=done,
                             override_freeze=override_freeze)
    t2 = time.perf_counter()
    check = verify or error_ratio_verifier(float(threshold if threshold is not None
                                                 else settings.rollback_error_threshold))
    limit = float(verify_timeout if verify_timeout is not None else settings.rollback_verify_timeout)
    recovered, detail = False, "no verdict"
    while True:
        verdict, detail = check(wb, service, env, done)
        if verdict is True:
            recovered = True
            break
        if time.perf_counter() - t2 >= limit:
            break
        time.sleep(0.25)
    timings["verify"] = time.perf_counter() - t2
    timings["total"] = time.perf_counter() - t0
    result = RollbackResult(service=service, env=env, from_version=from_version, to_version=target, deploy=dep,
                            recovered=recovered, detail=detail, hosts=list(ran["host"]), timings=timings)
    with wb.db.session():
        wb.audit.record(action="deploy.rollback", target=f"{service}@{env}", reason=reason,
                        params={"phase": "verified", "outcome": result.outcome, "detail": detail,
                                "deploy": dep.id, "timings": {k: round(v, 3) for k, v in timings.items()}})
    return result
