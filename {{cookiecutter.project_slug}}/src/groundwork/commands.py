"""The database lifecycle as plain functions: one per ``invoke db.*`` task.

``tasks.py`` only parses options and calls these; the tests call them directly. Heavy imports
(SQLAlchemy, Alembic) happen inside each function, so that loading ``tasks.py`` for
``invoke --list`` stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from .settings import Settings, load_settings
from .urls import masked

if TYPE_CHECKING:
    from alembic.script import Script, ScriptDirectory

    from .kit import KitState


def _settings(settings: Settings | None) -> Settings:
    return settings if settings is not None else load_settings()


def _connecting(
    settings: Settings | None,
    *,
    lock_timeout: float | None = None,
    wait: float | None = None,
) -> Settings:
    """The settings of a task that connects to the database, with its options on top.

    ``lock_timeout`` and ``wait`` are seconds, parsed by the task layer (cli.seconds_option):
    they stand for ``MIGRATION_LOCK_WAIT`` and ``DATABASE_WAIT`` (Settings.seconds). With
    ``DATABASE_URL`` unset the database is on the project-local server, which
    ``database_url()`` never starts: the tasks that connect start it here, the others (sql,
    history...) never do.
    """
    from .engine import ensure_local_server

    settings = _settings(settings).with_seconds(
        MIGRATION_LOCK_WAIT=lock_timeout, DATABASE_WAIT=wait
    )
    ensure_local_server(settings)
    return settings


def _confirmed(
    task: str,
    settings: Settings | None,
    *,
    force: bool,
    yes: bool,
    lock_timeout: float | None,
) -> Settings:
    """The settings of a destructive task, once protection lets it go on (or it raised)."""
    from . import protection
    from .engine import database_url

    settings = _connecting(settings, lock_timeout=lock_timeout)
    protection.confirm(settings, database_url(settings), task, force=force, yes=yes)
    return settings


def init(
    settings: Settings | None = None,
    *,
    wait: float | None = None,
    lock_timeout: float | None = None,
) -> None:
    """Create the database when missing, migrate it to head and seed it (idempotent)."""
    from . import lifecycle, migrations
    from .backends import backend_for
    from .engine import database_url
    from .seeding import runner

    settings = _connecting(settings, lock_timeout=lock_timeout, wait=wait)
    lifecycle.wait_for_server(settings)
    url = database_url(settings)
    if backend_for(url).create_database(url):
        print(f"Created database {masked(url)}")
    migrations.upgrade(settings, "head")
    runner.run(settings)


def migrate(
    message: str | None = None,
    settings: Settings | None = None,
    *,
    wait: float | None = None,
    lock_timeout: float | None = None,
) -> Path | None:
    from . import lifecycle, migrations

    settings = _connecting(settings, lock_timeout=lock_timeout, wait=wait)
    lifecycle.wait_for_server(settings)
    written = migrations.revision(settings, message) if message is not None else None
    _lint_written(settings, written)
    migrations.upgrade(settings, "head")
    return written


def revision(message: str, *, empty: bool = False, settings: Settings | None = None) -> Path | None:
    from . import migrations

    # Autogenerate compares with the database; an empty revision needs none.
    settings = _settings(settings) if empty else _connecting(settings)
    written = migrations.revision(settings, message, autogenerate=not empty)
    _lint_written(settings, written)
    return written


def _lint_written(settings: Settings, written: Path | None) -> None:
    """Warn of what squawk finds in the revision just written; never fail: it is a draft."""
    import sys

    from . import lint, migrations
    from .errors import TaskError

    if written is None or not lint.applies(settings):
        return
    try:
        scripts = migrations.script_directory(settings)
        found = [s for s in scripts.walk_revisions() if Path(s.path).resolve() == written.resolve()]
        report = lint.lint(settings, scripts, found, everything=False)
    except TaskError as exc:  # squawk missing, a bad configuration: said, the draft kept
        print(f"WARNING: {written.name} not linted: {exc}", file=sys.stderr)
        return
    for finding in report.failing:
        print(f"WARNING {finding.line()}", file=sys.stderr)
    for note in report.notes:
        print(f"WARNING: {note}", file=sys.stderr)
    if report.failing:
        print(f"WARNING: {lint.acknowledge_hint()}", file=sys.stderr)


def upgrade(
    target: str = "head",
    settings: Settings | None = None,
    *,
    lock_timeout: float | None = None,
) -> None:
    from . import migrations

    settings = _connecting(settings, lock_timeout=lock_timeout)
    migrations.upgrade(settings, target)


def downgrade(
    target: str = "-1",
    settings: Settings | None = None,
    *,
    force: bool = False,
    yes: bool = False,
    lock_timeout: float | None = None,
) -> None:
    from . import migrations

    settings = _confirmed("downgrade", settings, force=force, yes=yes, lock_timeout=lock_timeout)
    migrations.downgrade(settings, target)


def current(settings: Settings | None = None) -> None:
    from . import migrations

    applied = migrations.current_revisions(_connecting(settings))
    if not applied:
        print("(no revision applied)")
    for row in applied:
        print(row.line())


def history(settings: Settings | None = None) -> None:
    from . import migrations

    migrations.history(_settings(settings))


def heads(settings: Settings | None = None) -> None:
    from . import migrations

    for row in migrations.heads(_settings(settings)):
        print(row.line())


def status(settings: Settings | None = None) -> None:
    from . import migrations
    from .errors import TaskError

    result = migrations.status(_connecting(settings))
    if not result.revisions:  # a project started without the examples, or that removed them
        print("No revision yet: write one with `invoke db.revision -m '...'`")
        return
    for row in result.revisions:
        print(row.status_line())
    problem = result.problem()
    if problem is not None:
        raise TaskError(problem)
    count = len(result.revisions)
    print(f"{count} revision{'' if count == 1 else 's'}, all applied")


def sql(revisions: str | None = None, settings: Settings | None = None) -> None:
    from . import migrations

    print(migrations.offline_sql(_settings(settings), revisions), end="")


def lint(settings: Settings | None = None, *, everything: bool = False) -> None:
    """Lint the pending revisions' SQL (``everything``: every revision's) with squawk."""
    from . import lint as linting
    from . import migrations
    from .errors import TaskError

    settings = _settings(settings)
    if not linting.applies(settings):
        print(linting.SQLITE_LINE)
        return
    scripts = migrations.script_directory(settings)
    revisions = _pending_scripts(settings, scripts) if not everything else _all_scripts(scripts)
    if not revisions:
        print("OK: no revision yet" if everything else "OK: no pending revision to lint")
        return
    report = linting.lint(settings, scripts, revisions, everything=everything)
    for line in report.acknowledged_lines():
        print(line)
    for note in report.notes:
        print(f"note: {note}")
    for finding in report.failing:
        print(f"FAIL {finding.line()}")
    if report.failing:
        count = len(report.failing)
        raise TaskError(
            f"{count} unacknowledged finding{'' if count == 1 else 's'} of squawk, above: "
            + linting.acknowledge_hint()
        )
    acknowledged = len(report.findings)
    print(
        f"OK: {report.linted} revision{'' if report.linted == 1 else 's'} linted, "
        f"no unacknowledged finding ({acknowledged} acknowledged)"
    )


def _all_scripts(scripts: ScriptDirectory) -> list[Script]:
    return list(reversed(list(scripts.walk_revisions())))


def _pending_scripts(settings: Settings, scripts: ScriptDirectory) -> list[Script]:
    """The revisions the database has not applied yet, oldest first (it connects)."""
    from . import migrations

    pending = {row.revision for row in migrations.status(_connecting(settings), scripts).pending}
    return [script for script in _all_scripts(scripts) if script.revision in pending]


def _lint_problems(settings: Settings, scripts: ScriptDirectory, pending: set[str]) -> list[str]:
    """db.check's part of the lint: the ``pending`` revisions' unacknowledged findings."""
    from . import lint
    from .errors import TaskError

    if not pending or not lint.applies(settings):
        return []
    revisions = [script for script in _all_scripts(scripts) if script.revision in pending]
    try:
        report = lint.lint(settings, scripts, revisions, everything=False)
    except TaskError as exc:  # squawk missing, a bad configuration: one more problem, not the only
        return [f"lint: {exc}"]
    for note in report.notes:
        print(f"note: {note}")
    return [f"lint: {finding.line()}" for finding in report.failing]


def check(settings: Settings | None = None) -> None:
    from . import migrations
    from .errors import TaskError

    settings = _connecting(settings)
    state = _kit_state()
    _kit_notes(state)
    # An edited kit fails the check: CI is where an edit nobody declared gets noticed, before
    # the next upgrade conflicts with it or carries it over unseen (docs/database.md, "The kit").
    scripts = migrations.script_directory(settings)  # read once, for the check and the summary
    problems, applied = migrations.checked(settings, scripts)
    problems += [edit.describe(state.version) for edit in state.unkept]
    # Pending revisions (the database is behind head, a problem above already) linted for
    # locks: what would run next, said before it runs (docs/database.md).
    pending = {row.revision for row in migrations.status_of(scripts, applied).pending}
    problems += _lint_problems(settings, scripts, pending)
    for problem in problems[1:]:
        print(f"FAIL {problem}")
    if problems:
        raise TaskError(
            problems[0] + (f" (and {len(problems) - 1} more, above)" if len(problems) > 1 else "")
        )
    if not scripts.get_heads():
        print(f"OK: no revision yet, no model either; {state.summary()}")
        return
    verified = "one head, the database is at head, the models match the migrations"
    print(f"OK: {verified}; {state.summary()}")


def kit() -> None:
    """Print the kit's version and its local edits, one line each (db.check fails on them)."""
    state = _kit_state()
    print(state.summary())
    for edit in state.unkept:
        print(edit.describe(state.version))
    _kit_notes(state)


