"""The applied-migrations ledger: a checksum of every revision file, taken when it is applied.

Alembic records only the revision id, so an applied migration edited afterwards (or deleted)
goes unnoticed until two databases quietly differ. Like Flyway and Atlas, we record a checksum
per applied revision in the ``migration_ledger`` table (same schema as ``alembic_version``, in
the migration's own transaction) and compare: ``db.check`` fails and ``db.migrate`` warns,
naming the file. Downgrading a revision removes its row, so re-applying an edited revision on
a development database is not an error.

The table, like ``lifecycle_environment`` (protection.py), is the lifecycle's, not the
application's: autogenerate and the drift check ignore both (``KIT_TABLES``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import (
    Column,
    Connection,
    DateTime,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    inspect,
    select,
)

# The kit's tables' names live with the SQL db.grant creates them with (roles/tables.py); the
# stamp's with the seeds, which read it without importing this module.
from .roles.tables import KIT_TABLES as KIT_TABLES
from .roles.tables import MIGRATION_LEDGER_TABLE as LEDGER_TABLE
from .seeding.names import ENVIRONMENT_TABLE as ENVIRONMENT_TABLE

lifecycle_metadata = MetaData()
ledger = Table(
    LEDGER_TABLE,
    lifecycle_metadata,
    Column("revision", String(64), primary_key=True),
    Column("file", String(255), nullable=False),
    Column("checksum", String(64), nullable=False),
    Column("applied_at", DateTime(timezone=True), nullable=False),
)
environment = Table(
    ENVIRONMENT_TABLE,
    lifecycle_metadata,
    Column("key", String(64), primary_key=True),
    Column("value", String(255), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

# Alembic creates this one itself; it is described here so that db.grant (grants.py) can
# create it first, with the same layout, and keep it read-only for the app.
Table(
    "alembic_version",
    lifecycle_metadata,
    Column("version_num", String(32), nullable=False),
    PrimaryKeyConstraint("version_num", name="alembic_version_pkc"),
)


def checksum(path: Path) -> str:
    """SHA-256 of the file, line endings normalised (a Windows checkout is not an edit).

    A squawk acknowledgement is left out (lint.without_acknowledgement): it records what a
    review accepted and changes nothing that runs, so acknowledging a finding in a revision
    applied long ago (``invoke db.lint --all`` in CI) is no edit.
    """
    from .lint import without_acknowledgement

    data = path.read_bytes().replace(b"\r\n", b"\n")
    return hashlib.sha256(without_acknowledgement(data)).hexdigest()


def applied_revisions(connection: Connection, scripts: ScriptDirectory) -> set[str]:
    heads = MigrationContext.configure(connection).get_current_heads()
    if not heads:
        return set()
    return {script.revision for script in scripts.iterate_revisions(heads, "base") if script}


def record(connection: Connection, scripts: ScriptDirectory) -> None:
    """Bring the ledger in line with what is applied: add new revisions, drop undone ones."""
    ledger.create(connection, checkfirst=True)
    applied = applied_revisions(connection, scripts)
    known = set(connection.execute(select(ledger.c.revision)).scalars())
    gone = known - applied
    if gone:
        connection.execute(ledger.delete().where(ledger.c.revision.in_(gone)))
    now = datetime.now(UTC)
    rows = []
    for rev in sorted(applied - known):
        script = scripts.get_revision(rev)
        if script is None:
            continue
        path = Path(script.path)
        rows.append(
            {"revision": rev, "file": path.name, "checksum": checksum(path), "applied_at": now}
        )
    if rows:
        connection.execute(ledger.insert(), rows)


@dataclass(frozen=True)
class Mismatch:
    revision: str
    file: str
    edited: bool  # False: the file was deleted

    def __str__(self) -> str:
        what = "was edited after it was applied" if self.edited else "was deleted"
        return (
            f"applied revision {self.revision} ({self.file}) {what}: never edit a committed "
            "migration, write a new one (restore it with git)"
        )


def verify(connection: Connection, scripts: ScriptDirectory) -> list[Mismatch]:
    """Applied revisions whose file changed or vanished since it was applied."""
    if not inspect(connection).has_table(LEDGER_TABLE):
        return []
    mismatches = []
    for rev, file, recorded in connection.execute(
        select(ledger.c.revision, ledger.c.file, ledger.c.checksum).order_by(ledger.c.applied_at)
    ):
        try:
            script = scripts.get_revision(rev)
        except Exception:  # alembic raises several kinds for a revision it cannot find
            script = None
        if script is None or not Path(script.path).is_file():
            mismatches.append(Mismatch(rev, file, edited=False))
        elif checksum(Path(script.path)) != recorded:
            mismatches.append(Mismatch(rev, Path(script.path).name, edited=True))
    return mismatches


def not_lifecycle_table(
    obj: object, name: str | None, type_: str, reflected: bool, compare_to: object
) -> bool:
    """Alembic ``include_object`` hook: autogenerate and the drift check skip our tables."""
    return not (type_ == "table" and name in KIT_TABLES)
