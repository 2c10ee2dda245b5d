"""Deployment records (``ops.deploys``): record, list, current version per environment, rollbacks, markers."""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from opsnb.deploys import freezes
from opsnb.deploys.models import STATUSES, TRANSITIONS, Deploy, DeployRow
from opsnb.errors import Conflict, NotFound, ValidationError
from opsnb.store.types import utcnow

if TYPE_CHECKING:
    import pandas as pd

    from opsnb.workbench import Workbench

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,99}$")
ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")
COMMIT = re.compile(r"^[0-9a-fA-F]{7,64}$")
VERSION_BAD = re.compile(r"[\x00-\x1f\x7f]")
COLUMNS = ["id", "service", "env", "version", "previous_version", "commit", "actor", "status",
           "started_at", "finished_at", "rollback_of", "reason", "committed_at", "source"]
PROD_ENVS = ("prod", "production")  # environments whose deploys reach real traffic


def _check_time(name: str, value: Any, problems: list[str]) -> None:
    if value is None:
        return
    if not isinstance(value, datetime) or value.tzinfo is None:
        problems.append(f"{name} must be a timezone-aware datetime, got {value!r}")


def _check_fields(*, service: Any, env: Any, version: Any, previous_version: Any, commit: Any, actor: Any,
                  status: Any, started_at: Any, finished_at: Any, id: Any) -> list[str]:
    problems: list[str] = []
    for name, value in (("service", service), ("env", env)):
        if not isinstance(value, str) or not NAME.match(value):
            problems.append(f"{name} must be 1-100 letters, digits, '.', '_', '/' or '-', got {value!r}")
    for name, value, required in (("version", version, True), ("previous_version", previous_version, False)):
        if value is None and not required:
            continue
        if not isinstance(value, str) or not value.strip() or len(value) > 100 or VERSION_BAD.search(value):
            problems.append(f"{name} must be 1-100 printable characters, got {value!r}")
    if commit is not None and (not isinstance(commit, str) or not COMMIT.match(commit)):
        problems.append(f"commit must be 7-64 hex digits, got {commit!r}")
    if actor is not None and (not isinstance(actor, str) or not actor.strip() or len(actor) > 200
                              or VERSION_BAD.search(actor)):
        problems.append(f"actor must be 1-200 printable characters, got {actor!r}")
    if status not in STATUSES:
        problems.append(f"status must be one of {', '.join(STATUSES)}, got {status!r}")
    if id is not None and (not isinstance(id, str) or not ID.match(id)):
        problems.append(f"id must be 1-64 letters, digits, '.', '_', ':' or '-', got {id!r}")
    _check_time("started_at", started_at, problems)
    _check_time("finished_at", finished_at, problems)
    if (isinstance(started_at, datetime) and isinstance(finished_at, datetime) and started_at.tzinfo
            and finished_at.tzinfo and finished_at < started_at):
        problems.append(f"finished_at {finished_at.isoformat()} is before started_at {started_at.isoformat()}")
    return problems


_LIVE = ("succeeded", "rolled_back")
_CURRENT_AND_SEEN: Any = None


def _current_and_seen(s: Session, service: str, env: str, version: str,
                      before: datetime) -> tuple[DeployRow | None, bool]:
    """The deploy in effect at ``before`` and whether ``version`` ran there by then, in one query.

    What :meth:`Deploys._current_row` and :meth:`Deploys._seen_before` answer in two; every webhook
    asks both. The statement is built once with bind parameters: building it per call cost more
    than running it.
    """
    global _CURRENT_AND_SEEN
    if _CURRENT_AND_SEEN is None:
        from sqlalchemy import bindparam, exists
        from sqlalchemy.orm import aliased

        earlier = aliased(DeployRow)
        ran = exists().where(earlier.service == bindparam("service"), earlier.env == bindparam("env"),
                             earlier.version == bindparam("version"), earlier.started_at <= DeployRow.started_at,
                             earlier.status.in_(_LIVE)).correlate(DeployRow)
        _CURRENT_AND_SEEN = (select(DeployRow, ran.label("ran"))
                             .where(DeployRow.service == bindparam("service"), DeployRow.env == bindparam("env"),
                                    DeployRow.status.in_(_LIVE), DeployRow.started_at <= bindparam("before"))
                             .order_by(DeployRow.started_at.desc(), DeployRow.seq.desc()).limit(1))
    got = s.execute(_CURRENT_AND_SEEN, {"service": service, "env": env, "version": version,
                                        "before": before}).first()
    if got is None:
        return None, False
    row, ran = got
    return row, bool(ran) or row.previous_version == version


