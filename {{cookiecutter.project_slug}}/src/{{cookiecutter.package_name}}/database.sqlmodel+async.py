"""The application's async engine and sessions: what its code, its tests and a web layer use.

The database is ``DATABASE_URL``'s, or the project-local default (its server started when
needed), as for the ``invoke db.*`` tasks, reached with an async driver: asyncpg when
``DATABASE_URL`` names it (``postgresql+asyncpg://``), else psycopg's async connection;
aiosqlite on SQLite. The tasks themselves stay sync. Sessions are SQLModel's (``exec``);
``Session`` is the sync one, for scripts and the tests' sync fixtures. docs/database.md,
"Async engines": lazy loading raises MissingGreenlet under asyncio, so load relationships in
the query or with ``refresh``.
"""

from __future__ import annotations

from groundwork import engine as kit
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel import Session
from sqlmodel.ext.asyncio.session import AsyncSession

from .settings import Settings, load_settings

__all__ = ["AsyncSession", "Session", "create_engine", "session_factory"]


def create_engine(settings: Settings | None = None) -> AsyncEngine:
    """The async engine of the configured database (``settings``, or the environment's)."""
    settings = settings or load_settings()
    kit.ensure_local_server(settings)
    return kit.make_async_engine(kit.async_database_url(settings))


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions bound to ``engine``: ``async with factory() as session, session.begin():``.

    Objects stay loaded after commit (``expire_on_commit=False``): reading an expired
    attribute would be a lazy load, which raises MissingGreenlet under asyncio.
    """
    return async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)
