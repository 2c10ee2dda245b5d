"""API identities: personal tokens (stored hashed, scoped, expiring) and webhook senders (signed, replay-proof).

A token is ``opsnb_<id>_<secret>``; only SHA-256 of the secret is kept (the secret is 256 random
bits, so a slow hash buys nothing), and it is shown once, when created. A request with it acts as
the token's user, with that user's role, and only on routes whose scope the token holds.

A webhook sender (Alertmanager, a CI system) signs ``<timestamp>.<body>`` with HMAC-SHA256 and
its own secret, which opsnb holds only as a reference (``env:NAME`` or ``file:/path``, as
notification channels do). A signature older or newer than :data:`SIGNATURE_WINDOW` is refused,
and so is a delivery id the sender used before; signatures are accepted on ingest routes only.
"""

from __future__ import annotations

import builtins
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError

from opsnb.access.models import ApiToken, WebhookDelivery, WebhookSender
from opsnb.errors import Conflict, NotFound, PermissionDenied, ValidationError
from opsnb.store.types import utcnow

if TYPE_CHECKING:
    import pandas as pd

    from opsnb.workbench import Workbench

SCOPES: tuple[str, ...] = ("read", "alerts:write", "incidents:write", "oncall:write", "runbooks:run",
                           "postmortems:write", "deploys:write", "audit:read")
"""What a token may be allowed. ``read`` is every GET except the audit trail; ``*`` means all of them."""

SIGNATURE_WINDOW = timedelta(minutes=5)
"""How far a webhook's signed timestamp may be from the server's clock."""

MAX_EXPIRY = timedelta(days=366)
_TOKEN = re.compile(r"opsnb_([0-9a-f]{12})_([A-Za-z0-9_-]{20,100})")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
_DELIVERY = re.compile(r"[A-Za-z0-9._:-]{1,200}")
# last_used_at is written at most this often per token: a write per request would make every
# read a transaction.
_TOUCH_EVERY = timedelta(seconds=60)


def is_token(text: str) -> bool:
    """Whether ``text`` has the shape of an opsnb API token (cheap; says nothing of validity)."""
    return _TOKEN.fullmatch(text) is not None


def parse_scopes(value: str | builtins.list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """Scopes from ``"read,alerts:write"`` or a list; ``*`` expands to all; unknown ones listed in one error."""
    items = [s.strip() for s in (value.split(",") if isinstance(value, str) else value) if str(s).strip()]
    if not items:
        raise ValidationError(f"no scopes given; scopes are {', '.join(SCOPES)} (or * for all)", field="scopes")
    if "*" in items:
        return SCOPES
    bad = [s for s in items if s not in SCOPES]
    if bad:
        raise ValidationError(f"unknown scope(s) {', '.join(map(repr, bad))}; scopes are {', '.join(SCOPES)}"
                              " (or * for all)", field="scopes", value=",".join(bad))
    return tuple(s for s in SCOPES if s in items)


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


@dataclass(frozen=True)
class Identity:
    """Who a request acts as.

    Attributes:
        user: The opsnb user.
        scopes: What the credential allows (a role still bounds it).
        via: The credential, as the audit trail names it: ``token:<id>``, ``sender:<name>``,
            ``jupyter`` or ``bootstrap``.
        key: What rate limits count against (the token or sender).
    """

    user: str
    scopes: tuple[str, ...]
    via: str
    key: str = ""

    def allows(self, scope: str) -> bool:
        """Whether the credential holds ``scope``."""
        return scope in self.scopes


@dataclass(frozen=True)
class CreatedToken:
    """A new token. ``token`` is the only time its secret is shown."""

    id: str
    token: str
    user: str
    scopes: tuple[str, ...]
    expires_at: datetime | None
    name: str = ""
    fields: dict[str, Any] = field(default_factory=dict, repr=False)

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "token": self.token, "user": self.user, "scopes": list(self.scopes),
                "expires_at": self.expires_at, "name": self.name}


