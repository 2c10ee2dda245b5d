"""Channel kinds: a registry, and the built-ins (Slack webhook, SMTP email, signed webhook).

A kind validates its configuration and delivers one message; it raises
:class:`~opsnb.errors.NotifyError` on failure, with ``permanent=True`` when
retrying cannot help (a 4xx other than 408/429, a rejected recipient). Kinds
live in :data:`CHANNELS`, a :class:`~opsnb.registry.Registry` (entry-point group
``opsnb.channels``); third parties register their own the way the built-ins are::

    @CHANNELS.register("teams")
    class Teams(ChannelKind):
        kind = "teams"
        ...

Secrets (a webhook's signing key, an SMTP password) and secret-bearing
targets (a Slack webhook URL embeds its token) are *references*:
``env:NAME`` or ``file:/path``, resolved at send time and never stored.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import smtplib
import ssl
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlsplit

from opsnb.errors import NotFound, NotifyError, ValidationError
from opsnb.registry import Registry

_REF = re.compile(r"^(env):([A-Za-z_][A-Za-z0-9_]{0,127})$|^(file):(/.{1,1000})$")
_EMAIL = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9.-]{0,253})$")
MAX_SECRET_FILE = 65536


@dataclass(frozen=True)
class Message:
    """What a channel delivers."""

    delivery_id: int
    subject: str
    body: str
    created_at: datetime
    dedup_key: str | None = None
    context: dict[str, Any] = field(default_factory=dict)


def is_ref(value: str) -> bool:
    """Whether ``value`` is a secret reference (``env:NAME`` or ``file:/abs/path``)."""
    return bool(_REF.match(value or ""))


def check_ref(value: str, what: str) -> list[str]:
    """Problems of a secret reference, as text (empty when fine or empty)."""
    if not value:
        return []
    if not is_ref(value):
        return [f"{what} must be a reference 'env:NAME' or 'file:/absolute/path', not a value "
                "(secrets are never stored)"]
    return []


def resolve_ref(value: str, *, channel: str, what: str) -> str:
    """The secret a reference names; a NotifyError says which reference failed (never its value)."""
    m = _REF.match(value)
    if not m:
        return value
    if m.group(1):
        got = os.environ.get(m.group(2))
        if not got:
            raise NotifyError(f"channel {channel!r}: {what} reference env:{m.group(2)} is not set", channel=channel)
        return got
    path = Path(m.group(4))
    try:
        if path.stat().st_size > MAX_SECRET_FILE:
            raise NotifyError(f"channel {channel!r}: {what} file {path} is larger than {MAX_SECRET_FILE} bytes",
                              channel=channel)
        return path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise NotifyError(f"channel {channel!r}: cannot read {what} file {path}: {exc.strerror}",
                          channel=channel) from None


class ChannelKind:
    """Base of a channel kind. Subclasses set ``kind`` and implement :meth:`validate` and :meth:`deliver`."""

    kind: ClassVar[str] = ""
    config_keys: ClassVar[frozenset[str]] = frozenset()
    needs_secret: ClassVar[bool] = False

    def validate(self, target: str, config: dict[str, Any], secret_ref: str) -> list[str]:
        """Every problem with a channel's configuration (empty list when fine)."""
        problems = [f"unknown {self.kind} option {k!r} (known: {', '.join(sorted(self.config_keys)) or 'none'})"
                    for k in config if k not in self.config_keys]
        problems += check_ref(secret_ref, "secret_ref")
        if self.needs_secret and not secret_ref:
            problems.append(f"a {self.kind} channel needs secret_ref (env:NAME or file:/path)")
        return problems

    def validate_target(self, target: str) -> list[str]:
        """Problems with one delivery's target."""
        return []

    def deliver(self, *, channel: str, target: str, config: dict[str, Any], secret: str | None,
                message: Message, timeout: float) -> str:
        """Deliver one message; return a short detail; raise NotifyError on failure."""
        raise NotImplementedError


def _adapt_kind(name: str, obj: object) -> ChannelKind:
    """A ChannelKind instance (a subclass is instantiated) whose ``kind`` is its registered name."""
    if isinstance(obj, type) and issubclass(obj, ChannelKind):
        obj = obj()
    if not isinstance(obj, ChannelKind):
        raise TypeError(f"expected a ChannelKind subclass, got {type(obj).__name__}")
    if not re.fullmatch(r"[a-z][a-z0-9_-]{0,29}", name) or obj.kind != name:
        raise TypeError(f"channel kind {obj.kind!r} must be a short lowercase name, the one it is registered as")
    return obj


CHANNELS: Registry[ChannelKind] = Registry("channel kind", group="opsnb.channels", adapt=_adapt_kind)
REGISTRY = CHANNELS  # the earlier name


