"""Rollback that verifies recovery: run the deploy command on the service's hosts, record it, then watch.

``ops.deploys.rollback("checkout", env="prod", reason="5xx after 2.16.0", confirm=True)``:

1. needs the operator role, a reason and a confirmation; audited (``deploy.rollback``) before
   anything runs and again with the outcome;
2. checks every host of the service answers over SSH (``true``; nothing is changed if one does not);
3. runs the configured ``deploy_command`` (a JSON argument list, ``{service}``, ``{env}`` and
   ``{version}`` filled into single arguments, never a shell string) on those hosts;
4. records the rollback as a deploy (``rollback_of`` the deploy it replaces);
5. **verifies recovery**, within ``rollback_verify_timeout``, by one of two checks:

   - ``slo``: when the service has SLOs (``ops.slos``, production environments only, since an SLO
     is a promise about production traffic), every one of them must burn its error budget at
     under 1x over the 5 minutes after the command finished, read through the SLO's own source,
     filters, target and exclusions, with at least ``min_requests`` events. SLO sources count per
     minute, so the minute the command finished in (both versions served in it) is left out and
     the window starts at the next whole minute: this check waits up to one minute longer than
     the error ratio does.
   - ``error_ratio`` otherwise: the error ratio over requests logged since the command finished
     must be under ``rollback_error_threshold`` (at least ``min_requests`` of them).

   The answer is ``rolled back, recovered`` or ``rolled back, NOT recovered`` — never success on
   the command's exit status alone — with the check used and its figures.

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

from opsnb.errors import NotFound, OpsnbError, ValidationError
from opsnb.store.types import utcnow

if TYPE_CHECKING:
    from opsnb.deploys.models import Deploy
    from opsnb.workbench import Workbench

Verifier = Callable[["Workbench", str, str, datetime], tuple[Any, ...]]
"""``verify(ops, service, env, since) -> (recovered, detail[, figures])``; ``None`` means "not enough data yet".

