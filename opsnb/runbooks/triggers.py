"""Alert triggers: a rule matching alert labels runs a runbook with parameters mapped from the alert.

``match`` maps a label to a value: ``"checkout"`` (equal), ``"~web-.*"`` (regex, full
match), ``"!staging"`` (not equal). ``params`` maps a parameter to a template
``"{labels.service}"`` / ``"{annotations.summary}"`` / ``"{fingerprint}"`` or a literal.
Runs are dry runs by default for risky runbooks; a real-run trigger needs the runbook's
role and a reason when it is created (the runs act as its creator). A firing alert
re-sent by Alertmanager does not re-run the runbook within ``cooldown_s``; resolved alerts
run nothing. The run records the alert's fingerprint and, when the alert belongs to an
incident, appears on the incident's timeline.
"""

from __future__ import annotations

import builtins
import logging
import re
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from opsnb.errors import Conflict, NotFound, OpsnbError, ValidationError
from opsnb.runbooks.models import RunRecord, TriggerRecord
from opsnb.store.types import utcnow

if TYPE_CHECKING:
    import pandas as pd

    from opsnb.workbench import Workbench

log = logging.getLogger(__name__)
_TEMPLATE = re.compile(r"\{(labels|annotations)\.([A-Za-z_][A-Za-z0-9_]*)\}|\{(fingerprint|status)\}")


def _matches(match: dict[str, str], labels: dict[str, Any]) -> bool:
    for key, want in match.items():
        have = labels.get(key)
        if want.startswith("~"):
            if have is None or not re.fullmatch(want[1:], str(have)):
                return False
        elif want.startswith("!"):
            if have is not None and str(have) == want[1:]:
                return False
        elif have is None or str(have) != want:
            return False
    return True


def render(template: Any, alert: dict[str, Any]) -> Any:
    """Fill ``{labels.x}``/``{annotations.x}``/``{fingerprint}`` from the alert.

    Raises:
        KeyError: The alert lacks a label the template needs.
    """
    if not isinstance(template, str):
        return template

    def sub(m: re.Match[str]) -> str:
        if m.group(3):
            return str(alert.get(m.group(3), ""))
        source = alert.get(m.group(1)) or {}
        if m.group(2) not in source:
            raise KeyError(f"{m.group(1)}.{m.group(2)}")
        return str(source[m.group(2)])

    return _TEMPLATE.sub(sub, template)


def _as_dict(r: TriggerRecord) -> dict[str, Any]:
    return {"id": r.id, "name": r.name, "runbook": r.runbook, "match": dict(r.match), "params": dict(r.params),
            "dry_run": r.dry_run, "cooldown_s": r.cooldown_s, "enabled": r.enabled, "created_by": r.created_by}


