"""The state database: engine, sessions and schema migrations.

SQLite in the workspace by default (WAL, busy timeout, foreign keys, and
``BEGIN IMMEDIATE`` so a read-then-write transaction never dies on a lock
upgrade); PostgreSQL for teams. Each domain owns its tables (``models.py``) and
an Alembic branch of migrations (``<domain>/migrations/``); opening a database
upgrades every branch to its head.

A transaction is a unit of work (:meth:`Database.session`): a block opened while another is
open on the same thread (or asyncio task) joins it, so one domain's service can call another's
and both writes commit or roll back together, without a session passed between them.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from sqlalchemy import MetaData, create_engine, event, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from opsnb.config import mask_url
from opsnb.errors import MigrationError, StoreError
from opsnb.store.schema import DOMAINS, migration_dirs

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# id(Database) -> the session of the unit of work open in this context (thread or asyncio task).
_UNITS: ContextVar[dict[int, Session]] = ContextVar("opsnb_units", default={})  # noqa: B039 - never mutated


class Base(DeclarativeBase):
    """Declarative base of every opsnb table."""

    metadata = MetaData(naming_convention=NAMING)


def import_models() -> MetaData:
    """Import every domain's models so ``Base.metadata`` knows all tables."""
    for domain in DOMAINS:
        importlib.import_module(f"opsnb.{domain}.models")
    return Base.metadata


def _sqlite_pragmas(busy_timeout_ms: int) -> Callable[[Any, Any], None]:
    def on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event emit BEGIN IMMEDIATE instead of pysqlite's own BEGIN.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        cur.execute("PRAGMA journal_mode = WAL")
        cur.execute("PRAGMA synchronous = NORMAL")
        cur.execute("PRAGMA foreign_keys = ON")
        cur.close()

    return on_connect


def make_engine(url: str, *, busy_timeout_ms: int = 30000) -> Engine:
    """Create an engine for ``url`` with opsnb's connection settings.

    Args:
        url: SQLAlchemy URL (``sqlite:///...`` or ``postgresql+psycopg://...``).
        busy_timeout_ms: SQLite lock wait.
    """
    try:
        if url.startswith("sqlite"):
            engine = create_engine(url, connect_args={"timeout": busy_timeout_ms / 1000})
            event.listen(engine, "connect", _sqlite_pragmas(busy_timeout_ms))

            @event.listens_for(engine, "begin")
            def _begin(conn: Connection) -> None:
                conn.exec_driver_sql("BEGIN IMMEDIATE")

        else:
            if url.startswith("postgresql://"):
                url = "postgresql+psycopg://" + url[len("postgresql://"):]
            args: dict[str, Any] = {"connect_timeout": 10}
            engine = create_engine(url, pool_pre_ping=True, connect_args=args)
    except (SQLAlchemyError, ImportError, ValueError) as exc:
        raise StoreError(f"cannot use database URL {mask_url(url)}: {exc}", url=mask_url(url)) from None
    return engine


class Database:
    """The state database of one workspace.

    Args:
        url: SQLAlchemy URL.
        busy_timeout_ms: SQLite lock wait.
    """

    def __init__(self, url: str, *, busy_timeout_ms: int = 30000) -> None:
        self.url = url
        self.engine = make_engine(url, busy_timeout_ms=busy_timeout_ms)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def ping(self) -> None:
        """Connect once, so a bad URL fails here with a clear error and nothing written."""
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except SQLAlchemyError as exc:
            reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
            raise StoreError(
                f"cannot reach the state database {mask_url(self.url)}: {reason}", url=mask_url(self.url)
            ) from None

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: committed when the outermost block ends, rolled back on any error.

        A block opened inside another on the same thread joins the outer one (no commit of its
        own): an error raised in it rolls the whole unit back unless the caller catches it inside
        a savepoint (``with s.begin_nested(): ...``). On SQLite a second, independent transaction
        on the same thread would only wait for the first one's lock, so joining is also what
        keeps nested service calls from deadlocking.
        """
        units = _UNITS.get()
        current = units.get(id(self))
        if current is not None:
            yield current
            return
        with self._sessions() as s, s.begin():
            token = _UNITS.set({**units, id(self): s})
            try:
                yield s
            finally:
                _UNITS.reset(token)

    def current(self) -> Session | None:
        """The session of the unit of work open in this context, or None."""
        return _UNITS.get().get(id(self))

    def require_unit(self, what: str) -> Session:
        """The open unit's session; ``what`` (a cross-domain hook) may only run inside one.

        Hooks skip role checks and auditing because their caller did both for the action that
        needs them; outside a unit there is no such caller.
        """
        s = self.current()
        if s is None:
            raise StoreError(f"{what} runs only inside the caller's unit of work (ops.db.session())")
        return s

    def upgrade(self) -> None:
        """Bring every domain's schema to its newest revision (no-op when current)."""
        from alembic import command
        from alembic.config import Config
        from alembic.runtime.migration import MigrationContext
        from alembic.script import ScriptDirectory

        import_models()
        cfg = Config()
        cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
        cfg.set_main_option("version_locations", " ".join(migration_dirs()))
        cfg.set_main_option("path_separator", "space")
        script = ScriptDirectory.from_config(cfg)
        try:
            with self.engine.begin() as conn:
                current = set(MigrationContext.configure(conn).get_current_heads())
                if current == set(script.get_heads()):
                    return
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "heads")
        except SQLAlchemyError as exc:
            raise MigrationError(
                f"upgrading the state schema of {mask_url(self.url)} failed: {exc}", url=mask_url(self.url)
            ) from exc

    def dispose(self) -> None:
        self.engine.dispose()
