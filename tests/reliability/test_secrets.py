"""Secrets never leave: marker values set through every secret setting, the SSH password and key
passphrase (by variable and by file) and a declared secret reference; a runbook prints its
environment and settings, records them, displays them as JSON and HTML, and raises an exception
carrying them. Then the output notebook, the ledger (every column of the run row, its cells, the
audit trail), the API answer for the run and the log output are searched for each marker: none.

Issue: the kernel inherited the server's environment, so a cell printing it stored the API token,
an SSH key passphrase and an SSH password in the output notebook, and an exception carrying the
passphrase was stored in the run's ledger row (on PostgreSQL too).
"""

from __future__ import annotations

import asyncio
import logging
import secrets as _secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from tornado.httpclient import AsyncHTTPClient
from tornado.web import Application

from opsnb.config import SETTINGS
from opsnb.redact import REDACTED
from opsnb.web import API_PREFIX, all_routes
from opsnb.web.base import ApiState
from tests.conftest import make_ops
from tests.runbooks.conftest import write_runbook

FOUND: dict[str, int] = {"markers": 0, "places": 0}

LEAKY_CELLS = [
    "import os, json\nprint(dict(os.environ))\n",
    # The settings the kernel sees, and the secret files any cell could read.
    "import opsnb\nops = opsnb.connect()\nprint(dict(ops.settings))\n"
    "files = {k: open(os.environ[k]).read() for k in ('OPSNB_SSH_PASSWORD_FILE', 'OPSNB_SSH_PASSPHRASE_FILE')"
    " if os.environ.get(k)}\nprint(files)\n",
    "import opsnb.runbooks as rb\nfrom IPython.display import HTML, JSON, display\n"
    "value = rb.secret(token_ref)\nprint('resolved', value)\n"
    "display(JSON({'env': dict(os.environ), 'value': value, 'files': files}))\n"
    "display(HTML('<pre>' + repr(dict(os.environ)) + repr(files) + value + '</pre>'))\n"
    "rb.record('leak', {'value': value, 'files': files, 'db': os.environ.get('OPSNB_DATABASE_URL', '')})\n",
    "raise RuntimeError(f\"cannot log in with {value!r} / {files!r} / {os.environ.get('OPSNB_DATABASE_URL')}\")\n",
]


def _marker(name: str) -> str:
    return f"MKR{name}{_secrets.token_hex(6)}"


@pytest.fixture
def leaky(tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, dict[str, str]]]:
    markers: dict[str, str] = {}
    overrides: dict[str, Any] = {}
    for s in SETTINGS:  # every setting the table marks secret gets a marker
        if not s.secret:
            continue
        if s.name == "database_url":
            if "postgres" in db_url:  # trust authentication ignores the password: a marker can ride in it
                markers[s.name] = _marker("dbpw")
                overrides[s.name] = db_url.replace("postgres@", f"postgres:{markers[s.name]}@", 1)
            else:  # a SQLite URL holds no password: nothing secret to set, the workspace's file is used
                overrides[s.name] = db_url
        else:
            markers[s.name] = _marker(s.name)
            monkeypatch.setenv(s.env, markers[s.name])  # the server's environment, as `opsnb up` has it
    assert set(markers) >= {"api_token"} and ("database_url" in markers) == ("postgres" in db_url)
    for kind in ("passphrase", "password"):
        markers[f"ssh_{kind}_env"] = _marker(f"ssh{kind}env")
        monkeypatch.setenv(f"TEST_SSH_{kind.upper()}", markers[f"ssh_{kind}_env"])
        overrides[f"ssh_{kind}_env"] = f"TEST_SSH_{kind.upper()}"
        markers[f"ssh_{kind}_file"] = _marker(f"ssh{kind}file")
        f = tmp_path / f"ssh-{kind}"
        f.write_text(markers[f"ssh_{kind}_file"] + "\n")
        overrides[f"ssh_{kind}_file"] = str(f)
    markers["secret_ref"] = _marker("ref")
    monkeypatch.setenv("RUNBOOK_TOKEN", markers["secret_ref"])
    monkeypatch.setenv("JUPYTER_TOKEN", markers.setdefault("jupyter_token", _marker("jupyter")))
    rb_dir = tmp_path / "runbooks"
    write_runbook(rb_dir, "leaky", 'token_ref: str = "env:RUNBOOK_TOKEN"  # a declared secret\n', LEAKY_CELLS,
                  {"parameters": {"token_ref": {"secret": True}}})
    db = overrides.pop("database_url")
    ops = make_ops(tmp_path / "ws", db, runbooks_dir=str(rb_dir), **overrides)
    yield ops, markers
    ops.close()


def _api_run(ops: Any, run_id: str, token: str) -> str:
    app = Application(all_routes(), opsnb=ApiState(ops))
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    srv = app.listen(0, address="127.0.0.1")
    port = next(iter(srv._sockets.values())).getsockname()[1]
    try:
        r = loop.run_until_complete(AsyncHTTPClient().fetch(
            f"http://127.0.0.1:{port}{API_PREFIX}/runs/{run_id}", headers={"Authorization": f"Bearer {token}"},
            raise_error=False))
        assert r.code == 200, r.body
        return r.body.decode()
    finally:
        srv.stop()
        AsyncHTTPClient().close()
        loop.close()
        asyncio.set_event_loop(None)


def test_no_secret_value_reaches_outputs_ledger_api_or_logs(leaky: tuple[Any, dict[str, str]],
                                                            caplog: pytest.LogCaptureFixture) -> None:
    ops, markers = leaky
    caplog.set_level(logging.DEBUG)
    run = ops.runbooks.run("leaky")
    assert run.status == "failed" and "RuntimeError" in run.error and REDACTED in run.error
    try:  # whatever logs an error carrying a secret, the log shows it masked
        raise RuntimeError(f"connect failed with {markers['ssh_passphrase_env']}")
    except RuntimeError:
        logging.getLogger("opsnb.test").exception("login as %s", markers["api_token"])

    places: dict[str, str] = {}
    nb_text = Path(run.output_path).read_text()
    assert "resolved ***" in nb_text  # the cells ran; their outputs are masked
    places["output notebook"] = nb_text
    with ops.db.session() as s:
        for table, col in (("runbook_runs", "id"), ("runbook_run_cells", "run_id")):
            rows = s.execute(text(f"SELECT * FROM {table} WHERE {col} = :id"), {"id": run.id}).all()
            assert rows
            places[f"ledger {table}"] = repr(rows)
        places["audit"] = repr(s.execute(text("SELECT * FROM audit_records")).all())
    places["API answer"] = _api_run(ops, run.id, markers["api_token"])
    places["log output"] = caplog.text + "\n".join(r.getMessage() + str(r.exc_text) for r in caplog.records)

    leaks = [(name, where) for name, value in markers.items() for where, blob in places.items() if value in blob]
    FOUND["markers"] = len(markers)
    FOUND["places"] = len(leaks)
    assert leaks == []
    assert "login as ***" in places["log output"] and "connect failed with ***" in places["log output"]


def test_kernels_start_without_the_servers_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    from opsnb.runbooks.runner import kernel_environ

    env = {"PATH": "/bin", "HOME": "/h", "LC_ALL": "C", "OPSNB_API_TOKEN": "x" * 8, "JUPYTER_TOKEN": "y" * 8,
           "JPY_API_TOKEN": "z" * 8, "TEST_SSH_PASSWORD": "w" * 8, "OPSNB_DATABASE_URL": "sqlite://"}
    assert kernel_environ(env) == {"PATH": "/bin", "HOME": "/h", "LC_ALL": "C"}
