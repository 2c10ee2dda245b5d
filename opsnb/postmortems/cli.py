"""``opsnb postmortem``: draft a postmortem notebook from an incident, find it, diff its versions."""

from __future__ import annotations

from typing import Any

import click

from opsnb.cliutil import INSTANT, INSTANT_HELP, emit, emit_show, format_option, pass_ops


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


LIST_COLUMNS = ["incident_id", "status", "template", "version", "published_version", "owner", "open_action_items",
                "authors", "updated_at", "path"]


def _summary(pm: Any) -> dict[str, Any]:
    return {"incident_id": pm.incident_id, "status": pm.status, "template": pm.template,
            "version": pm.current_version, "published_version": pm.published_version, "owner": pm.owner,
            "open_action_items": pm.open_action_items, "authors": ",".join(pm.authors),
            "updated_at": pm.updated_at, "path": pm.path}


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
    emit([_summary(p) for p in ops.postmortems.list(status=status)], fmt, columns=LIST_COLUMNS,
         empty="(no postmortem yet: opsnb postmortem draft INC-1 makes one)")


@cli.command("show")
@click.argument("incident_id")
@format_option
@pass_ops
def show_cmd(ops: Any, incident_id: str, fmt: str) -> None:
    """Show one postmortem: its state and review, its versions and its action items.

    \b
    Example:
        opsnb postmortem show INC-1
    """
    pm = ops.postmortems.get(incident_id)
    record = {**_summary(pm), "reviewers": ",".join(pm.reviewers), "criteria_left": ",".join(pm.checklist_missing),
              "published_at": pm.published_at, "published_by": pm.published_by}
    versions = [{"version": v.version, "sha256": v.sha256, "created_by": v.created_by, "created_at": v.created_at,
                 "path": v.path} for v in pm.versions]
    items = ops.postmortems.action_items(pm.incident_id)[["id", "type", "title", "owner", "due", "status", "overdue"]]
    emit_show(record, fmt, versions=versions, action_items=items)


@cli.command("export")
@click.argument("incident_id")
@click.option("--format", "format_", type=click.Choice(("html", "md")), default="html", show_default=True,
              help="html: charts interactive; md: charts as PNG images beside the file.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="File to write (default beside the working copy).")
@click.option("--version", type=int, help="Export this version instead of the working copy.")
@click.option("--published", is_flag=True, help="Export the published version.")
@click.option("--show-code/--hide-code", default=False, show_default=True, help="Keep the code cells.")
@pass_ops
def export_cmd(ops: Any, incident_id: str, format_: str, output: str | None, version: int | None, published: bool,
               show_code: bool) -> None:
    """Export INCIDENT_ID's postmortem to HTML or Markdown.

    \b
    Example:
        opsnb postmortem export INC-1 --format md -o INC-1.md
    """
    path = ops.postmortems.export(incident_id, format=format_, output=output, version=version, published=published,
                                  hide_code=not show_code)
    click.echo(str(path))


@cli.command("review")
@click.argument("incident_id")
@click.option("--owner", help="Who owns the postmortem.")
@click.option("--reviewer", "reviewers", multiple=True, help="A reviewer (repeat; replaces the list).")
@click.option("--check", "check", multiple=True, help="Tick a review criterion (repeat): data_collected, "
                                                      "impact_complete, root_cause_deep, actions_owned.")
@click.option("--uncheck", "uncheck", multiple=True, help="Untick a review criterion (repeat).")
@click.option("--status", type=click.Choice(("draft", "in_review", "published")), help="Move to this state.")
@click.option("--reason", default="", help="Why (audited).")
@pass_ops
def review_cmd(ops: Any, incident_id: str, owner: str | None, reviewers: tuple[str, ...], check: tuple[str, ...],
               uncheck: tuple[str, ...], status: str | None, reason: str) -> None:
    """Set owner and reviewers, tick review criteria, move draft -> in_review -> published.

    \b
    Example:
        opsnb postmortem review INC-1 --owner alice --reviewer bob --status in_review
    """
    pm = ops.postmortems.update(incident_id, owner=owner, reviewers=list(reviewers) if reviewers else None,
                                check=check, uncheck=uncheck, status=status, reason=reason)
    left = ", ".join(pm.checklist_missing) or "none"
    click.echo(f"{pm.incident_id}: {pm.status}, owner {pm.owner or '-'}, reviewers {', '.join(pm.reviewers) or '-'}; "
               f"criteria left: {left}" + (f"; published v{pm.published_version}" if pm.published_version else ""))


@cli.group("action")
def action_cli() -> None:
    """Action items of postmortems: add, list (across incidents), update, the overdue digest.

    \b
    Example:
        opsnb postmortem action list --overdue
    """


@action_cli.command("add")
@click.argument("incident_id")
@click.option("--title", required=True, help="What is to be done.")
@click.option("--type", "type_", type=click.Choice(("prevent", "mitigate", "process")), default="prevent",
              show_default=True, help="Kind of item.")
@click.option("--owner", help="Who does it.")
@click.option("--due", type=INSTANT, help=f"When it is due ({INSTANT_HELP}).")
@click.option("--link", help="Ticket URL.")
@pass_ops
def action_add_cmd(ops: Any, incident_id: str, title: str, type_: str, owner: str | None, due: Any,
                   link: str | None) -> None:
    """Add an action item to INCIDENT_ID's postmortem.

    \b
    Example:
        opsnb postmortem action add INC-1 --title "Canary for checkout" --owner bob --due now+14d
    """
    item = ops.postmortems.create_action_item(incident_id, title=title, type=type_, owner=owner, due=due, link=link)
    click.echo(f"action item {item.id} added to {item.incident_id}")


@action_cli.command("list")
@click.argument("incident_id", required=False)
@click.option("--owner", help="Only this owner's.")
@click.option("--status", type=click.Choice(("open", "done", "wontfix")), help="Only this status.")
@click.option("--overdue", is_flag=True, help="Only open items past due.")
@format_option
@pass_ops
def action_list_cmd(ops: Any, incident_id: str | None, owner: str | None, status: str | None, overdue: bool,
                    fmt: str) -> None:
    """List action items across incidents (or of INCIDENT_ID).

    \b
    Example:
        opsnb postmortem action list --overdue --format json
    """
    emit(ops.postmortems.action_items(incident_id, owner=owner, status=status, overdue=overdue), fmt)


@action_cli.command("update")
@click.argument("item_id", type=int)
@click.option("--status", type=click.Choice(("open", "done", "wontfix")), help="New status.")
@click.option("--owner", help="New owner.")
@click.option("--due", type=INSTANT, help=f"New due time ({INSTANT_HELP}).")
@click.option("--link", help="Ticket URL.")
@click.option("--reason", default="", help="Why (audited).")
@pass_ops
def action_update_cmd(ops: Any, item_id: int, status: str | None, owner: str | None, due: Any, link: str | None,
                      reason: str) -> None:
    """Change an action item.

    \b
    Example:
        opsnb postmortem action update 3 --status done
    """
    item = ops.postmortems.update_action_item(item_id, status=status, owner=owner, due=due, link=link, reason=reason)
    click.echo(f"action item {item.id}: {item.status}")


@action_cli.command("digest")
@format_option
@pass_ops
def action_digest_cmd(ops: Any, fmt: str) -> None:
    """Send each owner of overdue items one digest for today (the scheduler does it daily).

    \b
    Example:
        opsnb postmortem action digest
    """
    emit(ops.postmortems.notify_overdue(), fmt)
