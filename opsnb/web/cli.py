"""``opsnb up``: one local Jupyter server with JupyterLab, Voila dashboards and the opsnb API."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from opsnb.cliutil import open_workbench, workspace_arg, workspace_option

if TYPE_CHECKING:
    from opsnb.runbooks.scheduler import Scheduler


def _start_scheduler(ops: Any) -> Scheduler:
    """Start the runbook scheduler in this process."""
    from opsnb.runbooks.scheduler import start_background

    return start_background(ops)


@click.command("up")
@click.option("--port", type=click.IntRange(1, 65535), default=None,
              help="Port on 127.0.0.1 (default: the 'port' setting, 8888).")
@click.option("--no-browser", is_flag=True, help="Do not open a browser.")
@click.option("--root-dir", type=click.Path(file_okay=False, exists=True), default=".", show_default=True,
              help="Directory Lab and Voila serve (notebooks/, dashboards/, runbooks/ live here).")
@click.option("--create", is_flag=True, help="Create the workspace if it does not exist (default: refuse).")
@workspace_option
@click.pass_context
def up(ctx: click.Context, port: int | None, no_browser: bool, root_dir: str, create: bool) -> None:
    """Start JupyterLab, the Voila dashboards and the opsnb API on one local server.

    Prints the URLs (Lab with its token, dashboards, API health); stops cleanly on Ctrl-C, SIGTERM,
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
    server = srv.start(ops.workspace, port=port or int(ops.settings.port), root_dir=root,
                       dashboards_dir=str(ops.settings.dashboards_dir))
    try:  # whatever fails from here on (a closed stdout included) must not orphan the server
        server.wait_ready()
        sched = _start_scheduler(ops)
        server.stoppers.append(sched.stop)
        urls = server.urls()
        click.echo(f"opsnb is up (workspace {ops.workspace}, serving {root})")
        click.echo(f"  JupyterLab   {urls['lab']}")
        click.echo(f"  Dashboards   {urls['dashboards']}")
        click.echo(f"  Overview     {urls['overview']}")
        click.echo(f"  API health   {urls['health']}")
        if "runs" in urls:
            click.echo(f"  Run outputs  {urls['runs']}")
        click.echo("  scheduler    running")
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
