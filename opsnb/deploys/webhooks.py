"""Deploys from CI/CD systems: GitHub and GitLab webhooks and a generic JSON deploy, parsed and stored.

Each parser turns a provider's body into a :class:`Prepared` deploy (or ``None`` fields for an
event that is not a deploy, such as a ``workflow_run`` that was only requested) and raises a
:class:`~opsnb.errors.ValidationError` naming the field (``deployment.sha``) when the body is
not what the provider sends. :func:`store` writes the receipt and the deploy in one transaction:
a redelivery (the same ``X-GitHub-Delivery``) changes nothing, a later status of the same
provider deploy (``in_progress`` then ``success``) finishes the running record.

Mapping:

The service is ``?service=`` when the route is called with it, else the repository's (project's)
name as a slug (``Gitlab Test`` -> ``gitlab-test``).

- GitHub ``deployment_status``: service = repository name, env = ``deployment.environment``,
  version = ``deployment.payload.version`` or the first 12 digits of ``deployment.sha``, id
  ``gh-<deployment id>``; ``success`` → succeeded, ``failure``/``error`` → failed, pending
  states → running, ``inactive`` is ignored.
- GitHub ``workflow_run``: a workflow that deploys; env from ``?env=`` (default ``prod``),
  id ``gh-run-<run id>``, commit time from ``head_commit.timestamp``; ``completed`` with
  conclusion ``success`` → succeeded, any other conclusion → failed; ``requested`` or
  ``in_progress`` → running.
- GitLab ``deployment``: service = project name, env = ``environment``, version = ``short_sha``,
  id ``gl-<deployment_id>``; ``running`` → running, ``success`` → succeeded, ``failed`` and
  ``canceled`` → failed.
- GitLab ``pipeline``: env from ``?env=``, id ``gl-pipeline-<id>``, commit time from
  ``commit.timestamp``; ``success`` → succeeded, ``failed``/``canceled`` → failed, ``running`` → running.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from opsnb.deploys.models import TRANSITIONS, Deploy, DeployReceiptRow, DeployRow
from opsnb.errors import ValidationError
from opsnb.store.types import utcnow

if TYPE_CHECKING:
    from opsnb.workbench import Workbench

SHA = re.compile(r"^[0-9a-fA-F]{7,64}$")
GENERIC_FIELDS = ("service", "version", "env", "commit", "actor", "status", "started_at", "finished_at",
                  "committed_at", "id", "reason", "previous_version", "override_freeze")


@dataclass
class Prepared:
    """A validated deploy from a webhook, ready for :func:`store`.

    ``fields`` is None when the event is valid but no deploy (``ignored`` in the answer).
    """

    provider: str
    event: str
    delivery: str | None
    body: str
    fields: dict[str, Any] | None = field(default=None)
    override_freeze: bool = False
    """Only the generic deploy (``POST /deploys``) is held by freezes: a provider's webhook reports a
    deploy that already ran, which refusing to record would only hide."""


@dataclass(frozen=True)
class Stored:
    """What :func:`store` did: ``created``, ``updated``, ``unchanged`` (redelivery) or ``ignored``."""

    outcome: str
    deploy: Deploy | None
    receipt: int | None


def _get(body: Any, path: str, kind: type | tuple[type, ...] = str, *, required: bool = True) -> Any:
    cur = body
    for part in path.split("."):
        if not isinstance(cur, dict) or part not in cur:
            if required:
                raise ValidationError(f"bad webhook: {path} is missing", field=path)
            return None
        cur = cur[part]
    if cur is None and not required:
        return None
    if not isinstance(cur, kind) or isinstance(cur, bool) and kind is not bool:
        names = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
        raise ValidationError(f"bad webhook: {path} must be {names}, got {cur!r}", field=path)
    return cur


def _time(body: Any, path: str, *, required: bool = True) -> datetime | None:
    raw = _get(body, path, str, required=required)
    if raw is None:
        return None
    text = raw.strip()
    # ISO 8601 first: GitHub's form, and a failed strptime (two per GitHub time when they came
    # first) cost more than the rest of parsing the body on the event loop
    try:
        t = datetime.fromisoformat(text.replace("Z", "+00:00"))
        return t if t.tzinfo else t.replace(tzinfo=UTC)
    except ValueError:
        pass
    for fmt in ("%Y-%m-%d %H:%M:%S %z", "%Y-%m-%d %H:%M:%S UTC"):  # GitLab's two forms
        try:
            t = datetime.strptime(text, fmt)
            return t if t.tzinfo else t.replace(tzinfo=UTC)
        except ValueError:
            pass
    raise ValidationError(f"bad webhook: {path} is not a time: {raw!r}", field=path)


def _load(raw: bytes | str | Any, source: str) -> tuple[Any, str]:
    from opsnb.bounded import load_json

    if isinstance(raw, bytes | str):
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
        return load_json(raw, source=source), text
    return raw, json.dumps(raw, default=str)


def _service(value: str, path: str, override: str | None) -> str:
    """``?service=`` when given, else the project's name as a slug (``Gitlab Test`` -> ``gitlab-test``)."""
    if override:
        return _name(override, "service")
    slug = re.sub(r"[^A-Za-z0-9._/-]+", "-", value.strip()).strip("-").lower() if isinstance(value, str) else value
    return _name(slug, path)


