"""What every database the kit supports must do: one adapter class per backend.

The rest of the kit asks the adapter (``backend_for(url)``) instead of branching on the URL's
scheme, as Rails keeps one adapter class per database: ``postgresql.py`` and ``sqlite.py``.

Only the standard library is imported at the top of this package: ``database_url_text()`` asks
the adapter for the connect timeout, and an unchanged ``db.seed`` finishes without SQLAlchemy.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from importlib import import_module
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.script import ScriptDirectory
    from sqlalchemy import Connection, Engine
    from sqlalchemy.engine import URL
    from sqlalchemy.ext.asyncio import AsyncEngine

    from ..settings import Settings


class Backend(ABC):
    """One database product: how the lifecycle's operations are done on it."""

    # The scheme the URLs of this backend normalize to, and SQLAlchemy's dialect name.
    name: ClassVar[str]
    # How a backup file of this backend ends (backup.py names and finds them by it).
    backup_suffix: ClassVar[str]
    # Alembic's batch mode (copy and move the table) for what the database cannot ALTER.
    render_as_batch: ClassVar[bool]
    # A server of its own: one to wait for (--wait), whose advisory lock is the migration lock.
    has_server: ClassVar[bool]
    # Roles and grants (db.grant), and functions that run as their owner (SECURITY DEFINER).
    has_roles: ClassVar[bool]
    # Migrations run with foreign keys unchecked (batch mode rebuilds tables): a run can leave
    # rows pointing nowhere, which foreign_key_violations() then finds.
    foreign_keys_off_in_migrations: ClassVar[bool]
    # The bare driver's (bare_connection) parameter placeholder, and its catalog query of
    # whether the table named by the one parameter exists: no row, or NULL, when it does not.
    bare_placeholder: ClassVar[str]
    bare_table_exists: ClassVar[str]

    def local_module(self) -> ModuleType:
        """The project-local default database of this flavour (local.py): ``local_<name>.py``.

        Imported when first asked for: a SQLite project never imports the PostgreSQL one.
        """
        return import_module(f"..local_{self.name}", __package__)

    def enums_module(self) -> ModuleType:
        """How enum types are compared and described (enums.py): ``enums_<name>.py``."""
        return import_module(f"..enums_{self.name}", __package__)

    # A URL is a parsed ``sqlalchemy.engine.URL`` (engine.database_url), except where noted:
    # the methods a project's own tests call (its conftest.py) take its text as well, and two
    # work on the text before it is parsed, or without SQLAlchemy.

    @abstractmethod
    def label(self, url: str | URL) -> str:
        """The database's name for messages and for confirmation: what the user types."""

    @abstractmethod
    def sibling(self, url: str | URL, suffix: str) -> URL:
        """The URL of a database next to ``url``'s, its name followed by ``suffix`` (a test
        worker's copy, ``_test_gw0``)."""

    @abstractmethod
    def is_local(self, url: URL) -> bool:
        """Whether the database lives on this machine (protection.py)."""

    @abstractmethod
    def with_connect_timeout(self, url: str, seconds: int) -> str:
        """``url``'s text with a connect timeout of ``seconds``, where the backend has one."""

    @abstractmethod
    def make_engine(
        self,
        url: str | URL,
        *,
        enforce_foreign_keys: bool,
        write_lock_wait: float | None,
        existing_only: bool,
        **kwargs: Any,
    ) -> Engine:
        """An engine for ``url`` (engine.make_engine says what the options mean)."""

    def make_async_engine(self, url: URL, **kwargs: Any) -> AsyncEngine:
        """The application's async engine for ``url`` (engine.make_async_engine)."""
        from sqlalchemy.ext.asyncio import create_async_engine

        return create_async_engine(url, **kwargs)

    def task_connect_args(self, extra: dict[str, Any]) -> dict[str, Any]:
        """The driver's connect arguments of a task's connection (locking.task_connect_args)."""
        return dict(extra)

    @abstractmethod
    def bare_connection(self, url: str) -> tuple[Any, tuple[type[Exception], ...]]:
        """A DB-API connection to ``url``'s text without SQLAlchemy, and the driver's error
        types (seeding/unchanged.py: a run in which nothing changed ends before SQLAlchemy
        loads)."""

    @abstractmethod
    def database_exists(self, url: str | URL) -> bool: ...

    @abstractmethod
    def create_database(self, url: str | URL) -> bool:
        """Create the database of ``url`` when it is missing; True when it was created."""

    @abstractmethod
    def drop_database(self, url: str | URL) -> bool:
        """Drop the database of ``url`` when it exists; True when it was dropped."""

    @abstractmethod
    def empty_for_reset(self, settings: Settings, url: URL) -> str:
        """Leave the database of ``url`` existing and empty (``db.reset``, under the migration
        lock); what was done, in one line."""

    @abstractmethod
    def backup(self, settings: Settings, url: URL) -> Path:
        """Write a backup of the database of ``url`` into the backup folder; return its path."""

    @abstractmethod
    def restore(self, settings: Settings, url: URL, path: Path, file: str) -> None:
        """Replace the contents of the database of ``url`` by the backup at ``path`` (named
        ``file`` in messages), atomically."""

    @abstractmethod
    def offline_sql(
        self,
        config: Config,
        scripts: ScriptDirectory,
        url: URL,
        start: str,
        end: str,
        *,
        downgrade: bool,
    ) -> str:
        """The SQL of the revisions from ``start`` to ``end``, without a live database."""

    def foreign_key_violations(self, connection: Connection, limit: int) -> tuple[int, list[str]]:
        """How many rows have foreign keys pointing nowhere, and a line for the first ones.

        A database that never lets such a row in has none (migrations.foreign_key_violations).
        """
        return 0, []
