"""Enums on SQLite: no type to create, alter or drop, so nothing to register.

An ``Enum`` column is a ``VARCHAR`` as long as its longest value (with no ``CHECK`` unless
the model asks for ``create_constraint=True``). Adding or removing a value changes nothing in
the database, except a value longer than all the others: ``compare_type`` then sees the
longer ``VARCHAR`` and autogenerate writes a batch ``alter_column``. docs/database.md ("Enums").
This module has the interface of the PostgreSQL flavour's, which drives alembic-postgresql-enum.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import MetaData


def register() -> None:
    """Nothing to register: Alembic's own comparison covers the ``VARCHAR``."""


def describe(diff: Any, metadata: MetaData) -> str | None:
    """None: Alembic's own differences (a type change) are all there is."""
    return None
