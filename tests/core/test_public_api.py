"""The public API is pinned, and importing it is cheap."""

from __future__ import annotations

import json
import subprocess
import sys

import opsnb

PINNED = [
    "AuditError", "AuthError", "BatchError", "CommandError", "CommandTimeout", "ConfigError",
    "Conflict", "ConnectError", "HostKeyError", "LakeError", "MigrationError", "NotFound",
    "NotifyError", "OpsnbError", "ParseError", "PermissionDenied", "PostmortemError", "RemoteError",
    "RunCancelled", "RunFailed", "RunTimeout", "RunbookError", "Settings", "StoreError", "ValidationError",
    "Workbench", "WorkspaceError", "__version__", "confirm", "connect", "record", "runbooks",
]


def test_all_is_sorted_and_pinned() -> None:
    assert opsnb.__all__ == sorted(opsnb.__all__)
    assert opsnb.__all__ == sorted(PINNED)


def test_every_public_name_resolves() -> None:
    for name in opsnb.__all__:
        assert getattr(opsnb, name) is not None, name


def test_runbook_helpers_are_reachable_from_the_top() -> None:
    import opsnb.runbooks

    assert opsnb.confirm is opsnb.runbooks.confirm and opsnb.record is opsnb.runbooks.record


def test_import_is_cheap() -> None:
    code = (
        "import sys, json, opsnb; "
        "print(json.dumps(sorted(m for m in ('paramiko','duckdb','papermill','ipywidgets','pandas',"
        "'plotly','sqlalchemy','pyarrow','alembic') if m in sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []


def test_connect_does_not_import_remote_or_notebook_machinery(tmp_path) -> None:  # type: ignore[no-untyped-def]
    code = (
        "import sys, json, opsnb; ops = opsnb.connect(sys.argv[1]); ops.audit.verify(); "
        "print(json.dumps(sorted(m for m in ('paramiko','papermill','ipywidgets') if m in sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "ws")], capture_output=True, text=True,
                         check=True)
    assert json.loads(out.stdout) == []


def test_errors_carry_fields_and_render() -> None:
    err = opsnb.CommandError("uptime failed on web-1", host="web-1", command=["uptime"], exit_status=2)
    assert err.host == "web-1" and err.exit_status == 2
    assert isinstance(err, opsnb.RemoteError) and isinstance(err, opsnb.OpsnbError)
    assert "web-1" in err._repr_html_() and "exit_status" in repr(err)
    import pickle

    again = pickle.loads(pickle.dumps(err))
    assert type(again) is opsnb.CommandError and again.fields == err.fields
