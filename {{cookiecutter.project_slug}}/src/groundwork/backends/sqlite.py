"""The SQLite adapter: a file, always on this machine, reached with the standard library's sqlite3.

Creating the database creates the file; dropping it removes the file and its journals. Backups
are copies made with SQLite's online backup API (sqlite_backup.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import TaskError
from ..urls import as_url
from .base import Backend

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.script import ScriptDirectory
    from sqlalchemy import Connection, Engine
    from sqlalchemy.engine import URL
    from sqlalchemy.ext.asyncio import AsyncEngine

    from ..settings import Settings

# How long a connection waits for another one's lock before SQLITE_BUSY.
_BUSY_TIMEOUT_MS = 5000


class SQLite(Backend):
    name = "sqlite"
    backup_suffix = ".sqlite3"
    render_as_batch = True  # SQLite cannot ALTER most things: batch mode rebuilds the table
    has_server = False
    has_roles = False
    foreign_keys_off_in_migrations = True
    bare_placeholder = "?"
    bare_table_exists = "SELECT name FROM sqlite_master WHERE type = 'table' AND name = ?"

    def label(self, url: str | URL) -> str:
        """The file name: what the user types to confirm."""
        return _path_of(as_url(url)).rsplit("/", 1)[-1]

    def sibling(self, url: str | URL, suffix: str) -> URL:
        """Next to the file, before its extension: ``app_test.sqlite3``."""
        parsed = as_url(url)
        path = Path(parsed.database or "")
        return parsed.set(database=str(path.with_name(path.stem + suffix + path.suffix)))

    def is_local(self, url: URL) -> bool:
        return True

    def with_connect_timeout(self, url: str, seconds: int) -> str:
        return url  # a file opens at once: there is no server to wait for

    def make_engine(
        self,
        url: str | URL,
        *,
        enforce_foreign_keys: bool,
        write_lock_wait: float | None,
        existing_only: bool,
        **kwargs: Any,
    ) -> Engine:
        """Real transactions and foreign keys enforced (engine.make_engine says why)."""
        from sqlalchemy import create_engine
        from sqlalchemy.pool import NullPool

        parsed = as_url(url)
        path = _prepare_file(parsed, existing_only=existing_only)
        kwargs.setdefault("poolclass", NullPool)
        engine = create_engine(parsed, **kwargs)
        _take_transactions(engine, path, enforce_foreign_keys, write_lock_wait)
        return engine

    def make_async_engine(self, url: URL, **kwargs: Any) -> AsyncEngine:
        """aiosqlite's engine, with the sync engine's transactions and foreign keys: the
        recipe acts on the DB-API connection, which aiosqlite's adapter makes look sync."""
        path = _prepare_file(url, existing_only=False)
        engine = super().make_async_engine(url, **kwargs)
        _take_transactions(
            engine.sync_engine, path, enforce_foreign_keys=True, write_lock_wait=None
        )
        return engine

    def bare_connection(self, url: str) -> tuple[Any, tuple[type[Exception], ...]]:
        """Read-only: the shortcut never writes."""
        import sqlite3

        path = url.split(":///", 1)[1].partition("?")[0]
        if not path or path == ":memory:":
            raise ValueError("no file")
        uri = f"{Path(path).resolve().as_uri()}?mode=ro"
        return sqlite3.connect(uri, uri=True), (sqlite3.Error,)

    def database_exists(self, url: str | URL) -> bool:
        path = _path_of(as_url(url))
        return path in ("", ":memory:") or Path(path).is_file()

    def create_database(self, url: str | URL) -> bool:
        parsed = as_url(url)
        if self.database_exists(parsed):
            return False
        path = Path(_path_of(parsed))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()
        return True

    def drop_database(self, url: str | URL) -> bool:
        path = Path(_path_of(as_url(url)))
        existed = path.is_file()
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return existed

    def empty_for_reset(self, settings: Settings, url: URL) -> str:
        """The file is deleted and created again."""
        self.drop_database(url)
        self.create_database(url)
        return f"Deleted and created {self.label(url)}"

    def backup(self, settings: Settings, url: URL) -> Path:
        from .sqlite_backup import backup

        return backup(settings, url)

    def restore(self, settings: Settings, url: URL, path: Path, file: str) -> None:
        from .sqlite_backup import restore

        restore(url, path, file)

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
        from ..offline import replay_sql  # batch mode needs a database: an in-memory one

        return replay_sql(config, scripts, start, end, downgrade=downgrade)

    def foreign_key_violations(self, connection: Connection, limit: int) -> tuple[int, list[str]]:
        """Migrations run with foreign keys off (batch mode rebuilds tables), so SQLite checks
        nothing while they run; ``PRAGMA foreign_key_check`` finds what they left behind (or
        what was written with the pragma off)."""
        found = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
        lines = []
        for table, rowid, parent, fkid in found[:limit]:
            columns = [
                str(row[3])
                for row in connection.exec_driver_sql(f'PRAGMA foreign_key_list("{table}")')
                if row[0] == fkid
            ]
            where = f"rowid {rowid}" if rowid is not None else "a row"
            lines.append(
                f"table {table} {where}: {', '.join(columns) or 'its foreign key'} points to no "
                f"row of {parent}"
            )
        return len(found), lines


def _path_of(url: URL) -> str:
    """The file of a SQLite URL ("" or ":memory:" for an in-memory database)."""
    return url.database or ""


def _prepare_file(url: URL, *, existing_only: bool) -> str:
    """The database file's path, its folder made; a missing file reported if ``existing_only``."""
    path = _path_of(url)
    if path and path != ":memory:":
        if existing_only and not Path(path).is_file():
            raise TaskError(f"database {path} does not exist: run `invoke db.init` to create it")
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    return path


def _take_transactions(
    engine: Engine, path: str, enforce_foreign_keys: bool, write_lock_wait: float | None
) -> None:
    """BEGIN in our hands and foreign keys on (engine.make_engine says why): SQLAlchemy's recipe."""
    from sqlalchemy import event

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves, below
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA foreign_keys = {'ON' if enforce_foreign_keys else 'OFF'}")
        cursor.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        if write_lock_wait is None:
            connection.exec_driver_sql("BEGIN")
            return
        from ..locking import sqlite_begin_immediate

        sqlite_begin_immediate(connection, path, write_lock_wait)


BACKEND = SQLite()
