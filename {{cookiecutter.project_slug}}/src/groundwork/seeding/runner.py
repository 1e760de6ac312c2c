"""Running seeds: choose them, order them, load them in one transaction, keep the ledger.

A run whose files, options and database are those of the last run that loaded everything ends
at once (``unchanged.py``). Otherwise, everything that can be found wrong without the database
(an unknown seed, a missing dependency, a cycle, development data aimed at production) is
reported before the transaction starts; development data aimed at a database initialized for
production, first thing inside it. One transaction holds the whole run: a failure, or
``--plan``, leaves nothing behind.
"""

from __future__ import annotations

import hashlib
import importlib
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

from ..backends import backend_for
from ..engine import database_url, make_engine
from ..errors import TaskError
from . import unchanged
from .counts import Counts
from .progress import Progress

if TYPE_CHECKING:
    # SQLAlchemy (and with it the declarations, the sources, the ledger) is imported once a
    # run is known to have work to do: a run in which nothing changed ends without it.
    from sqlalchemy import Connection, Table
    from sqlalchemy.engine import URL

    from ..settings import Settings
    from .declare import Seed
    from .sources import Source

PRODUCTION = "production"


@dataclass
class Outcome:
    """What happened to one seed in a run (with --plan: what would have)."""

    name: str
    counts: Counts = field(default_factory=Counts)
    skipped: bool = False
    seconds: float = 0.0


def order(declared: Mapping[str, Seed]) -> list[str]:
    """Every seed after the seeds it depends on; a missing dependency or a cycle is an error."""
    ordered: list[str] = []
    state: dict[str, str] = {}

    def visit(name: str, path: list[str]) -> None:
        if state.get(name) == "done":
            return
        if state.get(name) == "visiting":
            cycle = [*path[path.index(name) :], name]
            steps = " -> ".join(f"{seed} ({declared[seed].table.name})" for seed in cycle)
            raise TaskError(
                f"seeds depend on each other in a cycle: {steps} (foreign keys and "
                "depends_on): no order loads every table after the tables it points to"
            )
        state[name] = "visiting"
        for dependency in sorted(declared[name].dependencies(declared)):
            if dependency not in declared:
                raise TaskError(
                    f"seed {name} depends on {dependency!r}, which no seed declares "
                    f"(seeds: {', '.join(sorted(declared))})"
                )
            visit(dependency, [*path, name])
        state[name] = "done"
        ordered.append(name)

    for name in sorted(declared):
        visit(name, [])
    return ordered


def select(declared: Mapping[str, Seed], environment: str, only: Sequence[str] = ()) -> list[str]:
    """The seeds of ``environment`` (or ``only`` these), with what they depend on, in order."""
    ordered = order(declared)  # first: a missing dependency or a cycle anywhere is an error
    for name in only:
        if name not in declared:
            raise TaskError(f"no seed is named {name!r} (seeds: {', '.join(sorted(declared))})")
    wanted = set(only) if only else {n for n, s in declared.items() if s.runs_in(environment)}
    pending = list(wanted)
    while pending:
        for dependency in declared[pending.pop()].dependencies(declared):
            if dependency not in wanted:
                wanted.add(dependency)
                pending.append(dependency)
    return [name for name in ordered if name in wanted]


def guard_production(
    declared: Mapping[str, Seed], names: Sequence[str], *, production: str | None, force: bool
) -> None:
    """Development data never reaches a production database unless forced.

    ``production``: what makes the database production's (APP_ENV, or the environment the
    database was initialized for), None when nothing does.
    """
    if production is None or force:
        return
    for name in names:
        seed = declared[name]
        if not seed.runs_in(PRODUCTION):
            raise TaskError(
                f"seed {name} is not for production (environments: "
                f"{', '.join(seed.environments)}) and {production}: it was not run; "
                "pass --force to load it there anyway"
            )


