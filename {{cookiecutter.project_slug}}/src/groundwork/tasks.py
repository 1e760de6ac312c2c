"""The ``db.*`` invoke tasks: options in, one call to :mod:`groundwork.commands` out.

A project's ``tasks.py`` adds them with :func:`database_tasks`. Each task parses its options
and calls one function of ``commands``, where the logic lives (and where the tests call it).
Failures print one line and exit 1; ``invoke -d db.TASK`` shows the traceback instead.

Each task imports ``commands`` when it runs, not this module: invoke loads ``tasks.py`` with
bytecode caching off, and :func:`database_tasks` only turns it back on (cli.prepare_task_process),
so every module imported before that is compiled again on every task (commands.py: ~2 ms).
"""

from __future__ import annotations

from invoke.collection import Collection
from invoke.context import Context
from invoke.tasks import task

from .cli import guarded, prepare_task_process, seconds_option
from .project import Project, configure


def _wait(value: str | None) -> float | None:
    return seconds_option("--wait", value)


def _lock_timeout(value: str | None) -> float | None:
    return seconds_option("--lock-timeout", value)


@task(
    help={
        "wait": "retry connecting for up to this many seconds (a server still starting)",
        "lock_timeout": "seconds to wait for another process's migration lock (default 60)",
    }
)
@guarded
def init(c: Context, wait: str | None = None, lock_timeout: str | None = None) -> None:
    """Create the database if missing, migrate it to head and seed it; safe on every deploy."""
    from . import commands

    commands.init(lock_timeout=_lock_timeout(lock_timeout), wait=_wait(wait))


@task(
    help={
        "message": "first autogenerate a revision from model changes, with this message",
        "wait": "retry connecting for up to this many seconds (a server still starting)",
        "lock_timeout": "seconds to wait for another process's migration lock (default 60)",
    }
)
@guarded
def migrate(
    c: Context,
    message: str | None = None,
    wait: str | None = None,
    lock_timeout: str | None = None,
) -> None:
    """Apply pending migrations (with -m, autogenerate a revision from model changes first)."""
    from . import commands

    commands.migrate(message, lock_timeout=_lock_timeout(lock_timeout), wait=_wait(wait))


@task(help={"message": "what the revision does", "empty": "write an empty revision to fill in"})
@guarded
def revision(c: Context, message: str = "", empty: bool = False) -> None:
    """Write a revision from model changes (or --empty); apply nothing."""
    from . import commands

    commands.revision(message, empty=empty)


@task(
    help={
        "to": "revision to upgrade to (default: head)",
        "lock_timeout": "seconds to wait for another process's migration lock (default 60)",
    }
)
@guarded
def upgrade(c: Context, to: str = "head", lock_timeout: str | None = None) -> None:
    """Upgrade to a revision: head by default, or --to REV."""
    from . import commands

    commands.upgrade(to, lock_timeout=_lock_timeout(lock_timeout))


@task(
    help={
        "to": "where to go back to: -1 (default), -N, a revision id, REV@-1 (one branch), or base",
        "force": "run even where protected (production, a remote host, another environment)",
        "yes": "with --force: do not ask for the database name (non-interactive runs)",
        "lock_timeout": "seconds to wait for another process's migration lock (default 60)",
    }
)
@guarded
def downgrade(
    c: Context,
    to: str = "-1",
    force: bool = False,
    yes: bool = False,
    lock_timeout: str | None = None,
) -> None:
    """Step back one revision, or --to REV (`--to base` undoes every migration). Protected."""
    from . import commands

    commands.downgrade(to, force=force, yes=yes, lock_timeout=_lock_timeout(lock_timeout))


@task
@guarded
def current(c: Context) -> None:
    """Show the revision the database is at."""
    from . import commands

    commands.current()


@task
@guarded
def history(c: Context) -> None:
    """List the revisions, newest first."""
    from . import commands

    commands.history()


@task
@guarded
def heads(c: Context) -> None:
    """Show the head revision(s) of the migration scripts."""
    from . import commands

    commands.heads()


@task
@guarded
def status(c: Context) -> None:
    """List every revision as [X] applied or [ ] pending; exit 1 when any is pending."""
    from . import commands

    commands.status()


@task(
    help={
        "revisions": "a range `a:b` (`head:base`: a downgrade), one revision `a`, or nothing "
        "for base to head"
    }
)
@guarded
def sql(c: Context, revisions: str | None = None) -> None:
    """Print the SQL of migrations without touching the database."""
    from . import commands

    commands.sql(revisions)


@task
@guarded
def check(c: Context) -> None:
    """Fail on drift, several heads, a database behind head, lock findings, or an edited kit."""
    from . import commands

    commands.check()


@task(help={"all": "lint every revision, not only the pending ones (needs no database)"})
@guarded
def lint(c: Context, all: bool = False) -> None:
    """Lint the SQL of pending revisions for locks with squawk; exit 1 on unacknowledged ones."""
    from . import commands

    commands.lint(everything=all)


@task
@guarded
def kit(c: Context) -> None:
    """Show the kit's version and its files edited locally (db.check fails on those)."""
    from . import commands

    commands.kit()


