"""Backups and restores of the configured database: the folder, file names, partial files.

How a backup is taken and restored is the backend's (``backends/postgresql_backup.py``:
``pg_dump`` archives replayed through ``psql`` in one transaction; ``backends/sqlite_backup.py``:
SQLite's online backup API); what every backend shares is here.

Backups go to ``BACKUP_DIR`` (default ``backups/``, git-ignored, mode 0700) as
``<database>-<UTC time>.dump`` / ``.sqlite3`` (``..._2.dump`` and on for a second backup within
the same second), mode 0600, so the names sort in the order the backups were taken and
``latest`` names the newest. A file is written under a hidden name,
``.<name>.<host>-<pid>.partial``, and renamed when complete, so an interrupted backup never
looks like a good one; the next backup removes the partial files of processes that are gone.
"""

from __future__ import annotations

import os
import re
import socket
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from .backends import backend_for
from .errors import TaskError
from .settings import Settings

if TYPE_CHECKING:
    from sqlalchemy.engine import URL

LATEST = "latest"  # db.restore latest: the newest backup of the configured database


def backup_dir(settings: Settings) -> Path:
    raw = settings.get("BACKUP_DIR")
    path = Path(raw) if raw else settings.project_root / "backups"
    return path if path.is_absolute() else settings.project_root / path


def new_path(settings: Settings, url: URL, suffix: str) -> Path:
    folder = _private_folder(backup_dir(settings))
    _remove_stale_partials(folder)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    base = f"{_name_of(url)}-{stamp}"
    path = folder / f"{base}{suffix}"
    n = 2
    while path.exists():
        # "_" sorts after "." so that a later backup of the same second also sorts later.
        path = folder / f"{base}_{n:02}{suffix}"
        n += 1
    return path


def _name_of(url: URL) -> str:
    return backend_for(url).label(url).removesuffix(".sqlite3")


def _private_folder(folder: Path) -> Path:
    """``folder``, created 0700 (only its owner may list or read backups), or tightened to 0700
    when this user owns it; a shared sticky folder such as /tmp is left alone."""
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = folder.stat()
        if info.st_mode & 0o077 and info.st_uid == os.getuid() and not info.st_mode & stat.S_ISVTX:
            folder.chmod(0o700)
    except OSError as exc:
        raise TaskError(f"cannot create the backup folder {folder}: {exc.strerror}") from exc
    if not os.access(folder, os.W_OK):
        raise TaskError(f"the backup folder {folder} is not writable: fix it or set BACKUP_DIR")
    return folder


def partial_of(target: Path) -> Path:
    """Where ``target`` is written until complete: hidden (``ls`` and ``latest`` skip it), never
    ending like a backup, and naming the host and process, so a later backup can tell when it
    was abandoned."""
    return target.with_name(f".{target.name}.{socket.gethostname()}-{os.getpid()}.partial")


# SQLite writes its journal (and WAL files) next to the partial file, under its name.
_PARTIAL_SUFFIXES = ("", "-journal", "-wal", "-shm")
_STALE_AFTER = 24 * 3600  # seconds without a write: abandoned, whichever host wrote it


def _remove_partial(partial: Path) -> None:
    for suffix in _PARTIAL_SUFFIXES:
        partial.with_name(partial.name + suffix).unlink(missing_ok=True)


def _remove_stale_partials(folder: Path) -> None:
    """Remove the partial files of backups whose process is gone (killed, or its machine
    crashed): those of this host whose process no longer runs, and any untouched for a day."""
    this_host = re.compile(
        rf"^\..+\.{re.escape(socket.gethostname())}-(\d+)\.partial(-journal|-wal|-shm)?$"
    )
    now = datetime.now(UTC).timestamp()
    for path in folder.glob(".*.partial*"):
        match = this_host.match(path.name)
        try:
            stale = (match is not None and not _running(int(match[1]))) or (
                now - path.stat().st_mtime > _STALE_AFTER
            )
            if stale:
                path.unlink()
        except OSError:
            continue  # gone already, or not ours to remove: it stays hidden either way


def _running(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True


def create_private(path: Path) -> None:
    """Create ``path`` empty with mode 0600 before anything is written into it."""
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def latest_backup(settings: Settings, url: URL) -> Path | None:
    """The newest backup of the database of ``url`` in the backup folder, or None."""
    suffix = backend_for(url).backup_suffix
    stamp = r"-(\d{8}T\d{6}Z)(?:_(\d+))?"  # not an f-string: the template renders double braces
    named = re.compile(f"^{re.escape(_name_of(url))}{stamp}{re.escape(suffix)}$")
    found = []
    folder = backup_dir(settings)
    for path in folder.iterdir() if folder.is_dir() else ():
        match = named.match(path.name)
        if match and path.is_file():
            found.append((match[1], int(match[2] or 1), path))
    return max(found)[2] if found else None


def backup(settings: Settings, url: URL) -> Path:
    """Write a backup of the database of ``url``; return its path."""
    return backend_for(url).backup(settings, url)


def restore(settings: Settings, url: URL, file: str) -> Path:
    """Replace the contents of the database of ``url`` by the backup ``file`` (``latest``: the
    newest backup of this database), atomically; return the backup's path."""
    path = Path(file).expanduser()
    if not path.is_absolute() and not path.exists():
        path = settings.project_root / path
    if file == LATEST and not path.exists():
        newest = latest_backup(settings, url)
        if newest is None:
            raise TaskError(
                f"no backup of {backend_for(url).label(url)} in {backup_dir(settings)}:"
                " `invoke db.backup` writes one"
            )
        path, file = newest, str(newest)
    if not path.is_file():
        raise TaskError(f"backup {file!r} not found: `ls {backup_dir(settings)}` lists them")
    backend_for(url).restore(settings, url, path, file)
    return path


@contextmanager
def unlinked_on_error(partial: Path) -> Iterator[None]:
    """Remove ``partial`` when the block fails: a failed backup leaves no file behind."""
    try:
        yield
    except BaseException:
        _remove_partial(partial)
        raise
