"""``opsnb fleet ...``: the inventory and fleet runs from the command line."""

from __future__ import annotations

import json
import sys
from datetime import timedelta
from typing import Any

import click

from opsnb.cliutil import DURATION, emit, format_option, pass_ops


@click.group("fleet")
def cli() -> None:
    """Servers: inventory, fleet runs over SSH, facts.

    \b
    Example:
        opsnb fleet import ansible inventory.ini
        opsnb fleet run 'role=web,env=prod' --parallel 16 -- df -h /
    """


def _labels(values: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for v in values:
        k, eq, val = v.partition("=")
        if not eq:
            raise click.BadParameter(f"{v!r} is not key=value", param_hint="--label")
        out[k.strip()] = val.strip()
    return out


@cli.command("list")
@click.argument("selector", required=False)
@format_option
@pass_ops
def list_cmd(ops: Any, selector: str | None, fmt: str) -> None:
    """List servers, all or those matching SELECTOR.

    \b
    Example:
        opsnb fleet list 'role=web,env=prod'
        opsnb fleet list 'name~db-*' --format json
    """
    df = ops.fleet.list(selector)
    if fmt == "table":
        df = df.assign(labels=[",".join(f"{k}={v}" for k, v in sorted(d.items())) for d in df["labels"]])
    emit(df, fmt, columns=["name", "address", "port", "user", "labels", "platform", "proxy_jump"]
         if fmt == "table" else None)


@cli.command("add")
@click.argument("name")
@click.argument("address")
@click.option("--port", type=int, default=22, show_default=True)
@click.option("--user", default="", help="Login user.")
@click.option("--label", "-l", multiple=True, help="key=value (repeatable).")
@click.option("--platform", default="")
@click.option("--credential", default="", help="agent, key:PATH, password-env:NAME or password-file:PATH.")
@click.option("--proxy-jump", default="", help="Jump hosts: inventory names or [user@]host[:port].")
@click.option("--reason", default="", help="Why (audited).")
@format_option
@pass_ops
def add_cmd(ops: Any, name: str, address: str, port: int, user: str, label: tuple[str, ...], platform: str,
            credential: str, proxy_jump: str, reason: str, fmt: str) -> None:
    """Add a server to the inventory (needs role operator; audited).

    \b
    Example:
        opsnb fleet add web-1 10.0.0.11 --user deploy -l role=web -l env=prod
    """
    srv = ops.fleet.create(name=name, address=address, port=port, user=user, labels=_labels(label),
                           platform=platform, credential=credential, proxy_jump=proxy_jump, reason=reason)
    emit(srv.as_dict(), fmt, columns=["name", "address", "port", "user", "labels"] if fmt == "table" else None)


@cli.command("remove")
@click.argument("name")
@click.option("--reason", default="", help="Why (audited).")
@pass_ops
def remove_cmd(ops: Any, name: str, reason: str) -> None:
    """Remove a server from the inventory (needs role operator; audited).

    \b
    Example:
        opsnb fleet remove web-9 --reason decommissioned
    """
    ops.fleet.delete(name, reason=reason)
    click.echo(f"removed {name}")


@cli.command("import")
@click.argument("kind", type=click.Choice(["ansible", "ssh-config"]))
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--lenient", is_flag=True, help="Import the good hosts even if some lines are bad.")
@click.option("--reason", default="", help="Why (audited).")
@format_option
@pass_ops
def import_cmd(ops: Any, kind: str, path: str, lenient: bool, reason: str, fmt: str) -> None:
    """Import servers from an Ansible inventory (INI or YAML) or an OpenSSH client config.

    Servers are matched by name: new ones are created, existing ones updated.
    Password variables are never imported.

    \b
    Example:
        opsnb fleet import ansible inventory/prod.yml
        opsnb fleet import ssh-config ~/.ssh/config
    """
    emit(ops.fleet.import_file(kind, path, strict=not lenient, reason=reason), fmt)


@cli.command("export")
@click.argument("selector", required=False)
@click.option("--output", "-o", type=click.Path(dir_okay=False), help="Write to this file instead of stdout.")
@pass_ops
def export_cmd(ops: Any, selector: str | None, output: str | None) -> None:
    """Export the inventory (or a selection) as an Ansible YAML inventory.

    \b
    Example:
        opsnb fleet export 'env=prod' -o prod.yml
    """
    text = ops.fleet.export_yaml(selector, path=output)
    if output is None:
        click.echo(text, nl=False)


@cli.command("run", context_settings={"ignore_unknown_options": True})
@click.argument("selector")
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
@click.option("--shell", "shell", default=None, help="Run this shell command line instead of an argument list.")
@click.option("--parallel", "-p", type=click.IntRange(1, 1024), default=16, show_default=True)
@click.option("--timeout", "-t", type=DURATION, default="30s", show_default=True,
              help="Time per host, e.g. 10s; the remote process is killed past it.")
@click.option("--sudo", is_flag=True, help="Run through sudo -n.")
@click.option("--read-only", is_flag=True, help="The command changes nothing: no operator role, not audited.")
@click.option("--reason", default="", help="Why (audited).")
@click.option("--no-progress", is_flag=True, help="No progress bar on stderr.")
@format_option
@pass_ops
def run_cmd(ops: Any, selector: str, command: tuple[str, ...], shell: str | None, parallel: int, timeout: timedelta,
            sudo: bool, read_only: bool, reason: str, no_progress: bool, fmt: str) -> None:
    """Run a command on every server matching SELECTOR; one row per host.

    Put the command after `--`: each argument is quoted for the remote shell.
    Exit status 2 when any host failed (error or non-zero exit).

    \b
    Example:
        opsnb fleet run 'role=web' --parallel 16 --timeout 10s -- systemctl is-active nginx
        opsnb fleet run 'env=prod' --read-only --format json -- uptime
    """
    from opsnb.servers.service import failed_mask

    if bool(command) == bool(shell):
        raise click.UsageError("give a command after '--', or --shell 'COMMAND LINE' (not both)")
    df = ops.fleet.run(selector, list(command) if command else None, shell=shell, parallel=parallel,
                       timeout=timeout.total_seconds(), sudo=sudo, mutating=not read_only, reason=reason,
                       progress=False if no_progress else None)
    if fmt == "json":
        emit(df, fmt)
    else:
        emit(df.assign(stdout=df["stdout"].str.rstrip("\n"), stderr=df["stderr"].str.rstrip("\n"),
                       duration=df["duration"].round(3)), fmt)
    if failed_mask(df).any():
        sys.exit(2)


@cli.command("facts")
@click.argument("selector", required=False)
@click.option("--cached", is_flag=True, help="Show the latest stored snapshot instead of gathering now.")
@click.option("--parallel", "-p", type=click.IntRange(1, 1024), default=16, show_default=True)
@format_option
@pass_ops
def facts_cmd(ops: Any, selector: str | None, cached: bool, parallel: int, fmt: str) -> None:
    """Gather (and store) facts: os, kernel, uptime, load, memory, disks, failed units.

    \b
    Example:
        opsnb fleet facts 'role=db'
        opsnb fleet facts --cached --format json
    """
    df = ops.fleet.facts(selector, refresh=not cached, parallel=parallel, progress=None)
    if fmt == "json":
        click.echo(json.dumps(json.loads(df.to_json(orient="records", date_format="iso")), ensure_ascii=False))
        return
    emit(df.assign(failed_units=[",".join(u) for u in df["failed_units"]]), fmt,
         columns=["host", "os", "kernel", "uptime_s", "load1", "mem_used_pct", "disk_max_used_pct",
                  "failed_units", "error"])
