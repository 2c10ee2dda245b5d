"""``opsnb user``: who am I, and roles."""

from __future__ import annotations

from datetime import timedelta

import click

from opsnb.access.models import ROLES
from opsnb.cliutil import DURATION, emit, emit_json, format_option, pass_ops
from opsnb.workbench import Workbench


@click.group("user")
def cli() -> None:
    """Show who is acting and manage roles (viewer < responder < operator < admin).

    \b
    Example:
        opsnb user grant alice operator --reason "joined the SRE rota"
    """


@cli.command("whoami")
@format_option
@pass_ops
def whoami(ops: Workbench, fmt: str) -> None:
    """Show the acting user and their role.

    \b
    Example:
        OPSNB_USER=alice opsnb user whoami
    """
    emit({"user": ops.user, "role": ops.access.role()}, fmt)


@cli.command("list")
@format_option
@pass_ops
def list_cmd(ops: Workbench, fmt: str) -> None:
    """List users with a granted role.

    \b
    Example:
        opsnb user list --format json
    """
    emit(ops.access.list(), fmt)


@cli.command("grant")
@click.argument("user")
@click.argument("role", type=click.Choice(ROLES))
@click.option("--reason", default="", help="Why; kept in the audit trail.")
@pass_ops
def grant(ops: Workbench, user: str, role: str, reason: str) -> None:
    """Give USER a ROLE (needs admin; the first grant of a workspace makes yourself admin).

    \b
    Example:
        opsnb user grant bob responder --reason "on-call from Monday"
    """
    ops.access.grant(user, role, reason=reason)
    click.echo(f"{user} is now {role}")


@click.group("token")
def token_cli() -> None:
    """API tokens (per user, scoped, expiring) and webhook senders (signed, replay-proof).

    \b
    Example:
        opsnb token create --user alice --scopes read,incidents:write --expires 30d
    """


@token_cli.command("create")
@click.option("--user", "user", default=None, help="Whose token (default: yourself; others need admin).")
@click.option("--scopes", required=True,
              help="Comma-separated: read, alerts:write, incidents:write, oncall:write, runbooks:run, "
                   "postmortems:write, deploys:write, audit:read, or * for all.")
@click.option("--expires", type=DURATION, default="30d", show_default=True,
              help="Lifetime, at most a year (e.g. 12h, 30d).")
@click.option("--never-expires", is_flag=True, help="No expiry (prefer --expires).")
@click.option("--name", default="", help="A label shown in 'opsnb token list' (e.g. grafana).")
@click.option("--reason", default="", help="Why; kept in the audit trail.")
@format_option
@pass_ops
def token_create(ops: Workbench, user: str | None, scopes: str, expires: timedelta, never_expires: bool,
                 name: str, reason: str, fmt: str) -> None:
    """Create a token and print it once (only its hash is kept): send it as 'Authorization: Bearer'.

    \b
    Example:
        opsnb token create --user alice --scopes read,alerts:write --expires 30d --name laptop
    """
    made = ops.access.tokens.create(user=user or ops.user, scopes=scopes, expires=None if never_expires else expires,
                                    name=name, reason=reason)
    if fmt == "json":
        emit_json(made.as_dict())
        return
    click.echo(made.token)
    until = f"{made.expires_at:%Y-%m-%d %H:%M}Z" if made.expires_at else "never"
    click.echo(f"token {made.id} for {made.user} ({','.join(made.scopes)}), expires {until}; "
               "it is shown only now", err=True)


@token_cli.command("list")
@click.option("--user", "user", default=None, help="Only this user's tokens (admins see everyone's).")
@click.option("--all", "include_revoked", is_flag=True, help="Include revoked tokens.")
@format_option
@pass_ops
def token_list(ops: Workbench, user: str | None, include_revoked: bool, fmt: str) -> None:
    """List tokens with when each was last used (never their secrets).

    \b
    Example:
        opsnb token list --format json
    """
    emit(ops.access.tokens.list(user=user, include_revoked=include_revoked), fmt)


@token_cli.command("revoke")
@click.argument("token_id")
@click.option("--reason", default="", help="Why; kept in the audit trail.")
@pass_ops
def token_revoke(ops: Workbench, token_id: str, reason: str) -> None:
    """Revoke a token by its id (the middle part of opsnb_<id>_...); it stops working at once.

    \b
    Example:
        opsnb token revoke 3f9a0c12ab34 --reason "laptop lost"
    """
    ops.access.tokens.revoke(token_id, reason=reason)
    click.echo(f"token {token_id} revoked")


@token_cli.command("sender-add")
@click.argument("name")
@click.option("--secret-ref", required=True, help="Where the shared secret is: env:NAME or file:/absolute/path.")
@click.option("--scopes", default="alerts:write", show_default=True, help="What its webhooks may do.")
@click.option("--reason", default="", help="Why; kept in the audit trail.")
@pass_ops
def sender_add(ops: Workbench, name: str, secret_ref: str, scopes: str, reason: str) -> None:
    """Register a webhook sender that signs with its own secret (X-Opsnb-Sender, -Timestamp, -Delivery, -Signature).

    \b
    Example:
        opsnb token sender-add alertmanager --secret-ref env:AM_WEBHOOK_SECRET
    """
    ops.access.tokens.add_sender(name, secret_ref=secret_ref, scopes=scopes, reason=reason)
    click.echo(f"sender {name} accepted on ingest routes (secret from {secret_ref})")


@token_cli.command("sender-remove")
@click.argument("name")
@click.option("--reason", default="", help="Why; kept in the audit trail.")
@pass_ops
def sender_remove(ops: Workbench, name: str, reason: str) -> None:
    """Refuse a webhook sender's signatures from now on.

    \b
    Example:
        opsnb token sender-remove alertmanager --reason "moved to the new cluster"
    """
    ops.access.tokens.remove_sender(name, reason=reason)
    click.echo(f"sender {name} removed")


@token_cli.command("senders")
@format_option
@pass_ops
def senders_cmd(ops: Workbench, fmt: str) -> None:
    """List webhook senders and their secret references.

    \b
    Example:
        opsnb token senders
    """
    emit(ops.access.tokens.senders(), fmt)
