"""Database URLs: the forms we accept, the form SQLAlchemy gets, and masking for output.

A URL's text is checked and normalized here (:func:`normalize`), then parsed once into a
``sqlalchemy.engine.URL`` where it comes in (engine.database_url, roles/connection.admin_url);
the kit passes that object inward and renders it only for a message (:func:`masked`) or for a
program that needs text (libpq's conninfo, backends/postgresql_backup.py).

Kept free of SQLAlchemy imports at module level: it runs when `invoke --list` loads, in every
error message, and in a `db.seed` that finds nothing changed (seeding/unchanged.py).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from .errors import TaskError, mask_secrets

if TYPE_CHECKING:
    from sqlalchemy.engine import URL

# What a password must percent-encode in a URL (urllib.parse.quote(password, safe="") does).
PERCENT_ENCODE = "@ %40, : %3A, / %2F, ? %3F, # %23, % %25, space %20"
URL_HELP = "expected postgresql://user:password@host:5432/name or sqlite:///path/to/file.sqlite3"

# Every driver we know of names its scheme this way; anything else is a typo worth reporting.
_SCHEME_ALIASES = {
    "postgres": "postgresql+psycopg",
    "postgresql": "postgresql+psycopg",
    "postgresql+psycopg": "postgresql+psycopg",
    "sqlite": "sqlite",
    "sqlite+pysqlite": "sqlite",
    # The application's async drivers (engine.async_database_url). The kit's own work (the
    # db.* tasks, Alembic, backups, grants) runs on the sync driver of the same database:
    # Alembic migrates synchronously anyway, and one code path keeps db.migrate as fast.
    "postgresql+asyncpg": "postgresql+psycopg",
    "postgresql+psycopg_async": "postgresql+psycopg",
    "sqlite+aiosqlite": "sqlite",
}


def normalize(url: str, project_root: Path, *, setting: str = "DATABASE_URL") -> str:
    """The SQLAlchemy URL for ``url``: psycopg 3 for PostgreSQL, absolute paths for SQLite.

    A relative SQLite path is taken from the project root, not the working directory, so that
    every task and test sees the same file wherever it is started from.
    """
    raw = url.strip()
    if "://" not in raw:
        # Not a URL, so the usual masking can't tell where a password is: show the start only.
        shown = f"{raw.split(':', 1)[0]}:***" if ":" in raw else raw
        raise TaskError(f"{setting} {shown!r} is not a database URL: {URL_HELP}")
    scheme, rest = raw.split("://", 1)
    target = _SCHEME_ALIASES.get(scheme.lower())
    if target is None:
        raise TaskError(
            f"{setting} {mask_secrets(raw)!r} uses the unsupported scheme {scheme!r}: {URL_HELP}"
        )
    if target == "sqlite":
        return f"sqlite://{_absolute_sqlite_path(rest, project_root)}"
    # A second '@' in the authority is a password (or user name) that was not percent-encoded:
    # the driver would take the rest of the password for the host and print it.
    authority = re.split(r"[/?#]", rest, maxsplit=1)[0]
    if authority.count("@") > 1:
        raise TaskError(
            f"{setting} {mask_secrets(raw)!r}: its password or user name holds '@': "
            f"percent-encode it as %40 ({PERCENT_ENCODE})"
        )
    # An unencoded '/', '?' or '#' in the password ends the authority before its '@': what
    # follows ':' would be read as the port ("port is not a number"), the rest as the database.
    if "@" not in authority and ":" in authority and "@" in rest:
        raise TaskError(
            f"{setting} {mask_secrets(raw)!r}: its password holds '/', '?' or '#', which end "
            f"the host part of a URL: percent-encode the password ({PERCENT_ENCODE})"
        )
    host_part = urlsplit(f"x://{rest}")
    try:
        host_part.port  # noqa: B018 - raises ValueError on a port that is not a number
    except ValueError:
        raise TaskError(
            f"{setting} {mask_secrets(raw)!r} has a port that is not a number: {URL_HELP}"
        ) from None
    return f"{target}://{rest}"


def names_asyncpg(url: str) -> bool:
    """Whether ``url``'s text asks for asyncpg (``postgresql+asyncpg://``), which the async
    engine then uses; every other PostgreSQL form gets psycopg's async connection."""
    return url.strip().split("://", 1)[0].lower() == "postgresql+asyncpg"


def _absolute_sqlite_path(rest: str, project_root: Path) -> str:
    # sqlite:///relative.db -> rest "/relative.db"; sqlite:////abs.db -> rest "//abs.db".
    if rest in {"", "/", "/:memory:"}:
        return "/:memory:" if rest else ""
    path_part, sep, query = rest[1:].partition("?")
    if not path_part.startswith("/") and not re.match(r"^[A-Za-z]:[\\/]", path_part):
        path_part = (project_root / path_part).as_posix()
    return f"/{path_part}{sep}{query}"


def as_url(url: str | URL) -> URL:
    """``url`` as a SQLAlchemy URL: parsed when it is text, as it is when it is one already.

    The kit's functions that a project's own code calls (its tests' conftest.py) take either;
    inside the kit, URLs are passed parsed.
    """
    from sqlalchemy.engine import make_url

    return make_url(url)


def masked(url: URL) -> str:
    """``url`` for a message: no user or password, its query in the order it was given.

    SQLAlchemy's own rendering sorts the query and percent-encodes a socket folder's slashes
    (``host=%2Ftmp``); the message shows the URL as it was written.
    """
    base = url.set(query={}).render_as_string(hide_password=False)
    query = "&".join(
        f"{key}={value}"
        for key, values in url.query.items()
        for value in ((values,) if isinstance(values, str) else values)
    )
    return mask_secrets(f"{base}?{query}" if query else base)
