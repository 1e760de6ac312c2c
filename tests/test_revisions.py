"""Revisions as a team writes them: by hand, on branches that are merged, and as offline SQL.

Each test works in a baked project of the flavour of its database (SQLite or PostgreSQL),
through `invoke`, as a user would.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support import Project


@pytest.fixture
def project(project_copy: Callable[..., Project], database: str) -> Project:
    """A copy of the bake of the database's flavour, pointed at that (empty) database."""
    flavour = "sqlite" if database.startswith("sqlite:///") else "postgresql"
    if flavour == "sqlite":
        Path(database.removeprefix("sqlite:///")).touch()  # only db.init creates a missing one
    return project_copy(flavour, database)


def versions(project: Project) -> Path:
    return project.path / "src" / project.package / "migrations" / "versions"


def written_revision(result_stdout: str) -> tuple[str, Path]:
    """The id and file of the revision a `db.revision`/`db.merge` run wrote."""
    found = re.search(r"^Wrote (.+/[0-9_]+-([0-9a-f]+)_\w*\.py)$", result_stdout, re.MULTILINE)
    assert found is not None, result_stdout
    return found[2], Path(found[1])


def empty_revision(
    project: Project, message: str, *, parent: str | None = None
) -> tuple[str, Path]:
    """`invoke db.revision --empty`; with ``parent``, made a child of that revision instead."""
    rev, path = written_revision(project.invoke("db.revision", "--empty", "-m", message).stdout)
    if parent is not None:
        source = path.read_text()
        source, count = re.subn(
            r'^(down_revision: .* = )"[0-9a-f]+"$', rf'\1"{parent}"', source, flags=re.MULTILINE
        )
        assert count == 1
        path.write_text(source)
    return rev, path


def fill_in(path: Path, upgrade: str, downgrade: str = "pass") -> None:
    """Replace the bodies of an empty revision's upgrade() and downgrade()."""
    source = path.read_text()
    body = "def upgrade() -> None:\n    pass\n"
    assert body in source, source
    source = source.replace(body, f"def upgrade() -> None:\n    {upgrade}\n")
    source = source.replace(
        "def downgrade() -> None:\n    pass\n", f"def downgrade() -> None:\n    {downgrade}\n"
    )
    path.write_text(source)


# -- 11: a hand-written revision works as written -----------------------------------------------


def test_an_empty_revision_keeps_its_imports_for_the_hand_written_part(
    project: Project, database: str
) -> None:
    """The ruff hook run on a new revision used to remove the unused `op` and `sa` imports of an
    empty one, so that the first `op.execute(...)` written into it failed with a NameError."""
    project.invoke("db.init")
    rev, path = empty_revision(project, "backfill names")
    source = path.read_text()
    assert "from alembic import op" in source and "import sqlalchemy as sa" in source
    fill_in(
        path,
        "op.execute(sa.text(\"UPDATE users SET display_name = 'x' WHERE display_name = ''\"))",
    )
    migrated = project.invoke("db.migrate")
    assert f"-> {rev}, backfill names" in migrated.stderr
    # The project stays lint-clean, the revision's imports used or not.
    project.run(sys.executable, "-m", "ruff", "check", ".")
    empty_revision(project, "left empty")
    project.run(sys.executable, "-m", "ruff", "check", ".")
    project.run(sys.executable, "-m", "ruff", "format", "--check", ".")
