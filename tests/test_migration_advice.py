"""The advice the migration tasks give when the revision files are wrong, and where they say so.

Each case ends in one line naming the file(s) and id(s) and what to do, exit status 1, no
traceback (db/revision_files.py, errors.describe); and the environment a stamp records is said,
with where it came from (protection.stamped_line).
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.lifecycle_support import INITIAL, add_revision, versions_dir
from tests.support import Project


@pytest.fixture
def project(project_copy: Callable[..., Project], database: str) -> Project:
    if database.startswith("sqlite"):
        Path(database.removeprefix("sqlite:///")).touch()  # plain alembic creates no database
        return project_copy("sqlite", database)
    return project_copy("postgresql", database)


def one_line_failure(project: Project, *args: str) -> str:
    """The one line a failing ``invoke ARGS`` prints on stderr."""
    result = project.invoke(*args, check=False)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_status_on_two_heads_says_merge(project: Project) -> None:
    project.invoke("db.init")
    add_revision(project, "aaaa00000001", INITIAL, "pass")
    add_revision(project, "bbbb00000001", INITIAL, "pass")
    line = one_line_failure(project, "db.status")
    assert "several heads (aaaa00000001, bbbb00000001): run `invoke db.merge`" in line, line
    assert "db.migrate" not in line


def test_two_files_with_one_revision_id_are_named(project: Project) -> None:
    first = add_revision(project, "dddd00000001", INITIAL, "pass")
    second = first.with_name("dddd00000001_copy.py")
    second.write_text(first.read_text())
    for task in ("db.status", "db.migrate", "db.history"):
        line = one_line_failure(project, task)
        assert "two revision files have the revision id dddd00000001" in line, line
        assert first.name in line and second.name in line, line
        assert "give one of them a new id" in line and "db.merge" not in line, line


def test_a_down_revision_pointing_nowhere_is_named(project: Project) -> None:
    path = add_revision(project, "eeee00000001", "f00f00000000", "pass")
    for task in ("db.status", "db.migrate", "db.check"):
        line = one_line_failure(project, task)
        assert f"{path.name}: down_revision 'f00f00000000' names no revision file" in line, line
        assert "KeyError" not in line


def test_a_deleted_migrations_package_gives_one_clear_line(project: Project) -> None:
    shutil.rmtree(versions_dir(project).parent)
    for task in ("db.status", "db.migrate", "db.check"):
        line = one_line_failure(project, task)
        assert "the migrations package is missing" in line, line
        assert "init" not in line.split(":", 1)[1], line


def test_a_revision_that_fails_to_import_is_named(project: Project) -> None:
    path = add_revision(project, "abab00000001", INITIAL, "pass")
    path.write_text(path.read_text().replace("import sqlalchemy as sa\n", "import no_such_lib\n"))
    line = one_line_failure(project, "db.migrate")
    assert f"{path.name}:3 failed to import: ModuleNotFoundError" in line, line
    assert "no_such_lib" in line
    path.write_text(path.read_text().replace("import no_such_lib\n", "import sqlalchemy as sa(\n"))
    line = one_line_failure(project, "db.status")
    assert f"{path.name}:3 failed to import: SyntaxError" in line, line


BROKEN_MODEL = '''"""A model whose module fails on import."""

from __future__ import annotations

from .base import Base

RATE = 1 / 0


class Broken(Base):
    __tablename__ = "broken"
'''


def test_a_model_that_fails_to_import_is_named(project: Project) -> None:
    project.invoke("db.init")
    (project.path / "src" / project.package / "models" / "broken.py").write_text(BROKEN_MODEL)
    for args in (("db.check",), ("db.migrate", "-m", "broken")):
        line = one_line_failure(project, *args)
        assert "models/broken.py:7 failed to import: ZeroDivisionError: division by zero" in line


def test_stamping_an_existing_database_says_which_environment(project: Project) -> None:
    # Tables made by the plain alembic command, which records no environment.
    project.run(sys.executable, "-m", "alembic", "upgrade", "head")
    stamped = project.invoke("db.stamp", INITIAL).stdout
    assert (
        "Recorded environment 'development' in the database (APP_ENV unset: the default)" in stamped
    ), stamped
    assert "Recorded environment" not in project.invoke("db.init").stdout  # already recorded


def test_init_on_an_existing_database_says_where_the_environment_came_from(
    project: Project,
) -> None:
    project.run(sys.executable, "-m", "alembic", "upgrade", "head")
    initialized = project.invoke("db.init", env={"APP_ENV": "staging"}).stdout
    assert "Recorded environment 'staging' in the database (from APP_ENV)" in initialized


def test_a_database_at_a_revision_this_checkout_lacks_says_so(
    project: Project, database: str
) -> None:
    """Alembic's "Can't locate revision" was recognised by its words; now by its cause
    (ResolutionError), with the same advice."""
    from tests.lifecycle_support import query

    project.invoke("db.init")
    query(database, "UPDATE alembic_version SET version_num = 'feedfeed0001'")
    line = one_line_failure(project, "db.migrate")
    assert "'feedfeed0001'" in line, line
    assert "a revision file this checkout lacks (another branch?)" in line, line