@task(
    help={
        "target": "revision to record as applied, without running anything",
        "force": "run even where protected (production, a remote host, another environment)",
        "yes": "with --force: do not ask for the database name (non-interactive runs)",
        "lock_timeout": "seconds to wait for another process's migration lock (default 60)",
    }
)
@guarded
def stamp(
    c: Context,
    target: str,
    force: bool = False,
    yes: bool = False,
    lock_timeout: str | None = None,
) -> None:
    """Record TARGET as the database's revision without running migrations. Protected."""
    from . import commands

    commands.stamp(target, force=force, yes=yes, lock_timeout=_lock_timeout(lock_timeout))


@task
@guarded
def create(c: Context) -> None:
    """Create the configured database if it is missing (db.init does this too)."""
    from . import commands

    commands.create()


@task(
    help={
        "force": "run even where protected (production, a remote host, another environment)",
        "yes": "with --force: do not ask for the database name (non-interactive runs)",
    }
)
@guarded
def drop(c: Context, force: bool = False, yes: bool = False) -> None:
    """Drop the configured database. Protected."""
    from . import commands

    commands.drop(force=force, yes=yes)


@task
@guarded
def backup(c: Context) -> None:
    """Write a timestamped backup of the database under backups/ (private, git-ignored)."""
    from . import commands

    commands.backup()


@task(
    help={
        "file": "the backup to restore (a file under backups/), or latest: the newest one",
        "force": "run even where protected (production, a remote host, another environment)",
        "yes": "with --force: do not ask for the database name (non-interactive runs)",
    }
)
@guarded
def restore(c: Context, file: str, force: bool = False, yes: bool = False) -> None:
    """Replace the database's contents by the backup FILE, all or nothing. Protected."""
    from . import commands

    commands.restore(file, force=force, yes=yes)


@task(
    help={
        "env": "load the seeds of this environment instead of APP_ENV's",
        "only": "only this seed, with the seeds it depends on (repeatable)",
        "plan": "print per seed how many rows would be inserted/updated/unchanged; write nothing",
        "keep_existing": "leave existing rows whose other columns differ as they are",
        "force": "allow seeds not marked for production into a production database",
        "full": "compare every row even when the ledger says a seed is unchanged",
        "lock_timeout": "seconds to wait for another seed run (SQLite: any writer) (default 60)",
    },
    iterable=["only"],
)
@guarded
def seed(
    c: Context,
    env: str | None = None,
    only: list[str] | None = None,
    plan: bool = False,
    keep_existing: bool = False,
    force: bool = False,
    full: bool = False,
    lock_timeout: str | None = None,
) -> None:
    """Load the seeds of APP_ENV in dependency order, idempotently, all or nothing."""
    from . import commands

    commands.seed(
        env=env,
        only=only,
        plan=plan,
        keep_existing=keep_existing,
        force=force,
        full=full,
        lock_timeout=_lock_timeout(lock_timeout),
    )


@task(
    help={
        "no_backup": "skip the backup taken first",
        "force": "run even where protected (production, a remote host, another environment)",
        "yes": "with --force: do not ask for the database name (non-interactive runs)",
        "lock_timeout": "seconds to wait for another process's migration lock (default 60)",
    }
)
@guarded
def reset(
    c: Context,
    no_backup: bool = False,
    force: bool = False,
    yes: bool = False,
    lock_timeout: str | None = None,
) -> None:
    """Back up, drop everything the application owns, migrate to head, seed. Protected."""
    from . import commands

    commands.reset(
        no_backup=no_backup, force=force, yes=yes, lock_timeout=_lock_timeout(lock_timeout)
    )


@task(help={"message": "message of the merge revision"})
@guarded
def merge(c: Context, message: str | None = None) -> None:
    """Join several heads into one with a merge revision."""
    from . import commands

    commands.merge(message)


@task(
    help={
        "admin_url": "admin connection (default: ADMIN_DATABASE_URL); never the app's URL",
        "print": "print the SQL instead of running it (for review, or psql -f)",
        "check": "compare the live catalog with the model; exit 1 listing every difference",
        "rotate": "only set the passwords of these logins (app,reader,migrator) from DB_*_PASSWORD",
    }
)
@guarded
def grant(
    c: Context,
    admin_url: str | None = None,
    print: bool = False,
    check: bool = False,
    rotate: str | None = None,
) -> None:
    """Create the roles and grants of the least-privilege model; --print or --check it.

    --rotate app[,reader,migrator] only sets those passwords from DB_*_PASSWORD.
    """
    from . import commands

    commands.grant(admin_url, print_only=print, check_only=check, rotate=rotate)


@task
@guarded
def up(c: Context) -> None:
    """Start the project-local database server (started on demand anyway)."""
    from . import commands

    commands.up()


@task(name="settings")
@guarded
def settings_(c: Context) -> None:
    """Show the effective settings and where each came from (secrets masked)."""
    from . import commands

    commands.settings_report()


@task
@guarded
def down(c: Context) -> None:
    """Stop the project-local database server."""
    from . import commands

    commands.down()


_TASKS = (
    init,
    migrate,
    revision,
    upgrade,
    downgrade,
    current,
    history,
    heads,
    status,
    sql,
    lint,
    check,
    kit,
    settings_,
    stamp,
    merge,
    up,
    down,
    create,
    drop,
    backup,
    restore,
    reset,
    grant,
    seed,
)


def database_tasks(project: Project) -> Collection:
    """The ``db`` collection of tasks, working for ``project``, in this (invoke's) process."""
    configure(project)
    prepare_task_process()
    return Collection("db", *_TASKS)
