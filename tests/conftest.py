"""Fixtures shared by every test.

State tests use the ``ops`` fixture, which runs each test twice: on SQLite and
on PostgreSQL (``OPSNB_TEST_DATABASE_URL``; each test gets its own schema).
A test needing a service the machine lacks is skipped with a reason starting
``missing service:``; CI fails when it sees one.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from opsnb.workbench import Workbench, connect
from tests.hermetic import outside_reads_guard  # noqa: F401  (autouse: no test reads beside the checkout)

REPO = Path(__file__).resolve().parent.parent
TESTDATA = REPO / "tests" / "data"  # everything tests read ships here
MISSING = "missing service: "


def skip_missing(what: str) -> None:
    """Skip because a service or program is missing (CI turns these into failures)."""
    pytest.skip(MISSING + what)


def need_program(*names: str) -> str:
    """Path of the first program found, or skip."""
    for n in names:
        path = shutil.which(n) or (n if os.path.isabs(n) and os.access(n, os.X_OK) else None)
        if path:
            return path
    skip_missing(f"{' or '.join(names)} not installed")
    raise AssertionError("unreachable")


@pytest.fixture(autouse=True)
def _no_terminal_size(monkeypatch: pytest.MonkeyPatch) -> None:
    """CLI tables fit $COLUMNS when it is set; a value exported by whatever runs the suite must not
    narrow every table a test reads (CI exported one), so each test starts without it."""
    monkeypatch.delenv("COLUMNS", raising=False)
    monkeypatch.delenv("LINES", raising=False)


@pytest.fixture(scope="session", autouse=True)
def _hermetic_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Keep Jupyter and opsnb away from the developer's home and workspace."""
    base = tmp_path_factory.mktemp("jupyter")
    saved = dict(os.environ)
    os.environ.update({
        "JUPYTER_DATA_DIR": str(base / "data"),
        "JUPYTER_RUNTIME_DIR": str(base / "runtime"),
        "JUPYTER_CONFIG_DIR": str(base / "config"),
        "JUPYTER_PLATFORM_DIRS": "1",
        "OPSNB_USER": "tester",
        "PYDEVD_DISABLE_FILE_VALIDATION": "1",
    })
    for k in ("OPSNB_WORKSPACE", "OPSNB_CONFIG", "OPSNB_DATABASE_URL"):
        os.environ.pop(k, None)
    yield
    os.environ.clear()
    os.environ.update(saved)


def pg_base_url() -> str | None:
    return os.environ.get("OPSNB_TEST_DATABASE_URL") or None


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a fresh schema, dropped afterwards."""
    base = pg_base_url()
    if not base:
        skip_missing("PostgreSQL (set OPSNB_TEST_DATABASE_URL)")
        return
    from sqlalchemy import text

    from opsnb.store.db import make_engine

    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = make_engine(base)
    with admin.begin() as c:
        c.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in base else "?"
    yield f"{base}{sep}options=-csearch_path%3D{schema}"
    with admin.begin() as c:
        c.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh state database URL: SQLite file, or a PostgreSQL schema."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'state.db'}"
    return str(request.getfixturevalue("pg_url"))


def make_ops(workspace: Path, db_url: str = "", *, admin: str | None = "tester", **overrides: object) -> Workbench:
    """Open a workbench; make ``admin`` its first admin."""
    ops = connect(workspace, database_url=db_url or None, **overrides)  # type: ignore[arg-type]
    if admin:
        ops.user = admin
        ops.access.grant(admin, "admin", reason="test setup")
    return ops


@pytest.fixture
def ops(tmp_path: Path, db_url: str) -> Iterator[Workbench]:
    """A workbench on SQLite and on PostgreSQL; the acting user ``tester`` is admin."""
    wb = make_ops(tmp_path / "ws", db_url if "postgres" in db_url else "")
    yield wb
    wb.close()


@pytest.fixture
def ops_sqlite(tmp_path: Path) -> Iterator[Workbench]:
    """A workbench on SQLite only, for tests that do not touch state semantics."""
    wb = make_ops(tmp_path / "ws")
    yield wb
    wb.close()


@pytest.fixture(scope="session")
def demo_workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small demo world (2 days, 20 % of the full volume), built once per session on SQLite.

    20 % keeps an incident window at a few hundred requests: at 5 % a 27-minute window held
    about 17, too few for "the error ratio rose" to hold for every end hour. It costs about
    2 s more to build. Read-only by convention: a test that changes state uses ``demo_copy``.
    """
    from datetime import UTC, datetime, timedelta

    from opsnb.demo.generate import build

    # The world's draws follow its end hour (traffic is diurnal), so tests that read the injected
    # incident's details passed or failed with the hour the suite ran. End at the last 12:00 UTC:
    # always the same world, at most a day old.
    now = datetime.now(UTC)
    end = now.replace(hour=12, minute=0, second=0, microsecond=0)
    if end > now:
        end -= timedelta(days=1)
    ws = tmp_path_factory.mktemp("demo") / "ws"
    build(ws, days=2, seed=7, scale=0.2, end=end)
    return ws


@pytest.fixture
def demo_ops(demo_workspace: Path) -> Iterator[Workbench]:
    """A workbench on the shared small demo world (do not change its state)."""
    wb = connect(demo_workspace)
    yield wb
    wb.close()


@pytest.fixture
def demo_copy(demo_workspace: Path, tmp_path: Path) -> Iterator[Workbench]:
    """A private copy of the small demo world, free to change."""
    dest = tmp_path / "demo-ws"
    shutil.copytree(demo_workspace, dest)
    wb = connect(dest)
    yield wb
    wb.close()
