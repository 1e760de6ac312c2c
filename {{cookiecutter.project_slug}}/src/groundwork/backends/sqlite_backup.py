"""SQLite backups and restores: the online backup API (``sqlite3.Connection.backup``).

A backup is consistent while the file is in use, and the same API copies a backup back, in one
write transaction on the target: all or nothing.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlalchemy.engine import make_url

from ..backup import create_private, new_path, partial_of, unlinked_on_error
from ..errors import TaskError
from ..settings import Settings
from .sqlite import SQLite

_SQLITE_HEADER = b"SQLite format 3\x00"


def backup(settings: Settings, url: str) -> Path:
    """Copy the database file of ``url`` into the backup folder; return the copy's path."""
    source = _sqlite_path(url)
    if not source.is_file():
        raise TaskError(f"no database to back up: {source} does not exist")
    target = new_path(settings, url, SQLite.backup_suffix)
    partial = partial_of(target)
    # The source is opened for writing: after a crash its hot journal must be rolled back
    # before it can be read (read-only, SQLite refuses). The backup API only reads it.
    with unlinked_on_error(partial):
        create_private(partial)
        with _SQLite(source, mode="rw") as src, _SQLite(partial) as dst:
            src.backup(dst)
    partial.replace(target)
    return target


def restore(url: str, path: Path, file: str) -> None:
    """Copy the backup at ``path`` over the database file of ``url`` after checking it."""
    if path.read_bytes()[: len(_SQLITE_HEADER)] != _SQLITE_HEADER:
        raise TaskError(f"{file!r} is not a SQLite backup (wrong file header)")
    target = _sqlite_path(url)
    target.parent.mkdir(parents=True, exist_ok=True)
    with _SQLite(path, readonly=True) as src:
        ok = src.execute("PRAGMA quick_check").fetchone()
        if not ok or ok[0] != "ok":
            raise TaskError(f"the backup {file!r} is damaged: {ok[0] if ok else '?'}")
        with _SQLite(target) as dst:
            src.backup(dst)  # one write transaction on the target: all or nothing


def _sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:":
        raise TaskError("an in-memory SQLite database cannot be backed up or restored")
    return Path(database)


class _SQLite:
    """``sqlite3.connect`` as a context manager that closes (sqlite3's own only commits)."""

    def __init__(self, path: Path, *, readonly: bool = False, mode: str = "rwc") -> None:
        self.path, self.mode = path, "ro" if readonly else mode

    def __enter__(self) -> sqlite3.Connection:
        try:
            if self.mode == "rwc":
                self.connection = sqlite3.connect(self.path)
            else:
                self.connection = sqlite3.connect(f"file:{self.path}?mode={self.mode}", uri=True)
            self.connection.execute("PRAGMA busy_timeout = 5000")
        except sqlite3.Error as exc:
            raise TaskError(f"cannot open {self.path}: {exc}") from exc
        return self.connection

    def __exit__(self, *_: object) -> None:
        self.connection.close()
