"""Every error opsnb raises, under one root.

Errors carry fields (host, command, exit status, runbook, cell, ...) so code can
act on them and a notebook can show them. The tree::

    OpsnbError                      root; .fields holds the structured details
    ├── ConfigError                 setting, source: bad opsnb.toml, unknown setting, bad value
    ├── WorkspaceError              path: workspace missing, not a directory, unwritable
    ├── StoreError                  url: state database unreachable or unusable
    │   └── MigrationError          revision: schema upgrade failed
    ├── LakeError                   table, path: event lake read/write failed
    ├── NotFound                    kind, key: no such incident, runbook, server, ...
    ├── Conflict                    kind, key: already exists, lock held, bad transition
    ├── ValidationError             problems: bad input; lists every problem found
    │   └── ParseError              source, line: a file or payload could not be parsed
    ├── PermissionDenied            user, role, required, action
    ├── AuditError                  seq: the audit chain is broken (tampering)
    ├── RemoteError                 host: anything that went wrong reaching a server
    │   ├── ConnectError            port: refused, unreachable, handshake failed
    │   ├── HostKeyError            unknown or mismatched host key
    │   ├── AuthError               user: no accepted credential
    │   └── CommandError            command, exit_status, stderr
    │       └── CommandTimeout      timeout
    ├── RunbookError                runbook, run_id
    │   ├── RunFailed               cell, ename, evalue
    │   ├── RunTimeout              timeout
    │   └── RunCancelled
    ├── NotifyError                 channel, target
    └── BatchError                  errors: per-item errors a batch collected

Batch operations (fleet runs, ingest, alert batches) do not stop at the first
failing item: they collect per-item errors and return them with the results,
raising ``BatchError`` only when the caller asks for strictness.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any


class OpsnbError(Exception):
    """Root of every opsnb error.

    Args:
        message: What went wrong, naming what and where.
        **fields: Structured details (host, path, setting, ...) kept on ``.fields``
            and readable as attributes.
    """

    def __init__(self, message: str, **fields: Any) -> None:
        super().__init__(message)
        self.message = message
        self.fields: dict[str, Any] = {k: v for k, v in fields.items() if v is not None}

    def __getattr__(self, name: str) -> Any:
        fields = self.__dict__.get("fields", {})
        if name in fields:
            return fields[name]
        raise AttributeError(name)

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        details = ", ".join(f"{k}={v!r}" for k, v in self.fields.items())
        return f"{type(self).__name__}({self.message!r}{', ' if details else ''}{details})"

    def __reduce__(self) -> tuple[Any, ...]:
        # Errors cross process boundaries (fleet runs, runbook workers): keep fields.
        return (_rebuild, (type(self), self.message, self.fields))

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><th style='text-align:left'>{html.escape(str(k))}</th>"
            f"<td style='text-align:left'>{html.escape(str(v))}</td></tr>"
            for k, v in self.fields.items()
        )
        return (
            f"<div style='border-left:4px solid #c0392b;padding:4px 8px'>"
            f"<b>{html.escape(type(self).__name__)}</b>: {html.escape(self.message)}"
            f"{'<table>' + rows + '</table>' if rows else ''}</div>"
        )


def _rebuild(cls: type[OpsnbError], message: str, fields: dict[str, Any]) -> OpsnbError:
    return cls(message, **fields)


class ConfigError(OpsnbError):
    """A setting is unknown, malformed or has a bad value (fields: setting, source)."""


class WorkspaceError(OpsnbError):
    """The workspace path cannot be used (fields: path)."""


class StoreError(OpsnbError):
    """The state database is unreachable or unusable (fields: url, masked)."""


class MigrationError(StoreError):
    """Upgrading the state schema failed (fields: revision)."""


class LakeError(OpsnbError):
    """Reading or writing the event lake failed (fields: table, path)."""


class NotFound(OpsnbError, LookupError):
    """No such object (fields: kind, key)."""


class Conflict(OpsnbError):
    """The object exists already, is locked, or cannot make that transition (fields: kind, key)."""


class ValidationError(OpsnbError, ValueError):
    """Input is invalid; ``problems`` lists every problem found, not just the first."""

    def __init__(self, message: str, problems: Sequence[str] | None = None, **fields: Any) -> None:
        probs = list(problems or [])
        if probs and message.rstrip().endswith(":"):
            message = message.rstrip() + "\n" + "\n".join(f"  - {p}" for p in probs)
        super().__init__(message, problems=probs or None, **fields)

    @property
    def problems(self) -> list[str]:
        return list(self.fields.get("problems", []))


class ParseError(ValidationError):
    """A file or payload could not be parsed (fields: source, line)."""


class PermissionDenied(OpsnbError, PermissionError):
    """The acting user lacks the role an action needs (fields: user, role, required, action)."""


class AuditError(OpsnbError):
    """The audit chain does not verify (fields: seq)."""


class RemoteError(OpsnbError):
    """Reaching or using a server failed (fields: host)."""


class ConnectError(RemoteError):
    """The connection was refused, timed out, or the handshake failed (fields: host, port)."""


class HostKeyError(RemoteError):
    """The host key is unknown or does not match known_hosts (fields: host, fingerprint)."""


class AuthError(RemoteError):
    """No credential was accepted (fields: host, user)."""


class CommandError(RemoteError):
    """A remote command failed (fields: host, command, exit_status, stderr)."""


class CommandTimeout(CommandError):
    """A remote command ran past its timeout and was killed (fields: host, command, timeout)."""


class RunbookError(OpsnbError):
    """A runbook could not run or did not finish (fields: runbook, run_id)."""


class RunFailed(RunbookError):
    """A runbook cell raised (fields: runbook, run_id, cell, ename, evalue)."""


class RunTimeout(RunbookError):
    """A runbook ran past its timeout and was stopped (fields: runbook, run_id, timeout)."""


class RunCancelled(RunbookError):
    """A runbook run was cancelled (fields: runbook, run_id)."""


class NotifyError(OpsnbError):
    """A notification could not be delivered (fields: channel, target)."""


class BatchError(OpsnbError):
    """Some items of a batch failed; ``errors`` maps each failed item to its error."""

    def __init__(self, message: str, errors: Sequence[Any], **fields: Any) -> None:
        super().__init__(message, errors=list(errors), **fields)