def settings_report(settings: Settings | None = None) -> None:
    """Print the effective settings, where each came from, secrets masked (db.settings)."""
    from .settings_report import report

    for line in report(_settings(settings)):
        print(line)


def _kit_state() -> KitState:
    from .kit import examine
    from .project import current

    return examine(kept=current().kept_kit_edits)


def _kit_notes(state: KitState) -> None:
    """The kept edits, and kept_kit_edits entries naming a file as shipped: no failure."""
    for edit in state.edits:
        if edit.kept:
            print(edit.describe(state.version))
    for name in state.unused_keeps:
        print(f"kit: {name} is in kept_kit_edits but as shipped: remove it from settings.py")


def stamp(
    target: str,
    settings: Settings | None = None,
    *,
    force: bool = False,
    yes: bool = False,
    lock_timeout: float | None = None,
) -> None:
    from . import migrations

    settings = _confirmed("stamp", settings, force=force, yes=yes, lock_timeout=lock_timeout)
    migrations.stamp(settings, target)


def create(settings: Settings | None = None) -> None:
    from . import lifecycle

    print(lifecycle.create(_connecting(settings)))


def drop(settings: Settings | None = None, *, force: bool = False, yes: bool = False) -> None:
    from . import lifecycle

    print(lifecycle.drop(_connecting(settings), force=force, yes=yes))


