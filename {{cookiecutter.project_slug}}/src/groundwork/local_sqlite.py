"""The project-local SQLite database used when ``DATABASE_URL`` is unset.

One file per environment under the git-ignored ``var/`` folder. There is no server to start
or stop; ``db.up`` and ``db.down`` say so.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .settings import Settings

OFFLINE_URL = "sqlite://"


def default_url(settings: Settings, database: str | None = None) -> str:
    """The URL of the SQLite file of ``database`` (default: this environment's)."""
    path = settings.var_dir / f"{database or settings.database_name}.sqlite3"
    return f"sqlite:///{path.as_posix()}"


def ensure_running(settings: Settings) -> None:
    """Nothing to start: the file is created by the tasks that create the database."""


def up(settings: Settings) -> str:
    return f"nothing to start: the database is a SQLite file under {settings.var_dir}"


def down(settings: Settings) -> str:
    return f"nothing to stop: the database is a SQLite file under {settings.var_dir}"


def bin_dir() -> Path | None:
    return None
