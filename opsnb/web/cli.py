"""``opsnb up`` (one local Jupyter server with JupyterLab, Voila dashboards and the opsnb API) and ``opsnb share``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from opsnb.cliutil import (
    DURATION,
    emit,
    emit_json,
    format_option,
    open_workbench,
    pass_ops,
    workspace_arg,
    workspace_option,
)

if TYPE_CHECKING:
    from opsnb.runbooks.scheduler import Scheduler


def _start_scheduler(ops: Any) -> Scheduler:
    """Start the runbook scheduler in this process."""
    from opsnb.runbooks.scheduler import start_background

    return start_background(ops)


def _start_live(ops: Any) -> Any:
    """Keep a demo workspace's world going (None when the workspace is not a demo)."""
    try:
        from opsnb.demo.live import start_background
    except ImportError:
        return None
    return start_background(ops)


@click.command("up")
@click.option("--port", type=click.IntRange(1, 65535), default=None,
              help="Port on 127.0.0.1 (default: the 'port' setting, 8888).")
@click.option("--no-browser", is_flag=True, help="Do not open a browser.")
@click.option("--root-dir", type=click.Path(file_okay=False, exists=True), default=".", show_default=True,
              help="Directory Lab and Voila serve (notebooks/, dashboards/, runbooks/ live here).")
@click.option("--create", is_flag=True, help="Create the workspace if it does not exist (default: refuse).")
@click.option("--dashboards-port", type=click.IntRange(1, 65535), default=None,
              help="Port of the dashboards server (default: --port + 1, else a free one).")
@click.option("--share-expires", type=DURATION, default="7d", show_default=True,
              help="How long the printed share link works (it is revoked when opsnb up stops anyway).")
@click.option("--preheat", type=click.IntRange(0, 4), default=0, show_default=True,
              help="Kernels kept pre-rendered per dashboard (Voila's preheat pool; about 200 MB each, "
                   "so 1 costs about 1.8 GB for the 9 dashboards).")
@click.option("--no-live", is_flag=True, help="On a demo workspace, do not keep the demo world going.")
@workspace_option
@click.pass_context
def up(ctx: click.Context, port: int | None, no_browser: bool, root_dir: str, create: bool,
       dashboards_port: int | None, share_expires: Any, preheat: int, no_live: bool) -> None:
    """Start JupyterLab, the Voila dashboards and the opsnb API on one local server.

    The dashboards run in a server of their own (another port, so another origin than Lab) and
    open with the printed Share link, which reaches the dashboards only (not Lab, files or kernels);
    it is audited, and revoked when opsnb up stops. On a demo workspace the demo world keeps going
    (new traffic each minute, SLOs burning, alerts firing) unless --no-live.

    Prints the URLs (Lab with its token, the share link, API health); stops cleanly on Ctrl-C, SIGTERM,
    SIGHUP (the terminal closed) or when its piped output is closed. A workspace that does not exist
    is refused (a typo would otherwise serve an empty one): build one with 'opsnb demo' or pass --create.

    \b
    Example:
        opsnb demo --if-missing && opsnb up --port 8888
    """
    from opsnb.config import Settings
    from opsnb.web import server as srv

    workspace = Path(Settings.load(workspace_arg(ctx)).workspace).resolve()
    if not workspace.is_dir() and not create:
        raise click.ClickException(
            f"workspace {workspace} does not exist; build the demo there with 'opsnb demo -w {workspace}', "
            "or pass --create to start an empty one")
    ops = open_workbench(ctx)
    root = Path(root_dir).resolve()
    from opsnb.web import share

    shared = share.create(ops, expires=share_expires, reason="opsnb up: the dashboards' share link",
                          _session_link=True)
    try:
        server = srv.start(ops.workspace, port=port or int(ops.settings.port), root_dir=root,
                           dashboards_dir=str(ops.settings.dashboards_dir), dash_port=dashboards_port,
                           share_token=shared.token, share_id=shared.id, preheat=preheat)
    except BaseException:
        share.revoke(ops, shared.id, reason="opsnb up did not start", _session_link=True)
        raise
    server.stoppers.insert(0, lambda: share.revoke(ops, shared.id, reason="opsnb up stopped",
                                                           _session_link=True))
    try:  # whatever fails from here on (a closed stdout included) must not orphan the server
        server.wait_ready()
        sched = _start_scheduler(ops)
        server.stoppers.append(sched.stop)
        live = None if no_live else _start_live(ops)
        if live is not None:
            server.stoppers.append(live.stop)
        urls = server.urls()
        click.echo(f"opsnb is up (workspace {ops.workspace}, serving {root})")
        click.echo(f"  JupyterLab   {urls['lab']}")
        click.echo(f"  Share        {urls['share']}")
        click.echo(f"  Overview     {urls['overview']}")
        click.echo(f"  API health   {urls['health']}")
        click.echo("  API token    opsnb token create --scopes read --expires 30d  (send: Authorization: Bearer)")
        if "runs" in urls:
            click.echo(f"  Run outputs  {urls['runs']}")
        click.echo("  scheduler    running")
        click.echo(f"  share link   {shared.id} (dashboards only; revoked when this stops; "
                   "more: opsnb share create|list|revoke)")
        if live is not None:
            click.echo("  demo world   live (new traffic each minute, deploys, an incident every few hours; "
                       "--no-live to stop it)")
        click.echo(f"  server log   {server.log_path}")
        click.echo("Press Ctrl-C to stop.")
        if not no_browser:
            import webbrowser

            webbrowser.open(urls["lab"])
    except BaseException:
        server.stop()
        raise
    code = srv.serve_forever(server, echo=click.echo)
    if code:
        raise SystemExit(code)