def backup(settings: Settings | None = None) -> Path:
    from . import lifecycle

    return lifecycle.take_backup(_connecting(settings))


def restore(
    file: str, settings: Settings | None = None, *, force: bool = False, yes: bool = False
) -> None:
    from . import lifecycle

    print(lifecycle.restore(_connecting(settings), file, force=force, yes=yes))


def reset(
    settings: Settings | None = None,
    *,
    no_backup: bool = False,
    force: bool = False,
    yes: bool = False,
    lock_timeout: float | None = None,
) -> Path | None:
    from . import lifecycle
    from .seeding import runner

    settings = _connecting(settings, lock_timeout=lock_timeout)
    return lifecycle.reset(
        settings, take_backup_first=not no_backup, force=force, yes=yes, seed=runner.run
    )


def merge(message: str | None = None, settings: Settings | None = None) -> None:
    from . import migrations

    migrations.merge(_settings(settings), message)


def grant(
    admin_url: str | None = None,
    *,
    print_only: bool = False,
    check_only: bool = False,
    rotate: str | None = None,
    settings: Settings | None = None,
) -> None:
    """Apply the role model (docs/database.md, "For DBAs"), print its SQL, or verify it."""
    from .errors import TaskError
    from .roles import adoption, apply, check, connection, names, render
    from .roles.passwords import rotate as rotate_passwords

    settings = _settings(settings)
    if rotate is not None and (print_only or check_only):
        raise TaskError("--rotate only sets passwords: run it without --print and --check")
    if print_only:
        print(render.render_sql(names.role_names(settings)), end="")
        return
    settings = _connecting(settings)  # no admin URL, no DATABASE_URL: the local server's
    url = connection.admin_url(settings, admin_url)
    if rotate is not None:
        done = rotate_passwords(settings, url, rotate)
        print(f"Rotated passwords on {connection.describe(url)}; no privilege changed")
        for line in done:
            print(line)
        return
    if check_only:
        print(f"Checking {connection.describe(url)}")
        problems = check.check(settings, url)
        for problem in problems:
            print(f"FAIL {problem}")
        if problems:
            raise TaskError(f"{len(problems)} difference(s) from the role model, above")
        print("OK: roles, ownership and privileges match the model")
        return
    print(f"Applying the role model to {connection.describe(url)}")
    try:
        changes, passwords = apply.apply(settings, url)
    except adoption.AdoptionRefusedError as refused:
        for problem in refused.problems:
            print(f"REFUSED {problem}")
        raise
    for line in changes + passwords:
        print(line)
    print("Applied the role model" + ("" if changes else ": no changes to roles or privileges"))


def up(settings: Settings | None = None) -> None:
    from . import local

    print(local.up(_settings(settings)))


def down(settings: Settings | None = None) -> None:
    from . import local

    print(local.down(_settings(settings)))


def seed(
    *,
    env: str | None = None,
    only: list[str] | None = None,
    plan: bool = False,
    keep_existing: bool = False,
    force: bool = False,
    full: bool = False,
    lock_timeout: float | None = None,
    settings: Settings | None = None,
) -> None:
    from .seeding import runner

    settings = _connecting(settings, lock_timeout=lock_timeout)
    runner.run(
        settings,
        environment=env,
        only=only or (),
        plan=plan,
        keep_existing=keep_existing,
        force=force,
        full=full,
    )
