"""The admin's connection: which database, on which server, and how it is reached.

apply.py, passwords.py and check.py all work as the admin, through :func:`connect`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from ..admin import MAINTENANCE_DATABASES
from ..errors import TaskError

if TYPE_CHECKING:
    from sqlalchemy.engine import URL

    from ..settings import Settings

# A catalog query: SQL and its parameters in, rows out (check.py; a test may pass its own).
Query = Callable[..., list[Any]]
# The role model never belongs in a database every cluster has (an admin URL often names one).
# template0 takes no connection, so admin.py leaves it out of the ones it connects to.
NOT_THE_APPLICATIONS = (*MAINTENANCE_DATABASES, "template0")


def admin_url(settings: Settings, given: str | None = None) -> URL:
    """The admin's URL of the application's database.

    ``--admin-url`` or ADMIN_DATABASE_URL supply the server and the credentials; the database is
    the application's (DATABASE_URL, else MIGRATOR_DATABASE_URL), whatever the admin URL names:
    an admin URL copied from a console usually names ``postgres``, and the model applied there
    would lock everyone out of it. Without either setting the admin URL's own database is taken,
    unless it is a maintenance database. With no admin URL and no DATABASE_URL: the project-local
    server, where we are the superuser. A URL object, never a rendered string: SQLAlchemy
    renders a password's space unencoded, which libpq then refuses (and prints).
    """
    from ..backends import backend_for
    from ..engine import connect_timeout, database_url, with_connect_timeout
    from ..urls import as_url, normalize

    raw = given or settings.get("ADMIN_DATABASE_URL")
    app_setting = "DATABASE_URL" if settings.database_url else "MIGRATOR_DATABASE_URL"
    app_raw = settings.get(app_setting)
    app = normalize(app_raw, settings.project_root, setting=app_setting) if app_raw else None
    url: URL | None
    if raw:
        url = as_url(
            with_connect_timeout(  # DATABASE_CONNECT_TIMEOUT, as every connection has
                normalize(raw, settings.project_root, setting="ADMIN_DATABASE_URL"),
                connect_timeout(settings),
            )
        )
    elif settings.database_url is None:
        url = database_url(settings)  # the project-local server: we are its superuser
    elif not backend_for(settings.database_url).has_roles:
        url = None  # DATABASE_URL is SQLite: refused just below, for what it is
    else:
        raise TaskError(
            "db.grant needs an admin connection, never the app's: set ADMIN_DATABASE_URL "
            "(a superuser, or a CREATEROLE CREATEDB admin owning the database) or --admin-url"
        )
    if url is None or not backend_for(url).has_roles or (app and not backend_for(app).has_roles):
        raise TaskError(
            "roles and grants are a PostgreSQL feature; this database is SQLite "
            "(`invoke db.grant --print` shows the SQL for a PostgreSQL server)"
        )
    if not raw:
        return url
    database = as_url(app).database if app else None
    if database:
        return url.set(database=database)
    named = url.database
    if not named or named in NOT_THE_APPLICATIONS:
        what = f"the maintenance database {named!r}" if named else "no database"
        raise TaskError(
            f"the admin URL names {what} and DATABASE_URL is unset: name the application's "
            "database in ADMIN_DATABASE_URL (or --admin-url), or set DATABASE_URL"
        )
    return url


def describe(parsed: URL) -> str:
    """Which database on which server, for the report's first line (no credentials)."""
    host = parsed.host or parsed.query.get("host") or "the local socket"
    port = f":{parsed.port}" if parsed.port else ""
    return f"database {parsed.database} on {host}{port}"


@contextmanager
def connect(url: URL, notices: list[str] | None = None) -> Iterator[Any]:
    """An autocommit psycopg connection: the script has its own BEGIN/COMMIT.

    Keyword parameters (any character in a password), and the admin's search path pinned to
    ``pg_catalog, pg_temp``: a function planted in ``public`` (``public.pg_has_role(text, text,
    text)`` is a better match for string literals than the built-in) never runs as the admin.
    """
    from ..driver import connect_kwargs
    from ..driver import psycopg as load_psycopg

    psycopg = load_psycopg()
    try:
        connection = psycopg.connect(autocommit=True, **connect_kwargs(url, pinned=True))
    except psycopg.Error as exc:
        raise TaskError(f"cannot reach the database as the admin: {_first(exc)}") from exc
    if notices is not None:
        connection.add_notice_handler(
            lambda diag: (
                notices.append(diag.message_primary or "")
                if diag.severity in {"NOTICE", "WARNING"}
                else None
            )
        )
    try:
        with connection:
            yield connection
    except psycopg.Error as exc:
        raise TaskError(f"database error: {_diagnosed(exc)}") from exc


def _diagnosed(exc: Any) -> str:
    """The server's message with its DETAIL and HINT, on one line: PostgreSQL 16's "permission
    denied to grant role" says only in its DETAIL which ADMIN option the admin lacks."""
    diag = exc.diag
    detail = f": {' '.join(diag.message_detail.split())}" if diag.message_detail else ""
    hint = f" ({' '.join(diag.message_hint.split())})" if diag.message_hint else ""
    return f"{_first(exc)}{detail}{hint}"


def _first(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__
