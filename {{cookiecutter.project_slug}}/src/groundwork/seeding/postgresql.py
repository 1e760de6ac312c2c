"""Loading a seed into PostgreSQL with COPY.

- Into an empty table, for a seed without references: COPY straight into the table, which is
  locked against other writers first. There is nothing to update, so no upsert is needed, and
  the load costs what ``psql \\copy`` costs.
- Otherwise: COPY into a temporary table, then one ``INSERT ... SELECT ... ON CONFLICT (key) DO
  UPDATE ... WHERE (...) IS DISTINCT FROM (...)``. A join on the key first keeps only the rows
  that are new or differ: the unchanged ones (most of a re-run) reach neither the conflict check
  nor its row lock, so they cost no write. References are resolved by joins in that statement.

A CSV file goes to COPY as raw blocks of bytes, parsed and typed by the server: an empty field
is NULL and a quoted empty field ("") an empty string, COPY's own CSV rule, which the reader of
``sources.py`` (SQLite's path) follows too. Python and JSON rows are written as CSV text in
which None is an empty field and every other value is quoted, so "" stays an empty string.
Memory stays flat: the data streams in blocks. When the server rejects a row it names it by
position; ``Source.record_at`` turns that into a line. What was wrong is classified by SQLSTATE
and worded as on SQLite (``violations.py``, ``values.py``): a row the COPY cannot say (a
foreign key is checked at its end) is found by halving the upsert's records.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from itertools import chain
from typing import TYPE_CHECKING, Any

import psycopg
from sqlalchemy import JSON, Connection, Table
from sqlalchemy.dialects.postgresql import JSONB

from ..errors import TaskError
from . import values, violations
from .counts import Counts
from .progress import Progress
from .sources import Source

if TYPE_CHECKING:
    from ..settings import Settings

STAGE = "seed_stage"
# The stage's record number, given by COPY's order: what maps a stage row back to its line.
RECORD = "seed_record__"
_COPY_CONTEXT = re.compile(r"line (?P<line>\d+)(?:, column (?P<column>[^:]+))?")


def load(connection: Connection, source: Source, *, keep: bool, progress: Progress) -> Counts:
    raw = connection.connection.driver_connection
    assert isinstance(raw, psycopg.Connection)
    if raw.info.encoding != "utf-8":
        # Seed files are UTF-8 and CSV blocks go to the server as they are.
        connection.exec_driver_sql("SET LOCAL client_encoding = 'UTF8'")
    blocks = _blocks(source)
    first = next(blocks, None)  # reads the header: the columns are known from here on
    if not source.columns:
        return Counts()
    blocks = chain([first] if first is not None else [], blocks)
    if _straight_in(connection, source):
        target = connection.dialect.identifier_preparer.format_table(source.seed.table)
        savepoint = connection.begin_nested()
        try:
            rows = _copy(connection, source, target, blocks, progress, straight=True)
        except _UnlocatedError:
            # A foreign key is checked once the COPY is over, with no line to name: the stage
            # and the upsert below fail on it again, and find the row.
            savepoint.rollback()
            blocks = _blocks(source)
        else:
            savepoint.commit()
            missing = _missing_key(connection, source)
            empty_key = f"SELECT EXISTS (SELECT FROM {target} WHERE {missing})"
            if missing and connection.exec_driver_sql(empty_key).scalar():
                # The strict reader names the line (it refuses such a row).
                list(source.batches())
                raise source.fail(None, "a row is missing its key")
            return Counts(rows=rows, inserted=rows)
    stage = _create_stage(connection, source)
    rows = _copy(connection, source, stage, blocks, progress)
    if rows == 0:
        return Counts()
    _check_keys(connection, source, stage)
    _check_references(connection, source, stage)
    inserted, updated = _upsert(connection, source, stage, keep=keep)
    connection.exec_driver_sql(f"DROP TABLE {stage}")  # free its space before the next seed
    return Counts(
        rows=rows, inserted=inserted, updated=updated, unchanged=rows - inserted - updated
    )


def _blocks(source: Source) -> Iterator[bytes | str]:
    """The source as CSV for COPY: a CSV file's own bytes, or Python values written as CSV."""
    if source.textual:
        yield from source.csv_blocks()
        return
    for batch in source.batches():
        yield "".join(",".join(map(_as_field, record[1:])) + "\n" for record in batch)


