"""``opsnb notify``: channels, sending, the delivery log, retrying due deliveries."""

from __future__ import annotations

import json
from typing import Any

import click

from opsnb.cliutil import emit, format_option, pass_ops
from opsnb.errors import ValidationError


@click.group("notify")
def cli() -> None:
    """Notification channels (Slack webhook, SMTP, signed webhook) and the delivery log.

    \b
    Example:
        opsnb notify add-channel ops-slack --kind slack --target env:SLACK_WEBHOOK_URL
        opsnb notify send ops-slack --subject "disk full on web-1"
    """


def _options(pairs: tuple[str, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for p in pairs:
        key, sep, raw = p.partition("=")
        if not sep or not key.strip():
            raise ValidationError(f"--option {p!r} is not KEY=VALUE", field="option")
        try:
            out[key.strip()] = json.loads(raw)  # numbers and true/false keep their type
        except ValueError:
            out[key.strip()] = raw
    return out


@cli.command("add-channel")
@click.argument("name")
@click.option("--kind", required=True, help="slack, smtp or webhook.")
@click.option("--target", default="", help="Webhook URL, email address(es), or env:NAME / file:/path.")
@click.option("--secret-ref", default="", help="env:NAME or file:/path of the signing key / SMTP password.")
@click.option("--option", "options", multiple=True, help="Kind option KEY=VALUE (smtp: host, port, sender, ...).")
@click.option("--reason", default="", help="Recorded in the audit trail.")
@format_option
@pass_ops
def add_channel(ops: Any, name: str, kind: str, target: str, secret_ref: str, options: tuple[str, ...],
                reason: str, fmt: str) -> None:
    """Configure a channel (needs operator). Secrets are references, never values.

    \b
    Example:
        opsnb notify add-channel pager --kind webhook --target https://hooks.example/x --secret-ref env:HOOK_KEY
        opsnb notify add-channel mail --kind smtp --target oncall@example.com \\
            --option host=127.0.0.1 --option port=25 --option sender=opsnb@example.com
    """
    emit(ops.notify.create_channel(name=name, kind=kind, target=target, secret_ref=secret_ref,
                                   config=_options(options), reason=reason), fmt)


@cli.command("channels")
@format_option
@pass_ops
def channels(ops: Any, fmt: str) -> None:
    """List channels.

    \b
    Example:
        opsnb notify channels --format json
    """
    emit(ops.notify.channels(), fmt, columns=["name", "kind", "target", "secret_ref", "enabled"])


@cli.command("send")
@click.argument("channel")
@click.option("--subject", required=True, help="One line.")
@click.option("--body", default="", help="Text of the message.")
@click.option("--target", default=None, help="Overrides the channel's default target.")
@click.option("--dedup-key", default=None, help="Idempotency key: a repeat with the same key sends nothing.")
@format_option
@pass_ops
def send(ops: Any, channel: str, subject: str, body: str, target: str | None, dedup_key: str | None,
         fmt: str) -> None:
    """Send one notification (needs responder) and show its delivery.

    \b
    Example:
        opsnb notify send ops-slack --subject "deploy 1.4.2 rolled back" --body "checkout error rate 12%"
    """
    did = ops.notify.send(channel=channel, subject=subject, body=body, target=target, dedup_key=dedup_key)
    emit(ops.notify.deliveries(ids=[did]), fmt)


@cli.command("deliveries")
@click.option("--channel", default=None)
@click.option("--status", type=click.Choice(["pending", "retrying", "sent", "failed"]), default=None)
@click.option("--limit", type=click.IntRange(0, 100000), default=50, show_default=True)
@format_option
@pass_ops
def deliveries(ops: Any, channel: str | None, status: str | None, limit: int, fmt: str) -> None:
    """The delivery log, newest first.

    \b
    Example:
        opsnb notify deliveries --status retrying
    """
    emit(ops.notify.deliveries(channel=channel, status=status, limit=limit), fmt)


@cli.command("tick")
@format_option
@pass_ops
def tick(ops: Any, fmt: str) -> None:
    """Try every due delivery once (the scheduler runs this; safe to run from several hosts).

    \b
    Example:
        opsnb notify tick
    """
    emit(ops.notify.tick(), fmt)
