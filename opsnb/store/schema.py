"""A cheap answer to "is this SQLite state database at the newest schema?", without SQLAlchemy.

Opening a workspace brings its schema to the newest revision (:meth:`opsnb.store.db.Database.upgrade`),
which imports SQLAlchemy, Alembic and every domain's models: about half a second, more than a
log query over ten million events costs. Nearly every open finds the schema current. This module
reads the newest revisions from the migration scripts (each states ``revision`` and
``down_revision``) and the stamped ones from SQLite with the standard library, so a current
workspace opens in milliseconds and the database layer loads on first use. Anything unusual (a
script it cannot read, a missing table, a locked file) answers "not known to be current", and the
caller takes the full path.
"""

from __future__ import annotations

import ast
import re
from functools import lru_cache
from pathlib import Path

from opsnb.domains import table_domains

# Domains that own tables, in dependency order (from the domain table, opsnb/domains.py). Each has
# ``opsnb/<domain>/models.py`` and ``opsnb/<domain>/migrations/`` (an Alembic branch labelled
# with the domain's name).
DOMAINS: tuple[str, ...] = table_domains()

_ASSIGN = re.compile(r"^(revision|down_revision)\s*(?::[^=\n]*)?=\s*(.+?)\s*$", re.M)


def migration_dirs() -> list[str]:
    """The Alembic version directories of every domain that has one."""
    root = Path(__file__).resolve().parent.parent
    return [str(root / d / "migrations") for d in DOMAINS if (root / d / "migrations").is_dir()]


@lru_cache(maxsize=1)
def expected_heads() -> frozenset[str] | None:
    """The head revisions of every domain's migration branch, or None when a script is unreadable."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for folder in migration_dirs():
        for script in Path(folder).glob("*.py"):
            found: dict[str, list[object]] = {"revision": [], "down_revision": []}
            for name, value in _ASSIGN.findall(script.read_text(encoding="utf-8")):
                try:
                    found[name].append(ast.literal_eval(value))
                except (ValueError, SyntaxError):
                    return None
            if len(found["revision"]) != 1 or len(found["down_revision"]) != 1:
                return None  # not a script of the shape we read: let Alembic decide
            rev, down = found["revision"][0], found["down_revision"][0]
            if not isinstance(rev, str):
                return None
            revisions.add(rev)
            if isinstance(down, str):
                parents.add(down)
            elif isinstance(down, tuple | list):
                parents.update(str(d) for d in down)
            elif down is not None:
                return None
    return frozenset(revisions - parents)


def sqlite_path(url: str) -> Path | None:
    """The file of a ``sqlite:///path`` URL (None for other URLs and in-memory databases)."""
    if not url.startswith("sqlite:///") or "?" in url:
        return None
    path = url[len("sqlite:///"):]
    return Path(path) if path and path != ":memory:" else None


def dialect(url: str) -> str:
    """The database kind a URL names (``sqlite``, ``postgresql``), without loading SQLAlchemy."""
    return url.split(":", 1)[0].split("+", 1)[0]


def sqlite_is_current(path: Path, *, timeout_s: float = 30.0) -> bool:
    """Whether the SQLite database at ``path`` exists and is stamped with exactly the expected heads."""
    import sqlite3

    want = expected_heads()
    if want is None or not path.is_file():
        return False
    try:
        con = sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True, timeout=timeout_s)
    except sqlite3.Error:
        return False
    try:
        stamped = {row[0] for row in con.execute("SELECT version_num FROM alembic_version")}
    except sqlite3.Error:
        return False
    finally:
        con.close()
    return stamped == want