def _as_field(value: Any) -> str:
    """A Python value as a field of COPY's CSV: None unquoted (NULL), anything else quoted.

    The csv module cannot quote an empty string alone before Python 3.12 (QUOTE_NOTNULL), and
    an unquoted empty field is NULL to COPY.
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        text = "t" if value else "f"
    elif isinstance(value, dict | list):
        text = json.dumps(value)
    else:
        text = str(value)
    return '"' + text.replace('"', '""') + '"'


def _straight_in(connection: Connection, source: Source) -> bool:
    """Whether the rows can be copied straight into the table: it is empty (and stays so until
    the copy, by a lock that lets readers through), and no value needs a lookup first."""
    seed = source.seed
    if any(name in seed.references for name in source.columns):
        return False
    if any(seed.table.c[name].nullable for name in seed.key_columns):
        return False  # only the stage's check would catch a row without its key
    target = connection.dialect.identifier_preparer.format_table(seed.table)
    empty = f"SELECT NOT EXISTS (SELECT FROM {target})"
    if not connection.exec_driver_sql(empty).scalar():
        return False
    savepoint = connection.begin_nested()
    try:
        connection.exec_driver_sql(f"LOCK TABLE {target} IN SHARE ROW EXCLUSIVE MODE")
    except Exception as exc:
        savepoint.rollback()
        if isinstance(getattr(exc, "orig", None), psycopg.errors.InsufficientPrivilege):
            return False  # a role that may only insert: the stage and upsert need no lock
        raise
    savepoint.commit()
    return bool(connection.exec_driver_sql(empty).scalar())


def _create_stage(connection: Connection, source: Source) -> str:
    seed = source.seed
    quote = connection.dialect.identifier_preparer.quote

    def stage_type(name: str) -> str:
        ref = seed.references.get(name)
        column = ref.target_column if ref is not None else seed.table.c[name]
        return column.type.compile(dialect=connection.dialect)

    columns = ", ".join(f"{quote(name)} {stage_type(name)}" for name in source.columns)
    stage = quote(STAGE)
    connection.exec_driver_sql(
        f"CREATE TEMP TABLE {stage} ({RECORD} bigint GENERATED ALWAYS AS IDENTITY, {columns}) "
        "ON COMMIT DROP"
    )
    return stage


def _copy(
    connection: Connection,
    source: Source,
    into: str,
    blocks: Iterator[bytes | str],
    progress: Progress,
    *,
    straight: bool = False,
) -> int:
    """COPY the blocks into ``into``; the number of rows.

    An unquoted empty field is NULL, a quoted one an empty string (COPY's CSV rule).
    """
    raw = connection.connection.driver_connection
    assert isinstance(raw, psycopg.Connection)
    quote = connection.dialect.identifier_preparer.quote
    names = ", ".join(quote(name) for name in source.columns)
    lines = 0
    try:
        with raw.cursor() as cursor:
            with cursor.copy(f"COPY {into} ({names}) FROM STDIN (FORMAT csv)") as copy:
                for block in blocks:
                    copy.write(block)
                    lines += block.count(b"\n") if isinstance(block, bytes) else block.count("\n")
                    progress.update(lines, source.bytes_read)
            return cursor.rowcount
    except psycopg.Error as exc:
        failure = _copy_failure(source, exc)
        if isinstance(failure, _UnlocatedError) and not straight:
            failure = source.fail(None, _message(exc))  # the stage has no constraint: unseen
        raise failure from None


class _UnlocatedError(Exception):
    """A COPY straight into the table broke a constraint without saying on which line."""


def _copy_failure(source: Source, exc: psycopg.Error) -> Exception:
    """The one line for a failed COPY: the row it names by position, by its line."""
    diag = exc.diag
    table = source.seed.table
    violation = violations.postgresql_violation(table, exc.sqlstate, diag)
    found = _COPY_CONTEXT.search(diag.context or "")
    if found is None:
        return _UnlocatedError() if violation is not None else source.fail(None, _message(exc))
    record = int(found["line"])
    line, row = source.record_at(record)  # raises first if the strict reader finds a problem
    if isinstance(exc, psycopg.errors.UniqueViolation):
        duplicate = source.first_duplicate(record)
        if duplicate is not None:
            key, first, again = duplicate
            return source.fail(again, f"key {key!r} appears twice (first at line {first})")
    if violation is not None:
        return source.fail(line, violations.message(table, violation, row))
    column = found["column"]
    if (exc.sqlstate or "").startswith("22") and column and column in table.c:
        kind = _VALUE_ERRORS.get(exc.sqlstate or "", "invalid")
        return source.fail(line, values.bad_value(table.c[column], row.get(column), kind))
    prefix = f"column {column}: " if column else ""
    return source.fail(line, f"{prefix}{_message(exc)}")


# Class 22, data exception: what the SQLite loader's checks call them (values.py).
_VALUE_ERRORS = {
    "22001": "length",  # string_data_right_truncation
    "22003": "range",  # numeric_value_out_of_range
    "22P02": "invalid",  # invalid_text_representation (an enum's value too)
}


def _message(exc: BaseException) -> str:
    """The server's message, with its detail when it names the value at fault."""
    diag = getattr(exc, "diag", None)
    message = (diag.message_primary if diag else None) or str(exc).splitlines()[0]
    detail = diag.message_detail if diag else None
    return f"{message} ({detail.rstrip('.')})" if detail and "Key (" in detail else message


def _check_keys(connection: Connection, source: Source, stage: str) -> None:
    """Every row has its key, and only once."""
    seed = source.seed
    quote = connection.dialect.identifier_preparer.quote
    keys = ", ".join(quote(name) for name in seed.key_columns)
    missing = _missing_key(connection, source)
    if missing:
        record = connection.exec_driver_sql(
            f"SELECT min({RECORD}) FROM {stage} WHERE {missing}"
        ).scalar()
        if record is not None:
            line = source.line_of_record(int(record))  # the strict reader says "missing its key"
            raise source.fail(line, "row missing its key")
    # The index finds a key given twice (ON CONFLICT would only see one that is new or changed).
    savepoint = connection.begin_nested()
    try:
        connection.exec_driver_sql(f"CREATE UNIQUE INDEX ON {stage} ({keys})")
    except Exception as exc:
        savepoint.rollback()
        if not isinstance(getattr(exc, "orig", None), psycopg.errors.UniqueViolation):
            raise
        row = connection.exec_driver_sql(
            f"SELECT min({RECORD}), max({RECORD}), {keys} FROM {stage} "
            f"GROUP BY {keys} HAVING count(*) > 1 ORDER BY 2 LIMIT 1"
        ).one()
        first, again = int(row[0]), int(row[1])
        lines = source.lines_of_records(first, again)
        raise source.fail(
            lines.get(again),
            f"key {tuple(row[2:])!r} appears twice (first at line {lines.get(first)})",
        ) from None
    savepoint.commit()


def _missing_key(connection: Connection, source: Source, prefix: str = "") -> str:
    """The SQL condition of a row without its key: NULL (a NOT NULL key column would reject
    the row itself, a nullable one would not), or "" in a text column (as a missing key is
    everywhere else: in JSON, Python, and CSV on SQLite)."""
    seed = source.seed
    quote = connection.dialect.identifier_preparer.quote
    conditions = []
    for name in seed.key_columns:
        column = seed.table.c[name]
        if column.nullable:
            conditions.append(f"{prefix}{quote(name)} IS NULL")
        if values.is_python_type(column, str):
            conditions.append(f"{prefix}{quote(name)} = ''")
    return " OR ".join(conditions)


def _check_references(connection: Connection, source: Source, stage: str) -> None:
    seed = source.seed
    quote = connection.dialect.identifier_preparer.quote
    format_table = connection.dialect.identifier_preparer.format_table
    for name, ref in seed.references.items():
        if name not in source.columns:
            continue
        target = ref.target_column
        missing = connection.exec_driver_sql(
            f"SELECT s.{RECORD}, s.{quote(name)} FROM {stage} s "
            f"WHERE s.{quote(name)} IS NOT NULL AND NOT EXISTS "
            f"(SELECT 1 FROM {format_table(ref.target_table)} r "
            f"WHERE r.{quote(target.name)} = s.{quote(name)}) ORDER BY s.{RECORD} LIMIT 1"
        ).first()
        if missing is not None:
            record, value = missing
            raise source.fail(
                source.line_of_record(int(record)),
                f"{name} {value!r} is not in {ref.target_table.name}.{target.name} "
                "(a reference to a row that does not exist)",
            )


def _upsert(connection: Connection, source: Source, stage: str, *, keep: bool) -> tuple[int, int]:
    seed = source.seed
    preparer = connection.dialect.identifier_preparer
    quote = preparer.quote
    table = preparer.format_table(seed.table)
    new_values: dict[str, str] = {}  # target column -> the SQL of its new value
    joins: list[str] = []
    for name in source.columns:
        ref = seed.references.get(name)
        if ref is None:
            new_values[name] = f"s.{quote(name)}"
            continue
        alias = f"r{len(joins)}"
        new_values[ref.column] = f"{alias}.{quote(seed.id_column_of(ref).name)}"
        joins.append(
            f"LEFT JOIN {preparer.format_table(ref.target_table)} {alias} "
            f"ON {alias}.{quote(ref.target_column.name)} = s.{quote(name)}"
        )
    keys = [quote(name) for name in seed.key_columns]
    joins.append(f"LEFT JOIN {table} c ON {' AND '.join(f'c.{k} = s.{k}' for k in keys)}")
    updates = [name for name in new_values if name not in seed.key_columns]
    new = f"c.{keys[0]} IS NULL"
    if keep or not updates:
        wanted = new
        conflict = f"ON CONFLICT ({', '.join(keys)}) DO NOTHING"
    else:
        # json has no equality operator (jsonb has): its values are compared as jsonb.
        as_jsonb = {
            name
            for name in updates
            if isinstance(values.stored_type(seed.table.c[name]), JSON)
            and not isinstance(values.stored_type(seed.table.c[name]), JSONB)
        }

        def comparable(name: str, sql: str) -> str:
            return f"{sql}::jsonb" if name in as_jsonb else sql

        def row(prefix: str, names: list[str]) -> str:
            return f"ROW({', '.join(comparable(n, f'{prefix}{quote(n)}') for n in names)})"

        incoming = f"ROW({', '.join(comparable(name, new_values[name]) for name in updates)})"
        wanted = f"{new} OR {row('c.', updates)} IS DISTINCT FROM {incoming}"
        assignments = ", ".join(f"{quote(name)} = EXCLUDED.{quote(name)}" for name in updates)
        conflict = (
            f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {assignments} "
            f"WHERE {row('t.', updates)} IS DISTINCT FROM {row('EXCLUDED.', updates)}"
        )

    def statement(through: int | None = None) -> str:
        """The upsert; ``through``: of the stage's first records only (the error path)."""
        limit = f" AND s.{RECORD} <= {int(through)}" if through is not None else ""
        # xmax is 0 on a freshly inserted row version and set on an updated one: the usual
        # way to tell inserts from updates in one upsert.
        return (
            f"WITH written AS (INSERT INTO {table} AS t "
            f"({', '.join(quote(name) for name in new_values)}) "
            f"SELECT {', '.join(new_values.values())} FROM {stage} s {' '.join(joins)} "
            f"WHERE ({wanted}){limit} {conflict} RETURNING (t.xmax = 0) AS inserted) "
            "SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) "
            "FROM written"
        )

    savepoint = connection.begin_nested()
    try:
        inserted, updated = connection.exec_driver_sql(statement()).one()
    except Exception as exc:
        savepoint.rollback()
        raise _upsert_failure(connection, source, stage, exc, statement) from None
    savepoint.commit()
    return int(inserted), int(updated)


def _upsert_failure(
    connection: Connection,
    source: Source,
    stage: str,
    exc: Exception,
    statement: Callable[[int | None], str],
) -> Exception:
    """Name the first row behind a failed upsert: the smallest first records of the stage that
    fail it alike, found by halving (error path only; each try is rolled back)."""
    orig = getattr(exc, "orig", exc)
    table = source.seed.table
    sqlstate = getattr(orig, "sqlstate", None)
    violation = violations.postgresql_violation(table, sqlstate, getattr(orig, "diag", None))
    if violation is None:
        return source.fail(None, _message(orig))

    def fails(through: int) -> Exception | None:
        savepoint = connection.begin_nested()
        try:
            connection.exec_driver_sql(statement(through))
        except Exception as attempt:
            savepoint.rollback()
            failure = getattr(attempt, "orig", attempt)
            return failure if getattr(failure, "sqlstate", None) == sqlstate else None
        savepoint.rollback()
        return None

    last = connection.exec_driver_sql(f"SELECT max({RECORD}) FROM {stage}").scalar()
    low, high = 1, int(last or 1)
    first = orig
    while low < high:
        middle = (low + high) // 2
        failure = fails(middle)
        if failure is not None:
            high, first = middle, failure
        else:
            low = middle + 1
    violation = violations.postgresql_violation(table, sqlstate, getattr(first, "diag", None))
    assert violation is not None
    line, row = source.record_at(high)
    return source.fail(line, violations.message(table, violation, row))


# -- sequences after seeding ----------------------------------------------------------------------


def advance_sequences(
    connection: Connection, given: list[tuple[Table, list[str]]], settings: Settings
) -> None:
    """Every sequence behind a column the seeds gave values for, past its highest value.

    ``given``: each table written and the columns the seeds gave. Seeds that give ids (serial
    or identity columns) leave the sequence where it was: the next INSERT without an id would
    take an id a seeded row has. The seeding login moves it when it may (SELECT and UPDATE on
    the sequence: its owner, a superuser); the app's login under the role model may not, so the
    migrator's does (MIGRATOR_DATABASE_URL, as the owner). ``setval`` is not transactional: a
    sequence moved for a run that then fails is a gap in the ids, never a collision.
    """
    behind: list[tuple[str, int]] = []  # (sequence, the highest value of its column)
    format_table = connection.dialect.identifier_preparer.format_table
    quote = connection.dialect.identifier_preparer.quote
    for table, columns in given:
        for name in columns:
            if name not in table.c or not values.is_python_type(table.c[name], int):
                continue
            sequence = connection.exec_driver_sql(
                "SELECT pg_get_serial_sequence(%s, %s)", (format_table(table), name)
            ).scalar()
            if sequence is None:
                continue
            highest = connection.exec_driver_sql(
                f"SELECT max({quote(name)}) FROM {format_table(table)}"
            ).scalar()
            if highest is None:
                continue
            if _may(connection, sequence, "SELECT"):
                position = connection.exec_driver_sql(
                    f"SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END "
                    f"FROM {sequence}"
                ).scalar()
                if position is not None and position >= highest:
                    continue
                if _may(connection, sequence, "UPDATE"):
                    connection.exec_driver_sql(
                        "SELECT setval(%s::regclass, %s)", (sequence, int(highest))
                    )
                    continue
            behind.append((sequence, int(highest)))
    if behind:
        _advance_as_migrator(behind, settings)


def _may(connection: Connection, sequence: str, privilege: str) -> bool:
    return bool(
        connection.exec_driver_sql(
            "SELECT has_sequence_privilege(%s, %s)", (sequence, privilege)
        ).scalar()
    )


def _advance_as_migrator(behind: list[tuple[str, int]], settings: Settings) -> None:
    from ..engine import database_url, make_engine
    from ..roles.names import assume_migration_role

    names = ", ".join(sequence for sequence, _ in behind)
    if not settings.get("MIGRATOR_DATABASE_URL"):
        raise TaskError(
            f"the seeds gave ids, and this login may not move the sequences behind them "
            f"({names}): set MIGRATOR_DATABASE_URL (the migrator moves them); nothing was seeded"
        )
    engine = make_engine(database_url(settings, setting="MIGRATOR_DATABASE_URL"))
    try:
        with engine.begin() as connection:
            assume_migration_role(connection, settings)
            for sequence, highest in behind:
                # Only ever forward: another session may have taken ids since.
                connection.exec_driver_sql(
                    "SELECT setval(%(s)s::regclass, greatest(%(n)s, "
                    f"(SELECT last_value FROM {sequence})))",
                    {"s": sequence, "n": highest},
                )
    except TaskError:
        raise
    except Exception as exc:
        raise TaskError(
            f"the seeds gave ids, and moving the sequences behind them ({names}) as the "
            f"migrator failed: {_message(getattr(exc, 'orig', exc))}; nothing was seeded"
        ) from None
    finally:
        engine.dispose()