def _name(value: str, path: str) -> str:
    from opsnb.deploys.service import NAME

    if not NAME.match(value):
        raise ValidationError(f"bad webhook: {path} {value!r} is not a service or environment name", field=path)
    return value


def parse_github(raw: bytes | str | Any, *, event: str, delivery: str | None, env: str = "prod",
                 service: str | None = None) -> Prepared:
    """A GitHub ``deployment_status`` or ``workflow_run`` webhook body (``X-GitHub-Event``)."""
    body, text = _load(raw, "GitHub webhook")
    if not isinstance(body, dict):
        raise ValidationError("bad webhook: the body must be a JSON object", field="body")
    prep = Prepared("github", event, f"github:{delivery}" if delivery else None, text)
    service = _service(_get(body, "repository.name"), "repository.name", service)
    if event == "deployment_status":
        state = _get(body, "deployment_status.state")
        sha = _get(body, "deployment.sha")
        if not SHA.match(sha):
            raise ValidationError(f"bad webhook: deployment.sha must be hex, got {sha!r}", field="deployment.sha")
        dep_id = _get(body, "deployment.id", int)
        payload = body["deployment"].get("payload")
        version = payload.get("version") if isinstance(payload, dict) else None
        status = {"success": "succeeded", "failure": "failed", "error": "failed", "pending": "running",
                  "queued": "running", "in_progress": "running"}.get(state)
        if state == "inactive":
            return prep
        if status is None:
            raise ValidationError(f"bad webhook: deployment_status.state {state!r} is not a GitHub state",
                                  field="deployment_status.state")
        started = _time(body, "deployment.created_at")
        prep.fields = dict(
            id=f"gh-{dep_id}", service=service,
            env=_name(_get(body, "deployment.environment"), "deployment.environment"),
            version=str(version) if version else sha[:12], commit=sha,
            actor=_get(body, "deployment.creator.login", required=False) or "github", status=status,
            started_at=started, finished_at=None if status == "running" else _time(body, "deployment_status.created_at"),
            committed_at=None, reason=f"GitHub deployment {dep_id}")
        return prep
    if event == "workflow_run":
        action = _get(body, "action")
        run_id = _get(body, "workflow_run.id", int)
        sha = _get(body, "workflow_run.head_sha")
        if not SHA.match(sha):
            raise ValidationError(f"bad webhook: workflow_run.head_sha must be hex, got {sha!r}",
                                  field="workflow_run.head_sha")
        if action == "completed":
            conclusion = _get(body, "workflow_run.conclusion")
            status = "succeeded" if conclusion == "success" else "failed"
        elif action in ("requested", "in_progress"):
            status = "running"
        else:
            raise ValidationError(f"bad webhook: action {action!r} is not a workflow_run action", field="action")
        started = _time(body, "workflow_run.run_started_at", required=False) or _time(body, "workflow_run.created_at")
        prep.fields = dict(
            id=f"gh-run-{run_id}", service=service, env=_name(env, "env"), version=sha[:12], commit=sha,
            actor=_get(body, "sender.login", required=False) or "github", status=status, started_at=started,
            finished_at=None if status == "running" else _time(body, "workflow_run.updated_at"),
            committed_at=_time(body, "workflow_run.head_commit.timestamp", required=False),
            reason=f"GitHub workflow run {run_id} ({_get(body, 'workflow_run.name', required=False) or ''})")
        return prep
    if event == "ping":
        return prep
    raise ValidationError(f"bad webhook: X-GitHub-Event {event!r} is not deployment_status or workflow_run",
                          field="X-GitHub-Event")


