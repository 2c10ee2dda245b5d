"""``opsnb postmortem``: draft a postmortem notebook from an incident, find it, diff its versions."""

from __future__ import annotations

from typing import Any

import click

from opsnb.cliutil import emit, format_option, pass_ops


@click.group("postmortem")
def cli() -> None:
    """Postmortems: notebooks executed from an incident's data, re-draftable without losing people's text.

    \b
    Example:
        opsnb postmortem draft INC-1
    """


@cli.command("draft")
@click.argument("incident_id")
@click.option("--template", help="Template name (in <workspace>/templates/ or notebooks/templates/); "
                                 "default by severity.")
@pass_ops
def draft_cmd(ops: Any, incident_id: str, template: str | None) -> None:
    """Execute the template for INCIDENT_ID; write the working copy and a new version.

    \b
    Example:
        opsnb postmortem draft INC-1
    """
    pm = ops.postmortems.draft(incident_id, template=template)
    click.echo(f"{incident_id}: v{pm.current_version} drafted from {pm.template} -> {pm.path}")


@cli.command("path")
@click.argument("incident_id")
@pass_ops
def path_cmd(ops: Any, incident_id: str) -> None:
    """Print where the working copy of INCIDENT_ID's postmortem is.

    \b
    Example:
        jupyter lab "$(opsnb postmortem path INC-1)"
    """
    click.echo(str(ops.postmortems.path(incident_id)))


@cli.command("diff")
@click.argument("incident_id")
@click.option("--from", "from_version", type=int, help="Version to compare from (default the latest).")
@click.option("--to", "to_version", type=int, help="Version to compare to (default the working copy).")
@pass_ops
def diff_cmd(ops: Any, incident_id: str, from_version: int | None, to_version: int | None) -> None:
    """Show what changed between two versions (default: latest version against the working copy).

    \b
    Example:
        opsnb postmortem diff INC-1 --from 1 --to 2
    """
    click.echo(ops.postmortems.diff(incident_id, from_version=from_version, to_version=to_version))


def _summary(pm: Any) -> dict[str, Any]:
    return {"incident_id": pm.incident_id, "status": pm.status, "template": pm.template,
            "version": pm.current_version, "authors": ",".join(pm.authors), "updated_at": pm.updated_at,
            "path": pm.path}


@cli.command("list")
@click.option("--status", type=click.Choice(("draft", "in_review", "published")), help="Only this state.")
@format_option
@pass_ops
def list_cmd(ops: Any, status: str | None, fmt: str) -> None:
    """List postmortems, newest first.

    \b
    Example:
        opsnb postmortem list --status draft
    """
    import pandas as pd

    emit(pd.DataFrame([_summary(p) for p in ops.postmortems.list(status=status)],
                      columns=["incident_id", "status", "template", "version", "authors", "updated_at", "path"]),
         fmt)


@cli.command("show")
@click.argument("incident_id")
@format_option
@pass_ops
def show_cmd(ops: Any, incident_id: str, fmt: str) -> None:
    """Show one postmortem and its versions.

    \b
    Example:
        opsnb postmortem show INC-1
    """
    import pandas as pd

    pm = ops.postmortems.get(incident_id)
    emit(pd.DataFrame([{"version": v.version, "sha256": v.sha256, "created_by": v.created_by,
                        "created_at": v.created_at, "path": v.path} for v in pm.versions]), fmt)
