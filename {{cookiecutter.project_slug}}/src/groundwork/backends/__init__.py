"""The database adapters: one class per backend (``postgresql.py``, ``sqlite.py``).

``backend_for(url)`` is the one place that tells the backends apart; the kit asks the adapter
it returns (``backend_for(url).create_database(url)``) instead of comparing schemes. As in
``seeding/``, the backend's module is imported by name, when first asked for: a SQLite project
never imports the PostgreSQL one (nor psycopg, which the adapters import only in the methods
that need it).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from ..errors import TaskError, mask_secrets
from ..urls import URL_HELP
from .base import Backend

if TYPE_CHECKING:
    from sqlalchemy.engine import URL

__all__ = ["Backend", "backend_for", "backend_named"]

# What SQLAlchemy's dialect name (and so a normalized URL's scheme) is for each backend.
_NAMES = {"postgres": "postgresql", "postgresql": "postgresql", "sqlite": "sqlite"}


def backend_named(name: str) -> Backend:
    """The adapter of SQLAlchemy's dialect ``name`` (``connection.dialect.name``)."""
    module = _NAMES.get(name)
    if module is None:
        raise TaskError(f"unsupported database {name!r}: {URL_HELP}")
    backend: Backend = importlib.import_module(f"{__package__}.{module}").BACKEND
    return backend


def backend_for(url: str | URL) -> Backend:
    """The adapter of ``url``'s database, a string in any form normalize() accepts or a URL."""
    if not isinstance(url, str):
        return backend_named(url.get_backend_name())
    scheme = url.split("://", 1)[0].lower().split("+", 1)[0]
    if scheme not in _NAMES:
        raise TaskError(f"{mask_secrets(url)!r} uses the unsupported scheme {scheme!r}: {URL_HELP}")
    return backend_named(scheme)
