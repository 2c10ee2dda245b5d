"""The ``opsnb`` command: parse, call one library function, print.

Domain commands live in ``opsnb/<domain>/cli.py`` and are imported only when
invoked, so ``opsnb --help`` stays fast.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click

from opsnb import __version__
from opsnb.cliutil import emit, format_option, pass_ops, workspace_option
from opsnb.domains import commands

# command name -> "module:attribute", from the domain table (opsnb/domains.py)
COMMANDS: dict[str, str] = commands()


class LazyGroup(click.Group):
    """A group whose subcommands are imported when used."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        cmd = super().get_command(ctx, cmd_name)
        if cmd is not None or cmd_name not in COMMANDS:
            return cmd
        module, attr = COMMANDS[cmd_name].split(":")
        command: click.Command = getattr(importlib.import_module(module), attr)
        return command

    def resolve_command(self, ctx: click.Context, args: list[str]) -> tuple[str | None, click.Command | None,
                                                                          list[str]]:
        name = args[0] if args else ""
        if args and self.get_command(ctx, name) is None and not name.startswith("-"):
            import difflib

            close = difflib.get_close_matches(name, self.list_commands(ctx), n=3, cutoff=0.6)
            hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
            raise click.UsageError(f"No such command {name!r}.{hint} See 'opsnb --help'.", ctx)
        return super().resolve_command(ctx, args)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, "--version", "-V", prog_name="opsnb")
@workspace_option
def cli() -> None:
    """opsnb: the SRE workbench. Every command takes --workspace DIR.

    \b
    Example:
        opsnb demo --days 14 --seed 7 && opsnb up
    """


@cli.command("config")
@format_option
@pass_ops
def config_cmd(ops: Any, fmt: str) -> None:
    """Show every setting, its value (secrets masked) and where it came from.

    \b
    Example:
        opsnb config --format json
    """
    emit(ops.settings.table(), fmt, columns=["name", "value", "source", "help"])


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI, turning opsnb errors into one clear line and exit status 1."""
    from opsnb.errors import OpsnbError

    try:
        cli.main(args=argv, prog_name="opsnb", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except OpsnbError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
