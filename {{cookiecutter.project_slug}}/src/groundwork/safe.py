"""Safe forms of the schema changes that lock a big, busy table (docs/database.md, "Big, busy
tables: safe migrations"), for the revisions people write and the ones autogenerate writes.

On PostgreSQL each helper takes only the locks the traffic can live with, and commits where a
long step must not hold a strong lock: ``CREATE INDEX CONCURRENTLY`` runs in an autocommit block,
a foreign key or CHECK is added ``NOT VALID`` and validated in a transaction of its own, NOT NULL
goes through a validated CHECK (PostgreSQL 12+ then skips the scan), UNIQUE through a concurrent
unique index. Names are taken as given (as ``op.f(name)``: the naming convention does not
rename them). Each is written to be run again after an interrupted run (the step already done is
skipped). On SQLite (one writer, no concurrent DDL) each helper is the plain operation.

A revision that calls one of them is no longer all-or-nothing with the ones before it: at its
first autocommit block, the revisions before it (with the kit's ledger) and its own statements so
far are committed; see :func:`autocommit_block`.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from alembic import op
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, text

# Where the kit (migrations.py) leaves its CommitPoint in ``connection.info``.
COMMIT_POINT = "groundwork.commit_point"


@dataclass
class CommitPoint:
    """What the migration's runner does around a commit in the middle of its transaction.

    The kit (migrations.py) and the plain ``alembic`` command (environment.py) leave one in
    ``connection.info``: a connection without one is in a transaction this code cannot end.
    ``before``: bring the ledger in line (the revisions applied so far get committed);
    ``timeouts(connection, local)``: the migration lock_timeout/statement_timeout, for the
    transaction (``local``) or for the session (inside an autocommit block). ``committed``: the
    applied heads at the last commit, and ``partial``: whether the revision running has
    committed statements of its own since, for the message when it fails.
    """

    before: Callable[[Connection], None] = lambda _: None
    timeouts: Callable[[Connection, bool], None] = lambda _, __: None
    committed: tuple[str, ...] | None = None
    partial: bool = False


def _bind() -> Connection:
    return op.get_bind()


def _offline() -> bool:
    return bool(op.get_context().as_sql)


def _postgresql() -> bool:
    return op.get_context().dialect.name == "postgresql"


def _point(connection: Connection) -> CommitPoint:
    point: CommitPoint | None = connection.info.get(COMMIT_POINT)
    if point is None:
        raise RuntimeError(
            "this revision commits in the middle of the migration (an autocommit block, "
            "groundwork.safe), and the connection it runs on is in a transaction its caller "
            "began: run it with `invoke db.migrate` or the plain `alembic` command"
        )
    return point


def _commit(connection: Connection, point: CommitPoint) -> None:
    """Commit the run so far, the ledger brought in line first (the kit's ``before``)."""
    point.before(connection)
    point.committed = tuple(MigrationContext.configure(connection).get_current_heads())
    connection.commit()


def _restart(connection: Connection, point: CommitPoint) -> None:
    """Commit, and go on in a new transaction under the migration timeouts."""
    _commit(connection, point)
    connection.begin()
    point.timeouts(connection, True)


def uses_autocommit(module: ModuleType) -> bool:
    """Whether a revision (its module) calls these helpers or has an autocommit block."""
    ours = sys.modules[__name__]
    # ``from groundwork import safe`` or ``from groundwork.safe import backfill``.
    if any(
        value is ours or getattr(value, "__module__", None) == __name__
        for value in vars(module).values()
    ):
        return True
    # Imported inside upgrade(), or Alembic's block used directly: the file says so.
    path = getattr(module, "__file__", None)
    source = Path(path).read_text(encoding="utf-8") if path is not None else ""
    return any(mark in source for mark in _MARKS)


_MARKS = ("groundwork import safe", "groundwork.safe", "autocommit_block(")


def commit_point(connection: Connection) -> None:
    """Commit the revisions applied so far and go on in a new transaction (PostgreSQL).

    The kit calls it before and after a revision that :func:`uses_autocommit`: the revisions
    before it stay applied, recorded in the version table and the ledger, whatever happens to
    it, and it stays applied whatever happens to the ones after it.
    """
    point: CommitPoint | None = connection.info.get(COMMIT_POINT)
    if point is None or connection.dialect.name != "postgresql":
        return
    _restart(connection, point)
    point.partial = False


@contextmanager
def _separate_transaction() -> Iterator[None]:
    """The block in a transaction of its own: what ran before is committed, and the block is.

    Offline, ``COMMIT; BEGIN;`` around it. Under a transaction Alembic began itself, its
    autocommit block (each statement its own transaction).
    """
    context = op.get_context()
    if context.as_sql:
        context.impl.emit_commit()
        context.impl.emit_begin()
        yield
        context.impl.emit_commit()
        context.impl.emit_begin()
        return
    if getattr(context, "_transaction", None) is not None:
        with context.autocommit_block():
            yield
        return
    connection = _bind()
    point = _point(connection)
    _restart(connection, point)
    point.partial = True
    yield
    _restart(connection, point)


@contextmanager
def autocommit_block() -> Iterator[None]:
    """Run the block outside any transaction: each statement commits on its own.

    Alembic's ``op.get_context().autocommit_block()`` works only when Alembic began the
    transaction; the kit begins one transaction for the whole run (migrations.py). This one
    commits the kit's transaction (the revisions applied so far, recorded in the ledger, and the
    statements of this revision before the block), runs the block in autocommit under the
    migration lock_timeout and statement_timeout (the index helpers lift the latter), then
    begins a new transaction for the rest of the run. Offline (``db.sql``), Alembic's own block:
    ``COMMIT;`` before, ``BEGIN;`` after. On SQLite, the block runs in the transaction.
    """
    context = op.get_context()
    if context.as_sql or getattr(context, "_transaction", None) is not None:
        # Offline SQL, or a transaction Alembic began itself (transaction_per_migration).
        with context.autocommit_block():
            yield
        return
    connection = _bind()
    if connection.dialect.name != "postgresql":
        yield
        return
    point = _point(connection)
    if connection.in_transaction():
        _commit(connection, point)
    point.partial = True
    level = connection.get_isolation_level()
    connection.execution_options(isolation_level="AUTOCOMMIT")
    # SQLAlchemy begins a transaction object on the next statement anyway: hold it, as Alembic.
    autocommitting = connection.begin()

    def leave() -> None:
        connection.exec_driver_sql("RESET lock_timeout")
        connection.exec_driver_sql("RESET statement_timeout")
        autocommitting.commit()
        connection.execution_options(isolation_level=level)
        connection.begin()
        point.timeouts(connection, True)

    try:
        point.timeouts(connection, False)
        yield
    except BaseException:
        # A connection that died with the block has nothing to restore: its error is the one.
        if not (connection.invalidated or connection.closed):
            leave()
        raise
    leave()


@contextmanager
def _no_statement_timeout() -> Iterator[None]:
    """A long build or scan that blocks no writer: statement_timeout would only kill it."""
    if _offline():
        op.execute("SET statement_timeout = 0")
        yield
        op.execute("RESET statement_timeout")
        return
    bind = _bind()
    before = bind.exec_driver_sql("SHOW statement_timeout").scalar()
    bind.exec_driver_sql("SET statement_timeout = 0")
    try:
        yield
    finally:
        bind.execute(
            text("SELECT set_config('statement_timeout', :value, false)"), {"value": before}
        )


def _qualified(name: str, schema: str | None) -> str:
    quote = op.get_context().dialect.identifier_preparer.quote
    return f"{quote(schema)}.{quote(name)}" if schema else quote(name)


def _index_valid(name: str, schema: str | None) -> bool | None:
    """True/False: the index exists, valid or not (a failed concurrent build); None: absent."""
    found = _bind().execute(
        text("SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass(:name)"),
        {"name": _qualified(name, schema)},
    )
    row = found.first()
    return None if row is None else bool(row[0])


def _drop_invalid(name: str, schema: str | None) -> None:
    if _index_valid(name, schema) is False:
        print(f"dropping the INVALID index {name} a failed build left", file=sys.stderr)
        _bind().exec_driver_sql(f"DROP INDEX CONCURRENTLY IF EXISTS {_qualified(name, schema)}")


def _constraint_exists(name: str, table: str, schema: str | None) -> bool:
    found = _bind().execute(
        text("SELECT 1 FROM pg_constraint WHERE conname = :name AND conrelid = to_regclass(:t)"),
        {"name": name, "t": _qualified(table, schema)},
    )
    return found.first() is not None


def create_index_concurrently(
    index_name: str,
    table_name: str,
    columns: Sequence[Any],
    *,
    schema: str | None = None,
    unique: bool = False,
    **kw: Any,
) -> None:
    """``op.create_index`` without blocking writes: ``CREATE INDEX CONCURRENTLY`` (PostgreSQL).

    Runs in an autocommit block, without statement_timeout. A build that fails (duplicate
    values for a unique index, a lock_timeout, a cancel) leaves an INVALID index behind: it is
    dropped (``DROP INDEX CONCURRENTLY``) before the error goes on. Run again after a kill, an
    INVALID index of that name is dropped first and a valid one kept.
    """
    if not _postgresql():
        op.create_index(op.f(index_name), table_name, columns, schema=schema, unique=unique, **kw)
        return
    with autocommit_block(), _no_statement_timeout():
        if not _offline():
            _drop_invalid(index_name, schema)
            if _index_valid(index_name, schema):
                print(f"index {index_name} exists already (an earlier run): kept")
                return
        try:
            op.create_index(
                op.f(index_name),
                table_name,
                columns,
                schema=schema,
                unique=unique,
                postgresql_concurrently=True,
                if_not_exists=True,  # squawk's prefer-robust-stmts: outside a transaction
                **kw,
            )
        except Exception:
            if not _offline():
                _drop_invalid(index_name, schema)
            raise


def drop_index_concurrently(
    index_name: str, table_name: str | None = None, *, schema: str | None = None, **kw: Any
) -> None:
    """``op.drop_index`` without blocking reads and writes: ``DROP INDEX CONCURRENTLY``."""
    if not _postgresql():
        op.drop_index(op.f(index_name), table_name=table_name, schema=schema, **kw)
        return
    with autocommit_block():
        op.drop_index(
            op.f(index_name),
            table_name=table_name,
            schema=schema,
            postgresql_concurrently=True,
            if_exists=True,
            **kw,
        )


def validate_constraint(
    constraint_name: str, table_name: str, *, schema: str | None = None
) -> None:
    """``ALTER TABLE ... VALIDATE CONSTRAINT``, in a transaction of its own.

    VALIDATE scans the table under SHARE UPDATE EXCLUSIVE (writes go on); in the transaction
    that added the constraint it would scan under that statement's stronger lock. Without
    statement_timeout: the scan blocks no one. Nothing on SQLite (constraints are always valid).
    """
    if not _postgresql():
        return
    with _separate_transaction():
        op.execute("SET LOCAL statement_timeout = 0")
        op.execute(
            f"ALTER TABLE {_qualified(table_name, schema)} "
            f"VALIDATE CONSTRAINT {_qualified(constraint_name, None)}"
        )


def add_foreign_key_not_valid(
    constraint_name: str,
    source_table: str,
    referent_table: str,
    local_cols: list[str],
    remote_cols: list[str],
    *,
    source_schema: str | None = None,
    referent_schema: str | None = None,
    **kw: Any,
) -> None:
    """``op.create_foreign_key`` ``NOT VALID``: existing rows are not scanned under the lock.

    New rows are checked at once; follow with :func:`validate_constraint` (a separate step) for
    the existing ones. On SQLite, the plain foreign key (batch mode).
    """
    if not _postgresql():
        with op.batch_alter_table(source_table, schema=source_schema) as batch:
            batch.create_foreign_key(
                op.f(constraint_name), referent_table, local_cols, remote_cols, **kw
            )
        return
    if not _offline() and _constraint_exists(constraint_name, source_table, source_schema):
        return  # an earlier, interrupted run added it
    op.create_foreign_key(
        op.f(constraint_name),
        source_table,
        referent_table,
        local_cols,
        remote_cols,
        source_schema=source_schema,
        referent_schema=referent_schema,
        postgresql_not_valid=True,
        **kw,
    )


def add_check_not_valid(
    constraint_name: str, table_name: str, condition: str, *, schema: str | None = None
) -> None:
    """``op.create_check_constraint`` ``NOT VALID``; :func:`validate_constraint` after it."""
    if not _postgresql():
        with op.batch_alter_table(table_name, schema=schema) as batch:
            batch.create_check_constraint(op.f(constraint_name), text(condition))
        return
    if not _offline() and _constraint_exists(constraint_name, table_name, schema):
        return
    op.create_check_constraint(
        op.f(constraint_name), table_name, text(condition), schema=schema, postgresql_not_valid=True
    )


def set_not_null_safely(
    table_name: str, column_name: str, *, schema: str | None = None, **kw: Any
) -> None:
    """``op.alter_column(nullable=False)`` without a scan under ACCESS EXCLUSIVE.

    A CHECK (column IS NOT NULL) added NOT VALID, validated in its own transaction, then
    SET NOT NULL (PostgreSQL 12+ sees the validated CHECK and skips the scan: the ACCESS
    EXCLUSIVE lock is held for an instant) and the CHECK dropped. ``kw``: ``existing_type``...
    """
    if not _postgresql():
        with op.batch_alter_table(table_name, schema=schema) as batch:
            batch.alter_column(column_name, nullable=False, **kw)
        return
    # Not "<table>_<column>_not_null": PostgreSQL 18 names the NOT NULL constraint that SET NOT
    # NULL makes so, and would call it "..._not_null1" while this CHECK holds the name.
    check = f"{table_name}_{column_name}_nn_check"[:63]
    column = _qualified(column_name, None)
    add_check_not_valid(check, table_name, f"{column} IS NOT NULL", schema=schema)
    validate_constraint(check, table_name, schema=schema)
    op.alter_column(table_name, column_name, nullable=False, schema=schema, **kw)
    # squawk bans dropping a constraint (clients may rely on it); NOT NULL holds what this
    # one said, and it lived two statements: the ignore is for this statement alone.
    op.execute(
        "-- squawk-ignore ban-drop-constraint\n"
        f"ALTER TABLE {_qualified(table_name, schema)} "
        f"DROP CONSTRAINT IF EXISTS {_qualified(check, None)}"
    )


def add_unique_using_index(
    constraint_name: str, table_name: str, columns: list[str], *, schema: str | None = None
) -> None:
    """``op.create_unique_constraint`` without a build under the lock.

    A unique index built concurrently (:func:`create_index_concurrently`, named as the
    constraint), then ``ADD CONSTRAINT ... UNIQUE USING INDEX``: an instant under the lock.
    """
    if not _postgresql():
        with op.batch_alter_table(table_name, schema=schema) as batch:
            batch.create_unique_constraint(op.f(constraint_name), columns)
        return
    create_index_concurrently(constraint_name, table_name, columns, schema=schema, unique=True)
    if not _offline() and _constraint_exists(constraint_name, table_name, schema):
        return
    name = _qualified(constraint_name, None)
    table = _qualified(table_name, schema)
    op.execute(f"ALTER TABLE {table} ADD CONSTRAINT {name} UNIQUE USING INDEX {name}")


def backfill(
    table_name: str,
    *,
    set_: str,
    where: str,
    batch_size: int = 1000,
    schema: str | None = None,
) -> None:
    """``UPDATE table SET <set_> WHERE <where>``, in batches each committed on its own.

    ``where`` must select the rows still to update (``new_column IS NULL``): the batches go by
    primary key, each committed outside the schema transaction, so a run killed half-way leaves
    the batches done, and the next run skips them through ``where``. A batch holds its rows'
    locks for a moment, not the whole table's for the whole update. Progress on stdout.
    Offline (``db.sql``) and on SQLite: one UPDATE, in the migration's transaction.
    """
    target = _qualified(table_name, schema)
    if not _postgresql() or _offline():
        op.execute(f"UPDATE {target} SET {set_} WHERE {where}")
        return
    bind = _bind()
    keys = bind.dialect.get_pk_constraint(bind, table_name, schema=schema)["constrained_columns"]
    if len(keys) != 1:
        raise ValueError(f"backfill needs a one-column primary key on {table_name}: {keys}")
    key = _qualified(keys[0], None)
    done = 0
    last: Any = None
    with autocommit_block():
        while True:
            after = "" if last is None else f" AND {key} > :last"
            updated = bind.execute(
                text(
                    f"UPDATE {target} SET {set_} WHERE {key} IN (SELECT {key} FROM {target} "
                    f"WHERE ({where}){after} ORDER BY {key} LIMIT :size) RETURNING {key}"
                ),
                {"size": batch_size, "last": last},
            ).scalars()
            batch = list(updated)
            if not batch:
                break
            done += len(batch)
            last = max(batch)
            print(f"backfill {table_name}: {done} rows updated (up to {keys[0]} = {last})")
    print(f"backfill {table_name}: done, {done} rows updated")
