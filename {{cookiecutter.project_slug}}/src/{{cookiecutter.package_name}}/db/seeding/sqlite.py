"""Loading a seed into SQLite: batched ``executemany`` of ``INSERT ... ON CONFLICT DO UPDATE``.

SQLite stores what it is given, so text from CSV files is typed here from the column types
(``true`` becomes a boolean, ``2024-05-01`` a date) before it reaches the database. References
are looked up in a dictionary of the referenced table's natural keys.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from decimal import Decimal
from itertools import chain
from typing import Any

from sqlalchemy import Column, Connection, or_, select
from sqlalchemy.dialects.sqlite import insert
from sqlalchemy.exc import IntegrityError

from . import ledger
from .counts import Counts
from .progress import Progress
from .sources import Source

_TRUE = {"true", "t", "1", "yes", "y", "on"}
_FALSE = {"false", "f", "0", "no", "n", "off"}


def _boolean(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValueError(text)


def _converter(column: Column[Any]) -> Callable[[str], Any] | None:
    """How text becomes this column's Python value; None when text is already right."""
    try:
        python_type = column.type.python_type
    except NotImplementedError:
        return None
    converters: dict[type, Callable[[str], Any]] = {
        bool: _boolean,
        int: int,
        float: float,
        Decimal: Decimal,
        dt.datetime: dt.datetime.fromisoformat,
        dt.date: dt.date.fromisoformat,
        dt.time: dt.time.fromisoformat,
        dict: json.loads,
        list: json.loads,
    }
    return converters.get(python_type)


def load(connection: Connection, source: Source, *, keep: bool, progress: Progress) -> Counts:
    seed = source.seed
    table = seed.table
    batches = source.batches()
    first = next(batches, None)
    fields = source.columns
    if first is None or not fields:
        return Counts()
    targets = [seed.references[name].column if name in seed.references else name for name in fields]
    converters = [None if name in seed.references else _converter(table.c[name]) for name in fields]
    lookups = {
        name: dict(
            connection.execute(
                select(ref.target_column, seed.id_column_of(ref)).select_from(ref.target_table)
            ).all()
        )
        for name, ref in seed.references.items()
        if name in fields
    }
    statement = insert(table)
    updates = [name for name in targets if name not in seed.key_columns]
    if keep or not updates:
        statement = statement.on_conflict_do_nothing(index_elements=list(seed.key_columns))
    else:
        statement = statement.on_conflict_do_update(
            index_elements=list(seed.key_columns),
            set_={name: statement.excluded[name] for name in updates},
            where=or_(
                *(table.c[name].is_distinct_from(statement.excluded[name]) for name in updates)
            ),
        )
    key_positions = [fields.index(name) for name in seed.key_columns]
    seen: dict[tuple[Any, ...], int] = {}
    before = ledger.table_rows(connection, table)
    rows = changed = 0
    for batch in chain([first], batches):
        params: list[dict[str, Any]] = []
        lines: list[int] = []
        for record in batch:
            line = record[0]
            values: dict[str, Any] = {}
            for index, name in enumerate(fields):
                value = record[index + 1]
                if value == "" and source.textual:
                    value = None
                elif name in lookups and value is not None:
                    if value not in lookups[name]:
                        ref = seed.references[name]
                        raise source.fail(
                            line,
                            f"{name} {value!r} is not in {ref.target_table.name}."
                            f"{ref.target_column.name} (a reference to a row that does not exist)",
                        )
                    value = lookups[name][value]
                elif isinstance(value, str) and converters[index] is not None:
                    try:
                        value = converters[index](value)  # type: ignore[misc]
                    except ValueError:
                        raise source.fail(
                            line, f"column {name}: {value!r} is not a valid {table.c[name].type}"
                        ) from None
                values[targets[index]] = value
            key = tuple(record[position + 1] for position in key_positions)
            if key in seen:
                raise source.fail(line, f"key {key!r} appears twice (first at line {seen[key]})")
            seen[key] = line
            params.append(values)
            lines.append(line)
        changed += _execute(connection, source, statement, params, lines)
        rows += len(batch)
        progress.update(rows, source.bytes_read)
    inserted = ledger.table_rows(connection, table) - before
    updated = changed - inserted
    return Counts(rows=rows, inserted=inserted, updated=updated, unchanged=rows - changed)


def _execute(
    connection: Connection,
    source: Source,
    statement: Any,
    params: list[dict[str, Any]],
    lines: list[int],
) -> int:
    savepoint = connection.begin_nested()
    try:
        changed = connection.execute(statement, params).rowcount
    except IntegrityError as exc:
        savepoint.rollback()
        raise _first_failing_row(connection, source, statement, params, lines, exc) from None
    savepoint.commit()
    return int(changed)


def _first_failing_row(
    connection: Connection,
    source: Source,
    statement: Any,
    params: list[dict[str, Any]],
    lines: list[int],
    exc: IntegrityError,
) -> Exception:
    """Replay a failed batch row by row (error path only) to name the line at fault."""
    message = str(exc.orig).splitlines()[0]
    for values, line in zip(params, lines, strict=True):
        savepoint = connection.begin_nested()
        try:
            connection.execute(statement, [values])
        except IntegrityError as row_exc:
            savepoint.rollback()
            return source.fail(line, str(row_exc.orig).splitlines()[0])
        savepoint.rollback()
    return source.fail(None, message)
