"""PostgreSQL enum types in migrations, by the alembic-postgresql-enum library.

Alembic alone creates an enum's type with the first table that uses it but never drops it (a
downgrade leaves the type behind and the next upgrade fails on ``CREATE TYPE``), and it does not
see values added to or removed from an enum. The library's autogenerate comparator writes
``CREATE TYPE``/``DROP TYPE`` around the tables, ``op.add_enum_value`` for added values and
``op.sync_enum_values`` (a new type swapped in) for removed or reordered ones; its operations
run them, online and as offline SQL. docs/database.md ("Enums") shows what it writes.

Importing the library registers its comparator for the whole process, so autogenerate
(env.py) and ``compare_metadata`` (``db.check``) both see enum drift once ``register`` ran.
"""

from __future__ import annotations

from typing import Any

import alembic_postgresql_enum
from sqlalchemy import Enum, MetaData

_LIBRARY_OPERATIONS = ("create_enum", "drop_enum", "add_enum_value", "change_enum_variants")


def register() -> None:
    """Configure the library's comparator and operations (its import registered them).

    On SQLite they stand aside (an enum is a ``VARCHAR`` there, with no type to manage); the
    warning they log then goes to Alembic's logger, which prints nothing unless configured.
    """
    alembic_postgresql_enum.set_configuration(
        # Its operations are not in Alembic's ``op`` stubs: mypy --strict checks the revisions.
        alembic_postgresql_enum.Config(add_type_ignore=True)
    )


def describe(diff: Any, metadata: MetaData) -> str | None:
    """``db.check``'s words for a difference in an enum type; None for any other difference."""
    if not isinstance(diff, tuple) or not diff or diff[0] not in _LIBRARY_OPERATIONS:
        return None
    if diff[0] == "create_enum":
        return f"new enum {diff[1]} ({', '.join(diff[3])})"
    if diff[0] == "drop_enum":
        return f"enum {diff[1]} used by no model"
    # add_enum_value / change_enum_variants: old values, new values, the columns of the type.
    _, old, new, columns = diff
    used_by = [f"{column.table_name}.{column.column_name}" for column in columns]
    names = sorted({name for column in columns if (name := _enum_name(metadata, column))})
    changes = [f"add {value!r}" for value in new if value not in old]
    changes += [f"remove {value!r}" for value in old if value not in new]
    if not changes:
        changes = [f"reorder to {', '.join(map(repr, new))}"]
    return f"{' '.join(['enum', *names])} of {', '.join(used_by)}: {', '.join(changes)}"


def _enum_name(metadata: MetaData, column: Any) -> str | None:
    """The name of the enum type of ``column`` (a library ``TableReference``) in the models."""
    for table in metadata.tables.values():
        if table.name != column.table_name or table.schema not in (None, column.table_schema):
            continue
        found = table.columns.get(column.column_name)
        column_type = getattr(found.type, "item_type", found.type) if found is not None else None
        if isinstance(column_type, Enum):
            return column_type.name
    return None
