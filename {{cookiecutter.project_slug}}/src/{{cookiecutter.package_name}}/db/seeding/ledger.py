"""The seed ledger: one row per seed with a hash of what was loaded last.

A re-run of a seed whose files and declaration did not change is skipped without reading its
rows (Flyway's repeatable migrations work the same way). The table belongs to the seeding
engine, like ``alembic_version`` belongs to Alembic: it is created on first use, and migrations
(autogenerate and ``db.check``) ignore it, as one of ``db.ledger.LIFECYCLE_TABLES``.
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
    func,
    select,
)

from ..ledger import SEED_LEDGER_TABLE as LEDGER_TABLE

_metadata = MetaData()
ledger = Table(
    LEDGER_TABLE,
    _metadata,
    Column("name", String(200), primary_key=True),
    Column("content_hash", String(64), nullable=False),
    Column("row_count", BigInteger, nullable=False),
    Column("seeded_at", DateTime(timezone=True), nullable=False),
)


def ensure(connection: Connection) -> None:
    ledger.create(connection, checkfirst=True)


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


def table_rows(connection: Connection, table: Table) -> int:
    return int(connection.execute(select(func.count()).select_from(table)).scalar_one())
