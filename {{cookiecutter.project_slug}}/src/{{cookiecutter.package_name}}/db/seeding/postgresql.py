"""Loading a seed into PostgreSQL: COPY into a temporary table, then one upsert statement.

COPY is the fastest way in; the single ``INSERT ... SELECT ... ON CONFLICT (key) DO UPDATE ...
WHERE (...) IS DISTINCT FROM (...)`` then touches only rows that are new or differ, so an
unchanged row costs no write and no dead tuple. References are resolved by a join in the same
statement. Memory stays flat: rows stream from the file to the server in batches.
"""

from __future__ import annotations

import csv
import io
import json
import re
from itertools import chain
from typing import Any

import psycopg
from sqlalchemy import Connection

from .counts import Counts
from .progress import Progress
from .sources import Source

LINE = "seed_line__"
_COPY_CONTEXT = re.compile(r"line (?P<line>\d+)(?:, column (?P<column>[^:]+))?")


def load(
    connection: Connection, source: Source, stage_name: str, *, keep: bool, progress: Progress
) -> Counts:
    seed = source.seed
    table = seed.table
    quote = connection.dialect.identifier_preparer.quote
    batches = source.batches()
    first = next(batches, None)
    fields = source.columns
    if not fields:
        return Counts()
    stage = quote(stage_name)

    def stage_type(name: str) -> str:
        column = seed.references[name].target_column if name in seed.references else table.c[name]
        return column.type.compile(dialect=connection.dialect)

    columns_sql = ", ".join(f"{quote(name)} {stage_type(name)}" for name in fields)
    connection.exec_driver_sql(
        f"CREATE TEMP TABLE {stage} ({LINE} bigint, {columns_sql}) ON COMMIT DROP"
    )
    rows = _copy(connection, source, stage, chain([first] if first else [], batches), progress)
    if rows == 0:
        return Counts()
    # Temporary tables are never auto-analyzed; without statistics the joins below are planned
    # as if the table were tiny.
    connection.exec_driver_sql(f"ANALYZE {stage}")
    _check_references(connection, source, stage)
    inserted, updated = _upsert(connection, source, stage, keep=keep)
    return Counts(
        rows=rows, inserted=inserted, updated=updated, unchanged=rows - inserted - updated
    )


def _copy(
    connection: Connection,
    source: Source,
    stage: str,
    batches: Any,
    progress: Progress,
) -> int:
    raw = connection.connection.driver_connection
    assert isinstance(raw, psycopg.Connection)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    rows = 0
    try:
        with raw.cursor() as cursor, cursor.copy(f"COPY {stage} FROM STDIN (FORMAT csv)") as copy:
            for batch in batches:
                writer.writerows(batch if source.textual else map(_as_text, batch))
                copy.write(buffer.getvalue())
                buffer.seek(0)
                buffer.truncate()
                rows += len(batch)
                progress.update(rows, source.bytes_read)
    except psycopg.Error as exc:
        raise _copy_failure(source, exc) from None
    return rows


def _as_text(record: list[Any]) -> list[Any]:
    """Python values as COPY's CSV text (None stays an empty, unquoted field: NULL)."""
    return [
        ("t" if value else "f")
        if isinstance(value, bool)
        else json.dumps(value)
        if isinstance(value, dict | list)
        else value
        for value in record
    ]


def _copy_failure(source: Source, exc: psycopg.Error) -> Exception:
    diag = exc.diag
    message = diag.message_primary or str(exc).splitlines()[0]
    found = _COPY_CONTEXT.search(diag.context or "")
    if found is None:
        return source.fail(None, message)
    line = source.line_of_record(int(found["line"]))
    column = f"column {found['column']}: " if found["column"] else ""
    return source.fail(line, f"{column}{message}")


def _check_references(connection: Connection, source: Source, stage: str) -> None:
    seed = source.seed
    quote = connection.dialect.identifier_preparer.quote
    format_table = connection.dialect.identifier_preparer.format_table
    for name, ref in seed.references.items():
        if name not in source.columns:
            continue
        target = ref.target_column
        missing = connection.exec_driver_sql(
            f"SELECT s.{LINE}, s.{quote(name)} FROM {stage} s "
            f"WHERE s.{quote(name)} IS NOT NULL AND NOT EXISTS "
            f"(SELECT 1 FROM {format_table(ref.target_table)} r "
            f"WHERE r.{quote(target.name)} = s.{quote(name)}) ORDER BY s.{LINE} LIMIT 1"
        ).first()
        if missing is not None:
            line, value = missing
            raise source.fail(
                int(line),
                f"{name} {value!r} is not in {ref.target_table.name}.{target.name} "
                "(a reference to a row that does not exist)",
            )


