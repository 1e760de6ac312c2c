"""SQLite backups and restores: the online backup API (``sqlite3.Connection.backup``).

A backup is consistent while the file is in use, and the same API copies a backup back, in one
write transaction on the target: all or nothing.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

from sqlalchemy.engine import URL

from ..backup import create_private, new_path, partial_of, unlinked_on_error
from ..errors import TaskError
from ..settings import Settings
from .sqlite import SQLite

_SQLITE_HEADER = b"SQLite format 3\x00"


def backup(settings: Settings, url: URL) -> Path:
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
        with _connected(source, mode="rw") as src, _connected(partial) as dst:
            src.backup(dst)
    partial.replace(target)
    return target


def restore(url: URL, path: Path, file: str) -> None:
    """Copy the backup at ``path`` over the database file of ``url`` after checking it."""
    if path.read_bytes()[: len(_SQLITE_HEADER)] != _SQLITE_HEADER:
        raise TaskError(f"{file!r} is not a SQLite backup (wrong file header)")
    target = _sqlite_path(url)
    target.parent.mkdir(parents=True, exist_ok=True)
    with _connected(path, mode="ro") as src:
        ok = src.execute("PRAGMA quick_check").fetchone()
        if not ok or ok[0] != "ok":
            raise TaskError(f"the backup {file!r} is damaged: {ok[0] if ok else '?'}")
        with _connected(target) as dst:
            src.backup(dst)  # one write transaction on the target: all or nothing


def _sqlite_path(url: URL) -> Path:
    database = url.database
    if not database or database == ":memory:":
        raise TaskError("an in-memory SQLite database cannot be backed up or restored")
    return Path(database)


@contextmanager
def _connected(path: Path, *, mode: str = "rwc") -> Iterator[sqlite3.Connection]:
    """A connection to the file ``path`` (SQLite's ``mode``: ``rwc``, ``rw``, ``ro``), closed
    after the block (sqlite3's own context manager only commits); one line when it won't open."""
    try:
        if mode == "rwc":
            connection = sqlite3.connect(path)
        else:
            connection = sqlite3.connect(f"file:{path}?mode={mode}", uri=True)
    except sqlite3.Error as exc:
        raise TaskError(f"cannot open {path}: {exc}") from exc
    with closing(connection):
        connection.execute("PRAGMA busy_timeout = 5000")  # sets the busy handler: reads nothing
        yield connection