def parse_gitlab(raw: bytes | str | Any, *, delivery: str | None, env: str = "prod",
                 service: str | None = None) -> Prepared:
    """A GitLab deployment or pipeline hook body (``object_kind`` tells which)."""
    body, text = _load(raw, "GitLab webhook")
    if not isinstance(body, dict):
        raise ValidationError("bad webhook: the body must be a JSON object", field="body")
    kind = _get(body, "object_kind")
    prep = Prepared("gitlab", kind, f"gitlab:{delivery}" if delivery else None, text)
    service = _service(_get(body, "project.name"), "project.name", service)
    actor = _get(body, "user.username", required=False) or "gitlab"
    if kind == "deployment":
        state = _get(body, "status")
        status = {"running": "running", "success": "succeeded", "failed": "failed", "canceled": "failed"}.get(state)
        if status is None:
            if state == "created":
                return prep
            raise ValidationError(f"bad webhook: status {state!r} is not a GitLab deployment status", field="status")
        short = _get(body, "short_sha")
        if not SHA.match(short):
            raise ValidationError(f"bad webhook: short_sha must be hex, got {short!r}", field="short_sha")
        commit_url = _get(body, "commit_url", required=False) or ""
        tail = commit_url.rstrip("/").rsplit("/", 1)[-1]
        at = _time(body, "status_changed_at")
        dep_id = _get(body, "deployment_id", int)
        prep.fields = dict(
            id=f"gl-{dep_id}", service=service, env=_name(_get(body, "environment"), "environment"),
            version=short, commit=tail if SHA.match(tail) else short, actor=actor, status=status, started_at=at,
            finished_at=None if status == "running" else at, committed_at=None,
            reason=f"GitLab deployment {dep_id}")
        return prep
    if kind == "pipeline":
        state = _get(body, "object_attributes.status")
        status = {"running": "running", "success": "succeeded", "failed": "failed", "canceled": "failed"}.get(state)
        if status is None:
            return prep  # created, pending, skipped, manual: nothing deployed yet
        sha = _get(body, "object_attributes.sha")
        if not SHA.match(sha):
            raise ValidationError(f"bad webhook: object_attributes.sha must be hex, got {sha!r}",
                                  field="object_attributes.sha")
        pid = _get(body, "object_attributes.id", int)
        prep.fields = dict(
            id=f"gl-pipeline-{pid}", service=service, env=_name(env, "env"), version=sha[:12], commit=sha,
            actor=actor, status=status, started_at=_time(body, "object_attributes.created_at"),
            finished_at=None if status == "running" else _time(body, "object_attributes.finished_at"),
            committed_at=_time(body, "commit.timestamp", required=False), reason=f"GitLab pipeline {pid}")
        return prep
    raise ValidationError(f"bad webhook: object_kind {kind!r} is not deployment or pipeline", field="object_kind")


