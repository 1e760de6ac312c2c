"""The advice the migration tasks give when the revision files are wrong, and where they say so.

Each case ends in one line naming the file(s) and id(s) and what to do, exit status 1, no
traceback (groundwork/revision_files.py, errors.describe); and the environment a stamp records
is said, with where it came from (protection.stamped_line). In-process (tests/kit/harness.py);
tests/test_migration_advice.py keeps one case through `invoke`.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.kit.harness import KitProject
from tests.lifecycle_support import INITIAL, add_revision, versions_dir


@pytest.fixture
def project(kit_project: Callable[[str, str], KitProject], database: str) -> KitProject:
    if database.startswith("sqlite"):
        Path(database.removeprefix("sqlite:///")).touch()  # plain alembic creates no database
        return kit_project("sqlite", database)
    return kit_project("postgresql", database)


def one_line_failure(project: KitProject, task: str, *args: Any) -> str:
    """The one line a failing ``invoke db.TASK ARGS`` prints on stderr."""
    result = project.invoke(task, *args, check=False)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_status_on_two_heads_says_merge(project: KitProject) -> None:
    project.invoke("init")
    add_revision(project, "aaaa00000001", INITIAL, "pass")
    add_revision(project, "bbbb00000001", INITIAL, "pass")
    line = one_line_failure(project, "status")
    assert "several heads (aaaa00000001, bbbb00000001): run `invoke db.merge`" in line, line
    assert "db.migrate" not in line


def test_two_files_with_one_revision_id_are_named(project: KitProject) -> None:
    first = add_revision(project, "dddd00000001", INITIAL, "pass")
    second = first.with_name("dddd00000001_copy.py")
    second.write_text(first.read_text())
    for task in ("status", "migrate", "history"):
        line = one_line_failure(project, task)
        assert "two revision files have the revision id dddd00000001" in line, line
        assert first.name in line, line
        assert second.name in line, line
        assert "give one of them a new id" in line, line
        assert "db.merge" not in line, line


def test_a_down_revision_pointing_nowhere_is_named(project: KitProject) -> None:
    path = add_revision(project, "eeee00000001", "f00f00000000", "pass")
    for task in ("status", "migrate", "check"):
        line = one_line_failure(project, task)
        assert f"{path.name}: down_revision 'f00f00000000' names no revision file" in line, line
        assert "KeyError" not in line


def test_a_deleted_migrations_package_gives_one_clear_line(project: KitProject) -> None:
    shutil.rmtree(versions_dir(project).parent)
    for task in ("status", "migrate", "check"):
        line = one_line_failure(project, task)
        assert "the migrations package is missing" in line, line
        assert "init" not in line.split(":", 1)[1], line


def test_a_revision_that_fails_to_import_is_named(project: KitProject) -> None:
    path = add_revision(project, "abab00000001", INITIAL, "pass")
    path.write_text(path.read_text().replace("import sqlalchemy as sa\n", "import no_such_lib\n"))
    line = one_line_failure(project, "migrate")
    assert f"{path.name}:3 failed to import: ModuleNotFoundError" in line, line
    assert "no_such_lib" in line
    path.write_text(path.read_text().replace("import no_such_lib\n", "import sqlalchemy as sa(\n"))
    line = one_line_failure(project, "status")
    assert f"{path.name}:3 failed to import: SyntaxError" in line, line


BROKEN_MODEL = '''"""A model whose module fails on import."""

from __future__ import annotations

from .base import Base

RATE = 1 / 0


class Broken(Base):
    __tablename__ = "broken"
'''


def test_a_model_that_fails_to_import_is_named(project: KitProject) -> None:
    project.invoke("init")
    (project.path / "src" / project.package / "models" / "broken.py").write_text(BROKEN_MODEL)
    for task, args in (("check", ()), ("migrate", ("broken",))):
        line = one_line_failure(project, task, *args)
        assert "models/broken.py:7 failed to import: ZeroDivisionError: division by zero" in line


def test_stamping_an_existing_database_says_which_environment(project: KitProject) -> None:
    # Tables made by the plain alembic command, which records no environment.
    project.process().run(sys.executable, "-m", "alembic", "upgrade", "head")
    stamped = project.invoke("stamp", INITIAL).stdout
    assert (
        "Recorded environment 'development' in the database (APP_ENV unset: the default)" in stamped
    ), stamped
    assert "Recorded environment" not in project.invoke("init").stdout  # already recorded


def test_init_on_an_existing_database_says_where_the_environment_came_from(
    project: KitProject,
) -> None:
    project.process().run(sys.executable, "-m", "alembic", "upgrade", "head")
    initialized = project.invoke("init", environ={"APP_ENV": "staging"}).stdout
    assert "Recorded environment 'staging' in the database (from APP_ENV)" in initialized