def content_hash(
    seed: Seed,
    source: Source,
    dependencies: Sequence[str],
    *,
    keep: bool,
    file_hashes: Mapping[Path, str],
) -> str:
    """What the ledger compares: the declaration, its module, its data file, its dependencies.

    ``file_hashes``: hashes already taken this run (each file is read once per run).
    """
    files = [
        file_hashes.get(path) or unchanged.file_hash(path)
        for path in (seed.module_file, source.path if seed.data else None)
        if path is not None and path.is_file()
    ]
    refs = sorted(
        (field_name, ref.column, ref.target_table.name, ref.target_column.name)
        for field_name, ref in seed.references.items()
    )
    declaration = [seed.name, seed.table.name, seed.key_columns, refs, keep, list(dependencies)]
    return hashlib.sha256(repr([declaration, files]).encode()).hexdigest()


def at_head(settings: Settings, connection: Connection) -> None:
    """Seeds are written for the schema of the code: refuse an older (or newer) database."""
    from .. import migrations

    heads = set(migrations.script_directory(settings).get_heads())
    applied = set(migrations.applied_heads(connection))
    if applied != heads:
        where = ", ".join(sorted(applied)) or "no revision"
        raise TaskError(
            f"the database is at {where}, not at head ({', '.join(sorted(heads))}): "
            "run `invoke db.migrate` before seeding"
        )


def run(
    settings: Settings,
    *,
    environment: str | None = None,
    only: Sequence[str] = (),
    plan: bool = False,
    keep_existing: bool = False,
    force: bool = False,
    full: bool = False,
    declared: Mapping[str, Seed] | None = None,
    data_dir: Path | None = None,
    echo: Callable[[str], None] = print,
) -> list[Outcome]:
    """Load the seeds of ``environment`` (default: APP_ENV) in one transaction."""
    started = time.monotonic()
    asked_for = environment
    environment = environment or settings.app_env
    # The project's own seeds (not a test's ``declared``): whole runs are remembered, and a run
    # in which nothing changed ends before the seeds are even imported.
    own = declared is None and data_dir is None
    key = unchanged.run_key(settings, environment, only, keep=keep_existing, force=force)
    file_hashes = unchanged.file_hashes() if own else {}
    digest = unchanged.files_digest(file_hashes)
    skipped = unchanged.unchanged_run(settings, key, digest) if own and not full else None
    if skipped is not None:
        done = [
            Outcome(name, Counts(rows=rows, not_compared=rows), skipped=True)
            for name, rows in skipped
        ]
        for outcome in done:
            echo(_describe(outcome, plan=plan, keep=keep_existing))
        echo(_summary(done, environment, time.monotonic() - started, plan=plan))
        return done

    from .. import kit_tables
    from ..project import current as current_project
    from . import ledger
    from .sources import Source

    declared = current_project().load_seeds() if declared is None else declared
    data_dir = current_project().data_dir if data_dir is None else data_dir
    for seed in declared.values():
        seed.check()
    if asked_for is not None:
        _check_environment(declared, asked_for, settings.app_env)
    names = select(declared, environment, only)
    # Production, " production": one environment, as protection.py compares them.
    production = settings.app_env.strip().casefold() == PRODUCTION
    app_env = f"APP_ENV is {settings.app_env.strip()}" if production else None
    guard_production(declared, names, production=app_env, force=force)
    sources = {name: Source(declared[name], data_dir, settings.project_root) for name in names}
    hashes: dict[str, str] = {}
    for name in names:
        dependencies = [hashes[d] for d in declared[name].dependencies(declared) if d in hashes]
        hashes[name] = content_hash(
            declared[name],
            sources[name],
            dependencies,
            keep=keep_existing,
            file_hashes=file_hashes,
        )

    from .. import locking

    url = database_url(settings)
    loader = _loader(url)
    load: Callable[..., Counts] = loader.load
    outcomes: list[Outcome] = []
    # --lock-timeout: how long to wait for another run (SQLite: for any writer) to finish.
    wait = locking.lock_wait(settings)
    engine = make_engine(url, write_lock_wait=wait)
    try:
        with (
            engine.connect() as connection,
            connection.begin() as transaction,
            ExitStack() as watching,
        ):
            # Whatever APP_ENV says (unset in a shell, say): the database knows what it is.
            stamped = unchanged.stamp(backend_for(url), connection.connection.driver_connection)
            initialized = "the database was initialized for production"
            guard_production(
                declared,
                names,
                production=(
                    initialized if (stamped or "").strip().casefold() == PRODUCTION else None
                ),
                force=force,
            )
            # The kit's tables first: newer ones mean a newer kit, whatever else differs.
            new_tables = kit_tables.ready_for(connection, "seeding")
            at_head(settings, connection)
            if backend_for(url).has_server:
                # PostgreSQL's catalog names the holder; on SQLite, BEGIN IMMEDIATE waited.
                # By name, as _loader(): a project baked for SQLite has no such module.
                waits = importlib.import_module(f"{__package__}.postgresql_waits")
                waits.seed_lock(connection, wait)
                watching.enter_context(waits.BlockedWatch(url, connection, wait))
            if new_tables:
                # After the seed lock: two first runs on an empty database record it once.
                kit_tables.record_new(connection)
            ledger.ensure(connection)
            recorded = ledger.recorded(connection)
            for name in names:
                outcome = _load_one(
                    connection,
                    load,
                    sources[name],
                    hashes[name],
                    recorded.get(name),
                    keep=keep_existing,
                    full=full,
                )
                outcomes.append(outcome)
                echo(_describe(outcome, plan=plan, keep=keep_existing))
            # A deferred key is checked at commit, where it could say neither seed nor line.
            _check_deferred_keys(connection, [sources[o.name] for o in outcomes if not o.skipped])
            if plan:
                transaction.rollback()
            else:
                advance = getattr(loader, "advance_sequences", None)
                written = [_given(sources[o.name]) for o in outcomes if not o.skipped]
                if written and advance is not None:
                    # Seeds that gave ids: the next INSERT without one must not take theirs.
                    advance(connection, written, settings)
            if not plan and own:
                tables = [
                    (name, declared[name].table.schema, declared[name].table.name) for name in names
                ]
                unchanged.remember(connection, key, digest, tables)
    finally:
        engine.dispose()
    echo(_summary(outcomes, environment, time.monotonic() - started, plan=plan))
    return outcomes


