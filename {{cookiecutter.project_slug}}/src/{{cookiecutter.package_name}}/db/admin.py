"""Creating and dropping the configured database itself (not what is inside it)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import URL, make_url

from ..errors import TaskError
from .engine import make_engine
from .urls import backend_of

# Databases that every PostgreSQL server has; used to run CREATE/DROP DATABASE from outside.
_MAINTENANCE_DATABASES = ("postgres", "template1")


def _maintenance_url(url: URL) -> URL:
    return url.set(database=_MAINTENANCE_DATABASES[0])


def database_exists(url: str) -> bool:
    parsed = make_url(url)
    if backend_of(url) == "sqlite":
        return parsed.database in (None, "", ":memory:") or Path(parsed.database or "").is_file()
    engine = make_engine(_maintenance_url(parsed).render_as_string(hide_password=False))
    try:
        with engine.connect() as connection:
            found = connection.execute(
                text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": parsed.database}
            ).first()
    finally:
        engine.dispose()
    return found is not None


def create_database(url: str) -> bool:
    """Create the database of ``url`` when it is missing; True when it was created."""
    parsed = make_url(url)
    if backend_of(url) == "sqlite":
        if database_exists(url):
            return False
        path = Path(parsed.database or "")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()
        return True
    if database_exists(url):
        return False
    engine = make_engine(
        _maintenance_url(parsed).render_as_string(hide_password=False),
        isolation_level="AUTOCOMMIT",
    )
    try:
        with engine.connect() as connection:
            quoted = connection.dialect.identifier_preparer.quote(parsed.database or "")
            privileged = connection.execute(
                text("SELECT rolcreatedb OR rolsuper FROM pg_roles WHERE rolname = current_user")
            ).scalar()
            if not privileged:
                raise TaskError(
                    f"database {parsed.database!r} does not exist and {parsed.username!r} may "
                    "not create databases: ask a DBA to create it, or use a login with CREATEDB"
                )
            connection.exec_driver_sql(f"CREATE DATABASE {quoted}")
    finally:
        engine.dispose()
    return True


def drop_database(url: str) -> bool:
    """Drop the database of ``url`` when it exists; True when it was dropped."""
    parsed = make_url(url)
    if backend_of(url) == "sqlite":
        path = Path(parsed.database or "")
        existed = path.is_file()
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return existed
    if not database_exists(url):
        return False
    engine = make_engine(
        _maintenance_url(parsed).render_as_string(hide_password=False),
        isolation_level="AUTOCOMMIT",
    )
    try:
        with engine.connect() as connection:
            quoted = connection.dialect.identifier_preparer.quote(parsed.database or "")
            connection.exec_driver_sql(f"DROP DATABASE {quoted} WITH (FORCE)")
    finally:
        engine.dispose()
    return True