class Tokens:
    """API tokens and webhook senders of a workbench (``ops.access.tokens``)."""

    def __init__(self, wb: Workbench) -> None:
        self._wb = wb

    # -- tokens -------------------------------------------------------------------------------
    def create(self, *, user: str, scopes: str | builtins.list[str] | tuple[str, ...], expires: Any = "30d",
               name: str = "", reason: str = "") -> CreatedToken:
        """Make a token for ``user``; an admin may make one for anybody, anyone one for themselves.

        Args:
            user: Whose token; requests with it act as this user, with this user's role.
            scopes: What it may do (see :data:`SCOPES`), e.g. ``"read,alerts:write"``.
            expires: When it stops working: a duration from now (``"30d"``), at most a year; None never.
            name: A label shown in the list (``"grafana"``).
            reason: Why; kept in the audit trail.

        Returns:
            The token, whose secret is shown this once and stored only as a hash.
        """
        from opsnb.timeparse import parse_duration

        if not isinstance(user, str) or not _NAME.fullmatch(user.removeprefix("webhook:")):
            raise ValidationError(f"user {str(user)[:60]!r} is not a user name", field="user")
        granted = parse_scopes(scopes)
        if not isinstance(name, str) or len(name) > 200:
            raise ValidationError("name must be text of at most 200 characters", field="name")
        expires_at = None
        if expires is not None:
            ttl = parse_duration(expires, name="expires")
            if ttl > MAX_EXPIRY:
                raise ValidationError(f"expires: at most {MAX_EXPIRY.days} days", field="expires")
            expires_at = utcnow() + ttl
        tid, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
        with self._wb.db.session() as s:
            if user != self._wb.user:
                self._wb.access.require("admin", action="token.create")
            s.add(ApiToken(id=tid, secret_hash=_hash(secret), user=user, name=name, scopes=",".join(granted),
                           created_by=self._wb.user, created_at=utcnow(), expires_at=expires_at))
            self._wb.audit.record(action="token.create", target=f"token:{tid}",
                                  params={"user": user, "scopes": list(granted), "name": name,
                                          "expires_at": expires_at}, reason=reason)
        return CreatedToken(id=tid, token=f"opsnb_{tid}_{secret}", user=user, scopes=granted,
                            expires_at=expires_at, name=name)

    def list(self, *, user: str | None = None, include_revoked: bool = False) -> pd.DataFrame:
        """Tokens (never their secrets) with when each was last used; an admin sees everyone's."""
        import pandas as pd

        q = select(ApiToken).order_by(ApiToken.created_at, ApiToken.id)
        if self._wb.access.role() != "admin":
            if user not in (None, self._wb.user):
                raise PermissionDenied(f"{self._wb.user} may list only their own tokens", user=self._wb.user,
                                       required="admin", action="token.list")
            user = self._wb.user
        if user:
            q = q.where(ApiToken.user == user)
        if not include_revoked:
            q = q.where(ApiToken.revoked_at.is_(None))
        now = utcnow()
        with self._wb.db.session() as s:
            rows = [{"id": t.id, "user": t.user, "name": t.name, "scopes": t.scopes, "created_by": t.created_by,
                     "created_at": t.created_at, "expires_at": t.expires_at, "last_used_at": t.last_used_at,
                     "status": _status(t, now)} for t in s.scalars(q)]
        return pd.DataFrame(rows, columns=["id", "user", "name", "scopes", "created_by", "created_at",
                                           "expires_at", "last_used_at", "status"])

    def revoke(self, token_id: str, *, reason: str = "") -> None:
        """Stop a token working at once (its owner or an admin)."""
        with self._wb.db.session() as s:
            row = s.get(ApiToken, str(token_id))
            if row is None:
                raise NotFound(f"no token {str(token_id)[:40]!r}", kind="token", key=str(token_id)[:40])
            if row.user != self._wb.user:
                self._wb.access.require("admin", action="token.revoke")
            if row.revoked_at is not None:
                raise Conflict(f"token {token_id} was revoked at {row.revoked_at:%Y-%m-%d %H:%M}Z")
            row.revoked_at, row.revoked_by = utcnow(), self._wb.user
            self._wb.audit.record(action="token.revoke", target=f"token:{row.id}", params={"user": row.user},
                                  reason=reason)

    def exist(self) -> bool:
        """Whether any token was ever made (then the bootstrap ``api_token`` is no longer accepted)."""
        with self._wb.db.session() as s:
            return bool(s.scalar(select(func.count()).select_from(ApiToken)))

    def authenticate(self, token: str) -> Identity | None:
        """The identity a token stands for, or None when it is unknown, wrong, revoked or expired."""
        m = _TOKEN.fullmatch(token)
        if m is None:
            return None
        now = utcnow()
        with self._wb.db.session() as s:
            row = s.get(ApiToken, m.group(1))
            if row is None or not hmac.compare_digest(row.secret_hash, _hash(m.group(2))):
                return None
            if _status(row, now) != "active":
                return None
            if row.last_used_at is None or now - row.last_used_at > _TOUCH_EVERY:
                row.last_used_at = now
            return Identity(user=row.user, scopes=tuple(row.scopes.split(",")), via=f"token:{row.id}",
                            key=f"token:{row.id}")

    # -- webhook senders ----------------------------------------------------------------------
    def add_sender(self, name: str, *, secret_ref: str, scopes: str | builtins.list[str] = "alerts:write",
                   reason: str = "") -> None:
        """Register a webhook sender whose secret is at ``secret_ref`` (``env:NAME`` or ``file:/path``); admin."""
        from opsnb.notify.channels import check_ref

        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise ValidationError(f"sender name {str(name)[:60]!r}: letters, digits, '.', '_', '-'", field="name")
        problems = check_ref(secret_ref, "secret_ref") if secret_ref else ["secret_ref is required"]
        if problems:
            raise ValidationError("bad sender:", problems=problems, field="secret_ref")
        granted = parse_scopes(scopes)
        with self._wb.db.session() as s:
            self._wb.access.require("admin", action="token.sender_add")
            row = s.get(WebhookSender, name)
            if row is None:
                s.add(WebhookSender(name=name, secret_ref=secret_ref, scopes=",".join(granted),
                                    created_by=self._wb.user, created_at=utcnow()))
            else:
                row.secret_ref, row.scopes, row.revoked_at = secret_ref, ",".join(granted), None
            self._wb.audit.record(action="token.sender_add", target=f"sender:{name}",
                                  params={"secret_ref": secret_ref, "scopes": list(granted)}, reason=reason)

    def remove_sender(self, name: str, *, reason: str = "") -> None:
        """Refuse a sender's signatures from now on; admin."""
        with self._wb.db.session() as s:
            self._wb.access.require("admin", action="token.sender_remove")
            row = s.get(WebhookSender, name)
            if row is None or row.revoked_at is not None:
                raise NotFound(f"no webhook sender {str(name)[:60]!r}", kind="sender", key=str(name)[:60])
            row.revoked_at = utcnow()
            self._wb.audit.record(action="token.sender_remove", target=f"sender:{name}", params={}, reason=reason)

    def senders(self) -> pd.DataFrame:
        """Registered webhook senders (their secret references, never secrets)."""
        import pandas as pd

        with self._wb.db.session() as s:
            rows = [{"name": r.name, "secret_ref": r.secret_ref, "scopes": r.scopes, "created_by": r.created_by,
                     "created_at": r.created_at, "status": "revoked" if r.revoked_at else "active"}
                    for r in s.scalars(select(WebhookSender).order_by(WebhookSender.name))]
        return pd.DataFrame(rows, columns=["name", "secret_ref", "scopes", "created_by", "created_at", "status"])

    def verify_signature(self, *, sender: str, timestamp: str, delivery: str, body: bytes, signature: str,
                         now: datetime | None = None) -> Identity:
        """Check a sender's signed webhook and remember its delivery id.

        Raises:
            PermissionDenied: Unknown or removed sender, a wrong signature, a timestamp outside
                :data:`SIGNATURE_WINDOW`, or a delivery id this sender used before. The message
                says which, never the secret.
        """
        from opsnb.notify.channels import resolve_ref, sign

        now = now or utcnow()

        def refuse(why: str) -> PermissionDenied:
            return PermissionDenied(f"webhook signature refused: {why}", user=f"webhook:{sender[:100]}",
                                    action="webhook")

        if not _NAME.fullmatch(sender):
            raise refuse("X-Opsnb-Sender is not a sender name")
        if not _DELIVERY.fullmatch(delivery):
            raise refuse("X-Opsnb-Delivery must be 1-200 of letters, digits and ._:-")
        if not timestamp.isdigit() or len(timestamp) > 12:
            raise refuse("X-Opsnb-Timestamp must be unix seconds")
        skew = abs(now.timestamp() - int(timestamp))
        if skew > SIGNATURE_WINDOW.total_seconds():
            raise refuse(f"timestamp is {int(skew)} s from the server's clock (at most "
                         f"{int(SIGNATURE_WINDOW.total_seconds())} s)")
        with self._wb.db.session() as s:
            row = s.get(WebhookSender, sender)
            if row is None or row.revoked_at is not None:
                raise refuse(f"no webhook sender {sender!r}")
            secret_ref, scopes = row.secret_ref, tuple(row.scopes.split(","))
        try:
            secret = resolve_ref(secret_ref, channel=sender, what="secret_ref")
        except Exception as exc:  # the server's configuration, not the caller's fault; say which reference
            raise refuse(f"sender {sender!r} has no readable secret ({type(exc).__name__})") from None
        if not hmac.compare_digest(sign(secret, timestamp, body), signature):
            raise refuse("signature does not match timestamp and body")
        try:
            with self._wb.db.session() as s:
                s.execute(delete(WebhookDelivery).where(WebhookDelivery.seen_at < now - 2 * SIGNATURE_WINDOW))
                s.add(WebhookDelivery(sender=sender, delivery=delivery, seen_at=now))
        except IntegrityError:
            raise refuse(f"delivery {delivery!r} was seen before (a replay)") from None
        return Identity(user=f"webhook:{sender}", scopes=scopes, via=f"sender:{sender}", key=f"sender:{sender}")


def _status(row: ApiToken, now: datetime) -> str:
    if row.revoked_at is not None:
        return "revoked"
    if row.expires_at is not None and row.expires_at <= now:
        return "expired"
    return "active"
