"""Loading a seed into SQLite: batched ``executemany`` of ``INSERT ... ON CONFLICT DO UPDATE``.

SQLite stores what it is given, so text from CSV files is typed here from the column types
(``true`` becomes a boolean, ``2024-05-01`` a date) before it reaches the database, and every
value is checked as PostgreSQL would check it (``values.py``: enum values, ``String(n)``
lengths, numbers that parse and fit): both databases refuse the same rows, in the same words.
A row that breaks a constraint is named with its constraint (``violations.py``). References
are looked up in a dictionary of the referenced table's natural keys.

A key given twice is found in SQL, not in a dictionary of every key seen (which grew with the
file: 250 MiB at 1,000,000 rows): each batch's keys and lines go into a temporary table, on
disk, and a unique index built on it once all rows are in names the first repeat (``_Keys``).
"""

from __future__ import annotations

import sqlite3
from itertools import chain
from operator import itemgetter
from typing import Any

from sqlalchemy import JSON, Connection, null, or_, select
from sqlalchemy.dialects.sqlite import insert
from sqlalchemy.exc import IntegrityError

from . import ledger, values, violations
from .counts import Counts
from .progress import Progress
from .sources import BATCH_ROWS, Source

# The temporary table of the keys and lines of the seed being loaded (``_Keys``). A TEMP table
# hides a table of the same name in unqualified SQL, the upserts' included: hence a name no
# model would take.
_KEYS = "_seeding_keys"


def load(connection: Connection, source: Source, *, keep: bool, progress: Progress) -> Counts:
    seed = source.seed
    table = seed.table
    batches = source.batches()
    first = next(batches, None)
    fields = source.columns
    if first is None or not fields:
        return Counts()
    targets = [seed.references[name].column if name in seed.references else name for name in fields]
    converters = [
        None if name in seed.references else values.converter(table.c[name], source.textual)
        for name in fields
    ]
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
    # Per row, only the columns that need work: references to look up, text to type.
    referenced = [
        (index + 1, name, lookups[name]) for index, name in enumerate(fields) if name in lookups
    ]
    typed = [
        (index + 1, name, convert)
        for index, (name, convert) in enumerate(zip(fields, converters, strict=True))
        if convert is not None
    ]
    # A missing value is SQL NULL, as PostgreSQL's COPY makes it; SQLAlchemy would write the
    # JSON document 'null' into a JSON column.
    json_nulls = [
        index + 1
        for index, name in enumerate(fields)
        if name not in seed.references and isinstance(values.stored_type(table.c[name]), JSON)
    ]
    keys = _Keys(connection, source)
    before = ledger.table_rows(connection, table)
    rows = changed = 0
    for batch in chain([first], batches):
        params: list[dict[str, Any]] = []
        lines: list[int] = []
        for record in batch:
            line = record[0]
            for position, name, lookup in referenced:
                value = record[position]
                if value is not None:
                    try:
                        record[position] = lookup[value]
                    except KeyError:
                        ref = seed.references[name]
                        raise source.fail(
                            line,
                            f"{name} {value!r} is not in {ref.target_table.name}."
                            f"{ref.target_column.name} (a reference to a row that does not exist)",
                        ) from None
            for position, name, convert in typed:
                value = record[position]
                if value is not None:
                    try:
                        record[position] = convert(value)
                    except values.BadValueError as exc:
                        message = values.bad_value(table.c[name], value, exc.kind)
                        raise source.fail(line, message) from None
            for position in json_nulls:
                if record[position] is None:
                    record[position] = null()
            params.append(dict(zip(targets, record[1:], strict=True)))
            lines.append(line)
        changed += _execute(connection, source, statement, params, lines)
        keys.add(params, lines)
        rows += len(batch)
        progress.update(rows, source.bytes_read)
    inserted = ledger.table_rows(connection, table) - before
    # Every row inserted: none can have repeated a key, whose second row would have met the
    # first's in the table. Otherwise the keys are checked (a full load or a re-run).
    keys.close(check=inserted < rows)
    updated = changed - inserted
    return Counts(rows=rows, inserted=inserted, updated=updated, unchanged=rows - changed)