class Triggers:
    """Alert-to-runbook rules (``ops.runbooks.triggers``)."""

    def __init__(self, wb: Workbench) -> None:
        self._wb = wb

    def create(self, name: str, runbook: str, *, match: dict[str, str], params: dict[str, Any] | None = None,
               dry_run: bool | None = None, cooldown_s: float = 3600.0, reason: str = "") -> dict[str, Any]:
        """Create a trigger.

        Raises:
            ValidationError: Empty or malformed ``match``, a template naming an unknown field, a
                parameter the runbook does not declare, a real-run trigger without a reason.
            PermissionDenied: Creating a real-run trigger without the runbook's role.
            Conflict: The name is taken.
        """
        if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,199}", name):
            raise ValidationError(f"trigger name {name!r} must be letters, digits, '-', '_', '.', ':'", field="name")
        if not isinstance(match, dict) or not match or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in match.items()):
            raise ValidationError("match must be a non-empty mapping of label -> string", field="match")
        for v in match.values():
            if v.startswith("~"):
                try:
                    re.compile(v[1:])
                except re.error as exc:
                    raise ValidationError(f"match regex {v[1:]!r} does not compile: {exc}", field="match") from None
        if isinstance(cooldown_s, bool) or not isinstance(cooldown_s, int | float) or cooldown_s < 0:
            raise ValidationError("cooldown_s must be a non-negative number", field="cooldown_s")
        params = dict(params or {})
        svc = self._wb.runbooks
        rb = svc.get(runbook)
        # Validate with the templates filled by placeholders of the right shape: names and literal values.
        known = {p.name for p in rb.parameters}
        unknown = [k for k in params if k not in known or k == "dry_run"]
        if unknown:
            raise ValidationError(f"trigger {name!r}: {runbook!r} has no parameter(s) {', '.join(unknown)}",
                                  field="params")
        literal = {k: v for k, v in params.items() if not (isinstance(v, str) and _TEMPLATE.search(v))}
        try:
            svc.prepare(runbook, literal, dry_run=dry_run)
        except ValidationError as exc:
            missing_ok = [p for p in exc.problems if not any(p.startswith(f"{k}:") for k in params)
                          and "is required" not in p]
            if missing_ok:
                raise
        dry = (dry_run is not False) if rb.mutating else False
        with self._wb.db.session() as s:
            svc._authorize(rb, dry, reason)
            if s.scalar(select(TriggerRecord.id).where(TriggerRecord.name == name)) is not None:
                raise Conflict(f"trigger {name!r} exists already", kind="trigger", key=name)
            rec = TriggerRecord(name=name, runbook=runbook, match=match, params=params, dry_run=dry,
                                cooldown_s=float(cooldown_s), enabled=True, created_by=self._wb.user,
                                created_at=utcnow(), reason=reason)
            s.add(rec)
            s.flush()
            self._wb.audit.record(action="runbook.trigger.create", target=name,
                                  params={"runbook": runbook, "match": match, "params": params, "dry_run": dry},
                                  reason=reason)
            return _as_dict(rec)

    def list(self) -> pd.DataFrame:
        import pandas as pd

        with self._wb.db.session() as s:
            rows = [_as_dict(r) for r in s.scalars(select(TriggerRecord).order_by(TriggerRecord.name))]
        return pd.DataFrame(rows, columns=["id", "name", "runbook", "match", "params", "dry_run", "cooldown_s",
                                           "enabled", "created_by"])

    def delete(self, name: str, *, reason: str = "") -> None:
        with self._wb.db.session() as s:
            self._wb.access.require("responder", action="runbook.trigger.delete")
            r = s.scalar(select(TriggerRecord).where(TriggerRecord.name == name))
            if r is None:
                raise NotFound(f"no trigger {name!r}", kind="trigger", key=name)
            s.delete(r)
            self._wb.audit.record(action="runbook.trigger.delete", target=name, params={}, reason=reason)

    def matching(self, alert: dict[str, Any]) -> builtins.list[dict[str, Any]]:
        """Enabled triggers whose match accepts the alert's labels."""
        labels = alert.get("labels") or {}
        if not isinstance(labels, dict):
            return []
        with self._wb.db.session() as s:
            return [_as_dict(r) for r in s.scalars(select(TriggerRecord).where(TriggerRecord.enabled.is_(True)))
                    if _matches(dict(r.match), labels)]

    def fire(self, alert: dict[str, Any]) -> builtins.list[str]:
        """Start the runs an alert triggers; returns their ids. Never raises for one bad trigger."""
        if not isinstance(alert, dict) or str(alert.get("status", "firing")) != "firing":
            return []
        fingerprint = str(alert.get("fingerprint") or "")[:200]
        started: builtins.list[str] = []
        for t in self.matching(alert):
            ref = f"{t['name']}:{fingerprint}"
            if fingerprint and t["cooldown_s"] > 0:
                since = utcnow() - timedelta(seconds=t["cooldown_s"])
                with self._wb.db.session() as s:
                    recent = s.scalar(select(RunRecord.id).where(RunRecord.trigger == "alert",
                                                                 RunRecord.trigger_ref == ref,
                                                                 RunRecord.created_at >= since).limit(1))
                if recent:
                    continue
            try:
                params = {k: render(v, alert) for k, v in t["params"].items()}
            except KeyError as exc:
                log.warning("trigger %s: alert %s lacks %s; not run", t["name"], fingerprint, exc)
                continue
            try:
                run = self._wb.runbooks.run(
                    t["runbook"], params=params, dry_run=t["dry_run"], trigger="alert", trigger_ref=ref,
                    reason=f"alert {(alert.get('labels') or {}).get('alertname', fingerprint)} (trigger {t['name']})",
                    incident_id=alert.get("incident_id") or None, actor=t["created_by"], wait=False,
                    _authorized=True)
                started.append(run.id)
            except OpsnbError as exc:
                log.warning("trigger %s: %s", t["name"], exc)
        return started
