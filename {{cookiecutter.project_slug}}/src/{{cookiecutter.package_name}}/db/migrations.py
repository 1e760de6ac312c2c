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
from io import StringIO
from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.environment import EnvironmentContext
from alembic.runtime.migration import MigrationContext, RevisionStep
from alembic.script import Script, ScriptDirectory
from sqlalchemy import Connection

from ..errors import TaskError, describe
from ..settings import PACKAGE, Settings
from . import grants, ledger, locking
from .engine import database_url, make_engine, offline_url

SCRIPT_LOCATION = f"{PACKAGE}:migrations"


def alembic_config(settings: Settings) -> Config:
    """The Alembic config: ``[tool.alembic]`` of pyproject.toml when there is one.

    pyproject.toml carries the options that matter when writing revisions (file names, the ruff
    hook) for the tasks and the plain ``alembic`` command alike. An installed wheel has no
    pyproject.toml and needs only the script location, which is set here in any case.
    """
    pyproject = settings.project_root / "pyproject.toml"
    config = Config(toml_file=pyproject) if pyproject.is_file() else Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    return config


def script_directory(settings: Settings) -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config(settings))


@contextmanager
def connected(
    settings: Settings, *, exclusive: bool = False
) -> Iterator[tuple[Config, Connection]]:
    """An Alembic config bound to one connection, in one transaction committed at the end.

    ``exclusive``: the block changes the schema. It then holds the migration lock (PostgreSQL,
    see locking.py) and runs under the migration ``lock_timeout``/``statement_timeout``.
    """
    config = alembic_config(settings)
    # The migrator's login when the role model is in use (docs/database.md, "For DBAs").
    url = database_url(settings, setting="MIGRATOR_DATABASE_URL")
    wait = locking.lock_wait(settings) if exclusive else None
    with locking.migration_lock(settings, url) if exclusive else nullcontext():
        engine = make_engine(
            url, enforce_foreign_keys=False, write_lock_wait=wait, existing_only=not exclusive
        )
        try:
            with engine.begin() as connection:
                grants.assume_migration_role(connection, settings)
                if exclusive:
                    locking.apply_timeouts(settings, connection)
                config.attributes["connection"] = connection
                yield config, connection
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
    reported as one line naming the revision that failed and where the database stayed.
    """
    from .protection import stamp_environment

    # Loading the revision files costs about 1 ms each: callers that hold them pass them in.
    scripts = script_directory(settings) if scripts is None else scripts
    with connected(settings, exclusive=True) as (config, connection):
        before = applied_heads(connection)
        try:
            action(config, connection)
        except TaskError:
            raise
        except Exception as exc:
            failed = _failed_revision(exc, scripts)
            if failed is None:
                raise
            raise TaskError(
                f"revision {failed} failed, nothing was applied, the database is still at "
                f"{', '.join(before) or 'base'}: {describe(exc)}"
            ) from exc
        ledger.record(connection, scripts)
        stamp_environment(connection, settings.app_env)


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

    def steps(rev: str, context: MigrationContext) -> list[RevisionStep]:
        return scripts._upgrade_revs(target, rev)

    with EnvironmentContext(config, scripts, fn=steps, destination_rev=target):
        scripts.run_env()


def downgrade(settings: Settings, target: str = "-1") -> None:
    known_target(script_directory(settings), target)

    def run(config: Config, connection: Connection) -> None:
        if not applied_heads(connection):
            raise TaskError("nothing to downgrade: no migration is applied")
        command.downgrade(config, target)

    changing_schema(settings, run)


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


def migrate(settings: Settings, message: str | None = None) -> Path | None:
    """Apply pending migrations; with a message, autogenerate a revision first."""
    written = revision(settings, message) if message is not None else None
    upgrade(settings, "head")
    return written


def current(settings: Settings) -> tuple[str, ...]:
    scripts = script_directory(settings)
    with connected(settings) as (_, connection):
        heads = applied_heads(connection)
    if not heads:
        print("(no revision applied)")
    for rev in heads:
        script = scripts.get_revision(rev)
        mark = " (head)" if rev in scripts.get_heads() else ""
        print(f"{rev}{mark} {script.doc if script else '(file missing)'}")
    return heads


def history(settings: Settings) -> None:
    command.history(alembic_config(settings), indicate_current=False)


def heads(settings: Settings) -> tuple[str, ...]:
    scripts = script_directory(settings)
    for rev in scripts.get_heads():
        script = scripts.get_revision(rev)
        print(f"{rev} (head) {script.doc if script else ''}")
    return tuple(scripts.get_heads())


@dataclass(frozen=True)
class RevisionStatus:
    revision: str
    message: str
    applied: bool


def status(settings: Settings) -> list[RevisionStatus]:
    """Every revision, oldest first, applied or pending; raises when any is pending."""
    scripts = script_directory(settings)
    with connected(settings) as (_, connection):
        heads = applied_heads(connection)
    applied = (
        {script.revision for script in scripts.iterate_revisions(heads, "base") if script}
        if heads
        else set()
    )
    rows = [
        RevisionStatus(script.revision, script.doc or "", script.revision in applied)
        for script in reversed(list(scripts.walk_revisions()))
    ]
    if not rows:  # a project started without the examples, or that removed them
        print("No revision yet: write one with `invoke db.revision -m '...'`")
        return rows
    for row in rows:
        print(f"[{'X' if row.applied else ' '}] {row.revision}  {row.message}")
    pending = [row for row in rows if not row.applied]
    if pending:
        raise TaskError(f"{len(pending)} of {len(rows)} revisions pending: run `invoke db.migrate`")
    print(f"{len(rows)} revision{'' if len(rows) == 1 else 's'}, all applied")
    return rows


def offline_sql(settings: Settings, revisions: str | None = None) -> str:
    """The SQL of a revision range (``a:b``), one revision (``a``) or all, without connecting."""
    scripts = script_directory(settings)
    if revisions is None:
        rev_range = "base:heads"
    elif ":" in revisions:
        rev_range = revisions
    else:
        known_target(scripts, revisions)
        script = scripts.get_revision(revisions)
        if script is None:
            raise TaskError(f"unknown revision {revisions!r}: `invoke db.history` lists them")
        down = script.down_revision
        start = "base" if down is None else down if isinstance(down, str) else None
        if start is None:
            raise TaskError(
                f"{revisions!r} is a merge revision: give a range such as 'a:{revisions}'"
            )
        rev_range = f"{start}:{script.revision}"
    config = alembic_config(settings)
    buffer = StringIO()
    config.output_buffer = buffer
    config.attributes["url"] = offline_url(settings)
    command.upgrade(config, rev_range, sql=True)
    return buffer.getvalue()


def check(settings: Settings) -> list[str]:
    """Every reason the schema is not what the code expects; empty when all is well."""
    problems: list[str] = []
    scripts = script_directory(settings)
    heads = scripts.get_heads()
    if len(heads) > 1:
        problems.append(f"several heads ({', '.join(sorted(heads))}): run `invoke db.merge`")
    with connected(settings) as (_, connection):
        problems.extend(str(mismatch) for mismatch in ledger.verify(connection, scripts))
        applied = applied_heads(connection)
        if set(applied) != set(heads):
            behind = ", ".join(applied) or "no revision"
            problems.append(f"the database is at {behind}, not at head: run `invoke db.migrate`")
        else:
            context = MigrationContext.configure(
                connection,
                opts={
                    "compare_type": True,
                    "compare_server_default": False,
                    "include_object": ledger.not_lifecycle_table,
                },
            )
            from ..models import load_all_models  # the ORM: only the drift check needs it
            from . import enums  # and enum types, with their values, compared as autogenerate does

            models = load_all_models()
            enums.register()
            diffs = compare_metadata(context, models)
            if diffs:
                summary = "; ".join(
                    enums.describe(diff, models) or _describe_diff(diff) for diff in diffs[:5]
                )
                more = f" (+{len(diffs) - 5} more)" if len(diffs) > 5 else ""
                problems.append(
                    f"the models differ from the migrations: {summary}{more}: "
                    "run `invoke db.migrate -m '...'`"
                )
    return problems


def _describe_diff(diff: object) -> str:
    item = diff[0] if isinstance(diff, list) else diff
    if isinstance(item, tuple) and len(item) > 1:
        target = item[1]
        name = getattr(target, "name", None) or getattr(target, "key", None) or target
        return f"{item[0]} {name}"
    return str(item)


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
