"""The seed ledger: one row per seed with a hash of what was loaded last.

A re-run of a seed whose files and declaration did not change is skipped without reading its
rows (Flyway's repeatable migrations work the same way). ``seed_runs`` remembers whole runs, so
that a run in which nothing changed is recognised without importing the seeds (``unchanged``).
The tables belong to the seeding engine, like ``alembic_version`` belongs to Alembic: they are
created on first use, and migrations (autogenerate and ``db.check``) ignore them, as members of
``ledger.KIT_TABLES``.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    DateTime,
    MetaData,
    String,
    Table,
    TableClause,
    Text,
    func,
    select,
)

from .names import LEDGER_TABLE, RUNS_TABLE

seeding_metadata = MetaData()
ledger = Table(
    LEDGER_TABLE,
    seeding_metadata,
    Column("name", String(200), primary_key=True),
    Column("content_hash", String(64), nullable=False),
    Column("row_count", BigInteger, nullable=False),
    Column("seeded_at", DateTime(timezone=True), nullable=False),
)
runs = Table(
    RUNS_TABLE,
    seeding_metadata,
    # A hash of the run's options: environment, --only, --keep-existing, --force, APP_ENV.
    Column("run_key", String(64), primary_key=True),
    Column("fingerprint", String(64), nullable=False),
    # JSON: [[seed, schema, table], ...] in the order they ran.
    Column("seeds", Text, nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
)


def ensure(connection: Connection) -> None:
    seeding_metadata.create_all(connection, checkfirst=True)


def recorded(connection: Connection) -> dict[str, tuple[str, int]]:
    """Hash and row count of every seed loaded so far."""
    rows = connection.execute(select(ledger.c.name, ledger.c.content_hash, ledger.c.row_count))
    return {name: (content_hash, row_count) for name, content_hash, row_count in rows}


def record(connection: Connection, name: str, content_hash: str, row_count: int) -> None:
    connection.execute(ledger.delete().where(ledger.c.name == name))
    connection.execute(
        ledger.insert().values(
            name=name, content_hash=content_hash, row_count=row_count, seeded_at=datetime.now(UTC)
        )
    )


def record_run(connection: Connection, key: str, fingerprint: str, seeds: str) -> None:
    connection.execute(runs.delete().where(runs.c.run_key == key))
    connection.execute(
        runs.insert().values(
            run_key=key, fingerprint=fingerprint, seeds=seeds, recorded_at=datetime.now(UTC)
        )
    )


def recorded_run(connection: Connection, key: str) -> tuple[str, str] | None:
    """Fingerprint and seeds of the last run with these options, if one was recorded."""
    row = connection.execute(
        select(runs.c.fingerprint, runs.c.seeds).where(runs.c.run_key == key)
    ).first()
    return None if row is None else (row[0], row[1])


def table_rows(connection: Connection, table: TableClause) -> int:
    return int(connection.execute(select(func.count()).select_from(table)).scalar_one())
