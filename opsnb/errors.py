"""Every error opsnb raises, under one root.

Errors carry typed fields (host, command, exit status, runbook, cell, ...) so code can
act on them and a notebook can show them. Each class declares its own keyword-only
fields (in brackets) and inherits its parent's; ``.fields`` is the dict of all of them,
a field nobody set included as None. The tree::

    OpsnbError                  [] root: message; .fields holds every declared field, .details the set ones
    ├── ConfigError             [setting, source] bad opsnb.toml, unknown setting, bad value
    ├── WorkspaceError          [path] workspace missing, not a directory, unwritable
    ├── StoreError              [url] state database unreachable or unusable
    │   └── MigrationError      [revision] schema upgrade failed
    ├── LakeError               [table, path] event lake read/write failed
    ├── NotFound                [kind, key] no such incident, runbook, server, ...
    ├── Conflict                [kind, key, holder] already exists, lock held, bad transition
    ├── ValidationError         [problems, field, value, source] bad input; lists every problem found
    │   └── ParseError          [line] a file or payload could not be parsed
    ├── PermissionDenied        [user, role, required, action] the user lacks the role an action needs
    ├── AuditError              [seq] the audit chain is broken (tampering)
    ├── RemoteError             [host, command, path, not_started] anything that went wrong reaching a server
    │   ├── ConnectError        [port, jump, retryable] refused, unreachable, handshake failed
    │   ├── HostKeyError        [fingerprint, known_hosts] unknown or mismatched host key
    │   ├── AuthError           [user, variable] no accepted credential (or an unreadable key file)
    │   └── CommandError        [exit_status, stdout, stderr] a remote command failed
    │       └── CommandTimeout  [timeout] it ran past its timeout and was killed
    ├── RunbookError            [runbook, run_id] a runbook could not run or did not finish
    │   ├── RunFailed           [cell, ename, evalue] a cell raised, or the kernel died
    │   ├── RunTimeout          [timeout] the run ran past its timeout
    │   └── RunCancelled        [] the run was cancelled
    ├── NotifyError             [channel, target, status, permanent] a notification was not delivered
    ├── PostmortemError         [incident_id, template, version, problems] a postmortem not drafted or published
    └── BatchError              [errors, frame] per-item errors a batch collected

Batch operations (fleet runs, ingest, alert batches) do not stop at the first
failing item: they collect per-item errors and return them with the results,
raising ``BatchError`` only when the caller asks for strictness.
"""

# Each class is a @dataclass(kw_only=True) so mypy sees the real __init__ signature: an unknown or
# mistyped keyword at a raise site and a typo in `err.exit_stauts` are both type errors. A generic
# __init__ checking names from __init_subclass__ would catch them only at run time, and only at raises.

from __future__ import annotations

import dataclasses
import html
from typing import Any


def _rebuild(cls: type[OpsnbError], state: dict[str, Any]) -> OpsnbError:
    # Restore without __init__: ValidationError's message is already formatted with its problems.
    err = cls.__new__(cls)
    err.__dict__.update(state)
    BaseException.__init__(err, state["message"])
    return err


