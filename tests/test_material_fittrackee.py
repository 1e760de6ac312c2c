"""FitTrackee's real Alembic history (58 revisions) adopted by a baked project on PostgreSQL,
as docs/database.md ("Adopting an existing Alembic history") describes (tests/fittrackee.py).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import pytest

from tests import chinook, fittrackee
from tests.lifecycle_support import query
from tests.support import Project, bake_with

pytestmark = [pytest.mark.material, pytest.mark.postgresql]


@pytest.fixture(scope="module")
def adopted(cookies_session: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    clean = bake_with(cookies_session, examples="no")  # starting clean: no example to collide
    project = Project.copy_of(clean, tmp_path_factory.mktemp("fittrackee") / "p")
    fittrackee.adopt(project)
    return project.path


@pytest.fixture
def project(adopted: Path, pg_url: str) -> Project:
    return Project(adopted, {"DATABASE_URL": pg_url})


def tables(url: str) -> set[str]:
    rows = query(
        url,
        "SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace "
        "AND relkind IN ('r', 'p')",
    )
    return {name for (name,) in rows} - {*chinook.LIFECYCLE_TABLES, "alembic_version"}


def enum_types(url: str) -> set[str]:
    rows = query(
        url,
        "SELECT typname FROM pg_type WHERE typnamespace = 'public'::regnamespace AND typtype = 'e'",
    )
    return {name for (name,) in rows}


def test_the_history_as_adopted(adopted: Path) -> None:
    versions = sorted(
        p.name for p in (adopted / "src" / "my_service" / "migrations" / "versions").glob("*.py")
    )
    assert len(versions) == fittrackee.ADOPTED == 58
    assert "11_27425324c9e3_add _weekm_user_table.py" in versions  # a space in the name
    sources = [
        (adopted / "src" / "my_service" / "migrations" / "versions" / name).read_text()
        for name in versions
    ]
    imports_the_app = re.compile(r"^\s*(from|import) (flask|fittrackee)\b", re.MULTILINE)
    assert not [source for source in sources if imports_the_app.search(source)]


def test_status_migrate_from_empty_and_history(project: Project, pg_url: str) -> None:
    pending = project.invoke("db.status", check=False)
    assert pending.returncode == 1
    assert "58 of 58 revisions pending" in pending.stdout + pending.stderr

    project.invoke("db.migrate")
    assert fittrackee.HEAD in project.invoke("db.current").stdout
    assert project.invoke("db.status").stdout.count("[X]") == 58
    assert tables(pg_url) == fittrackee.TABLES
    assert enum_types(pg_url) == fittrackee.ENUMS
    # The data migrations ran: the sports the history inserts.
    assert query(pg_url, "SELECT count(*) FROM sports")[0][0] >= 20

    history = project.invoke("db.history").stdout
    assert sum(" -> " in line for line in history.splitlines()) == 58
    assert "27425324c9e3" in history
    assert f"{fittrackee.HEAD} (head)" in history


def test_downgrade_to_base_and_back(project: Project, pg_url: str) -> None:
    project.invoke("db.migrate")
    at_head = chinook.pg_schema(pg_url)
    project.invoke("db.downgrade", "--to", "base")
    assert tables(pg_url) == set()
    assert enum_types(pg_url) == set()
    project.invoke("db.migrate")
    assert chinook.pg_schema(pg_url) == at_head


def test_check_reports_the_tables_no_model_declares(project: Project, pg_url: str) -> None:
    """The models are not ported (the project's models package holds only Base): db.check fails
    and names tables of the history, one line, no traceback."""
    project.invoke("db.migrate")
    result = project.invoke("db.check", check=False)
    assert result.returncode == 1
    message = result.stderr + result.stdout
    assert "Traceback" not in message
    assert "unexpected" not in message
    named = {table for table in fittrackee.TABLES if table in message}
    assert named, message


def test_offline_sql_names_the_revision_that_needs_a_connection(project: Project) -> None:
    result = project.invoke("db.sql", check=False)
    assert result.returncode == 1
    assert "3243cd25eca7" in result.stderr
    assert "unexpected" not in result.stderr


def test_plain_alembic_runs_the_history_as_invoke_does(project: Project, pg_url: str) -> None:
    alembic = (sys.executable, "-m", "alembic")
    up = project.run(*alembic, "upgrade", "head", check=False)
    assert up.returncode == 0, up.stderr[-2000:]
    down = project.run(*alembic, "downgrade", "base", check=False)
    assert down.returncode == 0, down.stderr[-2000:]
    assert tables(pg_url) == set()


def test_the_adopted_revisions_pass_the_projects_lint(adopted: Path, tmp_path: Path) -> None:
    """The adopted revisions as committed pass the checks the project's CI runs."""
    project = Project.copy_of(adopted, tmp_path / "lint")
    ruff = (sys.executable, "-m", "ruff")
    for command in (("check", "."), ("format", "--check", ".")):
        result = project.run(*ruff, *command, check=False)
        assert result.returncode == 0, result.stdout[-3000:]
    mypy = project.run(sys.executable, "-m", "mypy", check=False)
    assert mypy.returncode == 0, mypy.stdout[-3000:]


def test_the_old_services_database_is_taken_as_it_is(project: Project, pg_url: str) -> None:
    """A database the old service migrated: the history's tables and alembic_version at its
    head, none of the template's lifecycle tables. db.migrate runs nothing and starts the
    ledger; db.status lists every revision applied."""
    project.invoke("db.migrate")
    query(pg_url, "DROP TABLE migration_ledger; DROP TABLE lifecycle_environment")
    migrated = project.invoke("db.migrate")
    assert "Running upgrade" not in migrated.stdout + migrated.stderr
    assert query(pg_url, "SELECT version_num FROM alembic_version") == [(fittrackee.HEAD,)]
    assert project.invoke("db.status").stdout.count("[X]") == 58
    assert query(pg_url, "SELECT count(*) FROM migration_ledger") == [(58,)]
