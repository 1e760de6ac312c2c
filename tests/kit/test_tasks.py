"""The migration tasks in-process (``groundwork.commands``), on SQLite and on real PostgreSQL.

What only ``invoke`` itself shows (its exit code and one line for a failure, ``-d``, ``--list``,
a missing package, the plain ``alembic`` command) stays in tests/test_tasks.py.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from groundwork.settings import load_settings  # the template's kit (tests/kit/harness.py)

from tests.kit.harness import KitProject
from tests.kit.sql import tables, version_rows
from tests.lifecycle_support import NEW_MODEL, SECRET
from tests.support import sqlite_url


def revision_files(project: KitProject) -> list[Path]:
    return sorted((project.path / "src" / project.package / "migrations" / "versions").glob("*.py"))


@pytest.fixture
def project(kit_project: Callable[[str, str], KitProject], database: str) -> KitProject:
    """The postgresql flavour's bake on either database, as a user who switches DATABASE_URL."""
    if database.startswith("sqlite:///"):
        # An empty database, as on PostgreSQL: only db.init creates a missing one.
        Path(database.removeprefix("sqlite:///")).touch()
    return kit_project("postgresql", database)


def test_init_brings_an_empty_database_to_head_and_is_idempotent(
    project: KitProject, database: str
) -> None:
    first = project.invoke("init")
    assert "Running upgrade" in first.stderr
    assert {"countries", "users", "alembic_version"} <= tables(database)
    head = version_rows(database)
    second = project.invoke("init")
    assert "Running upgrade" not in second.stderr + second.stdout
    assert version_rows(database) == head


def test_migrate_with_a_message_writes_one_revision_and_applies_it(
    project: KitProject, database: str
) -> None:
    project.invoke("init")
    before = revision_files(project)
    (project.path / "src" / project.package / "models" / "order.py").write_text(NEW_MODEL)

    project.invoke("migrate", "add orders")
    after = revision_files(project)
    assert len(after) == len(before) + 1
    written = next(path for path in after if path not in before)
    assert re.match(r"^\d{4}_\d{2}_\d{2}_\d{4}-[0-9a-f]{12}_add_orders\.py$", written.name)
    assert "orders" in tables(database)
    assert version_rows(database) == [written.name.split("-")[1].split("_")[0]]
    # ruff formatted it, as the rest of the code.
    subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--check", str(written)],
        cwd=project.path,
        check=True,
        capture_output=True,
    )

    nothing = project.invoke("migrate", "nothing changed")
    assert "no revision written" in nothing.stdout
    assert revision_files(project) == after


def test_downgrade_to_base_and_upgrade_round_trip(project: KitProject, database: str) -> None:
    project.invoke("init")
    project.invoke("downgrade", "base")
    # Only the models' tables go; the engine's own bookkeeping tables (ledgers) stay.
    assert not {"countries", "users"} & tables(database)
    project.invoke("upgrade")
    assert {"countries", "users"} <= tables(database)
    project.invoke("downgrade")  # one step back from the single revision: empty again
    assert version_rows(database) == []


def test_status_marks_applied_and_pending(project: KitProject, database: str) -> None:
    pending = project.invoke("status", check=False)
    assert pending.returncode == 1
    assert re.search(r"^\[ \] 0d848db94cb2", pending.stdout, re.MULTILINE)
    assert "1 of 1 revisions pending" in pending.stderr
    project.invoke("init")
    applied = project.invoke("status")
    assert re.search(r"^\[X\] 0d848db94cb2", applied.stdout, re.MULTILINE)
    assert "1 revision, all applied" in applied.stdout


def test_sql_prints_ddl_without_touching_the_database(project: KitProject, database: str) -> None:
    result = project.invoke("sql")
    assert "CREATE TABLE countries" in result.stdout
    assert "CREATE TABLE users" in result.stdout
    assert tables(database) == set()
    one = project.invoke("sql", "0d848db94cb2")
    assert "CREATE TABLE users" in one.stdout


def test_check_fails_on_drift_behind_head_and_two_heads(project: KitProject, database: str) -> None:
    behind = project.invoke("check", check=False)
    assert behind.returncode == 1
    assert "not at head" in behind.stderr
    project.invoke("init")
    project.invoke("check")

    (project.path / "src" / project.package / "models" / "order.py").write_text(NEW_MODEL)
    drift = project.invoke("check", check=False)
    assert drift.returncode == 1
    assert "models differ" in drift.stderr
    assert "orders" in drift.stderr
    project.invoke("migrate", "add orders")
    project.invoke("check")

    # A second branch from the initial revision: two heads.
    project.invoke("revision", "other branch", empty=True)
    newest = next(
        path for path in revision_files(project) if path.name.endswith("_other_branch.py")
    )
    source = newest.read_text()
    parent = re.search(r'^down_revision: .* = "([0-9a-f]+)"', source, re.MULTILINE)
    assert parent is not None
    newest.write_text(source.replace(f'= "{parent[1]}"', '= "0d848db94cb2"', 1))
    two = project.invoke("check", check=False)
    assert two.returncode == 1
    assert "several heads" in two.stderr
    refused = project.invoke("migrate", check=False)
    assert refused.returncode == 1
    assert "db.merge" in refused.stderr

    project.invoke("merge", "join branches")
    project.invoke("migrate")
    project.invoke("check")