def _check_deferred_keys(connection: Connection, sources: Sequence[Source]) -> None:
    """A row a seed wrote whose deferred foreign key points nowhere: its seed, file and line.

    Such a key (deferrable=True, initially="DEFERRED", what breaks a cycle of keys) is
    checked by the database when the run commits; this finds the row before, in our words.
    """
    from sqlalchemy import and_, exists, select

    from . import violations
    from .declare import deferred

    for source in sources:
        table = source.seed.table
        for key in table.foreign_key_constraints:
            if not any(deferred(element) for element in key.elements):
                continue
            target = key.referred_table
            pairs = [(element.parent, element.column) for element in key.elements]
            target_alias = target.alias("referred")
            dangling = (
                select(
                    *(local for local, _ in pairs), *(table.c[k] for k in source.seed.key_columns)
                )
                .where(*(local.isnot(None) for local, _ in pairs))
                .where(
                    ~exists().where(
                        and_(*(target_alias.c[remote.name] == local for local, remote in pairs))
                    )
                )
                .limit(1)
            )
            row = connection.execute(dangling).first()
            if row is None:
                continue
            values, key_values = row[: len(pairs)], row[len(pairs) :]
            line = _line_of_key(source, key_values)
            given = source.record_on_line(line) if line is not None else {}
            if not given:
                given = {local.name: value for (local, _), value in zip(pairs, values, strict=True)}
            columns = tuple(local.name for local, _ in pairs)
            name = str(key.name) if isinstance(key.name, str) else None
            violation = violations.Violation(violations.FOREIGN_KEY, name, columns)
            raise source.fail(line, violations.message(table, violation, given))


def _line_of_key(source: Source, key_values: Sequence[object]) -> int | None:
    """The line of the record with this key (values compared as text), if the seed gave it."""
    wanted = [str(value) for value in key_values]
    for batch in source.batches():
        if not set(source.seed.key_columns) <= set(source.columns):
            return None
        positions = [source.columns.index(name) for name in source.seed.key_columns]
        for record in batch:
            if [str(record[1 + at]) for at in positions] == wanted:
                return int(record[0]) if record[0] is not None else None
    return None


def _given(source: Source) -> tuple[Table, list[str]]:
    """The table a seed wrote and the columns it gave values for."""
    seed = source.seed
    references = seed.references
    columns = [references[c].column if c in references else c for c in source.columns]
    return seed.table, columns


