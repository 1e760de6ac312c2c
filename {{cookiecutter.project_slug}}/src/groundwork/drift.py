"""How the models are compared with the database, and the differences in words.

``comparison_options`` is the one source of the comparison's options: autogenerate
(migrations/env.py) and ``db.check`` (and so the project's drift test) use it alike, with the
project's filters (migrations/filters.py). ``differences`` turns what
``alembic.autogenerate.compare_metadata`` finds into one line per difference, naming the table,
column, index or constraint and what changes, database → models::

    users.email: type VARCHAR(100) → VARCHAR(255)
    index ix_users_email on users(email) missing in the database
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import Column, Constraint, ForeignKeyConstraint, Index, MetaData, Table
from sqlalchemy.engine import Dialect

from . import enums
from .backends import Backend
from .ledger import not_lifecycle_table
from .project import current as current_project


def include_name(name: str | None, type_: str, parent_names: dict[str, str | None]) -> bool:
    """The project's ``include_name``, and never the lifecycle's own tables."""
    if type_ == "table" and not not_lifecycle_table(None, name, type_, True, None):
        return False
    included: bool = current_project().filters_module().include_name(name, type_, parent_names)
    return included


def include_object(
    obj: object, name: str | None, type_: str, reflected: bool, compare_to: object
) -> bool:
    """The project's ``include_object``, and never the lifecycle's own tables."""
    if not not_lifecycle_table(obj, name, type_, reflected, compare_to):
        return False
    filters = current_project().filters_module()
    included: bool = filters.include_object(obj, name, type_, reflected, compare_to)
    return included


def comparison_options(backend: Backend) -> dict[str, Any]:
    """The options of every comparison of models and database, for ``backend``'s dialect."""
    return {
        "compare_type": True,
        # Server defaults are left out: their reflected text differs between dialects and
        # versions (now() vs CURRENT_TIMESTAMP, identity), which would write bogus revisions.
        "compare_server_default": False,
        "include_name": include_name,
        "include_object": include_object,
        # What the database cannot ALTER (SQLite: most things), batch mode rebuilds instead.
        "render_as_batch": backend.render_as_batch,
    }


def differences(diffs: Iterable[Any], metadata: MetaData, dialect: Dialect) -> list[str]:
    """One line per difference of ``compare_metadata``; column changes come as a list each."""
    lines: list[str] = []
    for diff in diffs:
        for item in diff if isinstance(diff, list) else [diff]:
            lines.append(enums.describe(item, metadata) or _describe(item, dialect))
    return lines


_Describer = Callable[[list[Any], Dialect], str]


def _describe(diff: Any, dialect: Dialect) -> str:
    if not isinstance(diff, tuple) or not diff:
        return str(diff)
    kind, *rest = diff
    describer = _DESCRIBERS.get(kind)
    if describer is None:
        return f"{kind}: {', '.join(_name(part) for part in rest)}"
    return describer(rest, dialect)


def _name(thing: Any) -> str:
    return str(getattr(thing, "name", None) or getattr(thing, "key", None) or thing)


def _type(type_: Any, dialect: Dialect) -> str:
    if type_ is None:
        return "(unknown)"
    try:
        return str(type_.compile(dialect=dialect))
    except Exception:  # a type this dialect cannot render: its generic name
        return repr(type_)


def _table(table: Table | None) -> str:
    if table is None:
        return "?"
    return f"{table.schema}.{table.name}" if table.schema else table.name


def _column_name(schema: str | None, table: str, column: str) -> str:
    return f"{schema}.{table}.{column}" if schema else f"{table}.{column}"


def _columns(names: Iterable[str]) -> str:
    return ", ".join(names)


def _table_added(rest: list[Any], dialect: Dialect) -> str:
    return f"table {_table(rest[0])} missing in the database"


def _table_removed(rest: list[Any], dialect: Dialect) -> str:
    return f"table {_table(rest[0])} in the database, in no model"


def _column_added(rest: list[Any], dialect: Dialect) -> str:
    schema, table = rest[:2]
    column: Column[Any] = rest[2]
    null = "NULL" if column.nullable else "NOT NULL"
    spec = f"{_type(column.type, dialect)} {null}"
    return f"{_column_name(schema, table, column.name)} ({spec}) missing in the database"


def _column_removed(rest: list[Any], dialect: Dialect) -> str:
    schema, table, column = rest[:3]
    return f"{_column_name(schema, table, _name(column))} in the database, in no model"


def _modified(what: str) -> _Describer:
    def describe(rest: list[Any], dialect: Dialect) -> str:
        schema, table, column, _, old, new = rest[:6]
        where = _column_name(schema, table, column)
        if what == "type":
            return f"{where}: type {_type(old, dialect)} → {_type(new, dialect)}"
        if what == "nullable":
            return f"{where}: {_nullable(old)} → {_nullable(new)}"
        return f"{where}: {what} {_value(old)} → {_value(new)}"

    return describe


def _nullable(value: bool | None) -> str:
    return "NOT NULL" if value is False else "nullable"


def _value(value: Any) -> str:
    if value is None or value is False:
        return "none"
    text = getattr(value, "arg", value)  # a server default: its SQL text
    return repr(str(getattr(text, "text", text)))


def _index(added: bool) -> _Describer:
    def describe(rest: list[Any], dialect: Dialect) -> str:
        index: Index = rest[0]
        kind = "unique index" if index.unique else "index"
        columns = _columns(
            str(getattr(expression, "name", expression)) for expression in index.expressions
        )
        where = "missing in the database" if added else "in the database, in no model"
        return f"{kind} {index.name} on {_table(index.table)}({columns}) {where}"

    return describe


_CONSTRAINT_KINDS = {
    "unique_constraint": "unique constraint",
    "check_constraint": "check constraint",
    "primary_key_constraint": "primary key",
    "foreign_key_constraint": "foreign key",
}


def _constraint(added: bool) -> _Describer:
    def describe(rest: list[Any], dialect: Dialect) -> str:
        constraint: Constraint = rest[0]
        kind = _CONSTRAINT_KINDS.get(constraint.__visit_name__, "constraint")
        table = getattr(constraint, "table", None)
        columns = _columns(column.name for column in getattr(constraint, "columns", []))
        target = ""
        if isinstance(constraint, ForeignKeyConstraint):
            referred = _columns(element.column.name for element in constraint.elements)
            target = f" → {constraint.referred_table.name}({referred})"
        name = f" {constraint.name}" if constraint.name else ""
        where = "missing in the database" if added else "in the database, in no model"
        return f"{kind}{name} on {_table(table)}({columns}){target} {where}"

    return describe


def _table_comment(added: bool) -> _Describer:
    def describe(rest: list[Any], dialect: Dialect) -> str:
        table = rest[0]
        if added:
            return f"table {_table(table)}: comment {_value(rest[1])} → {_value(table.comment)}"
        return f"table {_table(table)}: comment to be removed"

    return describe


_DESCRIBERS: dict[str, _Describer] = {
    "add_table": _table_added,
    "remove_table": _table_removed,
    "add_column": _column_added,
    "remove_column": _column_removed,
    "modify_type": _modified("type"),
    "modify_nullable": _modified("nullable"),
    "modify_default": _modified("default"),
    "modify_comment": _modified("comment"),
    "add_index": _index(added=True),
    "remove_index": _index(added=False),
    "add_constraint": _constraint(added=True),
    "remove_constraint": _constraint(added=False),
    "add_fk": _constraint(added=True),
    "remove_fk": _constraint(added=False),
    "add_table_comment": _table_comment(added=True),
    "remove_table_comment": _table_comment(added=False),
}
