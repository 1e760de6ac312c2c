"""A row that breaks a constraint, said in one line, the same on every database.

The database says which kind of constraint a row broke by code, never to be read from its
English text: the SQLSTATE on PostgreSQL (``23503``), the extended result code on SQLite
(``SQLITE_CONSTRAINT_FOREIGNKEY``). Which constraint it was comes from the server on PostgreSQL
(``diag.constraint_name``, ``diag.column_name``); SQLite does not say, so it is found from the
model (:func:`sqlite_violation`: the foreign key whose row is missing, the unique columns
already taken, the CHECK the row fails). :func:`message` words them alike::

    foreign key fk_plots_zone_id_zones violated: zone_id=9 is not in zones.id
    unique constraint uq_zones_label violated: label='North' is already taken in zones
    CHECK constraint ck_zones_area_not_negative violated by area=-1
    NOT NULL constraint violated: column label has no value
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    Column,
    Connection,
    Table,
    UniqueConstraint,
    and_,
    exists,
    not_,
    select,
)

from .values import is_python_type

FOREIGN_KEY = "foreign key"
UNIQUE = "unique"
CHECK = "CHECK"
NOT_NULL = "NOT NULL"
EXCLUSION = "exclusion"

# PostgreSQL: class 23, integrity constraint violation.
SQLSTATES = {
    "23502": NOT_NULL,
    "23503": FOREIGN_KEY,
    "23001": FOREIGN_KEY,  # restrict_violation: a RESTRICT key, on PostgreSQL 18
    "23505": UNIQUE,
    "23514": CHECK,
    "23P01": EXCLUSION,
}
# SQLite: the extended result codes of SQLITE_CONSTRAINT (sqlite3.Error.sqlite_errorname).
SQLITE_CODES = {
    "SQLITE_CONSTRAINT_NOTNULL": NOT_NULL,
    "SQLITE_CONSTRAINT_FOREIGNKEY": FOREIGN_KEY,
    "SQLITE_CONSTRAINT_UNIQUE": UNIQUE,
    "SQLITE_CONSTRAINT_PRIMARYKEY": UNIQUE,
    "SQLITE_CONSTRAINT_CHECK": CHECK,
}


@dataclass(frozen=True)
class Violation:
    """The kind of constraint a row broke and, when known, which one (name, columns)."""

    kind: str
    name: str | None = None
    columns: tuple[str, ...] = ()


def postgresql_violation(table: Table, sqlstate: str | None, diag: Any) -> Violation | None:
    """The violation behind a PostgreSQL error, or None when it is not one (not class 23)."""
    kind = SQLSTATES.get(sqlstate or "")
    if kind is None:
        return None
    if kind == NOT_NULL:
        column = getattr(diag, "column_name", None)
        return Violation(kind, None, (column,) if column else ())
    name = getattr(diag, "constraint_name", None)
    return Violation(kind, name, _columns_of(table, name))


def sqlite_violation(
    connection: Connection,
    table: Table,
    errorname: str | None,
    row: Mapping[str, Any],
    key: Sequence[str],
) -> Violation | None:
    """The violation of ``row`` (the values the insert bound) behind a SQLite error, found from
    the model; None when the error is not a constraint's."""
    kind = SQLITE_CODES.get(errorname or "")
    if kind is None:
        return None
    if kind == NOT_NULL:
        for column in table.columns:
            if not column.nullable and row.get(column.name, _ABSENT) is None:
                return Violation(kind, None, (column.name,))
            if not column.nullable and column.name not in row and not _has_default(column):
                return Violation(kind, None, (column.name,))
        return Violation(kind)
    if kind == FOREIGN_KEY:
        for foreign_key in table.foreign_key_constraints:
            values = [row.get(column.name) for column in foreign_key.columns]
            if any(value is None for value in values):
                continue
            parent = foreign_key.referred_table
            match = and_(
                *(
                    element.column == value
                    for element, value in zip(foreign_key.elements, values, strict=True)
                )
            )
            if not connection.execute(select(exists().where(match).select_from(parent))).scalar():
                return Violation(kind, _name(foreign_key), _column_names(foreign_key.columns))
        return Violation(kind)
    if kind == UNIQUE:
        own_key = and_(*(table.c[name] == row.get(name) for name in key if name in row))
        for name, columns in _unique_sets(table):
            if set(columns) == set(key) or any(row.get(c) is None for c in columns):
                continue
            taken = and_(*(table.c[c] == row[c] for c in columns), not_(own_key))
            if connection.execute(select(exists().where(taken))).scalar():
                return Violation(kind, name, columns)
        return Violation(kind)
    for check in table.constraints:
        if isinstance(check, CheckConstraint) and _fails(connection, table, check, row):
            return Violation(CHECK, _name(check), ())
    return Violation(CHECK)


