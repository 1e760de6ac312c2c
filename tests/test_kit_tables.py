"""The kit's own tables carry a schema version, upgraded from the previous release's tables.

The previous release is the template before the kit was versioned (commit
:data:`PREVIOUS_RELEASE`): baked once per session from git, it initializes and seeds a database
that this template's bake then takes over, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cookiecutter.main import cookiecutter

from tests.lifecycle_support import query
from tests.support import FLAVOURS, REPO, Project, flavour_of

# The last commit whose bake made the kit's tables without recording a version.
PREVIOUS_RELEASE = "0f0053b"
KIT_TABLES = (
    "alembic_version",
    "migration_ledger",
    "lifecycle_environment",
    "seed_ledger",
    "seed_runs",
)
VERSION_KEY = "kit_tables_version"


@pytest.fixture(scope="session")
def previous_release(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Bakes of the template at :data:`PREVIOUS_RELEASE`, by flavour; once per session."""
    root = tmp_path_factory.mktemp("previous-release")
    template = root / "template"
    template.mkdir()
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", PREVIOUS_RELEASE],
        capture_output=True,
        check=False,
    )
    assert archive.returncode == 0, (
        f"needs the template's git history (commit {PREVIOUS_RELEASE}): "
        f"{archive.stderr.decode(errors='replace').strip()} (git fetch --unshallow)"
    )
    subprocess.run(["tar", "-x", "-C", str(template)], input=archive.stdout, check=True)

    class Bakes(dict[str, Path]):
        def __missing__(self, flavour: str) -> Path:
            baked = cookiecutter(
                str(template),
                no_input=True,
                extra_context=FLAVOURS[flavour],
                output_dir=str(root / flavour),
            )
            self[flavour] = Path(baked)
            return self[flavour]

    return Bakes()


def kit_rows(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the kit's tables, in a stable order."""
    return {table: sorted(query(url, f"SELECT * FROM {table}"), key=repr) for table in KIT_TABLES}


def application_tables(url: str) -> list[str]:
    if url.startswith("sqlite"):
        found = query(url, "SELECT name FROM sqlite_master WHERE type = 'table'")
    else:
        found = query(url, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    return sorted(str(row[0]) for row in found)


def recorded_version(url: str) -> str | None:
    rows = query(url, f"SELECT value FROM lifecycle_environment WHERE key = '{VERSION_KEY}'")
    return str(rows[0][0]) if rows else None


def kit_version(project: Project) -> int:
    """The version of the kit's tables that ``project``'s kit writes."""
    shown = project.python("from groundwork.kit_tables import VERSION; print(VERSION)")
    return int(shown.stdout)


def one_line(result: subprocess.CompletedProcess[str]) -> str:
    """The one line a failed task printed (and that it failed with exit status 1)."""
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_the_previous_releases_tables_are_upgraded_and_kept(
    database: str,
    previous_release: dict[str, Path],
    project_copy: Callable[..., Project],
    tmp_path: Path,
) -> None:
    flavour = flavour_of(database)
    # The old bake in a process of its own: its kit is the previous release's, not this one's.
    old = Project.copy_of(previous_release[flavour], tmp_path / "old", database_url=database)
    old.invoke("db.init")  # migrates and seeds: every table of the kit gets rows
    before = kit_rows(database)
    assert all(before[table] for table in KIT_TABLES), before
    assert recorded_version(database) is None

    new = project_copy(flavour, database, in_process=True)
    # The tasks that use the tables without changing the schema send them to db.migrate.
    for task, doing in (("db.seed", " before seeding"), ("db.check", "")):
        line = one_line(new.invoke(task, check=False))
        assert "at version 0, older than this kit's (groundwork " in line, line
        assert f"): run `invoke db.migrate` (it upgrades them){doing}" in line, line
    assert kit_rows(database) == before

    # Two deploys at once: the migration lock lets one of them upgrade, the other finds it done.
    racing = [
        subprocess.Popen(
            [sys.executable, "-m", "invoke", "db.migrate"],
            cwd=new.path,
            env=new.environ(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [(p.communicate(timeout=300), p.returncode) for p in racing]
    assert [code for _, code in outputs] == [0, 0], outputs
    upgraded = [out for (out, _), _ in outputs if "Upgraded the kit's tables" in out]
    assert len(upgraded) == 1, outputs
    migrated = upgraded[0]
    assert "Upgraded the kit's tables from version 0 to " in migrated, migrated
    version = recorded_version(database)
    assert version is not None
    assert f"from version 0 to {version} (groundwork " in migrated
    # Every row kept, the stamp's too (its date included), beside the version's row.
    after = kit_rows(database)
    environment = [row for row in after["lifecycle_environment"] if row[0] != VERSION_KEY]
    assert environment == before["lifecycle_environment"]
    for table in KIT_TABLES:
        if table != "lifecycle_environment":
            assert after[table] == before[table], table

    again = new.invoke("db.init")  # migrates (nothing left to upgrade) and seeds
    assert "Upgraded" not in again.stdout
    assert "OK" in new.invoke("db.check").stdout
    assert recorded_version(database) == version
    assert [row[0] for row in kit_rows(database)["seed_ledger"]] == [
        row[0] for row in before["seed_ledger"]
    ]


def test_tables_of_a_newer_kit_are_refused_and_left_alone(
    database: str, project_copy: Callable[..., Project]
) -> None:
    project = project_copy(flavour_of(database), database, in_process=True)
    project.invoke("db.init")  # at head, seeded: db.seed would end at its shortcut
    version = int(recorded_version(database) or 0)
    future = version + 1
    query(
        database,
        f"UPDATE lifecycle_environment SET value = '{future}' WHERE key = '{VERSION_KEY}'",
    )
    before = kit_rows(database), application_tables(database)
    # The three ways in: the tasks that change the schema (which would record their own
    # version), the seeds (an unchanged run included), the check.
    for task in ("db.migrate", "db.seed", "db.check"):
        line = one_line(project.invoke(task, check=False))
        assert line.startswith(
            f"{task}: the kit's tables in this database are at version {future}, "
            "newer than this kit (groundwork "
        ), line
        assert f"knows, version {version}: a newer groundwork upgraded them; upgrade " in line
        assert (kit_rows(database), application_tables(database)) == before, task


def test_a_new_database_gets_the_current_version(
    database: str, project_copy: Callable[..., Project]
) -> None:
    project = project_copy(flavour_of(database), database, in_process=True)
    initialized = project.invoke("db.init")
    assert "Upgraded" not in initialized.stdout
    assert recorded_version(database) == str(kit_version(project))
