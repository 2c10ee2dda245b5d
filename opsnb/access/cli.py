"""``opsnb user``: who am I, and roles."""

from __future__ import annotations

import click

from opsnb.access.models import ROLES
from opsnb.cliutil import emit, format_option, pass_ops
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
