"""The advice of the migration tasks through `invoke` itself: one line, exit status 1, no
traceback, for a revision that fails to import. Invoke's own program runs in this process
(tests/kit/cli.py); the other cases, and the same one, call the kit's commands directly:
tests/kit/test_migration_advice.py.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.lifecycle_support import INITIAL, add_revision
from tests.support import Project


@pytest.fixture
def project(project_copy: Callable[..., Project], database: str) -> Project:
    if database.startswith("sqlite"):
        Path(database.removeprefix("sqlite:///")).touch()  # plain alembic creates no database
        return project_copy("sqlite", database, in_process=True)
    return project_copy("postgresql", database, in_process=True)


def one_line_failure(project: Project, *args: str) -> str:
    """The one line a failing ``invoke ARGS`` prints on stderr."""
    result = project.invoke(*args, check=False)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_a_revision_that_fails_to_import_is_named(project: Project) -> None:
    path = add_revision(project, "abab00000001", INITIAL, "pass")
    path.write_text(path.read_text().replace("import sqlalchemy as sa\n", "import no_such_lib\n"))
    line = one_line_failure(project, "db.migrate")
    assert f"{path.name}:3 failed to import: ModuleNotFoundError" in line, line
    assert "no_such_lib" in line
    path.write_text(path.read_text().replace("import no_such_lib\n", "import sqlalchemy as sa(\n"))
    line = one_line_failure(project, "db.status")
    assert f"{path.name}:3 failed to import: SyntaxError" in line, line


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
