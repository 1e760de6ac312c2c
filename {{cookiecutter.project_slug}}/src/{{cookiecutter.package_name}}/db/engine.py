"""Engines and sessions for the configured database.

``database_url()`` is the one place that decides which database a task or the application talks
to: ``DATABASE_URL`` when set, otherwise the project-local default (see ``local.py``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from ..settings import Settings
from . import local
from .urls import backend_of, normalize

if TYPE_CHECKING:
    # The ORM is a fifth of a second to import; the migration tasks never need it.
    from sqlalchemy.orm import Session, sessionmaker


def database_url(settings: Settings, *, setting: str = "DATABASE_URL") -> str:
    """The SQLAlchemy URL of ``setting``, or of the local default database when it is unset."""
    raw = settings.get(setting) or settings.database_url
    if raw:
        return normalize(raw, settings.project_root, setting=setting)
    return local.default_url(settings)


def offline_url(settings: Settings) -> str:
    """A URL that picks the right SQL dialect without connecting (or starting a server)."""
    raw = settings.database_url
    return normalize(raw, settings.project_root) if raw else local.OFFLINE_URL


def make_engine(url: str, *, enforce_foreign_keys: bool = True, **kwargs: Any) -> Engine:
    """An engine for ``url``; on SQLite, with real transactions and foreign keys enforced.

    pysqlite's legacy transaction handling neither begins a transaction before DDL nor lets
    SAVEPOINT work; taking BEGIN into our own hands (the SQLAlchemy recipe) makes migrations
    atomic and nested test transactions possible. Migrations turn foreign keys off, because
    batch mode rebuilds tables and SQLite would otherwise cascade or fail on the copy.
    """
    if backend_of(url) != "sqlite":
        return create_engine(url, **kwargs)
    path = make_url(url).database
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    kwargs.setdefault("poolclass", NullPool)
    engine = create_engine(url, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves, below
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA foreign_keys = {'ON' if enforce_foreign_keys else 'OFF'}")
        cursor.execute("PRAGMA busy_timeout = 5000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN")

    return engine


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions bound to ``engine``; objects stay usable after commit."""
    from sqlalchemy.orm import sessionmaker

    return sessionmaker(engine, expire_on_commit=False)
