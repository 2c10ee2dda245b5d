"""opsnb: a Jupyter-centric workbench for Site Reliability Engineers.

This module is the public API: what a notebook author types. It imports nothing
heavy; each name is loaded on first use (paramiko, duckdb, papermill and
ipywidgets are imported only by the code that needs them).

Example:
    >>> import opsnb
    >>> ops = opsnb.connect()          # doctest: +SKIP
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_LAZY: dict[str, str] = {
    "AuditError": "opsnb.errors",
    "AuthError": "opsnb.errors",
    "BatchError": "opsnb.errors",
    "CommandError": "opsnb.errors",
    "CommandTimeout": "opsnb.errors",
    "ConfigError": "opsnb.errors",
    "Conflict": "opsnb.errors",
    "ConnectError": "opsnb.errors",
    "HostKeyError": "opsnb.errors",
    "LakeError": "opsnb.errors",
    "MigrationError": "opsnb.errors",
    "NotFound": "opsnb.errors",
    "NotifyError": "opsnb.errors",
    "OpsnbError": "opsnb.errors",
    "ParseError": "opsnb.errors",
    "PermissionDenied": "opsnb.errors",
    "PostmortemError": "opsnb.errors",
    "RemoteError": "opsnb.errors",
    "RunCancelled": "opsnb.errors",
    "RunFailed": "opsnb.errors",
    "RunTimeout": "opsnb.errors",
    "RunbookError": "opsnb.errors",
    "Settings": "opsnb.config",
    "StoreError": "opsnb.errors",
    "ValidationError": "opsnb.errors",
    "Workbench": "opsnb.workbench",
    "WorkspaceError": "opsnb.errors",
    "confirm": "opsnb.runbooks",
    "connect": "opsnb.workbench",
    "record": "opsnb.runbooks",
}

# Subpackages a notebook author reaches as attributes (``opsnb.runbooks.record(...)``).
_SUBPACKAGES = frozenset({"runbooks"})

__all__ = [
    "AuditError",
    "AuthError",
    "BatchError",
    "CommandError",
    "CommandTimeout",
    "ConfigError",
    "Conflict",
    "ConnectError",
    "HostKeyError",
    "LakeError",
    "MigrationError",
    "NotFound",
    "NotifyError",
    "OpsnbError",
    "ParseError",
    "PermissionDenied",
    "PostmortemError",
    "RemoteError",
    "RunCancelled",
    "RunFailed",
    "RunTimeout",
    "RunbookError",
    "Settings",
    "StoreError",
    "ValidationError",
    "Workbench",
    "WorkspaceError",
    "__version__",
    "confirm",
    "connect",
    "record",
    "runbooks",
]


def __getattr__(name: str) -> Any:
    if name in _SUBPACKAGES:
        return importlib.import_module(f"opsnb.{name}")
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'opsnb' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__


if TYPE_CHECKING:
    from opsnb.config import Settings
    from opsnb.errors import (
        AuditError,
        AuthError,
        BatchError,
        CommandError,
        CommandTimeout,
        ConfigError,
        Conflict,
        ConnectError,
        HostKeyError,
        LakeError,
        MigrationError,
        NotFound,
        NotifyError,
        OpsnbError,
        ParseError,
        PermissionDenied,
        PostmortemError,
        RemoteError,
        RunbookError,
        RunCancelled,
        RunFailed,
        RunTimeout,
        StoreError,
        ValidationError,
        WorkspaceError,
    )
    from opsnb.runbooks import confirm, record
    from opsnb.workbench import Workbench, connect
