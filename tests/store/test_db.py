"""The state database on SQLite and PostgreSQL: migrations, sessions, UTC times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import inspect, select, text

import opsnb
from opsnb.access.models import UserRole
from opsnb.store.db import DOMAINS, Database, migration_dirs
from opsnb.workbench import Workbench


def test_schema_is_at_every_domain_head(ops: Workbench) -> None:
    from alembic.runtime.migration import MigrationContext

    tables = set(inspect(ops.db.engine).get_table_names())
    assert {"user_roles", "audit_records", "audit_head", "alembic_version"} <= tables
    with ops.db.engine.connect() as c:
        heads = set(MigrationContext.configure(c).get_current_heads())
    assert {"access_0002", "audit_0001"} <= heads  # access_0002: API tokens
    assert len(heads) == len(migration_dirs())  # one head per domain branch


def test_reopening_is_a_noop_and_keeps_data(ops: Workbench) -> None:
    again = opsnb.connect(ops.workspace, database_url=ops.settings.database_url or None)
    assert again.access.role("tester") == "admin"
    again.close()


def test_session_rolls_back_on_error(ops: Workbench) -> None:
    with pytest.raises(RuntimeError), ops.db.session() as s:
        s.add(UserRole(user="ghost", role="viewer", granted_by="x", granted_at=datetime.now(UTC)))
        s.flush()
        raise RuntimeError("boom")
    with ops.db.session() as s:
        assert s.get(UserRole, "ghost") is None


def test_datetimes_come_back_aware_utc(ops: Workbench) -> None:
    t = datetime(2025, 3, 9, 2, 30, 15, 123456, tzinfo=timezone(timedelta(hours=-5)))
    with ops.db.session() as s:
        s.add(UserRole(user="tz", role="viewer", granted_by="x", granted_at=t))
    with ops.db.session() as s:
        got = s.scalar(select(UserRole.granted_at).where(UserRole.user == "tz"))
    assert got == t and got.tzinfo is not None and got.utcoffset() == timedelta(0)


def test_naive_datetimes_are_refused(ops: Workbench) -> None:
    from sqlalchemy.exc import StatementError

    with pytest.raises(StatementError, match="naive datetime"), ops.db.session() as s:
        s.add(UserRole(user="n", role="viewer", granted_by="x", granted_at=datetime(2025, 1, 1)))
        s.flush()


def test_sqlite_runs_in_wal_with_busy_timeout(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 's.db'}", busy_timeout_ms=1234)
    with db.engine.connect() as c:
        assert c.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert c.execute(text("PRAGMA busy_timeout")).scalar() == 1234
        assert c.execute(text("PRAGMA foreign_keys")).scalar() == 1
    db.dispose()


def test_domains_with_tables_have_models_and_branches() -> None:
    root = Path(opsnb.__file__).parent
    for d in DOMAINS:
        if (root / d / "migrations").is_dir():
            assert (root / d / "models.py").is_file(), d


def test_expected_heads_read_from_the_scripts_match_alembic() -> None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from opsnb.store.schema import expected_heads

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(opsnb.__file__).parent / "store" / "migrations"))
    cfg.set_main_option("version_locations", " ".join(migration_dirs()))
    cfg.set_main_option("path_separator", "space")
    assert expected_heads() == frozenset(ScriptDirectory.from_config(cfg).get_heads())


def test_reopening_a_current_sqlite_workspace_loads_no_sqlalchemy(tmp_path: Path) -> None:
    import json
    import subprocess
    import sys

    opsnb.connect(tmp_path / "ws").close()  # created and upgraded
    code = ("import json, sys, opsnb; ops = opsnb.connect(sys.argv[1]); shown = ops._repr_html_(); "
            "before = 'sqlalchemy' in sys.modules; assert 'sqlite' in shown and 'user <b>t</b>' in shown, shown; "
            "role = ops.access.role('nobody'); "
            "print(json.dumps([before, 'sqlalchemy' in sys.modules, role]))")
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "ws")], capture_output=True, text=True,
                         check=True, env={"OPSNB_USER": "t", "PATH": "/usr/bin:/bin"})
    # opened without the database layer, which then loads on first use and answers
    assert json.loads(out.stdout.strip().splitlines()[-1]) == [False, True, "viewer"]


def test_a_stale_or_foreign_sqlite_file_is_not_taken_as_current(tmp_path: Path) -> None:
    import sqlite3

    from opsnb.store.schema import expected_heads, sqlite_is_current

    opsnb.connect(tmp_path / "ws").close()
    db = tmp_path / "ws" / "state.db"
    assert sqlite_is_current(db)
    heads = sorted(expected_heads() or ())
    with sqlite3.connect(db) as con:  # one branch not stamped with its newest revision
        con.execute("DELETE FROM alembic_version WHERE version_num = ?", (heads[0],))
    assert not sqlite_is_current(db)
    other = tmp_path / "other.db"
    sqlite3.connect(other).close()  # a SQLite file with no alembic_version table
    assert not sqlite_is_current(other)
    assert not sqlite_is_current(tmp_path / "missing.db")
    (tmp_path / "garbage.db").write_bytes(b"not a database at all")
    assert not sqlite_is_current(tmp_path / "garbage.db")