def parse_generic(raw: bytes | str | Any) -> Prepared:
    """The generic JSON deploy: ``{"service", "version", "env"?, "commit"?, "status"?, "started_at"?, ...}``."""
    body, text = _load(raw, "request body")
    if not isinstance(body, dict):
        raise ValidationError("body must be a JSON object", field="body")
    problems = [f"{k}: unknown field (allowed: {', '.join(GENERIC_FIELDS)})" for k in body if k not in GENERIC_FIELDS]
    problems += [f"{k}: missing" for k in ("service", "version") if k not in body]
    if problems:
        raise ValidationError("bad deploy:", problems=problems, field="body")
    fields: dict[str, Any] = {k: body.get(k) for k in GENERIC_FIELDS if k in body}
    for k in ("started_at", "finished_at", "committed_at"):
        if fields.get(k) is not None:
            fields[k] = _time(body, k)
    fields.setdefault("env", "prod")
    fields.setdefault("status", "succeeded")
    fields.setdefault("started_at", utcnow())
    if fields.get("finished_at") is None and fields["status"] != "running":
        fields["finished_at"] = fields["started_at"]
    fields.setdefault("reason", "")
    override = fields.pop("override_freeze", False)
    if not isinstance(override, bool):
        raise ValidationError(f"bad deploy: override_freeze must be true or false, got {override!r}",
                              field="override_freeze")
    if override and not (isinstance(fields["reason"], str) and fields["reason"].strip()):
        raise ValidationError("bad deploy: override_freeze needs a reason", field="reason")
    return Prepared("api", "deploy", None, text, fields, override_freeze=override)


def validate(prep: Prepared) -> None:
    """Every field check of :meth:`Deploys.create`, before anything is stored."""
    from opsnb.deploys.service import _check_fields, _check_time

    f = prep.fields
    if f is None:
        return
    problems = _check_fields(service=f.get("service"), env=f.get("env"), version=f.get("version"),
                             previous_version=f.get("previous_version"), commit=f.get("commit"),
                             actor=f.get("actor"), status=f.get("status"), started_at=f.get("started_at"),
                             finished_at=f.get("finished_at"), id=f.get("id"))
    _check_time("committed_at", f.get("committed_at"), problems)
    if not isinstance(f.get("reason", ""), str):
        problems.append("reason must be text")
    if problems:
        raise ValidationError("bad deploy:", problems, field="deploy")


_LOOKUPS: tuple[Any, Any] | None = None


def _lookups() -> tuple[Any, Any]:
    """The two reads of a batch (deliveries already received, deploys already known), built once.

    Building a statement costs about as much as SQLite takes to run it; with an expanding bind
    parameter one statement serves every batch size.
    """
    global _LOOKUPS
    if _LOOKUPS is None:
        from sqlalchemy import bindparam

        keys: Any = bindparam("keys", expanding=True)
        _LOOKUPS = (select(DeployReceiptRow.delivery).where(DeployReceiptRow.delivery.in_(keys)),
                    select(DeployRow).where(DeployRow.id.in_(keys)))
    return _LOOKUPS


def store(wb: Workbench, prep: Prepared) -> Stored:
    """Store one prepared webhook (see :func:`store_many`)."""
    return store_many(wb, [prep])[0]