def register(cls: type[ChannelKind]) -> type[ChannelKind]:
    """Class decorator: ``CHANNELS.register(cls.kind, cls)``."""
    return CHANNELS.register(cls.kind, cls)


def kind_of(name: str) -> ChannelKind:
    """The channel kind registered as ``name``.

    Raises:
        ValidationError: No such kind (a bad channel definition); the message suggests the closest.
    """
    try:
        return CHANNELS.get(name)
    except NotFound as exc:
        raise ValidationError(str(exc), field="kind", value=str(name)[:40]) from None


def _check_url(url: str, what: str) -> list[str]:
    if is_ref(url):
        return []
    try:
        parts = urlsplit(url)
    except ValueError:
        return [f"{what} is not a URL"]
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return [f"{what} must be an http(s) URL (or a reference env:NAME / file:/path), got {url[:60]!r}"]
    if any(c in url for c in "\r\n\t "):
        return [f"{what} contains whitespace"]
    return []


def _post_json(*, channel: str, url: str, data: bytes, headers: dict[str, str], timeout: float) -> str:
    host = urlsplit(url).hostname or "?"
    req = urllib.request.Request(url, data=data, method="POST",
                                 headers={"Content-Type": "application/json", "User-Agent": "opsnb-notify",
                                          **headers})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - http(s) checked on create
            resp.read(4096)
            return f"HTTP {resp.status} from {host}"
    except urllib.error.HTTPError as exc:
        text = exc.read(300).decode("utf-8", "replace").strip().replace("\n", " ")
        permanent = 400 <= exc.code < 500 and exc.code not in (408, 425, 429)
        # The URL may embed a token (Slack): name the host only.
        raise NotifyError(f"HTTP {exc.code} from {host}: {text[:200]}", channel=channel,
                          permanent=permanent, status=exc.code) from None
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        reason = getattr(exc, "reason", exc)
        raise NotifyError(f"cannot reach {host}: {reason}", channel=channel) from None


