"""Notifications: channels, a durable delivery log, retries with exponential backoff.

``send`` records the delivery (``pending``) *before* trying it, claims it with
a lease in ``next_attempt_at``, and tries it with no database lock held. A
failure schedules the next try (``retrying``, backoff doubling from
``notify_backoff_seconds``, at most an hour) until ``notify_max_attempts``,
then ``failed``; a permanent failure (HTTP 4xx, refused recipient) fails at
once. ``tick`` tries every due delivery, including ones whose lease expired
because the process that claimed them died: a restart loses nothing. Every
attempt is a row (when, status, error, duration).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import pandas as pd
from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from opsnb.errors import Conflict, NotFound, NotifyError, ValidationError
from opsnb.notify.channels import Message, kind_of, resolve_ref
from opsnb.notify.models import Attempt, Channel, Delivery
from opsnb.redact import redact, redact_text
from opsnb.store.types import utcnow

if TYPE_CHECKING:
    from opsnb.workbench import Workbench

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
MAX_SUBJECT = 1000
MAX_BODY = 100_000
MAX_CONTEXT = 65_536
MAX_BACKOFF = 3600.0
DELIVERY_COLUMNS = ["id", "created_at", "channel", "target", "summary", "status", "attempts",
                    "next_attempt_at", "sent_at", "last_error", "dedup_key"]
ATTEMPT_COLUMNS = ["delivery_id", "n", "at", "status", "error", "detail", "duration_ms"]


def backoff(n: int, base: float) -> float:
    """Seconds to wait after the n-th failed attempt: base * 2^(n-1), at most an hour."""
    return float(min(MAX_BACKOFF, base * (2 ** max(0, n - 1))))


class Notify:
    """Channels and the delivery log of a workbench (``ops.notify``)."""

    def __init__(self, ops: Workbench) -> None:
        self._ops = ops

    # --- channels ---------------------------------------------------------------------------

    def create_channel(self, *, name: str, kind: str, target: str = "", secret_ref: str = "",
                       config: dict[str, Any] | None = None, enabled: bool = True, reason: str = "") -> dict[str, Any]:
        """Configure a channel (needs operator).

        Args:
            name: Channel name, e.g. ``ops-slack``.
            kind: ``slack``, ``smtp``, ``webhook`` or a registered kind.
            target: Default target: webhook URL (or ``env:NAME`` / ``file:/path`` when the
                URL itself is secret), email address(es) for smtp.
            secret_ref: Where the secret comes from: ``env:NAME`` or ``file:/path`` (the
                webhook signing key, the SMTP password). Never the secret itself.
            config: Kind options (smtp: host, port, sender, starttls, ssl, username).
            enabled: A disabled channel refuses sends.
            reason: Recorded in the audit trail.

        Raises:
            ValidationError: Listing every problem of the configuration.
            Conflict: A channel of that name exists.
        """
        config = dict(config or {})
        self._check_channel(name, kind, target, secret_ref, config)
        with self._ops.db.session() as s:
            self._ops.access.require("operator", action="notify.create_channel")
            if s.get(Channel, name) is not None:
                raise Conflict(f"channel {name!r} exists; use update_channel", kind="channel", key=name)
            s.add(Channel(name=name, kind=kind, target=target, config=config, secret_ref=secret_ref,
                          enabled=enabled, created_at=utcnow(), created_by=self._ops.user, updated_at=utcnow()))
            self._ops.audit.record(action="notify.create_channel", target=name, reason=reason,
                                   params={"kind": kind, "target": _shown_target(target), "config": config,
                                           "secret_ref": secret_ref, "enabled": enabled})
        return self.channel(name)

    def update_channel(self, name: str, *, target: str | None = None, secret_ref: str | None = None,
                       config: dict[str, Any] | None = None, enabled: bool | None = None,
                       reason: str = "") -> dict[str, Any]:
        """Change a channel's target, secret reference, options or enabled flag (needs operator)."""
        with self._ops.db.session() as s:
            self._ops.access.require("operator", action="notify.update_channel")
            row = s.get(Channel, name)
            if row is None:
                raise NotFound(f"no channel {name!r}", kind="channel", key=name)
            new_target = row.target if target is None else target
            new_ref = row.secret_ref if secret_ref is None else secret_ref
            new_config = dict(row.config) if config is None else dict(config)
            self._check_channel(name, row.kind, new_target, new_ref, new_config)
            row.target, row.secret_ref, row.config = new_target, new_ref, new_config
            if enabled is not None:
                row.enabled = bool(enabled)
            row.updated_at = utcnow()
            self._ops.audit.record(action="notify.update_channel", target=name, reason=reason,
                                   params={"target": _shown_target(new_target), "config": new_config,
                                           "secret_ref": new_ref, "enabled": row.enabled})
        return self.channel(name)

    def channel(self, name: str) -> dict[str, Any]:
        """One channel as a dict (secret references shown, never secrets)."""
        with self._ops.db.session() as s:
            row = s.get(Channel, name)
            if row is None:
                raise NotFound(f"no channel {name!r}", kind="channel", key=name)
            return _channel_dict(row)

    def channels(self) -> pd.DataFrame:
        """Every channel."""
        with self._ops.db.session() as s:
            rows = [_channel_dict(r) for r in s.scalars(select(Channel).order_by(Channel.name))]
        return pd.DataFrame(rows, columns=["name", "kind", "target", "config", "secret_ref", "enabled",
                                           "created_at", "created_by"])

    @staticmethod
    def _check_channel(name: str, kind: str, target: str, secret_ref: str, config: dict[str, Any]) -> None:
        problems = []
        if not isinstance(name, str) or not NAME.match(name):
            problems.append(f"name {str(name)[:60]!r} must be 1-100 letters, digits, '.', '_' or '-'")
        if not isinstance(target, str) or not isinstance(secret_ref, str):
            problems.append("target and secret_ref must be text")
        elif len(target) > 2000:
            problems.append("target is longer than 2000 characters")
        else:
            problems += kind_of(kind).validate(target, config, secret_ref)
        try:
            json.dumps(config)
        except (TypeError, ValueError):
            problems.append("config must be JSON-serialisable")
        if problems:
            raise ValidationError(f"invalid channel {str(name)[:60]!r}:", problems, field="name", value=str(name)[:100])

    # --- sending ------------------------------------------------------------------------------

    def send(self, *, channel: str, subject: str, body: str = "", target: str | None = None,
             dedup_key: str | None = None, context: dict[str, Any] | None = None,
             now: datetime | None = None) -> int:
        """Record a notification, then try it once; failures are retried by :meth:`tick`.

        Inside an open unit of work (``with ops.db.session():``) the delivery commits with the
        unit and is not tried until then: :meth:`tick` sends it.

        Args:
            channel: Channel name.
            subject: One line.
            body: Text (secret-looking substrings are masked before storing and sending).
            target: Overrides the channel's default target (an email address, a URL).
            dedup_key: Idempotency key: a second send with the same channel, target and key
                returns the first delivery's id and sends nothing. Include a sequence number
                in the key when a repeat *should* be sent.
            context: Extra JSON data (stored redacted; the signed webhook sends it).
            now: The current time (tests).

        Returns:
            The delivery id; see :meth:`deliveries` for its status.

        Raises:
            NotFound: No such channel.
            ValidationError: Bad subject, body, target, dedup key or context; nothing recorded.
            NotifyError: The channel is disabled.
        """
        now = now or utcnow()
        with self._ops.db.session() as s:
            self._ops.access.require("responder", action="notify.send")
            did, created = self._record(s, channel=channel, subject=subject, body=body, target=target,
                                        dedup_key=dedup_key, context=context, now=now)
            if created:
                self._ops.audit.record(action="notify.send", target=f"delivery:{did}",
                                       params={"channel": channel, "target": target, "subject": subject[:200],
                                               "dedup_key": dedup_key})
        if created and self._ops.db.current() is None:  # inside a caller's unit: sent by tick() after commit
            self.attempt([did], now=now)
        return did

    def _record(self, s: Session, *, channel: str, subject: str, body: str, target: str | None,
                dedup_key: str | None, context: dict[str, Any] | None, now: datetime) -> tuple[int, bool]:
        row = s.get(Channel, channel) if isinstance(channel, str) else None
        if row is None:
            raise NotFound(f"no channel {str(channel)[:100]!r}", kind="channel", key=str(channel)[:100])
        if not row.enabled:
            raise NotifyError(f"channel {channel!r} is disabled", channel=channel)
        problems = []
        if not isinstance(subject, str) or not subject.strip():
            problems.append("subject must be non-empty text")
        elif len(subject) > MAX_SUBJECT:
            problems.append(f"subject is longer than {MAX_SUBJECT} characters")
        if not isinstance(body, str):
            problems.append("body must be text")
        elif len(body) > MAX_BODY:
            problems.append(f"body is longer than {MAX_BODY} characters")
        if target is not None:
            if not isinstance(target, str) or not target.strip() or len(target) > 2000:
                problems.append("target must be non-empty text of at most 2000 characters")
            else:
                problems += kind_of(row.kind).validate_target(target)
        if dedup_key is not None and (not isinstance(dedup_key, str) or not 0 < len(dedup_key) <= 200):
            problems.append("dedup_key must be text of 1..200 characters")
        ctx: dict[str, Any] = {}
        if context is not None:
            if not isinstance(context, dict):
                problems.append("context must be a mapping")
            else:
                try:
                    text = json.dumps(redact(context), default=str)
                    if len(text) > MAX_CONTEXT:
                        problems.append(f"context is larger than {MAX_CONTEXT} bytes as JSON")
                    ctx = json.loads(text)
                except (TypeError, ValueError, RecursionError) as exc:
                    problems.append(f"context is not JSON-serialisable: {exc}")
        if problems:
            raise ValidationError(f"cannot send through {channel!r}:", problems, field="channel", value=channel)
        target_key = (target or "")[:300]
        if dedup_key is not None:
            existing = s.scalar(select(Delivery.id).where(Delivery.channel == channel,
                                                          Delivery.target_key == target_key,
                                                          Delivery.dedup_key == dedup_key))
            if existing is not None:
                return int(existing), False
        subject_clean = redact_text(" ".join(subject.split()))
        body_clean = redact_text(body)
        d = Delivery(created_at=now, channel=channel, target=target, target_key=target_key, subject=subject_clean,
                     body=body_clean, summary=_summary(subject_clean, body_clean), context=ctx,
                     dedup_key=dedup_key, status="pending", attempts=0, next_attempt_at=now, last_error="",
                     created_by=self._ops.user)
        try:
            with s.begin_nested():  # a concurrent twin with the same dedup key: keep theirs
                s.add(d)
                s.flush()
        except IntegrityError:
            existing = s.scalar(select(Delivery.id).where(Delivery.channel == channel,
                                                          Delivery.target_key == target_key,
                                                          Delivery.dedup_key == dedup_key))
            if existing is None:
                raise
            return int(existing), False
        return int(d.id), True

    def attempt(self, delivery_ids: Iterable[int], *, now: datetime | None = None) -> None:
        """Try each delivery now if it is due and not claimed by another process."""
        for did in delivery_ids:
            self._attempt_one(int(did), now or utcnow())

    def tick(self, now: datetime | None = None, *, limit: int = 200) -> pd.DataFrame:
        """Try every due delivery (new, retrying, or abandoned by a dead process).

        Returns:
            The deliveries tried, with their status afterwards.
        """
        now = now or utcnow()
        with self._ops.db.session() as s:
            ids = list(s.scalars(
                select(Delivery.id).where(Delivery.status.in_(("pending", "retrying")),
                                          Delivery.next_attempt_at <= now)
                .order_by(Delivery.next_attempt_at, Delivery.id).limit(limit)))
        for did in ids:
            self._attempt_one(did, now)
        return self.deliveries(ids=ids) if ids else self.deliveries(limit=0)

    def _attempt_one(self, did: int, now: datetime) -> None:
        settings = self._ops.settings
        timeout = float(settings.notify_timeout_seconds)
        lease = now + timedelta(seconds=2 * timeout + 60)
        with self._ops.db.session() as s:
            # Claim: only one process may try a delivery at a time; the lease lets a
            # later tick take over if this process dies mid-attempt.
            res = s.execute(
                update(Delivery)
                .where(Delivery.id == did, Delivery.status.in_(("pending", "retrying")),
                       or_(Delivery.next_attempt_at.is_(None), Delivery.next_attempt_at <= now))
                .values(next_attempt_at=lease, attempts=Delivery.attempts + 1)
            )
            if getattr(res, "rowcount", 0) != 1:
                return
            d = s.get(Delivery, did)
            assert d is not None
            ch = s.get(Channel, d.channel)
            n = d.attempts
            msg = Message(delivery_id=did, subject=d.subject, body=d.body, created_at=d.created_at,
                          dedup_key=d.dedup_key, context=dict(d.context or {}))
            target = d.target
            chan = (ch.name, ch.kind, ch.target, dict(ch.config), ch.secret_ref, ch.enabled) if ch else None
        t0 = time.perf_counter()
        detail, error, permanent = "", "", False
        try:
            if chan is None:
                raise NotifyError(f"channel {d.channel!r} no longer exists", channel=d.channel, permanent=True)
            name, kind, default_target, config, secret_ref, enabled = chan
            if not enabled:
                raise NotifyError(f"channel {name!r} is disabled", channel=name, permanent=True)
            to = resolve_ref(target or default_target, channel=name, what="target")
            secret = resolve_ref(secret_ref, channel=name, what="secret_ref") if secret_ref else None
            detail = kind_of(kind).deliver(channel=name, target=to, config=config, secret=secret, message=msg,
                                           timeout=timeout)
        except NotifyError as exc:
            error, permanent = redact_text(str(exc))[:2000], exc.permanent
        except Exception as exc:  # a third-party channel kind's bug must not lose the delivery
            error = redact_text(f"{type(exc).__name__}: {exc}")[:2000]
        took = (time.perf_counter() - t0) * 1000
        done_at = now
        with self._ops.db.session() as s:
            d2 = s.get(Delivery, did)
            assert d2 is not None
            s.add(Attempt(delivery_id=did, n=n, at=done_at, status="error" if error else "ok", error=error,
                          detail=detail[:500], duration_ms=round(took, 3)))
            if not error:
                d2.status, d2.sent_at, d2.next_attempt_at, d2.last_error = "sent", done_at, None, ""
            elif permanent or n >= int(settings.notify_max_attempts):
                d2.status, d2.next_attempt_at, d2.last_error = "failed", None, error
            else:
                d2.status, d2.last_error = "retrying", error
                d2.next_attempt_at = now + timedelta(seconds=backoff(n, float(settings.notify_backoff_seconds)))

    # --- reading ------------------------------------------------------------------------------

    def get(self, delivery_id: int) -> dict[str, Any]:
        """One delivery with its attempts."""
        with self._ops.db.session() as s:
            d = s.get(Delivery, int(delivery_id))
            if d is None:
                raise NotFound(f"no delivery {delivery_id}", kind="delivery", key=str(delivery_id))
            out = _delivery_dict(d)
            out["body"], out["context"] = d.body, d.context
            out["attempt_log"] = self.attempts(int(delivery_id)).to_dict(orient="records")
        return out

    def deliveries(self, *, channel: str | None = None, status: str | None = None,
                   since: datetime | None = None, ids: list[int] | None = None, limit: int = 1000) -> pd.DataFrame:
        """The delivery log, newest first."""
        q = select(Delivery).order_by(Delivery.id.desc()).limit(max(0, int(limit)))
        if channel:
            q = q.where(Delivery.channel == channel)
        if status:
            q = q.where(Delivery.status == status)
        if since:
            q = q.where(Delivery.created_at >= since)
        if ids is not None:
            q = q.where(Delivery.id.in_(ids))
        with self._ops.db.session() as s:
            rows = [_delivery_dict(d) for d in s.scalars(q)]
        df = pd.DataFrame(rows, columns=DELIVERY_COLUMNS)
        for c in ("created_at", "next_attempt_at", "sent_at"):
            df[c] = pd.to_datetime(df[c], utc=True)
        return df

    def attempts(self, delivery_id: int | None = None) -> pd.DataFrame:
        """Every attempt (of one delivery, or all), oldest first."""
        q = select(Attempt).order_by(Attempt.id)
        if delivery_id is not None:
            q = q.where(Attempt.delivery_id == int(delivery_id))

        def rows(s: Session) -> list[dict[str, Any]]:
            return [{"delivery_id": a.delivery_id, "n": a.n, "at": a.at, "status": a.status, "error": a.error,
                     "detail": a.detail, "duration_ms": a.duration_ms} for a in s.scalars(q)]

        with self._ops.db.session() as s:
            data = rows(s)
        df = pd.DataFrame(data, columns=ATTEMPT_COLUMNS)
        df["at"] = pd.to_datetime(df["at"], utc=True)
        return df


def _shown_target(target: str) -> str:
    return redact_text(target)


def _summary(subject: str, body: str) -> str:
    first = " ".join(body.split())
    text = subject if not first else f"{subject} | {first}"
    return text if len(text) <= 300 else text[:297] + "..."


def _channel_dict(r: Channel) -> dict[str, Any]:
    return {"name": r.name, "kind": r.kind, "target": _shown_target(r.target), "config": dict(r.config or {}),
            "secret_ref": r.secret_ref, "enabled": r.enabled, "created_at": r.created_at, "created_by": r.created_by}


def _delivery_dict(d: Delivery) -> dict[str, Any]:
    return {"id": d.id, "created_at": d.created_at, "channel": d.channel, "target": d.target, "summary": d.summary,
            "status": d.status, "attempts": d.attempts, "next_attempt_at": d.next_attempt_at, "sent_at": d.sent_at,
            "last_error": d.last_error, "dedup_key": d.dedup_key}