class Deploys:
    """Deployment records of a workbench (``ops.deploys``)."""

    def __init__(self, wb: Workbench) -> None:
        self._wb = wb

    # ------------------------------------------------------------- changes
    def create(self, *, service: str, version: str, env: str = "prod", previous_version: str | None = None,
               commit: str | None = None, actor: str | None = None, status: str = "succeeded",
               started_at: datetime | None = None, finished_at: datetime | None = None,
               id: str | None = None, rollback_of: str | None = None, reason: str = "",
               override_freeze: bool = False, committed_at: datetime | None = None, source: str = "") -> Deploy:
        """Record a deployment. Needs operator; audited as ``deploy.create``.

        Args:
            service: Service deployed, e.g. ``checkout``.
            version: Version now running.
            env: Environment (``prod``, ``staging`` ...).
            previous_version: Version it replaced; default the current one of that service and env.
            commit: Commit hash (7-64 hex digits).
            actor: Who deployed (a person or a CI bot); default the acting user.
            status: ``running``, ``succeeded``, ``failed`` or ``rolled_back``.
            started_at: Default now. ``finished_at``: default ``started_at`` unless running.
            id: Your id (e.g. the CI system's); default ``DEP-<n>``.
            rollback_of: Id of the deploy this one rolls back.
            reason: Why, for the audit trail.
            override_freeze: Deploy through an active freeze (needs a reason; audited).
            committed_at: When the deployed commit was made (DORA lead time).
            source: Where the record came from (``github``, ``gitlab``, ``api``).

        A deploy whose version equals an earlier one of the same service and environment (and
        is not the version running) is recorded as a rollback of the deploy it replaces, which
        becomes ``rolled_back``.

        Raises:
            ValidationError: Every bad field, listed. PermissionDenied: not an operator.
            Conflict: The id exists, or a freeze blocks it. NotFound: ``rollback_of`` names no deploy.
        """
        started_at = started_at or utcnow()
        if finished_at is None and status != "running":
            finished_at = started_at
        problems = _check_fields(service=service, env=env, version=version, previous_version=previous_version,
                                 commit=commit, actor=actor, status=status, started_at=started_at,
                                 finished_at=finished_at, id=id)
        _check_time("committed_at", committed_at, problems)
        if rollback_of is not None and (not isinstance(rollback_of, str) or not ID.match(rollback_of)):
            problems.append(f"rollback_of must be a deploy id, got {rollback_of!r}")
        if not isinstance(reason, str):
            problems.append(f"reason must be text, got {type(reason).__name__}")
        if override_freeze and not (isinstance(reason, str) and reason.strip()):
            problems.append("override_freeze needs a reason")
        if problems:
            raise ValidationError("bad deploy:", problems, field="deploy")
        try:
            with self._wb.db.session() as s:
                self._wb.access.require("operator", action="deploy.create")
                blocking = freezes.active(s, service=service, env=env)
                # a rollback is the remedy, so a freeze never blocks it
                if blocking is not None and rollback_of is None and not override_freeze:
                    raise freezes.refusal(blocking, service=service, env=env)
                return self._insert(s, service=service, version=version, env=env,
                                    previous_version=previous_version, commit=commit,
                                    actor=actor or self._wb.user, status=status, started_at=started_at,
                                    finished_at=finished_at, id=id, rollback_of=rollback_of, reason=reason,
                                    committed_at=committed_at, source=source)
        except IntegrityError:
            raise Conflict(f"deploy {id} already exists", kind="deploy", key=id) from None

    def _insert(self, s: Session, *, id: str | None, previous_version: str | None, rollback_of: str | None,
                reason: str, audit: bool = True, id_checked: bool = False, **fields: Any) -> Deploy:
        if id is not None and not id_checked and s.scalar(select(DeployRow.seq).where(DeployRow.id == id)) is not None:
            raise Conflict(f"deploy {id} already exists", kind="deploy", key=id)
        if rollback_of is not None and s.scalar(select(DeployRow.seq).where(DeployRow.id == rollback_of)) is None:
            raise NotFound(f"no deploy {rollback_of} to roll back", kind="deploy", key=rollback_of)
        prev, seen = _current_and_seen(s, fields["service"], fields["env"], fields["version"], fields["started_at"])
        if previous_version is None:
            previous_version = prev.version if prev else None
        if (rollback_of is None and prev is not None and prev.version != fields["version"]
                and fields["status"] in ("succeeded", "running") and seen):
            # going back to a version this service already ran here: a rollback of what it replaces
            rollback_of = prev.id
            if prev.status == "succeeded" and fields["status"] == "succeeded":
                prev.status = "rolled_back"
                if audit:
                    self._wb.audit.record(action="deploy.update", target=prev.id,
                                          params={"status": {"from": "succeeded", "to": "rolled_back"},
                                                  "by_version": fields["version"]}, reason=reason)
        row = DeployRow(id=id or f"tmp-{uuid.uuid4().hex}", previous_version=previous_version,
                        rollback_of=rollback_of, reason=reason, created_at=utcnow(), **fields)
        s.add(row)
        if id is None:  # only a generated id needs the sequence number now; the commit flushes the rest
            s.flush()
            wanted = f"DEP-{row.seq}"
            taken = s.scalar(select(func.count()).select_from(DeployRow).where(DeployRow.id == wanted))
            # someone may have chosen that id by hand
            row.id = f"{wanted}-{uuid.uuid4().hex[:6]}" if taken else wanted
            s.flush()
        dep = Deploy.of(row)
        if audit:  # webhook batches are audited once per batch by their caller
            params = {k: v for k, v in dep.as_dict().items() if k not in ("id", "reason")}
            self._wb.audit.record(action="deploy.create", target=dep.id, params=params, reason=reason)
        return dep

    def update(self, id: str, *, status: str | None = None, finished_at: datetime | None = None,
               reason: str = "") -> Deploy:
        """Finish or re-mark a deploy (``running`` → ``succeeded``/``failed``/``rolled_back``). Needs operator.

        Raises:
            NotFound: No such deploy. Conflict: A transition the status does not allow.
            ValidationError: Bad status or time.
        """
        problems: list[str] = []
        if status is not None and status not in STATUSES:
            problems.append(f"status must be one of {', '.join(STATUSES)}, got {status!r}")
        _check_time("finished_at", finished_at, problems)
        if problems:
            raise ValidationError("bad deploy update:", problems, field="deploy")
        with self._wb.db.session() as s:
            self._wb.access.require("operator", action="deploy.update")
            row = self._row(s, id)
            changes: dict[str, Any] = {}
            if status is not None and status != row.status:
                if status not in TRANSITIONS[row.status]:
                    raise Conflict(f"deploy {id} is {row.status}; it cannot become {status}",
                                   kind="deploy", key=id)
                changes["status"] = (row.status, status)
                row.status = status
            if status in ("succeeded", "failed", "rolled_back") and row.finished_at is None and finished_at is None:
                finished_at = utcnow()
            if finished_at is not None:
                if finished_at < row.started_at:
                    raise ValidationError(f"finished_at {finished_at.isoformat()} is before the start of {id}",
                                          field="finished_at")
                changes["finished_at"] = (row.finished_at, finished_at)
                row.finished_at = finished_at
            if changes:
                self._wb.audit.record(action="deploy.update", target=id,
                                      params={k: {"from": a, "to": b} for k, (a, b) in changes.items()},
                                      reason=reason)
            return Deploy.of(row)

    def record_rollback(self, id: str, *, to_version: str | None = None, actor: str | None = None,
                        at: datetime | None = None, finished_at: datetime | None = None,
                        reason: str = "", new_id: str | None = None) -> Deploy:
        """Record that deploy ``id`` was rolled back: mark it ``rolled_back`` and add the rollback deploy.

        Args:
            id: The deploy rolled back.
            to_version: Version restored; default that deploy's previous version.
            actor: Who rolled back; default the acting user.
            at: When the rollback started (default now); ``finished_at`` default ``at``.
            reason: Why, for the audit trail.
            new_id: Id of the rollback record (default ``DEP-<n>``).

        Returns:
            The new rollback deploy.
        """
        problems: list[str] = []
        _check_time("at", at, problems)
        if problems:
            raise ValidationError("bad rollback:", problems, field="deploy")
        with self._wb.db.session() as s:
            self._wb.access.require("operator", action="deploy.rollback")
            row = self._row(s, id)
            if row.status not in ("succeeded", "running"):
                raise Conflict(f"deploy {id} is {row.status}; only a succeeded or running deploy can be rolled back",
                               kind="deploy", key=id)
            target = to_version or row.previous_version
            if not target:
                raise ValidationError(f"deploy {id} has no previous version; say to_version=",
                                      field="to_version")
            start = at or utcnow()
            end = finished_at or start
            problems = _check_fields(service=row.service, env=row.env, version=target, previous_version=row.version,
                                     commit=None, actor=actor, status="succeeded", started_at=start,
                                     finished_at=end, id=new_id)
            if problems:
                raise ValidationError("bad rollback:", problems, field="deploy")
            row.status = "rolled_back"
            if row.finished_at is None:
                row.finished_at = start
            self._wb.audit.record(action="deploy.update", target=id,
                                  params={"status": {"from": "succeeded", "to": "rolled_back"}}, reason=reason)
            return self._insert(s, service=row.service, env=row.env, version=target, previous_version=row.version,
                                commit=None, actor=actor or self._wb.user, status="succeeded", started_at=start,
                                finished_at=end, id=new_id, rollback_of=id, reason=reason)

    # --------------------------------------------------------------- reads
    def freeze(self, *, service: str, env: str = "prod", reason: str, until: datetime | None = None,
               source: str = "") -> int:
        """Refuse new deploys of ``service`` (``*``: all) to ``env`` until lifted or ``until``. Needs operator.

        Returns:
            The freeze id.
        """
        return freezes.freeze(self._wb, service=service, env=env, reason=reason, until=until, source=source)

    def unfreeze(self, *, id: int | None = None, service: str | None = None, env: str = "prod",
                 source: str | None = None, reason: str = "") -> int:
        """Lift a freeze by id, or the active ones of a service (optionally only from ``source``)."""
        return freezes.unfreeze(self._wb, id=id, service=service, env=env, source=source, reason=reason)

    def freezes(self, *, active: bool = True) -> pd.DataFrame:
        """Deploy freezes, newest first (only active ones by default)."""
        return freezes.frame(self._wb, active_only=active)

    def _row(self, s: Session, id: str) -> DeployRow:
        if not isinstance(id, str):
            raise ValidationError(f"deploy id must be text, got {id!r}", field="id")
        row = s.scalar(select(DeployRow).where(DeployRow.id == id))
        if row is None:
            raise NotFound(f"no deploy {id}", kind="deploy", key=id)
        return row

    def _current_row(self, s: Session, service: str, env: str, before: datetime | None = None) -> DeployRow | None:
        q = (select(DeployRow).where(DeployRow.service == service, DeployRow.env == env,
                                     DeployRow.status.in_(("succeeded", "rolled_back")))
             .order_by(DeployRow.started_at.desc(), DeployRow.seq.desc()).limit(1))
        if before is not None:
            q = q.where(DeployRow.started_at <= before)
        return s.scalar(q)

    @staticmethod
    def _seen_before(s: Session, current: DeployRow, version: str) -> bool:
        q = (select(DeployRow.seq).where(DeployRow.service == current.service, DeployRow.env == current.env,
                                         DeployRow.version == version, DeployRow.started_at <= current.started_at,
                                         DeployRow.status.in_(("succeeded", "rolled_back"))).limit(1))
        return s.scalar(q) is not None or current.previous_version == version

    def get(self, id: str) -> Deploy:
        """The deploy ``id``. Raises :class:`NotFound`."""
        with self._wb.db.session() as s:
            return Deploy.of(self._row(s, id))

    def list(self, *, service: str | None = None, env: str | None = None, since: datetime | None = None,
             until: datetime | None = None, status: str | None = None, limit: int = 10_000) -> pd.DataFrame:
        """Deploys, newest first, as a DataFrame (times are UTC).

        Args:
            service, env, status: Exact filters.
            since, until: Keep deploys started in ``[since, until)``.
            limit: At most this many rows.
        """
        import pandas as pd

        problems: list[str] = []
        _check_time("since", since, problems)
        _check_time("until", until, problems)
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
            problems.append(f"limit must be a positive integer, got {limit!r}")
        if problems:
            raise ValidationError("bad deploy query:", problems, field="deploys")
        q = select(DeployRow).order_by(DeployRow.started_at.desc(), DeployRow.seq.desc()).limit(limit)
        if service:
            q = q.where(DeployRow.service == service)
        if env:
            q = q.where(DeployRow.env == env)
        if status:
            q = q.where(DeployRow.status == status)
        if since:
            q = q.where(DeployRow.started_at >= since)
        if until:
            q = q.where(DeployRow.started_at < until)
        with self._wb.db.session() as s:
            rows = [Deploy.of(r).as_dict() for r in s.scalars(q)]
        df = pd.DataFrame(rows, columns=COLUMNS)
        for col in ("started_at", "finished_at", "committed_at"):
            df[col] = pd.to_datetime(df[col], utc=True)
        return df

    def current(self, env: str | None = None) -> pd.DataFrame:
        """The version running now per service and environment (the newest deploy that took effect).

        A rolled-back deploy took effect until its rollback record, which is newer, replaced it.
        """
        df = self.list(env=env)
        df = df[df["status"].isin(["succeeded", "rolled_back"])]
        df = df.sort_values(["started_at", "id"], ascending=False).drop_duplicates(["service", "env"])
        out = df.rename(columns={"id": "deploy_id", "finished_at": "since"})[
            ["service", "env", "version", "previous_version", "deploy_id", "since", "actor"]]
        return out.sort_values(["env", "service"]).reset_index(drop=True)

    def markers(self, start: datetime, end: datetime, *, service: str | None = None,
                env: str | None = "prod") -> pd.DataFrame:
        """Deploys in ``[start, end)`` shaped for figure markers: at, service, label, kind, status, id."""
        df = self.list(service=service, env=env, since=start, until=end).sort_values("started_at")
        kind = df["rollback_of"].notna().map({True: "rollback", False: "deploy"})
        out = df.assign(at=df["started_at"], kind=kind,
                        label=df["service"] + " " + df["version"].astype(str))
        return out[["at", "service", "env", "version", "label", "kind", "status", "id"]].reset_index(drop=True)

    def suspects(self, incident: str | None = None, *, service: str | None = None, before: Any = None,
                 within: Any = "6h", env: str | None = None) -> pd.DataFrame:
        """Changes that could have caused an incident (``suspects("INC-1")``), or what began at ``before``.

        With an incident id: every deploy and other change (``ops.changes``) in the ``within``
        before the incident's impact start, scored and ranked with its ``reasons`` (same service
        or upstream in the trace graph, minutes before impact, prod, an error-ratio step right
        after it, later rolled back; see :mod:`opsnb.deploys.suspects`).

        Without one (``service=``, ``before=``): deploys that started in ``[before - within, before]``.
        Production deploys (``prod``/``production``) rank ahead of every other environment, because only
        they reach the traffic that failed; a staging deploy of the same version is evidence,
        not the cause. Within an environment class the deploy that started closest to
        ``before`` ranks first. Rollback records and deploys that were rolled back are flagged:
        a rolled-back deploy is what someone already judged bad.

        Args:
            incident: An incident id (``INC-1``); then ``service``/``before``/``env`` are not used.
            service: Only this service's deploys (default every service).
            before: The instant the trouble began (a datetime, ISO text, ``now``, ``-1h``).
            within: How far back to look (``"6h"``, ``"1d"``).
            env: Only this environment (default all, prod ranked first).

        Returns:
            For an incident: ``rank, score, kind, id, service, env, version, summary, at,
            minutes_before, reasons, status, rolled_back``. Otherwise the :meth:`list` columns plus
            ``rank`` (1 is the prime suspect), ``prod``, ``minutes_before``, ``is_rollback`` and
            ``rolled_back``, best suspect first.
        """
        if incident is not None:
            from opsnb.deploys.suspects import rank

            return rank(self._wb, incident, within=within)
        if before is None:
            raise ValidationError("suspects needs an incident id, or before= (and service=)", field="before")
        from opsnb.timeparse import parse_duration, parse_instant

        t = parse_instant(before, name="before")
        span = parse_duration(within, name="within")
        df = self.list(service=service, env=env, since=t - span, until=t + timedelta(microseconds=1))
        df = df.assign(prod=df["env"].str.lower().isin(PROD_ENVS),
                       minutes_before=((t - df["started_at"]).dt.total_seconds() / 60.0).round(2),
                       is_rollback=df["rollback_of"].notna(),
                       rolled_back=df["status"].eq("rolled_back"))
        df = df.sort_values(["prod", "minutes_before", "id"], ascending=[False, True, True], kind="stable")
        df.insert(0, "rank", range(1, len(df) + 1))
        return df.reset_index(drop=True)

    # ------------------------------------------------------------- CI/CD, DORA, rollback
    def ingest(self, prepared: Any) -> Any:
        """Store a deploy parsed from a webhook (:mod:`opsnb.deploys.webhooks`); the API's entry point.

        The sender was authenticated by the API (token or provider signature), so no role is
        checked; the receipt keeps the raw body and one ``deploy.ingest`` audit record lists what
        changed. Returns a ``Stored`` (outcome, deploy, receipt).
        """
        from opsnb.deploys.webhooks import store_many

        return store_many(self._wb, [prepared])[0]

    def history(self, service: str, *, env: str | None = None, limit: int = 100) -> pd.DataFrame:
        """One service's deploys, newest first, with ``kind`` (deploy/rollback) and ``live`` (running now)."""
        df = self.list(service=service, env=env, limit=limit)
        cur = self.current(env=env)
        live = set(cur.loc[cur["service"] == service, "deploy_id"])
        return df.assign(kind=df["rollback_of"].notna().map({True: "rollback", False: "deploy"}),
                         live=df["id"].isin(live))

    def environments(self) -> pd.DataFrame:
        """Services x environments: the version running in each (``-`` where never deployed)."""
        cur = self.current()
        if cur.empty:
            import pandas as pd

            return pd.DataFrame(columns=["service"])
        wide = cur.pivot(index="service", columns="env", values="version").fillna("-")
        wide.columns.name = None
        return wide.reset_index()

    def dora(self, *, start: Any = "30d", end: Any = "now", service: str | None = None,
             env: str | None = None) -> pd.DataFrame:
        """DORA figures per service and environment over ``[start, end)`` (Four Keys definitions).

        Columns: ``service, env, deploys, deploys_per_day, lead_time_median_h, failures,
        change_failure_rate, recovery_median_min, recovery_p90_min, start, end``; see
        :mod:`opsnb.deploys.dora` for each definition.
        """
        from opsnb.deploys.dora import compute

        return compute(self._wb, start=start, end=end, service=service, env=env)

    def rollback(self, service: str, *, env: str = "prod", reason: str, confirm: bool = False,
                 to_version: str | None = None, hosts: Any = None, command: Any = None,
                 override_freeze: bool = False, verify: Any = None, verify_timeout: float | None = None,
                 threshold: float | None = None, check: str = "auto") -> Any:
        """Roll ``service`` back on its hosts over SSH, record it, and verify recovery.

        Returns a :class:`~opsnb.deploys.rollback.RollbackResult` whose ``outcome`` is
        ``rolled back, recovered`` or ``rolled back, NOT recovered``, with the ``check`` that
        decided (``slo``: the service's SLOs burn under 1x over the 5 minutes after the command;
        ``error_ratio`` otherwise) and its ``figures``. See
        :func:`opsnb.deploys.rollback.rollback` for every argument.
        """
        from opsnb.deploys.rollback import rollback

        return rollback(self._wb, service, env=env, reason=reason, confirm=confirm, to_version=to_version,
                        hosts=hosts, command=command, override_freeze=override_freeze, verify=verify,
                        verify_timeout=verify_timeout, threshold=threshold, check=check)