def test_stamp_and_current(project: KitProject, database: str) -> None:
    project.invoke("stamp", "0d848db94cb2")
    assert version_rows(database) == ["0d848db94cb2"]
    assert "0d848db94cb2 (head)" in project.invoke("current").stdout


# task, its arguments (as `invoke db.TASK ARGS` gives them to groundwork.commands), environment
BAD_INPUTS: dict[str, tuple[str, tuple[Any, ...], dict[str, str], str]] = {
    "unreachable": (
        "status",
        (),
        {"DATABASE_URL": f"postgresql://app:{SECRET}@127.0.0.1:1/x"},
        "cannot reach the database",
    ),
    "not-a-url": ("status", (), {"DATABASE_URL": f"nonsense:{SECRET}"}, "is not a database URL"),
    "scheme": (
        "status",
        (),
        {"DATABASE_URL": f"mysql://app:{SECRET}@localhost/x"},
        # The migrator's login falls back to DATABASE_URL: the error names the one set.
        ": DATABASE_URL 'mysql://***@localhost/x' uses the unsupported scheme 'mysql'",
    ),
    "migrator-scheme": (
        "status",
        (),
        {"MIGRATOR_DATABASE_URL": f"mysql://app:{SECRET}@localhost/x"},
        ": MIGRATOR_DATABASE_URL 'mysql://***@localhost/x' uses the unsupported",
    ),
    "at-in-password": (
        "status",
        (),
        {"DATABASE_URL": f"postgresql://app:p@{SECRET}@127.0.0.1:1/x"},
        "password or user name holds '@': percent-encode it as %40",
    ),
    "port": (
        "status",
        (),
        {"DATABASE_URL": f"postgresql://app:{SECRET}@localhost:port/x"},
        "port that is not a number",
    ),
    "upgrade-rev": ("upgrade", ("nosuchrev",), {}, "unknown revision 'nosuchrev'"),
    "stamp-rev": ("stamp", ("zzz",), {}, "unknown revision 'zzz'"),
    "sql-rev": ("sql", ("zzz",), {}, "unknown revision 'zzz'"),
    "no-message": ("revision", ("",), {}, "needs a message"),  # db.revision's default: ""
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_gives_one_line_and_no_password(
    kit_project: Callable[[str, str], KitProject], tmp_path: Path, case: str
) -> None:
    task, args, env, expected = BAD_INPUTS[case]
    project = kit_project("postgresql", sqlite_url(tmp_path / "x.db"))
    result = project.invoke(task, *args, environ=env, check=False)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert expected in lines[0]
    assert lines[0].startswith(f"db.{task}:")
    assert SECRET not in result.stdout + result.stderr
    assert "Traceback" not in result.stderr


def test_read_only_tasks_leave_a_missing_sqlite_database_missing(
    kit_project: Callable[[str, str], KitProject], tmp_path: Path
) -> None:
    folder = tmp_path / "var"
    database = folder / "app.sqlite3"
    project = kit_project("sqlite", sqlite_url(database))
    for task in ("current", "status", "check"):
        result = project.invoke(task, check=False)
        assert result.returncode == 1
        assert result.stderr.strip() == (
            f"db.{task}: database {database} does not exist: run `invoke db.init` to create it"
        )
        assert not folder.exists()
    project.invoke("init")
    assert database.is_file()
    project.invoke("current")


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
    kit_project: Callable[[str, str], KitProject],
    tmp_path: Path,
    app_env: str | None,
    expected: list[str],
) -> None:
    project = kit_project("sqlite", sqlite_url(tmp_path / "x.db"))
    for name, keys in ENV_FILES.items():
        (project.path / name).write_text("".join(f"LAYER_{key}={name}\n" for key in keys))
    env = {"LAYER_E": "real", **({"APP_ENV": app_env} if app_env else {})}
    # No project_root: the kit finds the folder from the project's package, as under invoke.
    settings = load_settings(environ=project.environ(env))
    assert settings.project_root == project.path
    assert [settings.app_env, *(settings.get("LAYER_" + k) for k in "ABCDE")] == [*expected, "real"]
