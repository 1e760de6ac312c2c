"""Alembic, driven from code: the logic behind every migration task.

Each function builds the Alembic config from the settings, opens one connection and hands it to
``env.py`` (``config.attributes["connection"]``, the Alembic cookbook's recipe), so that a
whole upgrade runs in one transaction and the tasks and the plain ``alembic`` command share one
``env.py``.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.environment import EnvironmentContext
from alembic.runtime.migration import MigrationContext, RevisionStep
from alembic.script import Script, ScriptDirectory
from sqlalchemy import Connection, text

from . import blockers, kit_tables, ledger, locking, revision_files, safe
from .backends import backend_for, backend_named
from .engine import database_url, make_engine, offline_url
from .errors import (
    TaskError,
    add_detail,
    connection_lost,
    database_words,
    describe,
    mask_secrets,
    sqlstate_of,
)
from .project import current as current_project
from .roles.names import assume_migration_role
from .settings import Settings


def alembic_config(settings: Settings) -> Config:
    """The Alembic config: ``[tool.alembic]`` of pyproject.toml when there is one.

    pyproject.toml carries the options that matter when writing revisions (file names, the ruff
    hook) for the tasks and the plain ``alembic`` command alike. An installed wheel has no
    pyproject.toml and needs only the script location, which is set here in any case.
    """
    pyproject = settings.project_root / "pyproject.toml"
    # stdout as it is now: Alembic's default is the one of the moment it was imported, which
    # output redirected since (an application's, a test's) would not reach.
    config = Config(toml_file=pyproject if pyproject.is_file() else None, stdout=sys.stdout)
    config.set_main_option("script_location", current_project().migrations)
    return config


def script_directory(settings: Settings) -> ScriptDirectory:
    """The revision files, checked (revision_files.py): one line for what Alembic trips on."""
    return revision_files.script_directory(alembic_config(settings))


@contextmanager
def connected(
    settings: Settings, *, exclusive: bool = False, locked: bool = False
) -> Iterator[tuple[Config, Connection]]:
    """An Alembic config bound to one connection, in one transaction committed at the end.

    ``exclusive``: the block changes the schema. It then holds the migration lock (PostgreSQL,
    see locking.py; ``locked``: the caller holds it already) and runs under the migration
    ``lock_timeout``/``statement_timeout``.
    """
    config = alembic_config(settings)
    # The migrator's login when the role model is in use (docs/database.md, "For DBAs").
    url = database_url(settings, setting="MIGRATOR_DATABASE_URL")
    wait = locking.lock_wait(settings) if exclusive else None
    with locking.migration_lock(settings, url) if exclusive and not locked else nullcontext():
        engine = make_engine(
            url,
            enforce_foreign_keys=False,
            write_lock_wait=wait,
            existing_only=not exclusive,
            connect_args=locking.task_connect_args(url),
        )
        try:
            with engine.connect() as connection:
                # Committed at the end by connection.commit(), whichever transaction is open
                # then: a revision's autocommit block (safe.py) commits this one and begins
                # another. An exception closes the connection, which rolls back the open one.
                connection.begin()
                assume_migration_role(connection, settings)
                if exclusive:
                    locking.apply_timeouts(settings, connection)
                config.attributes["connection"] = connection
                yield config, connection
                connection.commit()
        finally:
            engine.dispose()


def applied_heads(connection: Connection) -> tuple[str, ...]:
    return MigrationContext.configure(connection).get_current_heads()


def single_head(scripts: ScriptDirectory) -> str | None:
    heads = scripts.get_heads()
    if len(heads) > 1:
        raise TaskError(
            f"several heads ({', '.join(sorted(heads))}): run `invoke db.merge` to join them"
        )
    return heads[0] if heads else None


def changing_schema(
    settings: Settings,
    action: Callable[[Config, Connection], None],
    scripts: ScriptDirectory | None = None,
) -> None:
    """Run ``action`` under the migration lock, in one transaction, then update the ledger.

    A failure rolls everything back (PostgreSQL and SQLite have transactional DDL) and is
    reported as one line naming the revision that failed and where the database stayed. A run
    that hit lock_timeout is run again after a backoff (locking.retrying_lock_timeouts), under
    the same migration lock: no other migrator slips in between two attempts.
    """
    # Loading the revision files costs about 1 ms each: callers that hold them pass them in.
    loaded = script_directory(settings) if scripts is None else scripts
    url = database_url(settings, setting="MIGRATOR_DATABASE_URL")
    # Taken once for all the attempts (each one's connected() is told so).
    with locking.migration_lock(settings, url):
        locking.retrying_lock_timeouts(
            settings, lambda: _change_schema_once(settings, action, loaded)
        )


def _change_schema_once(
    settings: Settings, action: Callable[[Config, Connection], None], scripts: ScriptDirectory
) -> None:
    """One attempt of :func:`changing_schema`."""
    from .protection import stamp_environment, stamped_line

    reported: TaskError | None = None
    try:
        with connected(settings, exclusive=True, locked=True) as (config, connection):
            before_heads = applied_heads(connection)
            before = ", ".join(before_heads) or "base"
            ours = blockers.backend_pid(connection)
            # The kit's own tables first, in this transaction, under the lock: the ledger
            # below, and the seeds after, find them at the layout this kit writes.
            upgraded = kit_tables.upgrade(connection)
            point = safe.CommitPoint(
                before=lambda c: ledger.record(c, scripts),
                timeouts=lambda c, local: locking.apply_timeouts(settings, c, local=local),
            )
            connection.info[safe.COMMIT_POINT] = point
            try:
                action(config, connection)
            except TaskError:
                raise
            except Exception as exc:
                _add_details(settings, exc, ours)
                failed = _failed_revision(exc, scripts)
                if failed is None:
                    raise
                at = ", ".join(point.committed or ()) or "base"
                if point.committed is not None and not point.partial:
                    # Committed before the revision began (it uses safe.py): it left nothing.
                    reported = TaskError(
                        f"revision {failed} failed, nothing of it was applied; the revisions "
                        f"before it were committed, the database is at {at}: {describe(exc)}"
                    )
                elif point.committed is not None:
                    # An autocommit block (safe.py) committed what ran before it.
                    reported = TaskError(
                        f"revision {failed} failed after an autocommit block committed the "
                        f"revisions before it: the database is at {at}, with what the revision did "
                        "before its block (the safe helpers skip it when run again): "
                        f"{describe(exc)}; fix it and run `invoke db.migrate` again"
                    )
                elif connection_lost(exc):
                    reported = TaskError(
                        f"revision {failed} failed: the connection to the database was lost "
                        f"({mask_secrets(database_words(exc))}); nothing of it was committed, "
                        f"the database is still at {before}: run `invoke db.migrate` again"
                    )
                else:
                    reported = TaskError(
                        f"revision {failed} failed, nothing was applied, the database is still "
                        f"at {before}: {describe(exc)}"
                    )
                raise reported from exc
            refuse_broken_foreign_keys(connection, before_heads)
            ledger.record(connection, scripts)
            if stamp_environment(connection, settings.app_env):
                print(stamped_line(settings))
            if upgraded:
                print(kit_tables.upgraded_line(upgraded))
    except Exception as later:
        # Closing a connection the server dropped (or releasing the migration lock on a
        # server that went away) fails too: the revision's line is still the one to print.
        if reported is not None and later is not reported:
            raise reported from later
        raise


def _add_details(settings: Settings, exc: BaseException, ours: int | None) -> None:
    """What the database error alone does not say: which setting, which session holds a lock."""
    code = sqlstate_of(exc)
    if code == "57014":
        value = settings.get("MIGRATION_STATEMENT_TIMEOUT", locking.DEFAULT_PG_STATEMENT_TIMEOUT)
        add_detail(exc, f"statement_timeout is MIGRATION_STATEMENT_TIMEOUT={value}")
    elif code == "55P03":
        value = settings.get("MIGRATION_LOCK_TIMEOUT", locking.DEFAULT_PG_LOCK_TIMEOUT)
        url = database_url(settings, setting="MIGRATOR_DATABASE_URL")
        holders = blockers.lock_holders(url, [ours] if ours is not None else [])
        add_detail(exc, f"lock_timeout is MIGRATION_LOCK_TIMEOUT={value}")
        if holders is not None:
            add_detail(exc, holders)


def foreign_key_violations(connection: Connection, limit: int = 20) -> tuple[int, list[str]]:
    """How many rows have foreign keys pointing nowhere, and a line for the first ones.

    SQLite checks nothing while migrations run (foreign keys off, backends/sqlite.py) and
    ``PRAGMA foreign_key_check`` finds what they left; PostgreSQL never lets such a row in.
    """
    return backend_named(connection.dialect.name).foreign_key_violations(connection, limit)


def refuse_broken_foreign_keys(connection: Connection, before: tuple[str, ...]) -> None:
    """Roll back migrations that left dangling references (SQLite), with one line naming one.

    Only when the run moved the database from ``before``: at head, nothing ran to check (the
    check reads every table; ``db.check`` runs it whatever happened).
    """
    backend = backend_named(connection.dialect.name)
    if not backend.foreign_keys_off_in_migrations or applied_heads(connection) == before:
        return
    count, violations = foreign_key_violations(connection, limit=1)
    if count:
        more = f" (and {count - 1} more rows)" if count > 1 else ""
        raise TaskError(
            f"the migrations left rows whose foreign keys point nowhere: {violations[0]}{more}; "
            f"nothing was applied, the database is still at {', '.join(before) or 'base'}: "
            "fix the revision (delete or repair those rows in it)"
        )


def _failed_revision(exc: BaseException, scripts: ScriptDirectory) -> str | None:
    """``rev (file)`` of the revision file deepest in the traceback of ``exc``, if any."""
    versions = Path(scripts.versions).resolve()
    found: Path | None = None
    tb = exc.__traceback__
    while tb is not None:
        path = Path(tb.tb_frame.f_code.co_filename)
        if path.parent.resolve() == versions:
            found = path
        tb = tb.tb_next
    if found is None:
        return None
    for script in scripts.walk_revisions():
        if Path(script.path).resolve() == found.resolve():
            return f"{script.revision} ({found.name})"
    return found.name


# -- tasks -------------------------------------------------------------------------------------


# Targets Alembic resolves relative to what is applied: head, base, -1, +2, head-1, abc+1...
_RELATIVE_TARGET = re.compile(r"^(heads?|base|[+-]\d+|.+[+-]\d+)$")


def known_target(scripts: ScriptDirectory, target: str) -> str:
    """``target`` itself, once it is known to name a revision (or a relative step)."""
    if _RELATIVE_TARGET.match(target):
        return target
    try:
        found = scripts.get_revision(target)
    except Exception:  # alembic raises several kinds here: ambiguous, malformed, unknown
        found = None
    if found is None:
        raise TaskError(f"unknown revision {target!r}: `invoke db.history` lists them")
    return target


def upgrade(settings: Settings, target: str = "head") -> None:
    scripts = script_directory(settings)
    if target == "head":
        single_head(scripts)
    known_target(scripts, target)

    def run(config: Config, connection: Connection) -> None:
        for mismatch in ledger.verify(connection, scripts):
            print(f"WARNING: {mismatch}", file=sys.stderr)
        _upgrade(config, scripts, target)

    changing_schema(settings, run, scripts)


def _upgrade(config: Config, scripts: ScriptDirectory, target: str) -> None:
    """Alembic's ``command.upgrade``, on the revision files already loaded; nothing at head.

    ``command.upgrade`` would load every revision file a second time (about 1 ms each: a third
    of a second at 300 revisions, see the template's docs/benchmarks.md), and at head it would
    still run env.py and import every model only to find nothing to do.
    """
    connection = config.attributes.get("connection")
    at_head = connection is not None and set(applied_heads(connection)) == set(scripts.get_heads())
    if target in ("head", "heads") and at_head:
        return
    upgrade_steps = revision_files.private_alembic(
        ScriptDirectory, "_upgrade_revs", ["self", "destination", "current_rev"]
    )
    if upgrade_steps is None:
        # The public path: loads the revision files again, and has no step hook below (a
        # revision's autocommit blocks still commit what came before them; safe.py).
        command.upgrade(config, target)
        return

    def steps(rev: str, context: MigrationContext) -> Iterator[RevisionStep]:
        found: list[RevisionStep] = upgrade_steps(scripts, target, rev)
        previous = False
        for step in found:
            # Alembic takes the steps one by one: this runs after the version table got the
            # previous one. A revision with autocommit blocks starts on what is committed, and
            # is committed once done: a later failure leaves it applied, not half of it.
            uses = safe.uses_autocommit(step.revision.module)
            if connection is not None and (uses or previous):
                safe.commit_point(connection)
            previous = uses
            yield step

    with EnvironmentContext(config, scripts, fn=steps, destination_rev=target):
        scripts.run_env()


def downgrade(settings: Settings, target: str = "-1") -> None:
    scripts = script_directory(settings)
    known_target(scripts, target)

    def run(config: Config, connection: Connection) -> None:
        applied = applied_heads(connection)
        if not applied:
            raise TaskError("nothing to downgrade: no migration is applied")
        command.downgrade(config, step_back_target(scripts, applied, target))

    changing_schema(settings, run, scripts)


def parents(scripts: ScriptDirectory, revision: str) -> tuple[str, ...]:
    """The revisions ``revision`` follows: none for a first one, several for a merge."""
    script = scripts.get_revision(revision)
    if script is None:
        raise TaskError(f"unknown revision {revision!r}: `invoke db.history` lists them")
    down = script.down_revision
    return () if down is None else (down,) if isinstance(down, str) else tuple(down)


# A step back: -N from what is applied, REV@-N from the applied revision in REV's line, or
# REV-N from REV itself.
_STEP_BACK = re.compile(r"^(?:(?P<line>.+)@|(?P<rev>.+?))?-(?P<steps>\d+)$")


def step_back_target(scripts: ScriptDirectory, applied: tuple[str, ...], target: str) -> str:
    """The downgrade target Alembic should get for ``target`` (the same one unless it walks
    through a merge), or a TaskError naming the ``--to`` choices when it is ambiguous.

    Alembic cannot walk down through a merge revision (``Ambiguous walk``) and picks one of
    several applied heads at random for ``-1``. Going below a merge to one of its parents undoes
    the merge alone (every parent stays applied), so the last step of a walk may end there; a
    walk further down, or ``-N`` from several heads, has to name the branch.
    """
    found = _STEP_BACK.match(target)
    if found is None:
        return target
    steps, line, start = int(found["steps"]), found["line"], found["rev"]
    if start is not None:
        try:
            script = scripts.get_revision(start)
        except Exception:  # several heads, an ambiguous prefix: Alembic says so when it runs
            script = None
        if script is None:
            return target  # base, or unknown: Alembic's own message
        start = script.revision
    elif line is None:
        if len(applied) > 1:
            choices = " or ".join(f"`--to {head}@-1`" for head in sorted(applied))
            raise TaskError(
                f"{target} is ambiguous: the database is at {len(applied)} heads "
                f"({', '.join(sorted(applied))}): step back one of them with {choices}"
            )
        start = applied[0]
    else:
        in_line = [head for head in applied if _in_line(scripts, head, line)]
        if len(in_line) != 1:
            return target  # Alembic's own message
        start = in_line[0]
    revision = start
    for step in range(steps):
        above = parents(scripts, revision)
        if not above:
            return target  # base: Alembic's own message when it walks too far
        if len(above) > 1:
            if step == steps - 1:
                return above[0]  # undoes everything above the merge's parents, keeps them all
            choices = " or ".join(f"`--to {parent}@-1`" for parent in above)
            raise TaskError(
                f"{target} is ambiguous: it goes below the merge {revision} of "
                f"{', '.join(above)}: first `--to {above[0]}` (undoes the merge, keeps every "
                f"parent), then {choices}"
            )
        revision = above[0]
    return target


def _ancestors(scripts: ScriptDirectory, revision: str) -> set[str]:
    """``revision`` and every revision below it."""
    return {s.revision for s in scripts.iterate_revisions(revision, "base") if s is not None}


def _in_line(scripts: ScriptDirectory, head: str, line: str) -> bool:
    """Whether ``head`` is ``line`` (a revision or branch label), above it or below it."""
    try:
        script = scripts.get_revision(line)
    except Exception:  # an unknown or ambiguous name: Alembic says so when it runs
        return False
    if script is None:
        return False
    return script.revision in _ancestors(scripts, head) or head in _ancestors(
        scripts, script.revision
    )


def revision(settings: Settings, message: str, *, autogenerate: bool = True) -> Path | None:
    """Write a revision; with ``autogenerate``, none when the models did not change."""
    if not message.strip():
        raise TaskError("a revision needs a message: -m 'add orders table'")
    single_head(script_directory(settings))
    if not autogenerate:
        config = alembic_config(settings)
        written = command.revision(config, message=message)
        return _path_of(written)
    with connected(settings) as (config, connection):
        heads = applied_heads(connection)
        scripts = script_directory(settings)
        if set(heads) != set(scripts.get_heads()):
            raise TaskError(
                "the database is not at head: run `invoke db.migrate` before autogenerating, "
                "or the new revision would repeat pending ones"
            )
        config.attributes["autogenerate"] = True
        written = command.revision(config, message=message, autogenerate=True)
    return _path_of(written)


def _path_of(written: Script | list[Script | None] | None) -> Path | None:
    scripts = written if isinstance(written, list) else [written]
    paths = [Path(script.path) for script in scripts if script is not None]
    for path in paths:
        print(f"Wrote {path}")
    return paths[0] if paths else None


@dataclass(frozen=True)
class RevisionStatus:
    """One revision as db.current, db.heads and db.status show it."""

    revision: str
    message: str | None  # None: its file is missing (applied, then deleted)
    head: bool = False
    applied: bool = False

    def line(self) -> str:
        """``REV (head) message``: db.current's and db.heads' line."""
        mark = " (head)" if self.head else ""
        return f"{self.revision}{mark} {'(file missing)' if self.message is None else self.message}"

    def status_line(self) -> str:
        """``[X] REV  message``: db.status's line, X when applied."""
        return f"[{'X' if self.applied else ' '}] {self.revision}  {self.message or ''}"


def current_revisions(settings: Settings) -> list[RevisionStatus]:
    """The revisions the database is at (one per branch), described."""
    scripts = script_directory(settings)
    with connected(settings) as (_, connection):
        applied = applied_heads(connection)
    return [_described(scripts, rev, applied=True) for rev in applied]


def current(settings: Settings) -> tuple[str, ...]:
    """The ids of the revisions the database is at; () before the first migration."""
    return tuple(row.revision for row in current_revisions(settings))


def history(settings: Settings) -> None:
    script_directory(settings)  # the checks of revision_files.py, before Alembic reads them
    command.history(alembic_config(settings), indicate_current=False)


def heads(settings: Settings) -> list[RevisionStatus]:
    scripts = script_directory(settings)
    return [_described(scripts, rev) for rev in scripts.get_heads()]


def _described(scripts: ScriptDirectory, rev: str, *, applied: bool = False) -> RevisionStatus:
    script = scripts.get_revision(rev)
    message = None if script is None else script.doc or ""
    return RevisionStatus(rev, message, rev in scripts.get_heads(), applied)


@dataclass(frozen=True)
class Status:
    """Every revision, oldest first, applied or pending, and what keeps the database from head."""

    revisions: list[RevisionStatus]
    branches: TaskError | None  # several heads: db.migrate refuses, db.merge is what to run

    @property
    def pending(self) -> list[RevisionStatus]:
        return [row for row in self.revisions if not row.applied]

    def problem(self) -> str | None:
        """Why the database is not at the one head, in one line; None when it is."""
        if self.branches is not None:
            return str(self.branches)
        if self.pending:
            return (
                f"{len(self.pending)} of {len(self.revisions)} revisions pending: "
                "run `invoke db.migrate`"
            )
        return None


def status(settings: Settings, scripts: ScriptDirectory | None = None) -> Status:
    """``scripts``: the revision files, when the caller read them already (1 ms a file)."""
    scripts = script_directory(settings) if scripts is None else scripts
    with connected(settings) as (_, connection):
        heads = applied_heads(connection)
    return status_of(scripts, heads)


def status_of(scripts: ScriptDirectory, heads: tuple[str, ...]) -> Status:
    """The status of a database at ``heads`` (its applied heads) against ``scripts``."""
    applied = (
        {script.revision for script in scripts.iterate_revisions(heads, "base") if script}
        if heads
        else set()
    )
    rows = [
        RevisionStatus(script.revision, script.doc or "", applied=script.revision in applied)
        for script in reversed(list(scripts.walk_revisions()))
    ]
    try:
        single_head(scripts)
    except TaskError as several:
        return Status(rows, several)
    return Status(rows, None)


def offline_sql(settings: Settings, revisions: str | None = None) -> str:
    """The SQL of a revision range (``a:b``, a downgrade when ``b`` is below ``a``), of one
    revision (``a``) or of all, without connecting to the database."""
    scripts = script_directory(settings)
    if revisions is None and not scripts.get_heads():
        # A project started clean: no SQL to give yet, and no reason to fail a pipeline.
        return "-- No revision yet: write one with `invoke db.revision -m '...'`\n"
    start, end = _sql_range(scripts, revisions)
    below_start, below_end = _below(scripts, start), _below(scripts, end)
    if below_start == below_end:
        raise TaskError(f"{start}:{end} holds no revision: nothing to write")
    downgrading = below_end < below_start
    if not downgrading and not below_start < below_end:
        raise TaskError(
            f"{start} and {end} are on different branches: give a range from one to a "
            "revision above it (an upgrade) or below it (a downgrade)"
        )
    config = alembic_config(settings)
    url = offline_url(settings)
    try:
        backend = backend_for(url)
        return backend.offline_sql(config, scripts, url, start, end, downgrade=downgrading)
    except TaskError:
        raise
    except Exception as exc:
        failed = _failed_revision(exc, scripts)
        if failed is None:
            raise
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise TaskError(
            f"revision {failed} failed as offline SQL ({type(exc).__name__}: {detail}): "
            "a revision that uses what op.get_bind() returns needs a live database; apply it "
            "with `invoke db.migrate`, or give a range without it"
        ) from exc


def _sql_range(scripts: ScriptDirectory, revisions: str | None) -> tuple[str, str]:
    """``(start, end)`` of ``db.sql --revisions``: ``a:b``, one revision ``a``, or all."""
    if revisions is None:
        return "base", "heads"
    if ":" not in revisions:
        known_target(scripts, revisions)
        parents_of = parents(scripts, revisions)
        if len(parents_of) > 1:
            raise TaskError(
                f"{revisions!r} is a merge revision: give a range such as "
                f"'{parents_of[0]}:{revisions}'"
            )
        revision = scripts.get_revision(revisions)
        assert revision is not None  # known_target found it
        return (parents_of[0] if parents_of else "base"), revision.revision
    start, _, end = revisions.partition(":")
    for name in (start, end):
        if not name or (name not in ("base", "head", "heads") and _RELATIVE_TARGET.match(name)):
            raise TaskError(
                f"bad range {revisions!r}: give 'A:B' with revision ids, head or base "
                "(e.g. 'base:head', 'head:base')"
            )
        known_target(scripts, name)
        if name == "head":
            single_head(scripts)
    return start, end


def _below(scripts: ScriptDirectory, name: str) -> frozenset[str]:
    """Every revision at or below ``name`` (``base``: none; ``head``/``heads``: all)."""
    if name == "base":
        return frozenset()
    return frozenset(
        script.revision for script in scripts.iterate_revisions(name, "base") if script is not None
    )


def check(settings: Settings, scripts: ScriptDirectory | None = None) -> list[str]:
    """Every reason the schema is not what the code expects; empty when all is well.

    ``scripts``: the revision files, when the caller read them already (1 ms a file).
    """
    return checked(settings, scripts)[0]


def checked(
    settings: Settings, scripts: ScriptDirectory | None = None
) -> tuple[list[str], tuple[str, ...]]:
    """:func:`check`'s problems, and the revisions the database is at (one connection for both:
    db.check lints what is pending without asking the database again)."""
    problems: list[str] = []
    scripts = script_directory(settings) if scripts is None else scripts
    heads = scripts.get_heads()
    if len(heads) > 1:
        problems.append(f"several heads ({', '.join(sorted(heads))}): run `invoke db.merge`")
    with connected(settings) as (_, connection):
        outdated = kit_tables.problem(connection)  # raises for tables newer than this kit
        if outdated is not None:
            problems.append(outdated)
        problems.extend(str(mismatch) for mismatch in ledger.verify(connection, scripts))
        broken, violations = foreign_key_violations(connection)
        problems.extend(f"broken foreign key: {violation}" for violation in violations)
        if broken > len(violations):
            problems.append(
                f"broken foreign keys: {broken - len(violations)} more rows point nowhere "
                "(PRAGMA foreign_key_check lists them)"
            )
        problems.extend(invalid_indexes(connection))
        # A SECURITY DEFINER function without a pinned search_path (docs/database.md).
        if backend_named(connection.dialect.name).has_roles:
            # Imported here: the role model's modules are of no use where there are no roles.
            from .roles.blind_spots import unpinned_definer_problems

            problems += unpinned_definer_problems(lambda q: list(connection.exec_driver_sql(q)))
        applied = applied_heads(connection)
        if set(applied) != set(heads):
            behind = ", ".join(applied) or "no revision"
            problems.append(f"the database is at {behind}, not at head: run `invoke db.migrate`")
        else:
            problems.extend(_drift(connection))
    return problems, applied


def invalid_indexes(connection: Connection) -> list[str]:
    """The INVALID indexes a failed or killed ``CREATE INDEX CONCURRENTLY`` left (PostgreSQL).

    Such an index is not used by queries but is kept up to date by every write, and a rerun of
    the build stops on its name; the safe helper (safe.py) drops it when it can, a kill -9 or a
    plain ``CREATE INDEX CONCURRENTLY`` in a revision leaves it.
    """
    if connection.dialect.name != "postgresql":
        return []
    found = connection.execute(
        text(
            "SELECT format('%I.%I', n.nspname, c.relname) FROM pg_index i "
            "JOIN pg_class c ON c.oid = i.indexrelid "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE NOT i.indisvalid AND n.nspname = ANY (current_schemas(false)) ORDER BY 1"
        )
    )
    return [
        f"index {name} is INVALID (a concurrent build failed): run "
        f"`DROP INDEX CONCURRENTLY {name};` then `invoke db.migrate` again"
        for (name,) in found
    ]


def _drift(connection: Connection) -> list[str]:
    """The differences of the models from the database, autogenerate's way, one line each."""
    from . import drift, enums  # enum types, with their values, compared as autogenerate does

    context = MigrationContext.configure(
        connection, opts=drift.comparison_options(backend_named(connection.dialect.name))
    )
    models = current_project().load_models()  # the ORM: only the drift check needs it
    enums.register()
    found = drift.differences(compare_metadata(context, models), models, connection.dialect)
    if not found:
        return []
    # Five in the one line db.check ends with; the others each on a line of their own.
    summary = f"the models differ from the migrations: {'; '.join(found[:5])}"
    return [
        f"{summary}: run `invoke db.migrate -m '...'`",
        *(f"the models differ from the migrations: {more}" for more in found[5:]),
    ]


def stamp(settings: Settings, target: str) -> None:
    known_target(script_directory(settings), target)
    changing_schema(settings, lambda config, _: command.stamp(config, target))


def merge(settings: Settings, message: str | None = None) -> Path | None:
    heads = script_directory(settings).get_heads()
    if len(heads) < 2:
        print("Nothing to merge: there is one head.")
        return None
    written = command.merge(alembic_config(settings), "heads", message=message or "merge heads")
    return _path_of(written)
