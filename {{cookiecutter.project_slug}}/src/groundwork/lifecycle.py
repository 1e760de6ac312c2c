"""The destructive end of the lifecycle: create, drop, backup, restore, reset.

Each one checks protection.py first where it can lose data, and holds the migration lock
(locking.py) while it changes the schema.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from . import admin, backup, locking, migrations, protection
from .engine import database_url
from .errors import TaskError, mask_secrets
from .settings import Settings
from .urls import backend_of


def wait_for_server(settings: Settings) -> None:
    """With ``--wait SECONDS`` (``DATABASE_WAIT``), retry until the server accepts connections."""
    seconds = locking.seconds_setting(settings, "DATABASE_WAIT", 0.0)
    locking.wait_for_server(database_url(settings), seconds)


def _migrator_url(settings: Settings) -> str:
    # The lock is taken where migrations take it, so that reset -> upgrade finds it held.
    return database_url(settings, setting="MIGRATOR_DATABASE_URL")


def create(settings: Settings) -> bool:
    url = database_url(settings)
    created = admin.create_database(url)
    label = protection.database_label(url)
    print(f"Created database {label}" if created else f"Database {label} exists already")
    return created


def drop(settings: Settings, *, force: bool = False, yes: bool = False) -> bool:
    url = database_url(settings)
    protection.confirm(settings, url, "drop", force=force, yes=yes)
    dropped = admin.drop_database(url)
    label = protection.database_label(url)
    print(f"Dropped database {label}" if dropped else f"No database {label} to drop")
    return dropped


def take_backup(settings: Settings) -> Path:
    url = database_url(settings)
    if not admin.database_exists(url):
        raise TaskError(f"no database to back up: {mask_secrets(url)} does not exist")
    path = backup.backup(settings, url)
    print(f"Backup written to {path}")
    return path


def restore(settings: Settings, file: str, *, force: bool = False, yes: bool = False) -> None:
    url = database_url(settings)
    protection.confirm(settings, url, "restore", force=force, yes=yes)
    admin.create_database(url)
    with locking.migration_lock(settings, _migrator_url(settings)):
        restored = backup.restore(settings, url, file)
    shown = restored if file == backup.LATEST else file
    print(f"Restored {shown} into {protection.database_label(url)}")


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
    instead (backup.empty_schema).
    """
    url = database_url(settings)
    protection.confirm(settings, url, "reset", force=force, yes=yes)
    saved = take_backup(settings) if take_backup_first and admin.database_exists(url) else None
    with locking.migration_lock(settings, _migrator_url(settings)):
        if backend_of(url) == "sqlite":
            admin.drop_database(url)
            admin.create_database(url)
            print(f"Deleted and created {protection.database_label(url)}")
        elif admin.create_database(url):
            print(f"Created database {protection.database_label(url)}")
        else:
            # The migrator's connection, as the owner under the role model: only the owner
            # may drop the schema's objects.
            with migrations.connected(settings, exclusive=True) as (_, connection):
                dropped, emptied = backup.empty_schema(connection)
            kept = f", emptied {', '.join(emptied)}" if emptied else ""
            print(f"Dropped {len(dropped)} objects of the application's schema{kept}")
        migrations.upgrade(settings, "head")
    if seed is not None:
        seed(settings)
    return saved
