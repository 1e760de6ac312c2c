"""Database URLs: the forms we accept, the form SQLAlchemy gets, and masking for output.

Kept free of SQLAlchemy imports: it runs when `invoke --list` loads and in every error message.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

from .errors import TaskError, mask_secrets

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


def _absolute_sqlite_path(rest: str, project_root: Path) -> str:
    # sqlite:///relative.db -> rest "/relative.db"; sqlite:////abs.db -> rest "//abs.db".
    if rest in {"", "/", "/:memory:"}:
        return "/:memory:" if rest else ""
    path_part, sep, query = rest[1:].partition("?")
    if not path_part.startswith("/") and not re.match(r"^[A-Za-z]:[\\/]", path_part):
        path_part = (project_root / path_part).as_posix()
    return f"/{path_part}{sep}{query}"
