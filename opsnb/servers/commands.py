"""Commands, results, endpoints and credential references: the SSH vocabulary without paramiko.

Kept apart from :mod:`opsnb.servers.ssh` so that validating a server or a command
does not import paramiko.
"""

from __future__ import annotations

import html
import os
import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from opsnb.errors import CommandError, ValidationError

DEFAULT_MAX_OUTPUT = 16 * 1024 * 1024  # bytes kept per stream; the rest is read and counted


# --------------------------------------------------------------------------- commands

def quote_argv(argv: Sequence[str]) -> str:
    """Quote an argument list for a remote POSIX shell, so no argument can start a second command.

    Raises:
        ValidationError: Not a list of strings, empty, or an argument contains a NUL byte.
    """
    if isinstance(argv, str | bytes):
        raise ValidationError(
            "a command must be a list of arguments, e.g. ['df', '-h', '/']; "
            "to run a shell string pass it explicitly as shell='...'", field="command")
    args = list(argv)
    if not args:
        raise ValidationError("the command is empty", field="command")
    problems = []
    out = []
    for i, a in enumerate(args):
        if isinstance(a, os.PathLike):
            a = os.fspath(a)
        if isinstance(a, bool) or not isinstance(a, str | int | float):
            problems.append(f"argument {i} is {type(a).__name__}, not a string")
            continue
        a = str(a)
        if "\x00" in a:
            problems.append(f"argument {i} contains a NUL byte")
            continue
        out.append(shlex.quote(a))
    if problems:
        raise ValidationError("bad command:", problems, field="command")
    return " ".join(out)


def build_command(argv: Sequence[str] | None = None, *, shell: str | None = None, sudo: bool = False) -> str:
    """The command string sent to the server for an argument list or an explicit shell string.

    Args:
        argv: Arguments, quoted one by one.
        shell: A shell command line, run as written (only when given explicitly).
        sudo: Run through ``sudo -n`` (never prompts; fails if a password is needed).
    """
    if (argv is None) == (shell is None):
        raise ValidationError("give exactly one of a command (argument list) or shell='...'", field="command")
    if shell is not None:
        if not isinstance(shell, str) or not shell.strip():
            raise ValidationError("shell= must be a non-empty string", field="shell")
        if "\x00" in shell:
            raise ValidationError("shell= contains a NUL byte", field="shell")
        return f"sudo -n -- sh -c {shlex.quote(shell)}" if sudo else shell
    cmd = quote_argv(argv)  # type: ignore[arg-type]
    return f"sudo -n -- {cmd}" if sudo else cmd


@dataclass
class CommandResult:
    """What one remote command did.

    Attributes:
        host: Server name.
        command: The command string that was sent (quoted).
        exit_status: Remote exit status (None if the command did not finish).
        stdout, stderr: Decoded output (invalid UTF-8 shown as ``\\xNN``).
        duration: Seconds from sending the command to its exit.
        truncated: Output past ``max_output`` bytes was read and dropped.
    """

    host: str
    command: str
    exit_status: int | None
    stdout: str
    stderr: str
    duration: float
    stdout_bytes: bytes = field(default=b"", repr=False)
    stderr_bytes: bytes = field(default=b"", repr=False)
    truncated: bool = False

    @property
    def ok(self) -> bool:
        return self.exit_status == 0

    def check(self) -> CommandResult:
        """Return self if the exit status is 0, else raise :class:`CommandError`."""
        if not self.ok:
            raise CommandError(
                f"{self.command!r} on {self.host} exited with {self.exit_status}: {self.stderr.strip()[-500:]}",
                host=self.host, command=self.command, exit_status=self.exit_status, stderr=self.stderr[-4000:])
        return self

    def _repr_html_(self) -> str:
        colour = "#1e8449" if self.ok else "#c0392b"
        return (f"<div><b>{html.escape(self.host)}</b> <code>{html.escape(self.command)}</code> "
                f"<span style='color:{colour}'>exit {self.exit_status}</span> in {self.duration:.3f}s"
                f"<pre>{html.escape(self.stdout[:20000])}</pre>"
                + (f"<pre style='color:#c0392b'>{html.escape(self.stderr[:20000])}</pre>" if self.stderr else "")
                + "</div>")


def decode(data: bytes) -> str:
    """Decode remote output: UTF-8, with invalid bytes kept visible as ``\\xNN``."""
    return data.decode("utf-8", "backslashreplace")


# --------------------------------------------------------------------------- endpoints and options

@dataclass(frozen=True)
class Endpoint:
    """Where and as whom to connect.

    Attributes:
        name: The server's inventory name (for messages and audit).
        address, port, user: TCP endpoint and login user.
        credential: Credential reference: ``""`` (settings default: key file, else
            agent and default keys), ``agent``, ``key:PATH``, ``password-env:NAME``
            or ``password-file:PATH``. Never a secret itself.
        jumps: Jump hosts, outermost first (ProxyJump).
    """

    name: str
    address: str
    port: int = 22
    user: str = ""
    credential: str = ""
    jumps: tuple[Endpoint, ...] = ()

    @property
    def key(self) -> tuple[Any, ...]:
        return (self.address, self.port, self.user, self.credential, tuple(j.key for j in self.jumps))

    @property
    def known_hosts_name(self) -> str:
        return self.address if self.port == 22 else f"[{self.address}]:{self.port}"

    def __str__(self) -> str:
        return f"{self.user}@{self.address}:{self.port}" if self.user else f"{self.address}:{self.port}"


CREDENTIAL_KINDS = ("agent", "key:", "password-env:", "password-file:")


def check_credential(ref: str | None) -> str:
    """Validate a credential reference (it must name where a secret is, never be one)."""
    ref = (ref or "").strip()
    if not ref:
        return ""
    if ref == "agent" or any(ref.startswith(k) and len(ref) > len(k) for k in CREDENTIAL_KINDS[1:]):
        if "\n" in ref or "BEGIN" in ref:
            raise ValidationError("a credential reference must not contain key material", field="credential")
        return ref
    raise ValidationError(
        "credential must be a reference: 'agent', 'key:PATH', 'password-env:NAME' or 'password-file:PATH' "
        "(secrets themselves are never stored)", field="credential")


_JUMP_RE = re.compile(
    r"^(?:(?P<user>[A-Za-z0-9_][A-Za-z0-9_.\-]*)@)?(?P<host>\[[0-9A-Fa-f:.%a-z]+\]|[A-Za-z0-9_][A-Za-z0-9_.\-]*)"
    r"(?::(?P<port>\d+))?$")


def parse_jump(spec: str) -> list[tuple[str | None, str, int | None]]:
    """Split a ProxyJump value (``[user@]host[:port][,...]``) into (user, host, port) hops."""
    hops = []
    for part in spec.split(","):
        part = part.strip()
        m = _JUMP_RE.match(part.removeprefix("ssh://"))
        if not part or m is None:
            raise ValidationError(f"bad ProxyJump hop {part!r} in {spec!r}; expected [user@]host[:port]",
                                  field="proxy_jump")
        port = int(m["port"]) if m["port"] else None
        if port is not None and not 0 < port < 65536:
            raise ValidationError(f"bad port in ProxyJump hop {part!r}", field="proxy_jump")
        hops.append((m["user"], m["host"].strip("[]"), port))
    return hops
