"""Engines and sessions for the configured database.

``database_url()`` is the one place that decides which database a task or the application talks
to: ``DATABASE_URL`` when set, otherwise the project-local default (see ``local.py``), whose
server ``ensure_local_server()`` starts: the tasks call it, explicitly, before they connect.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from . import local
from .backends import backend_for
from .errors import TaskError
from .settings import Settings
from .urls import as_url, names_asyncpg, normalize

if TYPE_CHECKING:
    # SQLAlchemy is imported by the functions that use it: an unchanged `db.seed` asks
    # database_url_text() and then finishes without it (seeding/unchanged.py). The ORM is a fifth
    # of a second more; the migration tasks never need it.
    from sqlalchemy import Engine
    from sqlalchemy.engine import URL
    from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
    from sqlalchemy.orm import Session, sessionmaker


def ensure_local_server(settings: Settings) -> None:
    """Start the project-local server when ``DATABASE_URL`` is unset and it is not running.

    Called by the tasks that connect (commands.py) and by env.py under the plain ``alembic``
    command, before they ask :func:`database_url`, which never starts anything.
    """
    if settings.get("DATABASE_URL") is None and settings.values.get("DATABASE_URL") != "":
        local.ensure_running(settings)  # "" is an error database_url() reports


def database_url(settings: Settings, *, setting: str = "DATABASE_URL") -> URL:
    """The SQLAlchemy URL of ``setting``, or of the local default database when it is unset.

    ``setting`` (``MIGRATOR_DATABASE_URL``) falls back to ``DATABASE_URL``; an error about the
    value names the one it came from, which is the one to fix. No side effect: the local
    default's server must be running already (:func:`ensure_local_server`), or this is a
    TaskError saying so. Parsed here, once: the kit passes the URL object on.
    """
    return as_url(database_url_text(settings, setting=setting))


def database_url_text(settings: Settings, *, setting: str = "DATABASE_URL") -> str:
    """:func:`database_url` before it is parsed, without importing SQLAlchemy: for the bare
    driver connection of a ``db.seed`` that finds nothing changed (seeding/unchanged.py)."""
    source = setting if settings.get(setting) else "DATABASE_URL"
    raw = settings.get(source)
    if raw is None and settings.values.get("DATABASE_URL") == "":
        # Set, but to nothing: a missing CI secret, a half-edited .env.local. Falling back to
        # the project-local database would migrate the wrong one without a word.
        raise TaskError(
            f"DATABASE_URL is empty (set in {settings.origin('DATABASE_URL')}): set it to the "
            "database's URL, or remove it to use the project-local database"
        )
    url = (
        normalize(raw, settings.project_root, setting=source)
        if raw
        else local.default_url(settings)
    )
    return with_connect_timeout(url, connect_timeout(settings))


DEFAULT_CONNECT_TIMEOUT = 10


def connect_timeout(settings: Settings) -> int:
    """``DATABASE_CONNECT_TIMEOUT`` in whole seconds (libpq's unit; it takes 2 at least)."""
    raw = settings.get("DATABASE_CONNECT_TIMEOUT")
    if raw is None:
        return DEFAULT_CONNECT_TIMEOUT
    try:
        seconds = float(raw)
    except ValueError:
        seconds = -1.0
    if not 0 < seconds < 86400:
        raise TaskError(
            f"DATABASE_CONNECT_TIMEOUT={raw!r} is not a number of seconds (e.g. 10): "
            "how long to wait for the server to answer a connection"
        )
    return max(2, math.ceil(seconds))


def with_connect_timeout(url: str, seconds: int) -> str:
    """``url`` (PostgreSQL) with libpq's ``connect_timeout``, unless it gives one itself.

    On the URL's text, before it is parsed: the bare driver connection of an unchanged
    ``db.seed`` (database_url_text) gets it too.

    In the URL, every connection gets it: the engines, the admin's, psycopg's own, and the
    ``--dbname`` of pg_dump, pg_restore and psql. Without it, a server that accepts the TCP
    connection and never answers holds a task for minutes, or for good.
    """
    return backend_for(url).with_connect_timeout(url, seconds)


def offline_url(settings: Settings) -> URL:
    """A URL that picks the right SQL dialect without connecting (or starting a server)."""
    raw = settings.database_url
    return as_url(normalize(raw, settings.project_root) if raw else local.offline_url())


def make_engine(
    url: str | URL,
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
    return backend_for(url).make_engine(
        url,
        enforce_foreign_keys=enforce_foreign_keys,
        write_lock_wait=write_lock_wait,
        existing_only=existing_only,
        **kwargs,
    )


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions bound to ``engine``; objects stay usable after commit."""
    from sqlalchemy.orm import sessionmaker

    return sessionmaker(engine, expire_on_commit=False)


# The application's async engine (engine=async). Only the application's code and tests are
# async: the kit's tasks, env.py, backups and grants stay on the sync drivers (urls.py says why).
# sqlalchemy.ext.asyncio is imported by these functions alone, so a sync project never loads it.


def async_database_url(settings: Settings) -> URL:
    """The application's async URL of the database :func:`database_url` names.

    asyncpg when ``DATABASE_URL`` names it (``postgresql+asyncpg://``), libpq's
    ``connect_timeout`` and ``sslmode`` given as asyncpg's ``timeout`` and ``ssl``; otherwise
    ``postgresql+psycopg``, which ``create_async_engine`` runs on psycopg's async connection;
    ``sqlite+aiosqlite`` on SQLite.
    """
    url = database_url(settings)
    if url.get_backend_name() == "sqlite":
        return url.set(drivername="sqlite+aiosqlite")
    if not names_asyncpg(settings.get("DATABASE_URL") or ""):
        return url
    # The URL is written for libpq (the tasks read it with psycopg): asyncpg names two of its
    # options otherwise.
    query = dict(url.query)
    for libpq, asyncpg in _ASYNCPG_NAMES.items():
        value = query.pop(libpq, None)
        if value is not None:
            query.setdefault(asyncpg, value)
    return url.set(drivername="postgresql+asyncpg", query=query)


_ASYNCPG_NAMES = {"connect_timeout": "timeout", "sslmode": "ssl"}


def make_async_engine(url: str | URL, **kwargs: Any) -> AsyncEngine:
    """An async engine for ``url`` (:func:`async_database_url`); on SQLite with the real
    transactions and foreign keys of :func:`make_engine`, so SAVEPOINTs work as in sync."""
    return backend_for(url).make_async_engine(as_url(url), **kwargs)


def async_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Async sessions bound to ``engine``. Objects stay loaded after commit: with
    ``expire_on_commit=True`` reading an attribute afterwards would be a lazy load, which
    under asyncio raises MissingGreenlet instead of running a query."""
    from sqlalchemy.ext.asyncio import async_sessionmaker

    return async_sessionmaker(engine, expire_on_commit=False)