The built-in checks return a third element, a dict of the figures the verdict rests on, and carry
their name in a ``check`` attribute; a caller's own verifier may return just the pair.
"""
CHECKS = ("auto", "slo", "error_ratio")
PROD_ENVS = ("prod", "production")
SLO_WINDOW_MIN = 5  # the short window of the Workbook's fastest page tier


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
    check: str = "error_ratio"
    """Which check decided: ``slo`` (5-minute burn rate), ``error_ratio`` or ``custom``."""
    figures: dict[str, Any] = field(default_factory=dict)
    """The figures of the last verdict (burn rate per SLO and its events, or error ratio and requests)."""

    @property
    def outcome(self) -> str:
        return "rolled back, recovered" if self.recovered else "rolled back, NOT recovered"

    def as_dict(self) -> dict[str, Any]:
        return {"service": self.service, "env": self.env, "from_version": self.from_version,
                "to_version": self.to_version, "deploy": self.deploy.id if self.deploy else None,
                "outcome": self.outcome, "recovered": self.recovered, "check": self.check,
                "detail": self.detail, "figures": self.figures, "hosts": self.hosts, "timings": self.timings}

    def __str__(self) -> str:
        t = ", ".join(f"{k} {v:.2f}s" for k, v in self.timings.items())
        return (f"{self.service}@{self.env} {self.from_version} -> {self.to_version}: {self.outcome}"
                f" (check {self.check}: {self.detail}; {t})")

    def _repr_html_(self) -> str:
        colour = "#1e8449" if self.recovered else "#c0392b"
        return (f"<b>{html.escape(self.service)}@{html.escape(self.env)}</b> "
                f"<code>{html.escape(self.from_version)}</code> &rarr; <code>{html.escape(self.to_version)}</code>: "
                f"<span style='color:{colour}'><b>{html.escape(self.outcome)}</b></span> &middot; "
                f"{html.escape(self.check)}: {html.escape(self.detail)}")


def error_ratio_verifier(threshold: float, min_requests: int = 20) -> Verifier:
    """Recovered when the error ratio of the requests logged since ``since`` is under ``threshold``."""

    def verify(wb: Workbench, service: str, env: str, since: datetime) -> tuple[bool | None, str, dict[str, Any]]:
        df = wb.logs.service_metrics(since=since, until=utcnow(), service=service, step="1h")
        req = int(df["requests"].sum()) if len(df) else 0
        if req < min_requests:
            return None, f"{req} requests since the rollback (waiting for {min_requests})", \
                {"requests": req, "threshold": threshold}
        ratio = float(df["errors"].sum()) / req
        ok = ratio < threshold
        return (ok, f"error ratio {ratio:.1%} over {req} requests ({'under' if ok else 'not under'} {threshold:.1%})",
                {"error_ratio": round(ratio, 6), "requests": req, "threshold": threshold})

    verify.check = "error_ratio"  # type: ignore[attr-defined]
    return verify


def service_slos(wb: Workbench, service: str) -> list[str]:
    """Names of the SLOs of ``service`` (empty when it has none or the SLO files cannot be read)."""
    try:
        df = wb.slos.list()
    except (OpsnbError, OSError):
        return []
    mine = df[(df["service"] == service) & ~df["source"].astype(str).str.endswith("(no source)")]
    return sorted(mine["name"].astype(str))


def slo_burn_verifier(names: list[str], min_events: int = 20, window_min: int = SLO_WINDOW_MIN) -> Verifier:
    """Recovered when every SLO in ``names`` burns its budget at under 1x since the rollback.

    The burn rate is the error ratio of the SLO's own SLI (its source, filters and exclusions)
    over its budget (1 - target), on the whole minutes after the one ``since`` falls in, up to
    and including the minute in progress, at most ``window_min`` of them. Slice-based SLOs
    count slices, so one is enough for them.
    """
    from datetime import UTC

    def verify(wb: Workbench, service: str, env: str, since: datetime) -> tuple[bool | None, str, dict[str, Any]]:
        now = utcnow()
        # the minute the command finished in served both versions: it would carry the bad one's errors
        lo = int(since.timestamp() // 60) + 1
        hi = int(now.timestamp() // 60) + 1  # the minute in progress counts: its requests are all after
        figures: dict[str, Any] = {"window_start": datetime.fromtimestamp(lo * 60, UTC).isoformat(),
                                   "window_minutes": window_min, "slos": {}}
        if now.timestamp() < lo * 60:
            return None, f"waiting for the first whole minute after the rollback ({lo * 60 - now.timestamp():.0f} s)", \
                figures
        lo = max(lo, hi - window_min)
        parts: list[str] = []
        verdicts: list[bool | None] = []
        for name in names:
            slo = wb.slos[name]
            u = slo.units(datetime.fromtimestamp(lo * 60, UTC), datetime.fromtimestamp(hi * 60, UTC))[0]
            good, total = u.sums(lo, hi)
            budget = 1.0 - float(slo.spec.target)
            need = min_events if slo.spec.method == "Occurrences" else 1
            burn = ((total - good) / total) / budget if total > 0 and budget > 0 else None
            figures["slos"][name] = {"burn_rate": None if burn is None else round(burn, 4), "good": good,
                                     "total": total, "target": float(slo.spec.target)}
            if total < need or burn is None:
                verdicts.append(None)
                parts.append(f"SLO {name}: {total:.0f} events since the rollback (waiting for {need})")
                continue
            ok = burn < 1.0
            verdicts.append(ok)
            parts.append(f"SLO {name} 5-minute burn rate {burn:.2f} over {total:.0f} events "
                         f"({'under' if ok else 'not under'} 1)")
        detail = "; ".join(parts) + f" since {datetime.fromtimestamp(lo * 60, UTC):%H:%M} UTC"
        if any(v is False for v in verdicts):
            return False, detail, figures
        if any(v is None for v in verdicts):
            return None, detail, figures
        return True, detail, figures

    verify.check = "slo"  # type: ignore[attr-defined]
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
             threshold: float | None = None, timeout: float = 300.0, check: str = "auto") -> RollbackResult:
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
        check: ``auto`` (the SLO burn rate when the service has SLOs and ``env`` is production, else
            the error ratio), ``slo`` or ``error_ratio``. Not used with ``verify``.

    Raises:
        ValidationError: No reason, not confirmed, no target version, no command configured,
            ``check="slo"`` for a service without SLOs.
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
    if check not in CHECKS:
        raise ValidationError(f"check must be one of {', '.join(CHECKS)}, got {check!r}", field="check")
    # the check is chosen before anything runs: asking for the SLO check of a service without one changes nothing
    slos = service_slos(wb, service) if verify is None and check != "error_ratio" else []
    if check == "slo" and not slos:
        raise ValidationError(f"{service} has no SLO with a source to check recovery by; check='error_ratio'",
                              field="check")
    if check == "auto" and str(env).lower() not in PROD_ENVS:
        slos = []
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
            raise freezes.refusal(blocking, service=service, env=env,
                                  why=f"; {target} never ran there, so this is a deploy, not a rollback")
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
    if verify is not None:
        judge = verify
    elif slos:
        judge = slo_burn_verifier(slos)
    else:
        judge = error_ratio_verifier(float(threshold if threshold is not None else settings.rollback_error_threshold))
    used = str(getattr(judge, "check", "custom"))
    limit = float(verify_timeout if verify_timeout is not None else settings.rollback_verify_timeout)
    recovered, detail, figures = False, "no verdict", {}
    while True:
        out = judge(wb, service, env, done)
        verdict, detail = out[0], str(out[1])
        figures = dict(out[2]) if len(out) > 2 else {}
        if verdict is True:
            recovered = True
            break
        if time.perf_counter() - t2 >= limit:
            break
        time.sleep(0.25)
    timings["verify"] = time.perf_counter() - t2
    timings["total"] = time.perf_counter() - t0
    result = RollbackResult(service=service, env=env, from_version=from_version, to_version=target, deploy=dep,
                            recovered=recovered, detail=detail, hosts=list(ran["host"]), timings=timings,
                            check=used, figures=figures)
    with wb.db.session():
        wb.audit.record(action="deploy.rollback", target=f"{service}@{env}", reason=reason,
                        params={"phase": "verified", "outcome": result.outcome, "check": used, "detail": detail,
                                "figures": figures,
                                "deploy": dep.id, "timings": {k: round(v, 3) for k, v in timings.items()}})
    return result