@dataclasses.dataclass(eq=False, repr=False)
class OpsnbError(Exception):
    """Root of every opsnb error.

    Args:
        message: What went wrong, naming what and where.

    Subclasses declare keyword-only fields (host, path, setting, ...); ``.fields`` lists them.
    """

    message: str

    def __post_init__(self) -> None:
        super().__init__(self.message)

    @property
    def fields(self) -> dict[str, Any]:
        """Every declared field (not ``message``) by name; one nobody set is None."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "message"}

    @property
    def details(self) -> dict[str, Any]:
        """The fields that say something: those not left at their default (None, False, no problems)."""
        out = {}
        for f in dataclasses.fields(self):
            if f.name == "message":
                continue
            value = getattr(self, f.name)
            default = (f.default_factory() if f.default_factory is not dataclasses.MISSING
                       else f.default)
            if default is dataclasses.MISSING or type(value) is not type(default) or value != default:
                out[f.name] = value
        return out

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        details = ", ".join(f"{k}={v!r}" for k, v in self.details.items())
        return f"{type(self).__name__}({self.message!r}{', ' if details else ''}{details})"

    def __reduce__(self) -> tuple[Any, ...]:
        # Errors cross process boundaries (fleet runs, runbook workers): keep every field.
        return (_rebuild, (type(self), dict(self.__dict__)))

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><th style='text-align:left'>{html.escape(str(k))}</th>"
            f"<td style='text-align:left'>{html.escape(str(v))}</td></tr>"
            for k, v in self.details.items()
        )
        return (
            f"<div style='border-left:4px solid #c0392b;padding:4px 8px'>"
            f"<b>{html.escape(type(self).__name__)}</b>: {html.escape(self.message)}"
            f"{'<table>' + rows + '</table>' if rows else ''}</div>"
        )


@dataclasses.dataclass(kw_only=True, eq=False, repr=False)
class ConfigError(OpsnbError):
    """A setting is unknown, malformed or has a bad value."""

    setting: str | None = None
    source: str | None = None


@dataclasses.dataclass(kw_only=True, eq=False, repr=False)
class WorkspaceError(OpsnbError):
    """The workspace path cannot be used."""

    path: str | None = None


@dataclasses.dataclass(kw_only=True, eq=False, repr=False)
class StoreError(OpsnbError):
    """The state database is unreachable or unusable (``url`` has its password masked)."""

    url: str | None = None


@dataclasses.dataclass(kw_only=True, eq=False, repr=False)
class MigrationError(StoreError):
    """Upgrading the state schema failed."""

    revision: str | None = None


@dataclasses.dataclass(kw_only=True, eq=False, repr=False)
class LakeError(OpsnbError):
    """Reading or writing the event lake failed."""

    table: str | None = None
    path: str | None = None


@dataclasses.dataclass(kw_only=True, eq=False, repr=False)
class NotFound(OpsnbError, LookupError):
    """No such object: ``kind`` (incident, runbook, ...) and its ``key``."""

    kind: str | None = None
    key: str | int | None = None


@dataclasses.dataclass(kw_only=True, eq=False, repr=False)
class Conflict(OpsnbError):
    """The object exists already, is locked (by ``holder``), or cannot make that transition."""

    kind: str | None = None
    key: str | int | None = None
    holder: str | None = None


@dataclasses.dataclass(kw_only=True, eq=False, repr=False)
class ValidationError(OpsnbError, ValueError):
    """Input is invalid; ``problems`` lists every problem found, not just the first.

    A message ending in ``:`` gets the problems appended, one per line. ``field`` names the
    bad input, ``value`` is what it was, ``source`` where it came from (file, payload, runbook).
    """

    problems: list[str] = dataclasses.field(default_factory=list, kw_only=False)
    field: str | None = None
    value: object = None
    source: str | None = None

    def __post_init__(self) -> None:
        self.problems = list(self.problems or ())
        if self.problems and self.message.rstrip().endswith(":"):
            self.message = self.message.rstrip() + "\n" + "\n".join(f"  - {p}" for p in self.problems)
        super().__post_init__()


@dataclasses.dataclass(kw_only=True, eq=False, repr=False)
class ParseError(ValidationError):
    """A file or payload (``source``) could not be parsed, at ``line`` when known."""

    line: int | None = None


@dataclasses.dataclass(kw_only=True, eq=False, repr=False)
class PermissionDenied(OpsnbError, PermissionError):
    """The acting user lacks the role an action needs."""

    user: str | None = None
    role: str | None = None
    required: str | None = None
    action: str | None = None


@dataclasses.dataclass(kw_only=True, eq=False, repr=False)
class AuditError(OpsnbError):
    """The audit chain does not verify at record ``seq``."""

    seq: int | None = None


@dataclasses.dataclass(kw_only=True, eq=False, repr=False)
class RemoteError(OpsnbError):
    """Reaching or using a server failed.

    ``command`` or ``path`` says what was being done; ``not_started`` means nothing ran, so a
    retry on a fresh connection is safe.
    """

    host: str | None = None
    command: str | None = None
    path: str | None = None
    not_started: bool = False


@dataclasses.dataclass(kw_only=True, eq=False, repr=False)
class ConnectError(RemoteError):
    """The connection was refused, timed out, or the handshake failed (``retryable``: worth another try)."""

    port: int | None = None
    jump: str | None = None
    retryable: bool = False


@dataclasses.dataclass(kw_only=True, eq=False, repr=False)
class HostKeyError(RemoteError):
    """The host key is unknown or does not match the ``known_hosts`` file."""

    fingerprint: str | None = None
    known_hosts: str | None = None


@dataclasses.dataclass(kw_only=True, eq=False, repr=False)
class AuthError(RemoteError):
    """No credential was accepted, or one (key file ``path``, environment ``variable``) cannot be read."""

    user: str | None = None
    variable: str | None = None


@dataclasses.dataclass(kw_only=True, eq=False, repr=False)
class CommandError(RemoteError):
    """A remote command failed."""

    exit_status: int | None = None
    stdout: str | None = None
    stderr: str | None = None


@dataclasses.dataclass(kw_only=True, eq=False, repr=False)
class CommandTimeout(CommandError):
    """A remote command ran past its ``timeout`` (seconds) and was killed."""

    timeout: float | None = None


@dataclasses.dataclass(kw_only=True, eq=False, repr=False)
class RunbookError(OpsnbError):
    """A runbook could not run or did not finish."""

    runbook: str | None = None
    run_id: str | None = None


@dataclasses.dataclass(kw_only=True, eq=False, repr=False)
class RunFailed(RunbookError):
    """A runbook cell raised (``ename``: ``evalue``), or its kernel died."""

    cell: int | None = None
    ename: str | None = None
    evalue: str | None = None


@dataclasses.dataclass(kw_only=True, eq=False, repr=False)
class RunTimeout(RunbookError):
    """A runbook ran past its ``timeout`` (seconds) and was stopped."""

    timeout: float | None = None


@dataclasses.dataclass(kw_only=True, eq=False, repr=False)
class RunCancelled(RunbookError):
    """A runbook run was cancelled."""


@dataclasses.dataclass(kw_only=True, eq=False, repr=False)
class NotifyError(OpsnbError):
    """A notification could not be delivered.

    ``status`` is the HTTP status a webhook answered; ``permanent`` means retrying will not help.
    """

    channel: str | None = None
    target: str | None = None
    status: int | None = None
    permanent: bool = False


@dataclasses.dataclass(kw_only=True, eq=False, repr=False)
class PostmortemError(OpsnbError):
    """A postmortem could not be drafted (its ``template`` is incomplete or failed to execute) or
    published (the incident is open, the review checklist is not complete); ``problems`` lists why.

    The previous ``version`` stays current and no person's text is lost.
    """

    incident_id: str | None = None
    template: str | None = None
    version: int | None = None
    problems: list[str] = dataclasses.field(default_factory=list)

    def __post_init__(self) -> None:
        self.problems = list(self.problems or ())
        if self.problems and self.message.rstrip().endswith(":"):
            self.message = self.message.rstrip() + "\n" + "\n".join(f"  - {p}" for p in self.problems)
        super().__post_init__()


@dataclasses.dataclass(kw_only=True, eq=False, repr=False)
class BatchError(OpsnbError):
    """Some items of a batch failed; ``errors`` holds each failed item's error, ``frame`` all results."""

    errors: list[Any] = dataclasses.field(kw_only=False)
    frame: Any = None

    def __post_init__(self) -> None:
        self.errors = list(self.errors)
        super().__post_init__()
