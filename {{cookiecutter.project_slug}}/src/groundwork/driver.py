"""psycopg 3, for the few places that talk to PostgreSQL below SQLAlchemy.

Imported by name: a project baked for SQLite neither installs psycopg nor type-checks against
it, yet keeps these modules (``db.grant --print`` renders PostgreSQL's SQL on any flavour).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy.engine import URL


def psycopg() -> Any:
    """The ``psycopg`` module; ModuleNotFoundError (reported by errors.py) when not installed."""
    module = importlib.import_module("psycopg")
    importlib.import_module("psycopg.sql")
    return module


# For every connection of an administrator (db.grant, its --check, CREATE/DROP DATABASE): the
# catalog first and nothing else, so that no function or operator planted in `public` (or any
# schema on the admin's own search_path) shadows a built-in and runs with the admin's rights.
PINNED_SEARCH_PATH = "-c search_path=pg_catalog,pg_temp"


def connect_kwargs(url: URL, *, pinned: bool = False) -> dict[str, Any]:
    """libpq keyword parameters for a SQLAlchemy URL (never a re-rendered URI string).

    SQLAlchemy renders a password's space unencoded, which libpq refuses, printing the
    password; as keyword parameters any character is safe. ``pinned``: the admin's search path
    (:data:`PINNED_SEARCH_PATH`), after any ``options`` the URL gives.
    """
    params: dict[str, Any] = {
        "host": url.host,
        "port": url.port,
        "user": url.username,
        "password": url.password,
        "dbname": url.database,
    }
    for key, value in url.query.items():
        params[key] = value if isinstance(value, str) else value[-1]
    if pinned:
        params["options"] = f"{params.get('options') or ''} {PINNED_SEARCH_PATH}".strip()
    return {key: value for key, value in params.items() if value is not None}
