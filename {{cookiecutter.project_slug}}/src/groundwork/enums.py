"""Enum types in autogenerate and in ``db.check``, by the project's flavour.

PostgreSQL projects compare enum types with alembic-postgresql-enum (enums_postgresql.py);
SQLite has no enum types to compare (enums_sqlite.py).
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from sqlalchemy import MetaData

from .backends import backend_named
from .project import current as current_project


def _flavour() -> ModuleType:
    return backend_named(current_project().database).enums_module()


def register() -> None:
    """Make autogenerate compare enum types, and their operations available to revisions."""
    _flavour().register()


def describe(diff: Any, metadata: MetaData) -> str | None:
    """A difference about an enum type, in words; None for any other difference."""
    said: str | None = _flavour().describe(diff, metadata)
    return said