def _upsert(connection: Connection, source: Source, stage: str, *, keep: bool) -> tuple[int, int]:
    seed = source.seed
    preparer = connection.dialect.identifier_preparer
    quote = preparer.quote
    targets: list[str] = []
    values: list[str] = []
    joins: list[str] = []
    for name in source.columns:
        ref = seed.references.get(name)
        if ref is None:
            targets.append(name)
            values.append(f"s.{quote(name)}")
            continue
        alias = f"r{len(joins)}"
        targets.append(ref.column)
        values.append(f"{alias}.{quote(seed.id_column_of(ref).name)}")
        joins.append(
            f"LEFT JOIN {preparer.format_table(ref.target_table)} {alias} "
            f"ON {alias}.{quote(ref.target_column.name)} = s.{quote(name)}"
        )
    keys = ", ".join(quote(name) for name in seed.key_columns)
    updates = [name for name in targets if name not in seed.key_columns]
    if keep or not updates:
        conflict = f"ON CONFLICT ({keys}) DO NOTHING"
    else:
        current = ", ".join(f"t.{quote(name)}" for name in updates)
        incoming = ", ".join(f"EXCLUDED.{quote(name)}" for name in updates)
        assignments = ", ".join(f"{quote(name)} = EXCLUDED.{quote(name)}" for name in updates)
        conflict = (
            f"ON CONFLICT ({keys}) DO UPDATE SET {assignments} "
            f"WHERE ROW({current}) IS DISTINCT FROM ROW({incoming})"
        )
    # xmax is 0 on a freshly inserted row version and set on an updated one: the usual way to
    # tell inserts from updates in one upsert.
    statement = (
        f"WITH written AS (INSERT INTO {preparer.format_table(seed.table)} AS t "
        f"({', '.join(quote(name) for name in targets)}) "
        f"SELECT {', '.join(values)} FROM {stage} s {' '.join(joins)} {conflict} "
        "RETURNING (t.xmax = 0) AS inserted) "
        "SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM written"
    )
    savepoint = connection.begin_nested()
    try:
        inserted, updated = connection.exec_driver_sql(statement).one()
    except Exception as exc:
        savepoint.rollback()
        raise _upsert_failure(connection, source, stage, exc) from None
    savepoint.commit()
    return int(inserted), int(updated)


def _upsert_failure(
    connection: Connection, source: Source, stage: str, exc: Exception
) -> Exception:
    """Name the first row behind a failed upsert, when the kind of failure tells which."""
    orig = getattr(exc, "orig", exc)
    quote = connection.dialect.identifier_preparer.quote
    diag = getattr(orig, "diag", None)
    message = (diag.message_primary if diag else None) or str(orig).splitlines()[0]
    keys = ", ".join(f"s.{quote(name)}" for name in source.seed.key_columns)
    if isinstance(orig, psycopg.errors.CardinalityViolation):
        row = connection.exec_driver_sql(
            f"SELECT min(s.{LINE}), max(s.{LINE}), {keys} FROM {stage} s "
            f"GROUP BY {keys} HAVING count(*) > 1 ORDER BY 1 LIMIT 1"
        ).first()
        if row is not None:
            return source.fail(
                int(row[1]), f"key {tuple(row[2:])!r} appears twice (first at line {row[0]})"
            )
    if isinstance(orig, psycopg.errors.NotNullViolation) and diag and diag.column_name:
        column = diag.column_name
        if column in source.columns:
            row = connection.exec_driver_sql(
                f"SELECT min({LINE}) FROM {stage} WHERE {quote(column)} IS NULL"
            ).first()
            if row is not None and row[0] is not None:
                return source.fail(int(row[0]), f"column {column!r} is empty: {message}")
        return source.fail(None, f"{message}: give {column!r} in every row")
    return source.fail(None, message)
