"""The destructive end of the lifecycle: create, drop, backup, restore, reset.

Each one checks protection.py first where it can lose data, and holds the migration lock
(locking.py) while it changes the schema.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from . import backup, locking, migrations, protection
from .backends import backend_for
from .engine import database_url
from .errors import TaskError
from .settings import Settings
from .urls import masked

if TYPE_CHECKING:
    from sqlalchemy.engine import URL


def wait_for_server(settings: Settings) -> None:
    """With ``--wait SECONDS`` (``DATABASE_WAIT``), retry until the server accepts connections."""
    seconds = locking.seconds_setting(settings, "DATABASE_WAIT", 0.0)
    locking.wait_for_server(database_url(settings), seconds)


def _migrator_url(settings: Settings) -> URL:
    # The lock is taken where migrations take it, so that reset -> upgrade finds it held.
    return database_url(settings, setting="MIGRATOR_DATABASE_URL")


def create(settings: Settings) -> str:
    """Create the database when it is missing; what happened, in one line."""
    url = database_url(settings)
    backend = backend_for(url)
    created = backend.create_database(url)
    label = backend.label(url)
    return f"Created database {label}" if created else f"Database {label} exists already"


def drop(settings: Settings, *, force: bool = False, yes: bool = False) -> str:
    """Drop the database when it exists; what happened, in one line."""
    url = database_url(settings)
    protection.confirm(settings, url, "drop", force=force, yes=yes)
    backend = backend_for(url)
    dropped = backend.drop_database(url)
    label = backend.label(url)
    return f"Dropped database {label}" if dropped else f"No database {label} to drop"


def take_backup(settings: Settings) -> Path:
    url = database_url(settings)
    if not backend_for(url).database_exists(url):
        raise TaskError(f"no database to back up: {masked(url)} does not exist")
    path = backup.backup(settings, url)
    print(f"Backup written to {path}")
    return path


def restore(settings: Settings, file: str, *, force: bool = False, yes: bool = False) -> str:
    """Replace the database's contents by a backup; what was restored, in one line."""
    url = database_url(settings)
    protection.confirm(settings, url, "restore", force=force, yes=yes)
    backend = backend_for(url)
    backend.create_database(url)
    with locking.migration_lock(settings, _migrator_url(settings)):
        restored = backup.restore(settings, url, file)
    shown = restored if file == backup.LATEST else file
    return f"Restored {shown} into {backend.label(url)}"


def reset(
    settings: Settings,
    *,
    take_backup_first: bool = True,
    force: bool = False,
    yes: bool = False,
    seed: Callable[[Settings], object] | None = None,
) -> Path | None:
    """Back up, drop everything the application owns, migrate to head, seed.

    SQLite: the file is deleted and created again. PostgreSQL: the database stays (the login
    may not be allowed to create one); every table, view, sequence, type and routine of the
    application's schema is dropped, the schema, its owner and grants stay. Under the role
    model the drops run as the owner, and the lifecycle tables db.grant created are emptied
    instead (backends/postgresql_backup.empty_schema).
    """
    url = database_url(settings)
    protection.confirm(settings, url, "reset", force=force, yes=yes)
    backend = backend_for(url)
    saved = take_backup(settings) if take_backup_first and backend.database_exists(url) else None
    with locking.migration_lock(settings, _migrator_url(settings)):
        print(backend.empty_for_reset(settings, url))
        migrations.upgrade(settings, "head")
    if seed is not None:
        seed(settings)
    return saved