def message(table: Table, violation: Violation, row: Mapping[str, Any]) -> str:
    """One line for a violation by ``row`` (the seed's values by column, as given)."""
    kind, name = violation.kind, violation.name
    pairs = ", ".join(_pair(table, column, row.get(column)) for column in violation.columns)
    if kind == NOT_NULL:
        if not violation.columns:
            return "NOT NULL constraint violated: a column has no value"
        column = violation.columns[0]
        if column in row:
            return f"NOT NULL constraint violated: column {column} has no value"
        return (
            f"NOT NULL constraint violated: column {column} has no value "
            f"(the seed does not give it: add it to every row)"
        )
    named = f"{kind} {'constraint ' if kind != FOREIGN_KEY else ''}{name or ''}".replace("  ", " ")
    named = named.strip()
    if kind == FOREIGN_KEY:
        target = _referred(table, name)
        detail = f": {pairs} is not in {target}" if pairs and target else ""
        return f"{named} violated{detail}"
    if kind == UNIQUE:
        detail = f": {pairs} is already taken in {table.name}" if pairs else ""
        return f"{named} violated{detail}"
    if kind == CHECK:
        given = ", ".join(
            _pair(table, column, value)
            for column, value in row.items()
            if column in table.c and value is not None
        )
        return f"{named} violated by {given}" if given else f"{named} violated"
    return f"{named} violated"


# -- helpers ------------------------------------------------------------------------------------

_ABSENT = object()


def _name(constraint: Any) -> str | None:
    name = getattr(constraint, "name", None)
    return str(name) if isinstance(name, str) else None


def _column_names(columns: Any) -> tuple[str, ...]:
    return tuple(column.name for column in columns)


def _has_default(column: Column[Any]) -> bool:
    return (
        column.default is not None
        or column.server_default is not None
        or column.identity is not None
        or (column.primary_key and column.autoincrement in (True, "auto"))
    )


def _unique_sets(table: Table) -> list[tuple[str | None, tuple[str, ...]]]:
    sets: list[tuple[str | None, tuple[str, ...]]] = [
        (_name(table.primary_key), _column_names(table.primary_key.columns))
    ]
    for constraint in table.constraints:
        if isinstance(constraint, UniqueConstraint):
            sets.append((_name(constraint), _column_names(constraint.columns)))
    for index in table.indexes:
        if index.unique:
            sets.append((_name(index), _column_names(index.columns)))
    return sets


def _columns_of(table: Table, name: str | None) -> tuple[str, ...]:
    """The columns of the constraint (or unique index) of ``table`` named ``name``."""
    if name is None:
        return ()
    for constraint in table.constraints:
        if _name(constraint) == name and not isinstance(constraint, CheckConstraint):
            return _column_names(getattr(constraint, "columns", ()))
    for index in table.indexes:
        if _name(index) == name:
            return _column_names(index.columns)
    return ()


def _referred(table: Table, name: str | None) -> str | None:
    for constraint in table.foreign_key_constraints:
        if _name(constraint) == name or name is None:
            columns = ", ".join(element.column.name for element in constraint.elements)
            return f"{constraint.referred_table.name}.{columns}"
    return None


def _pair(table: Table, column: str, value: Any) -> str:
    if value is None:
        shown = "NULL"
    elif isinstance(value, dt.date | dt.time):
        shown = value.isoformat()
    elif isinstance(value, str) and not (
        column in table.c and is_python_type(table.c[column], str)
    ):
        shown = value  # a number or a flag as the file gives it
    elif isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        shown = str(value)
    else:
        shown = repr(value)
    return f"{column}={shown}"


def _fails(
    connection: Connection, table: Table, check: CheckConstraint, row: Mapping[str, Any]
) -> bool:
    """Whether ``row`` fails ``check``, evaluated by the database on the row's own values."""
    quote = connection.dialect.identifier_preparer.quote
    names = [column.name for column in table.columns]
    values = [_bindable(row.get(name)) for name in names]
    columns = ", ".join(f"? AS {quote(name)}" for name in names)
    try:
        result = connection.exec_driver_sql(
            f"SELECT NOT ({check.sqltext}) FROM (SELECT {columns})", tuple(values)
        ).scalar()
    except Exception:  # an expression this cannot evaluate: not the one to name
        return False
    return bool(result)


def _bindable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return value