def _loader(url: URL) -> ModuleType:
    """The loading module of the URL's database: ``sqlite.py`` or ``postgresql.py``.

    Imported by name, because a project baked for SQLite has no ``postgresql.py`` (nor psycopg).
    """
    backend = backend_for(url).name
    try:
        module = importlib.import_module(f"{__package__}.{backend}")
    except ModuleNotFoundError as exc:
        if exc.name != f"{__package__}.{backend}":
            raise
        raise TaskError(
            f"this project was baked without seeding for {backend} (no db/seeding/{backend}.py): "
            "bake the template with that database to get it"
        ) from None
    return module


def _load_one(
    connection: Connection,
    load: Callable[..., Counts],
    source: Source,
    content: str,
    recorded: tuple[str, int] | None,
    *,
    keep: bool,
    full: bool,
) -> Outcome:
    seed = source.seed
    started = time.monotonic()
    from . import ledger

    # The row count is a cheap guard against a table emptied behind the ledger's back
    # (a downgrade, a TRUNCATE); --full compares every row whatever the ledger says.
    if (
        not full
        and recorded is not None
        and recorded[0] == content
        and ledger.table_rows(connection, seed.table) >= recorded[1]
    ):
        counts = Counts(rows=recorded[1], not_compared=recorded[1])
        return Outcome(seed.name, counts, skipped=True, seconds=time.monotonic() - started)
    progress = Progress(f"seed {seed.name}", source.size)
    try:
        counts = load(connection, source, keep=keep, progress=progress)
    finally:
        progress.done()
    ledger.record(connection, seed.name, content, counts.rows)
    return Outcome(seed.name, counts, seconds=time.monotonic() - started)


def _describe(outcome: Outcome, *, plan: bool, keep: bool) -> str:
    counts = outcome.counts
    name = f"{outcome.name:<20}"
    if outcome.skipped:
        # Its rows were not read: one edited by hand in the table is not noticed, so no claim
        # is made about them.
        skipped = "would be skipped" if plan else "skipped"
        return (
            f"{name} {skipped}, unchanged since the last run "
            f"({counts.rows:,} rows; --full compares them)"
        )
    kept = "already there, left as they were" if keep else "unchanged"
    if plan:
        return (
            f"{name} {counts.rows:>9,} rows: would insert {counts.inserted:,}, "
            f"update {counts.updated:,}; {counts.unchanged:,} {kept}"
        )
    return (
        f"{name} {counts.rows:>9,} rows: {counts.inserted:,} inserted, {counts.updated:,} "
        f"updated, {counts.unchanged:,} {kept} ({outcome.seconds:.2f} s)"
    )


def _check_environment(declared: Mapping[str, Seed], environment: str, app_env: str) -> None:
    """An ``--env`` that no seed names and that is not APP_ENV (or a usual name) is a typo."""
    named = {e for seed in declared.values() for e in seed.environments if e != "*"}
    usual = {"development", "test", "staging", "production", app_env.strip().casefold()}
    if environment.strip().casefold() not in {e.casefold() for e in named} | usual:
        raise TaskError(
            f"no seed names the environment {environment!r} (seeds name: "
            f"{', '.join(sorted(named)) or 'none'}; APP_ENV is {app_env!r}): check --env"
        )


def _summary(outcomes: Sequence[Outcome], environment: str, seconds: float, *, plan: bool) -> str:
    inserted = sum(o.counts.inserted for o in outcomes)
    updated = sum(o.counts.updated for o in outcomes)
    unchanged = sum(o.counts.unchanged for o in outcomes)
    not_compared = sum(o.counts.not_compared for o in outcomes)
    totals = f"{inserted:,} inserted, {updated:,} updated, {unchanged:,} unchanged"
    if not_compared:
        totals += (
            f"; {not_compared:,} rows not compared (seeds unchanged since the last run; "
            "--full compares them)"
        )
    if plan:
        return f"Plan for {environment}, nothing written: would be {totals}."
    if not outcomes:
        return f"No seed runs in {environment}."
    if inserted or updated:
        verdict = "Seeded"
    else:
        # "Nothing to change" only when every row was compared.
        verdict = "No rows written" if not_compared else "Nothing to change"
    return f"{verdict} ({environment}, {len(outcomes)} seeds, {seconds:.2f} s): {totals}."