class _Keys:
    """The key and line of every row loaded, in a temporary table (on disk: SQLite's default
    temp_store), so that memory does not grow with the file.

    The keys are checked once all rows are in, by building a unique index: one sort. An index
    from the start would check each batch as it comes, but pays a B-tree insert per row that,
    for keys out of order, costs as much as the whole upsert (1,000,000 shuffled keys: 3.6 s,
    against 0.6 s to append them and sort once). The run fails as it did; in a file with
    several errors, another than the repeated key may be the one reported.

    Keys are stored as the upsert binds them (typed, then the column type's bind processing):
    what the table's unique index takes for one key is one key here too, and a date or a
    Decimal can be stored at all.
    """

    def __init__(self, connection: Connection, source: Source) -> None:
        self.connection = connection
        self.source = source
        dialect = connection.dialect
        names = source.seed.key_columns
        self.get = itemgetter(*names)  # one value for one name, a tuple for more
        self.single = len(names) == 1
        self.names = [f"k{index}" for index in range(len(names))]
        self.processors = [
            source.seed.table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
            for name in names
        ]
        self.width = len(names) + 1
        # A batch goes in as one INSERT of many VALUES rows (or a few: as many rows as SQLite
        # takes parameters for): three times as fast as executemany's statement per row.
        driver: sqlite3.Connection = connection.connection.driver_connection  # type: ignore[assignment]
        limit = driver.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
        self.chunk = max(1, min(limit // self.width, BATCH_ROWS))
        connection.exec_driver_sql(
            f"CREATE TEMP TABLE {_KEYS} ({', '.join(self.names)}, line INTEGER NOT NULL)"
        )

    def add(self, params: list[dict[str, Any]], lines: list[int]) -> None:
        keys = list(map(self.get, params))
        columns = [keys] if self.single else [list(column) for column in zip(*keys, strict=True)]
        for index, process in enumerate(self.processors):
            if process is not None:
                columns[index] = [process(value) for value in columns[index]]
        width = self.width
        values: list[Any] = [None] * (len(lines) * width)
        for index, column in enumerate([*columns, lines]):
            values[index::width] = column
        row = f"({', '.join('?' * width)})"
        for start in range(0, len(values), self.chunk * width):
            part = tuple(values[start : start + self.chunk * width])
            self.connection.exec_driver_sql(
                f"INSERT INTO temp.{_KEYS} VALUES {', '.join([row] * (len(part) // width))}", part
            )

    def close(self, *, check: bool) -> None:
        """With ``check``, fail on the first line whose key an earlier line has; drop the table."""
        columns = ", ".join(self.names)
        try:
            if check:
                self.connection.exec_driver_sql(
                    f"CREATE UNIQUE INDEX temp.{_KEYS}_unique ON {_KEYS} ({columns})"
                )
        except IntegrityError:
            names = self.names
            again, first, *key = self.connection.exec_driver_sql(
                f"SELECT again.line, first.line, {', '.join(f'again.{c}' for c in names)} "
                f"FROM temp.{_KEYS} AS again JOIN (SELECT {columns}, min(line) AS line "
                f"FROM temp.{_KEYS} GROUP BY {columns} HAVING count(*) > 1) AS first "
                f"ON {' AND '.join(f'again.{c} = first.{c}' for c in names)} "
                "AND again.line > first.line ORDER BY again.line LIMIT 1"
            ).one()
            raise self.source.fail(
                again, f"key {tuple(key)!r} appears twice (first at line {first})"
            ) from None
        self.connection.exec_driver_sql(f"DROP TABLE temp.{_KEYS}")


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
    """Replay a failed batch row by row (error path only) to name the line at fault.

    The rows before it stay written (the run fails and rolls back anyway), so that a row that
    collides with an earlier one of its own batch fails here too.
    """
    for row, line in zip(params, lines, strict=True):
        savepoint = connection.begin_nested()
        try:
            connection.execute(statement, [row])
        except IntegrityError as row_exc:
            savepoint.rollback()
            return _violation(connection, source, row, line, row_exc)
        savepoint.commit()
    return _violation(connection, source, {}, None, exc)


def _violation(
    connection: Connection,
    source: Source,
    values: dict[str, Any],
    line: int | None,
    exc: IntegrityError,
) -> Exception:
    """The one line for a row that broke a constraint, in the words PostgreSQL's get."""
    seed = source.seed
    errorname = getattr(exc.orig, "sqlite_errorname", None)
    violation = violations.sqlite_violation(
        connection, seed.table, errorname, values, seed.key_columns
    )
    if violation is None:
        return source.fail(line, str(exc.orig).splitlines()[0])
    given = source.record_on_line(line) if line is not None else {}
    return source.fail(line, violations.message(seed.table, violation, {**values, **given}))