@click.group("share")
def share_cli() -> None:
    """Share links to the dashboards: made, listed and revoked here; every change is audited.

    A share link opens the dashboards server of 'opsnb up' (dashboards only: no Lab, files or
    kernels API) as a viewer. A revoked or expired one is refused by the running server at its
    next request. The trail: opsnb audit list --action 'share.*'.

    \b
    Example:
        opsnb share create --expires 7d --reason "weekly review" && opsnb share list
    """


@share_cli.command("create")
@click.option("--expires", type=DURATION, default="30d", show_default=True, help="How long the link works.")
@click.option("--never-expires", is_flag=True, help="Works until revoked.")
@click.option("--reason", default="", help="Why; kept in the audit trail.")
@format_option
@pass_ops
def share_create(ops: Any, expires: Any, never_expires: bool, reason: str, fmt: str) -> None:
    """Make a share link and print it once (only its hash is kept). Needs operator.

    Prints the link to the running dashboards server when 'opsnb up' serves this workspace,
    else the token to append as ?token= to its dashboards URL.

    \b
    Example:
        opsnb share create --expires 7d --reason "for the product review"
    """
    from opsnb.web import share

    made = share.create(ops, expires=None if never_expires else expires, reason=reason)
    base = share.server_url(ops.workspace)
    url = f"{base}/dashboards/?token={made.token}" if base else None
    until = made.expires_at.isoformat(timespec="seconds") if made.expires_at else None
    if fmt == "json":
        emit_json({"id": made.id, "token": made.token, "url": url, "expires_at": until})
        return
    click.echo(url or made.token)
    click.echo(f"share link {made.id}, expires {until or 'never'}; shown only now"
               + ("" if url else " (no dashboards server runs for this workspace: append ?token= to its URL)"),
               err=True)


@share_cli.command("list")
@click.option("--active", is_flag=True, help="Only links that still work.")
@format_option
@pass_ops
def share_list(ops: Any, active: bool, fmt: str) -> None:
    """List share links (never their secrets) with status active, expired or revoked.

    \b
    Example:
        opsnb share list --active --format json
    """
    from opsnb.web import share

    emit(share.list_tokens(ops.workspace, include_inactive=not active), fmt,
         columns=["id", "status", "created_by", "created_at", "expires_at", "revoked_at", "revoked_by"])


@share_cli.command("revoke")
@click.argument("share_id")
@click.option("--reason", default="", help="Why; kept in the audit trail.")
@pass_ops
def share_revoke(ops: Any, share_id: str, reason: str) -> None:
    """Revoke a share link by its id; the running dashboards server refuses it from its next request.

    \b
    Example:
        opsnb share revoke 3f9a0c12ab34 --reason "review done"
    """
    from opsnb.web import share

    share.revoke(ops, share_id, reason=reason)
    click.echo(f"share link {share_id} revoked")