def slack_escape(text: str) -> str:
    """Escape ``&``, ``<`` and ``>`` as Slack's message format requires."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


@CHANNELS.register("slack", origin="opsnb")
class SlackWebhook(ChannelKind):
    """A Slack-compatible incoming webhook: POST ``{"text": ...}``. Target: the webhook URL (or a reference)."""

    kind = "slack"
    config_keys = frozenset({"username", "icon_emoji", "channel"})

    def validate(self, target: str, config: dict[str, Any], secret_ref: str) -> list[str]:
        return super().validate(target, config, secret_ref) + (
            _check_url(target, "target") if target else ["a slack channel needs target (the webhook URL)"])

    def validate_target(self, target: str) -> list[str]:
        return _check_url(target, "target")

    def deliver(self, *, channel: str, target: str, config: dict[str, Any], secret: str | None,
                message: Message, timeout: float) -> str:
        # Slack's control sequences (<!channel>, <@U123>, links) come only from us, never from alert text.
        payload: dict[str, Any] = {"text": f"*{slack_escape(message.subject)}*\n{slack_escape(message.body)}".strip()}
        payload.update({k: v for k, v in config.items() if k in self.config_keys})
        data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        return _post_json(channel=channel, url=target, data=data, headers={}, timeout=timeout)


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=<hex>`` HMAC-SHA256 of ``<timestamp>.<body>`` keyed with ``secret``."""
    mac = hmac.new(secret.encode("utf-8"), timestamp.encode("ascii") + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(secret: str, timestamp: str, body: bytes, signature: str) -> bool:
    """Check a signature made by :func:`sign` (constant time). Receivers use this."""
    return hmac.compare_digest(sign(secret, timestamp, body), signature)


@CHANNELS.register("webhook", origin="opsnb")
class SignedWebhook(ChannelKind):
    """A generic JSON webhook, signed.

    Headers: ``X-Opsnb-Timestamp`` (unix seconds), ``X-Opsnb-Delivery`` (id),
    ``X-Opsnb-Signature: sha256=<hex>`` = HMAC-SHA256(secret, timestamp + "." + body),
    so a receiver can reject replays and forgeries (see :func:`verify`).
    """

    kind = "webhook"
    config_keys = frozenset()
    needs_secret = True

    def validate(self, target: str, config: dict[str, Any], secret_ref: str) -> list[str]:
        return super().validate(target, config, secret_ref) + (
            _check_url(target, "target") if target else ["a webhook channel needs target (the URL)"])

    def validate_target(self, target: str) -> list[str]:
        return _check_url(target, "target")

    def deliver(self, *, channel: str, target: str, config: dict[str, Any], secret: str | None,
                message: Message, timeout: float) -> str:
        if not secret:
            raise NotifyError(f"channel {channel!r}: webhook has no signing secret", channel=channel, permanent=True)
        ts = str(int(message.created_at.timestamp()))
        body = json.dumps({"id": message.delivery_id, "subject": message.subject, "body": message.body,
                           "dedup_key": message.dedup_key, "context": message.context,
                           "created_at": message.created_at.isoformat()},
                          ensure_ascii=False, sort_keys=True, default=str).encode("utf-8")
        headers = {"X-Opsnb-Timestamp": ts, "X-Opsnb-Delivery": str(message.delivery_id),
                   "X-Opsnb-Signature": sign(secret, ts, body)}
        return _post_json(channel=channel, url=target, data=body, headers=headers, timeout=timeout)


def _addresses(value: str) -> list[str]:
    return [a.strip() for a in value.split(",") if a.strip()]


@CHANNELS.register("smtp", origin="opsnb")
class SmtpEmail(ChannelKind):
    """Email through an SMTP relay (smtplib, with a timeout).

    Options: ``host`` (required), ``port`` (25), ``sender`` (required), ``starttls``,
    ``ssl``, ``username``; the password comes from ``secret_ref``. Target: one or more
    addresses, comma-separated.
    """

    kind = "smtp"
    config_keys = frozenset({"host", "port", "sender", "starttls", "ssl", "username"})

    def validate(self, target: str, config: dict[str, Any], secret_ref: str) -> list[str]:
        problems = super().validate(target, config, secret_ref)
        host = config.get("host")
        if not isinstance(host, str) or not re.fullmatch(r"[A-Za-z0-9.:_\[\]-]{1,253}", host):
            problems.append("smtp option host is required (a host name or address)")
        port = config.get("port", 25)
        if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
            problems.append(f"smtp option port must be 1..65535, got {port!r}")
        sender = config.get("sender")
        if not isinstance(sender, str) or not _EMAIL.match(sender):
            problems.append(f"smtp option sender must be an email address, got {sender!r}")
        for flag in ("starttls", "ssl"):
            if flag in config and not isinstance(config[flag], bool):
                problems.append(f"smtp option {flag} must be true or false")
        if config.get("username") and not secret_ref:
            problems.append("smtp username given without secret_ref for the password")
        if target:
            problems += self.validate_target(target)
        return problems

    def validate_target(self, target: str) -> list[str]:
        addrs = _addresses(target)
        if not addrs or len(addrs) > 50:
            return ["an smtp target must be 1..50 comma-separated email addresses"]
        return [f"{a[:80]!r} is not an email address" for a in addrs if not _EMAIL.match(a)]

    def deliver(self, *, channel: str, target: str, config: dict[str, Any], secret: str | None,
                message: Message, timeout: float) -> str:
        if not target:
            raise NotifyError(f"channel {channel!r}: no recipient (give a target)", channel=channel, permanent=True)
        msg = EmailMessage()
        # Header injection: a subject is one line.
        msg["Subject"] = " ".join(message.subject.split())[:250]
        msg["From"] = str(config["sender"])
        msg["To"] = ", ".join(_addresses(target))
        msg["Date"] = formatdate(message.created_at.timestamp(), usegmt=True)
        msg["Message-ID"] = make_msgid(idstring=f"opsnb-{message.delivery_id}")
        msg["X-Opsnb-Delivery"] = str(message.delivery_id)
        msg.set_content(message.body or message.subject)
        host, port = str(config["host"]), int(config.get("port", 25))
        try:
            cls = smtplib.SMTP_SSL if config.get("ssl") else smtplib.SMTP
            with cls(host, port, timeout=timeout) as smtp:
                if config.get("starttls"):
                    smtp.starttls(context=ssl.create_default_context())
                if config.get("username"):
                    smtp.login(str(config["username"]), secret or "")
                refused = smtp.send_message(msg)
        except smtplib.SMTPRecipientsRefused as exc:
            raise NotifyError(f"{host}:{port} refused every recipient: {list(exc.recipients)[:5]}",
                              channel=channel, target=target, permanent=True) from None
        except smtplib.SMTPAuthenticationError as exc:
            raise NotifyError(f"{host}:{port} rejected the login: {exc.smtp_code}", channel=channel,
                              permanent=True) from None
        except (TimeoutError, smtplib.SMTPException, OSError) as exc:
            raise NotifyError(f"SMTP {host}:{port}: {type(exc).__name__}: {exc}", channel=channel,
                              target=target) from None
        if refused:
            return f"accepted by {host}:{port}; refused {sorted(refused)[:5]}"
        return f"accepted by {host}:{port}"
