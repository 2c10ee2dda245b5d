"""``opsnb up``: one local Jupyter server with JupyterLab, Voila dashboards and the opsnb API."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from opsnb.cliutil import pass_ops


def _start_scheduler(ops: Any) -> Any:
    """Start the runbook scheduler in this process."""
    from opsnb.runbooks.scheduler import start_background

    return start_background(ops)


@click.command("up")
@click.option("--port", type=click.IntRange(1, 65535), default=None,
              help="Port on 127.0.0.1 (default: the 'port' setting, 8888).")
@click.option("--no-browser", is_flag=True, help="Do not open a browser.")
@click.option("--root-dir", type=click.Path(file_okay=False, exists=True), default=".", show_default=True,
              help="Directory Lab and Voila serve (notebooks/, dashboards/, runbooks/ live here).")
@pass_ops
def up(ops: Any, port: int | None, no_browser: bool, root_dir: str) -> None:
    """Start JupyterLab, the Voila dashboards and the opsnb API on one local server.

    Prints the URLs (Lab with its token, dashboards, API health); stops cleanly on Ctrl-C or SIGTERM.

    \b
    Example:
        opsnb demo --if-missing && opsnb up --port 8888
    """
    from opsnb.web import server as srv

    root = Path(root_dir).resolve()
    server = srv.start(ops.workspace, port=port or int(ops.settings.port), root_dir=root,
                       dashboards_dir=str(ops.settings.dashboards_dir))
    try:
        server.wait_ready()
        sched = _start_scheduler(ops)
        stop = getattr(sched, "stop", None)
        if callable(stop):
            server.stoppers.append(stop)
    except BaseException:
        server.stop()
        raise
    urls = server.urls()
    click.echo(f"opsnb is up (workspace {ops.workspace}, serving {root})")
    click.echo(f"  JupyterLab   {urls['lab']}")
    click.echo(f"  Dashboards   {urls['dashboards']}")
    click.echo(f"  Overview     {urls['overview']}")
    click.echo(f"  API health   {urls['health']}")
    click.echo(f"  scheduler    {'running' if sched is not None else 'not available'}")
    click.echo(f"  server log   {server.log_path}")
    click.echo("Press Ctrl-C to stop.")
    if not no_browser:
        import webbrowser

        webbrowser.open(urls["lab"])
    code = srv.serve_forever(server, echo=click.echo)
    if code:
        raise SystemExit(code)