def store_many(wb: Workbench, batch: list[Prepared]) -> list[Stored]:
    """Store receipts and deploys in one transaction (the API answers each sender after it committed).

    The caller authenticated the senders (API token, GitHub signature, GitLab token). Each
    delivery keeps its receipt (the raw body); one ``deploy.ingest`` audit record per batch names
    every deploy created or updated, so a burst of CI webhooks costs one link of the audit chain.
    A failure refuses the whole batch (the API's writer then stores its items one by one).
    """
    for prep in batch:
        validate(prep)
    try:
        with wb.db.session() as s:
            # one query each for the deliveries already received and the deploys already known
            deliveries = [p.delivery for p in batch if p.delivery]
            seen: set[str] = set(s.scalars(_lookups()[0], {"keys": deliveries})) if deliveries else set()
            ids = [p.fields["id"] for p in batch if p.fields is not None and p.fields.get("id")]
            known: dict[str, DeployRow] = {r.id: r for r in s.scalars(_lookups()[1], {"keys": ids})} if ids else {}
            receipts: list[DeployReceiptRow] = []
            out = [_store_one(wb, s, prep, seen, known, receipts) for prep in batch]
            s.flush()
            out = [Stored(r.outcome, r.deploy, int(receipts[r.receipt].id)) if r.receipt is not None else r
                   for r in out]
            changed = [(r.outcome, r.deploy.id) for r in out if r.deploy is not None and r.outcome != "unchanged"]
            overridden = [r.deploy.id for p, r in zip(batch, out, strict=True)
                          if p.override_freeze and r.deploy is not None and r.outcome == "created"]
            if changed:
                wb.audit.record(action="deploy.ingest", target=",".join(sorted({p.provider for p in batch})),
                                params={"deploys": [d for _, d in changed], "outcomes": [o for o, _ in changed],
                                        "receipts": [r.receipt for r in out if r.receipt is not None],
                                        **({"override_freeze": overridden} if overridden else {})},
                                reason="CI/CD webhook")
            return out
    except IntegrityError:
        if len(batch) > 1:
            return [store_many(wb, [p])[0] for p in batch]
        # the same delivery committed by a concurrent request first
        return [Stored("unchanged", None, None)]


def _store_one(wb: Workbench, s: Any, prep: Prepared, seen: set[str], known: dict[str, DeployRow],
               receipts: list[DeployReceiptRow]) -> Stored:
    """One item of a batch; ``Stored.receipt`` is the index of its receipt in ``receipts`` until the flush."""
    from opsnb.deploys.service import Deploys

    deploys: Deploys = wb.deploys
    if prep.delivery is not None:
        if prep.delivery in seen:
            return Stored("unchanged", None, None)
        seen.add(prep.delivery)
    outcome, dep = "ignored", None
    f = prep.fields
    if f is not None:
        existing = known.get(f["id"]) if f.get("id") else None
        if existing is None and f.get("id") and f"deploy:{f['id']}" in seen:  # created earlier in this batch
            s.flush()
            existing = s.scalar(select(DeployRow).where(DeployRow.id == f["id"]))
        if existing is None:
            fields = dict(f)
            fields.setdefault("previous_version", None)
            fields.setdefault("id", None)
            fields.setdefault("commit", None)
            fields["actor"] = fields.get("actor") or wb.user
            dep = deploys._insert(s, rollback_of=None, source=prep.provider, audit=False,
                                  id_checked=fields["id"] is not None, **fields)
            if prep.provider == "api" and dep.rollback_of is None and not prep.override_freeze:
                from opsnb.deploys import freezes

                blocking = freezes.active(s, service=dep.service, env=dep.env)
                if blocking is not None:  # raised inside the transaction: the deploy just added goes too
                    raise freezes.refusal(blocking, service=dep.service, env=dep.env, face="api")
            seen.add(f"deploy:{dep.id}")
            outcome = "created"
        elif existing.status != f["status"] and f["status"] in TRANSITIONS[existing.status]:
            existing.status = f["status"]
            existing.finished_at = f.get("finished_at") or existing.finished_at or utcnow()
            if f.get("committed_at") and existing.committed_at is None:
                existing.committed_at = f["committed_at"]
            dep, outcome = Deploy.of(existing), "updated"
        else:
            dep, outcome = Deploy.of(existing), "unchanged"
    receipt = DeployReceiptRow(provider=prep.provider,
                               delivery=prep.delivery or f"{prep.provider}:{_digest(prep.body)}:{uuid.uuid4().hex}",
                               event=prep.event[:50], deploy_id=dep.id if dep else None, outcome=outcome,
                               body=prep.body, received_at=utcnow())
    s.add(receipt)
    receipts.append(receipt)
    return Stored(outcome, dep, len(receipts) - 1)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "replace")).hexdigest()[:16]
