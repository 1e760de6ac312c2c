"""Revisions imported with an existing service's history pass the baked project's CI lint
(ruff check, ruff format --check, mypy --strict, as .github/workflows/ci.yml runs them) as they
are, and apply as written (issue 11, item 17).

The two revisions are in the style of real ones: the Alembic template before 1.13 (``from
alembic import op`` before ``import sqlalchemy``, ``Revises: `` with a trailing space, untyped
functions, the hanging layout of autogenerate), one of 1.13 (``Union[...]``), with long lines,
constants and arguments that look like passwords, ``column == None``, a capitalised variable,
``%`` formatting, an unused import, and file names with spaces and dashes.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.support import FLAVOURS, Project, bake_with, package_dir, sqlite_url

CI_LINT = (["ruff", "check", "."], ["ruff", "format", "--check", "."], ["mypy"])

# Kept as .txt: the template's own lint must not see them.
DATA = Path(__file__).parent / "imported_revisions"
IMPORTED = {
    "2019-03-01 add accounts and tokens.py": DATA / "accounts.py.txt",
    "9a8b7c6d5e4f add api keys.py": DATA / "api_keys.py.txt",
}


@pytest.fixture(scope="module")
def clean_bakes(cookies_session: Any) -> dict[str, Path]:
    """Bakes without the examples: a team moving its service onto the template."""

    class Bakes(dict[str, Path]):
        def __missing__(self, flavour: str) -> Path:
            self[flavour] = bake_with(cookies_session, examples="no", **FLAVOURS[flavour])
            return self[flavour]

    return Bakes()


def with_imported(baked: Path, target: Path) -> Project:
    project = Project.copy_of(
        baked, target, database_url=sqlite_url(target.parent / "dev.sqlite3"), in_process=True
    )
    versions = package_dir(project.path) / "migrations" / "versions"
    for name, source in IMPORTED.items():
        (versions / name).write_bytes(source.read_bytes())
    return project


@pytest.mark.parametrize("flavour", list(FLAVOURS))
def test_imported_revisions_pass_the_ci_lint(
    clean_bakes: dict[str, Path], flavour: str, tmp_path: Path
) -> None:
    project = with_imported(clean_bakes[flavour], tmp_path / "project")
    for tool in CI_LINT:
        result = project.run(sys.executable, "-m", *tool, check=False)
        assert result.returncode == 0, f"{' '.join(tool)}:\n{result.stdout}{result.stderr}"


def test_imported_revisions_apply_as_written(clean_bakes: dict[str, Path], tmp_path: Path) -> None:
    project = with_imported(clean_bakes["sqlite"], tmp_path / "project")
    project.invoke("db.migrate")
    status = project.invoke("db.status").stdout
    assert "[X] 3f1a2b4c5d6e  add accounts and their tokens" in status
    assert "[X] 9a8b7c6d5e4f  add api keys" in status
    database = tmp_path / "dev.sqlite3"
    rows = project.run(
        sys.executable,
        "-c",
        "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]);"
        "print(c.execute('SELECT login FROM legacy_accounts').fetchall(),"
        " c.execute('SELECT name FROM legacy_api_keys').fetchall())",
        str(database),
    )
    assert rows.stdout.strip() == "[('admin',)] [('ci',)]"


def test_a_new_revision_is_still_formatted_as_written(
    clean_bakes: dict[str, Path], tmp_path: Path
) -> None:
    """The format check skips versions/; the post-write hook, which names the file, does not."""
    project = with_imported(clean_bakes["sqlite"], tmp_path / "project")
    project.invoke("db.migrate")
    written = project.invoke("db.revision", "--empty", "-m", "hand written").stdout
    path = Path(written.split("Wrote ", 1)[1].split()[0])
    check = subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--check", "--no-force-exclude", str(path)],
        cwd=project.path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert check.returncode == 0, check.stdout + check.stderr
