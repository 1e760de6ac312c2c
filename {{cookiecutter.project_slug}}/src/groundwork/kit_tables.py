"""The version of the kit's own tables, and the ordered steps that upgrade them.

The kit keeps tables of its own beside the application's (``ledger.KIT_TABLES``:
``migration_ledger``, ``lifecycle_environment``, ``seed_ledger``, ``seed_runs``). A newer kit
may need them laid out differently; like Rails, which keeps its own metadata in
``ar_internal_metadata``, the database records which layout its tables have, and a kit upgrades
them in order, once, before it uses them.

The version is a row of ``lifecycle_environment`` (key :data:`VERSION_KEY`), the table that is
already this kit's ``ar_internal_metadata`` (key, value, updated_at; Rails keeps its
``environment`` there too). No new table: nothing more for ``db.grant`` to create and grant
(the app may read the row, only the migrator, as the owner, writes it), for backups to keep or
for the drift check to ignore, and every release since the kit's first has that table.

The tasks that change the schema upgrade the tables (:func:`upgrade`, from
``migrations.changing_schema``): in the migration's transaction, under the migration lock, so
two deploys starting together upgrade once and a failure leaves the old layout in place. The
tasks that only use them (``db.seed``, ``db.check``) read the version (:func:`ready_for`,
:func:`problem`) and send an older database to ``db.migrate``. A database whose tables are
newer than this kit knows is refused, never downgraded.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, exists, inspect, select, table

from . import __version__
from .errors import TaskError
from .ledger import ENVIRONMENT_TABLE, KIT_TABLES, environment
from .seeding.names import KIT_VERSION_KEY as VERSION_KEY


@dataclass(frozen=True)
class Step:
    """Upgrades the kit's tables from version ``to - 1`` to ``to``; idempotent."""

    to: int
    what: str
    run: Callable[[Connection], None]


def _first_version(connection: Connection) -> None:
    """The tables of the releases before versioning (the template up to commit 0f0053b).

    Their layout is version 1's: nothing to change, every row stays; the version is recorded.
    """


# In order, one per version. A new layout is a new step at the end, written so that running it
# on tables that have that layout already, or on no table at all, changes nothing: tables
# without a version and without rows go through every step (``db.grant`` creates them at its
# own kit's layout and records no version). ``ADD COLUMN IF NOT EXISTS``, checkfirst, ...
STEPS: tuple[Step, ...] = (
    Step(1, "the tables of the kit before versioning, kept as they are", _first_version),
)
VERSION = STEPS[-1].to
# Each step one version above the one before it.
assert [step.to for step in STEPS] == list(range(1, VERSION + 1))


def found_version(connection: Connection) -> int | None:
    """The version of the kit's tables in the database; None when none of them holds a row.

    Rows without a version were written by a kit before versioning: 0. Tables without rows
    have nothing to keep, whatever created them (this kit's first run, or ``db.grant``).
    """
    tables = set(inspect(connection).get_table_names()).intersection(KIT_TABLES)
    if ENVIRONMENT_TABLE in tables:
        raw = connection.execute(
            select(environment.c.value).where(environment.c.key == VERSION_KEY)
        ).scalar()
        if raw is not None:
            try:
                return int(raw)
            except ValueError:
                raise TaskError(
                    f"the kit's tables record version {raw!r} ({ENVIRONMENT_TABLE}, key "
                    f"{VERSION_KEY}), which is not a number: set it to the version they have "
                    f"({VERSION} for this kit)"
                ) from None
    for name in sorted(tables):
        if connection.execute(select(exists().select_from(table(name)))).scalar():
            return 0
    return None


def _refuse_newer(found: int) -> None:
    if found > VERSION:
        raise TaskError(
            f"the kit's tables in this database are at version {found}, newer than this kit "
            f"(groundwork {__version__}) knows, version {VERSION}: a newer groundwork upgraded "
            "them; upgrade src/groundwork to that release or later, nothing was changed"
        )


def upgrade(connection: Connection) -> list[Step]:
    """Bring the kit's tables to :data:`VERSION`; the steps that upgraded rows (none when current).

    Call it in the migration's transaction, under the migration lock, as the owner of the
    tables. Tables without a version and without rows go through every step too (they may be
    an older ``db.grant``'s; the steps change nothing on tables that have the layout already,
    or that are missing), silently. Newer tables are refused before anything is changed.
    """
    found = found_version(connection)
    if found is not None:
        _refuse_newer(found)
    if found == VERSION:
        return []
    done = [step for step in STEPS if step.to > (found or 0)]
    for step in done:
        step.run(connection)
    _record(connection, VERSION)
    return done if found is not None else []


def _record(connection: Connection, version: int) -> None:
    environment.create(connection, checkfirst=True)
    values = {"value": str(version), "updated_at": datetime.now(UTC)}
    updated = connection.execute(
        environment.update().where(environment.c.key == VERSION_KEY).values(**values)
    )
    if not updated.rowcount:
        connection.execute(environment.insert().values(key=VERSION_KEY, **values))


def upgraded_line(done: list[Step]) -> str:
    """What :func:`upgrade` did, in one line."""
    steps = "; ".join(f"to {step.to}, {step.what}" for step in done)
    return (
        f"Upgraded the kit's tables from version {done[0].to - 1} to {done[-1].to} "
        f"(groundwork {__version__}): {steps}"
    )


def problem(connection: Connection, before: str | None = None) -> str | None:
    """Why the kit's tables cannot be used as they are (older: run ``db.migrate``), or None.

    ``before``: what the caller is about to do ("seeding"), for the line. Raises when the
    tables are newer than this kit: nothing this kit does with them can be trusted.
    """
    return _problem(found_version(connection), before)


def _problem(found: int | None, before: str | None) -> str | None:
    if found is None or found == VERSION:
        return None
    _refuse_newer(found)
    when = f" before {before}" if before else ""
    return (
        f"the kit's tables in this database are at version {found}, older than this kit's "
        f"(groundwork {__version__}, version {VERSION}): run `invoke db.migrate` (it upgrades "
        f"them){when}"
    )


def ready_for(connection: Connection, before: str) -> bool:
    """Before a task that uses the kit's tables without changing the schema (``db.seed``).

    Tables of another version than this kit's are refused in one line (older: ``db.migrate``
    upgrades them; it runs as the migrator, which the app's login of ``db.seed`` may not be).
    True when none of them holds a row yet: the task then writes them at this kit's layout and
    calls :func:`record_new` once it holds its lock.
    """
    found = found_version(connection)
    why = _problem(found, before)
    if why is not None:
        raise TaskError(why)
    return found is None


def record_new(connection: Connection) -> None:
    """Record the version with tables a task is about to create, lest the next run take them
    for a kit's before versioning. Not with tables ``db.grant`` created (as the owner, read-only
    for the app's login): the migrator's first run records it then.
    """
    if not inspect(connection).has_table(ENVIRONMENT_TABLE):
        _record(connection, VERSION)
