"""Engines and sessions for the configured database.

``database_url()`` is the one place that decides which database a task or the application talks
to: ``DATABASE_URL`` when set, otherwise the project-local default (see ``local.py``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import TaskError
from ..settings import Settings
from . import local
from .urls import backend_of, normalize

if TYPE_CHECKING:
    # SQLAlchemy is imported by the functions that use it: an unchanged `db.seed` asks
    # database_url() and then finishes without it (seeding/unchanged.py). The ORM is a fifth
    # of a second more; the migration tasks never need it.
    from sqlalchemy import Engine
    from sqlalchemy.orm import Session, sessionmaker


def database_url(settings: Settings, *, setting: str = "DATABASE_URL") -> str:
    """The SQLAlchemy URL of ``setting``, or of the local default database when it is unset.

    ``setting`` (``MIGRATOR_DATABASE_URL``) falls back to ``DATABASE_URL``; an error about the
    value names the one it came from, which is the one to fix.
    """
    source = setting if settings.get(setting) else "DATABASE_URL"
    raw = settings.get(source)
    if raw:
        return normalize(raw, settings.project_root, setting=source)
    return local.default_url(settings)


def offline_url(settings: Settings) -> str:
    """A URL that picks the right SQL dialect without connecting (or starting a server)."""
    raw = settings.database_url
    return normalize(raw, settings.project_root) if raw else local.OFFLINE_URL


def make_engine(
    url: str,
    *,
    enforce_foreign_keys: bool = True,
    write_lock_wait: float | None = None,
    existing_only: bool = False,
    **kwargs: Any,
) -> Engine:
    """An engine for ``url``; on SQLite, with real transactions and foreign keys enforced.

    pysqlite's legacy transaction handling neither begins a transaction before DDL nor lets
    SAVEPOINT work; taking BEGIN into our own hands (the SQLAlchemy recipe) makes migrations
    atomic and nested test transactions possible. Migrations turn foreign keys off, because
    batch mode rebuilds tables and SQLite would otherwise cascade or fail on the copy.

    ``write_lock_wait`` (SQLite; migrations and seeds): take the write lock at BEGIN (``BEGIN
    IMMEDIATE``), waiting up to that many seconds for another writer to finish, saying which
    process it waits for (locking.py). SQLite's file lock is then the migration (and seed)
    lock: a second ``db.migrate`` waits for the first and finds the database at head, where two
    deferred transactions would deadlock and one fail at once.

    ``existing_only`` (SQLite; tasks that only read): a missing file is reported, where
    connecting would create it, and its folder, empty. Creating is ``db.init``'s job.
    """
    from sqlalchemy import create_engine, event
    from sqlalchemy.engine import make_url
    from sqlalchemy.pool import NullPool

    if backend_of(url) != "sqlite":
        return create_engine(url, **kwargs)
    path = make_url(url).database
    if path and path != ":memory:":
        if existing_only and not Path(path).is_file():
            raise TaskError(f"database {path} does not exist: run `invoke db.init` to create it")
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    kwargs.setdefault("poolclass", NullPool)
    engine = create_engine(url, **kwargs)
    busy_timeout_ms = 5000

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves, below
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA foreign_keys = {'ON' if enforce_foreign_keys else 'OFF'}")
        cursor.execute(f"PRAGMA busy_timeout = {busy_timeout_ms}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        if write_lock_wait is None:
            connection.exec_driver_sql("BEGIN")
            return
        from .locking import sqlite_begin_immediate

        sqlite_begin_immediate(connection, path, write_lock_wait)

    return engine


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions bound to ``engine``; objects stay usable after commit."""
    from sqlalchemy.orm import sessionmaker

    return sessionmaker(engine, expire_on_commit=False)
