"""Protected environments: destructive tasks refuse to run where a mistake would cost data.

``reset``, ``drop``, ``restore``, ``downgrade`` and ``stamp`` refuse, with one line saying why,
when:

- ``APP_ENV`` is in ``PROTECTED_ENVIRONMENTS`` (comma-separated, default ``production``);
- the database's host is not this machine (a Unix socket, localhost, 127.0.0.1, ::1 are local;
  SQLite is always local);
- the database was initialized for another environment, or for a protected one (its
  ``lifecycle_environment`` table remembers, as Rails' ``ar_internal_metadata`` does).

``--force`` overrides; an interactive run then asks for the database name to be typed, a
non-interactive one needs ``--yes`` as well.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import Connection, inspect, select
from sqlalchemy.engine import URL
from sqlalchemy.pool import NullPool

from .backends import backend_for
from .engine import make_engine
from .errors import TaskError
from .ledger import ENVIRONMENT_TABLE, environment
from .settings import Settings
from .urls import as_url

DEFAULT_PROTECTED = "production"


def protected_environments(settings: Settings) -> set[str]:
    """The protected environment names, compared as :func:`same_environment` does."""
    raw = settings.get("PROTECTED_ENVIRONMENTS", DEFAULT_PROTECTED) or DEFAULT_PROTECTED
    return {_key(name) for name in raw.split(",") if name.strip()}


def _key(name: str) -> str:
    return name.strip().casefold()


def same_environment(one: str, other: str) -> bool:
    """``Production``, `` production`` and ``production`` are one environment."""
    return _key(one) == _key(other)


def stamped_environment(url: str | URL) -> str | None:
    """The environment the database was initialized for; None when unknown or no database."""
    url = as_url(url)
    if not backend_for(url).database_exists(url):
        return None
    engine = make_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            if not inspect(connection).has_table(ENVIRONMENT_TABLE):
                return None
            value = connection.execute(
                select(environment.c.value).where(environment.c.key == "environment")
            ).scalar()
    finally:
        engine.dispose()
    return str(value) if value is not None else None


def stamp_environment(connection: Connection, app_env: str) -> bool:
    """Remember ``app_env`` in the database, unless it already remembers one; True if it did."""
    environment.create(connection, checkfirst=True)
    found = connection.execute(
        select(environment.c.value).where(environment.c.key == "environment")
    ).first()
    if found is None:
        connection.execute(
            environment.insert().values(
                key="environment", value=app_env, updated_at=datetime.now(UTC)
            )
        )
    return found is None


def stamped_line(settings: Settings) -> str:
    """What ``stamp_environment`` recorded and where the value came from, in one line."""
    return (
        f"Recorded environment {settings.app_env!r} in the database "
        f"({settings.app_env_origin}); destructive tasks refuse it under any other APP_ENV"
    )


def reasons(settings: Settings, url: URL, *, read_stamp: bool = True) -> list[str]:
    """Why a destructive task should not run on ``url`` unattended; empty when it may.

    Without ``read_stamp``, the database is consulted only when nothing else forbids the task
    (a refusal then needs no connection, which may be the very thing that is wrong).
    """
    found = []
    protected = protected_environments(settings)
    if _key(settings.app_env) in protected:
        found.append(f"APP_ENV={settings.app_env} is protected (PROTECTED_ENVIRONMENTS)")
    if not backend_for(url).is_local(url):
        found.append(f"the database host {url.host!r} is not this machine")
    if found and not read_stamp:
        return found
    stamped = stamped_environment(url)
    if stamped is None or same_environment(stamped, settings.app_env):
        pass
    elif _key(stamped) in protected:
        found.append(f"the database was initialized for the protected environment {stamped!r}")
    else:
        found.append(
            f"the database was initialized for {stamped!r}, not APP_ENV={settings.app_env!r}"
        )
    return found


def confirm(
    settings: Settings,
    url: URL,
    task: str,
    *,
    force: bool = False,
    yes: bool = False,
    ask: Callable[[str], str] = input,
    interactive: bool | None = None,
) -> None:
    """Raise unless ``task`` may run on ``url``: unprotected, or forced and confirmed."""
    why = reasons(settings, url, read_stamp=force)
    if not why:
        return
    label = backend_for(url).label(url)
    if not force:
        raise TaskError(
            f"refused on {label!r}: {'; '.join(why)}; "
            "add --force (and --yes when not interactive) if you mean it"
        )
    if yes:
        return
    if interactive is None:
        interactive = sys.stdin.isatty()
    if not interactive:
        raise TaskError(f"needs --force --yes when not run interactively on {label!r} ({why[0]})")
    print(f"db.{task} on a protected database: {'; '.join(why)}.", file=sys.stderr)
    typed = ask(f"Type the database name ({label}) to go on: ").strip()
    if typed != label:
        raise TaskError(f"cancelled: {typed!r} is not {label!r}")
