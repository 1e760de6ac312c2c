"""Creating and dropping the configured database itself (not what is inside it)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from .driver import PINNED_SEARCH_PATH
from .engine import make_engine
from .errors import TaskError
from .server_answer import answer
from .urls import backend_of

# Databases that every PostgreSQL server has; used to run CREATE/DROP DATABASE from outside.
MAINTENANCE_DATABASES = ("postgres", "template1")
# CREATE DATABASE racing another one of the same name (two replicas running db.init):
# "already exists", or the unique index of pg_database when both passed the existence check.
_ALREADY_EXISTS = ("42P04", "23505")


@contextmanager
def _maintenance(
    url: URL, *, or_target: bool = False, autocommit: bool = False
) -> Iterator[Connection]:
    """A connection to ``postgres``, else ``template1``, else (``or_target``) the database itself.

    Managed servers and careful DBAs may refuse a login the ``postgres`` database (no CONNECT,
    no pg_hba.conf line); a server's answer (any SQLSTATE) moves on to the next candidate, while a
    server that does not answer at all is reported at once. The first refusal is the one
    reported when none accepts: it names the database people expect to be used.

    The URL object goes to the driver as keyword parameters (any character in a password),
    and the search path is pinned to the catalog: this login creates and drops databases.
    """
    candidates = [*MAINTENANCE_DATABASES, *([url.database] if or_target else [])]
    first: DBAPIError | None = None
    given = url.query.get("options")
    given = given if isinstance(given, str) else (given[-1] if given else "")
    options: dict[str, Any] = {
        "poolclass": NullPool,
        "connect_args": {"options": f"{given} {PINNED_SEARCH_PATH}".strip()},
    }
    if autocommit:
        options["isolation_level"] = "AUTOCOMMIT"
    for name in dict.fromkeys(candidates):
        # make_engine: a connect timeout is reported with the server and the seconds.
        engine = make_engine(url.set(database=name), **options)
        try:
            try:
                connection = engine.connect()
            except DBAPIError as exc:
                if answer(exc) is None:  # by the protocol, not the words (server_answer.py)
                    raise
                first = first or exc
                continue
            with connection:
                yield connection
            return
        finally:
            engine.dispose()
    if first is not None:  # always, once the loop is over
        raise first


def database_exists(url: str) -> bool:
    parsed = make_url(url)
    if backend_of(url) == "sqlite":
        return parsed.database in (None, "", ":memory:") or Path(parsed.database or "").is_file()
    # Reaching the database itself answers the question too.
    with _maintenance(parsed, or_target=True) as connection:
        found = connection.execute(
            text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": parsed.database}
        ).first()
    return found is not None


def create_database(url: str) -> bool:
    """Create the database of ``url`` when it is missing; True when it was created."""
    parsed = make_url(url)
    if backend_of(url) == "sqlite":
        if database_exists(url):
            return False
        path = Path(parsed.database or "")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()
        return True
    if database_exists(url):
        return False
    with _maintenance(parsed, autocommit=True) as connection:
        quoted = connection.dialect.identifier_preparer.quote(parsed.database or "")
        privileged = connection.execute(
            text("SELECT rolcreatedb OR rolsuper FROM pg_roles WHERE rolname = current_user")
        ).scalar()
        if not privileged:
            raise TaskError(
                f"database {parsed.database!r} does not exist and {parsed.username!r} may "
                "not create databases: ask a DBA to create it, or use a login with CREATEDB"
            )
        try:
            connection.exec_driver_sql(f"CREATE DATABASE {quoted}")
        except DBAPIError as exc:
            # Outside the migration lock (there is no database to hold it in yet): another
            # process created it between our check and our CREATE, which is what we wanted.
            if getattr(exc.orig, "sqlstate", None) in _ALREADY_EXISTS:
                return False
            raise
    return True


def drop_database(url: str) -> bool:
    """Drop the database of ``url`` when it exists; True when it was dropped."""
    parsed = make_url(url)
    if backend_of(url) == "sqlite":
        path = Path(parsed.database or "")
        existed = path.is_file()
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return existed
    if not database_exists(url):
        return False
    with _maintenance(parsed, autocommit=True) as connection:
        quoted = connection.dialect.identifier_preparer.quote(parsed.database or "")
        connection.exec_driver_sql(f"DROP DATABASE {quoted} WITH (FORCE)")
    return True
