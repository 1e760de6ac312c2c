"""The application's engine and sessions: what its code, its tests and a web layer use.

The database is ``DATABASE_URL``'s, or the project-local default (its server started when
needed), as for the ``invoke db.*`` tasks. Sessions keep their objects loaded after commit
(``expire_on_commit=False``). docs/database.md, "Engines and sessions".
"""

from __future__ import annotations

from groundwork import engine as kit
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from .settings import Settings, load_settings

__all__ = ["Session", "create_engine", "session_factory"]


def create_engine(settings: Settings | None = None) -> Engine:
    """The engine of the configured database (``settings``, or those of the environment)."""
    settings = settings or load_settings()
    kit.ensure_local_server(settings)
    return kit.make_engine(kit.database_url(settings))


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions bound to ``engine``: ``with factory() as session, session.begin(): ...``."""
    return kit.session_factory(engine)
