"""Safe lifecycle in-process: reset, backup/restore, protections, atomic failures, the
checksum ledger, on SQLite and real PostgreSQL (``groundwork.commands``).

The migration lock between processes, --wait against a server that comes late, the role model
and what needs a terminal stay in tests/test_lifecycle_safety.py.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.kit.harness import KitProject
from tests.lifecycle_support import INITIAL, add_revision, query, snapshot, versions_dir

sqlite_only = pytest.mark.parametrize("database", ["sqlite"], indirect=True)

# The stamp's row (the table holds the version of the kit's tables too).
ENVIRONMENT_ROW = "WHERE key = 'environment'"
STAMP = f"SELECT value FROM lifecycle_environment {ENVIRONMENT_ROW}"


@pytest.fixture
def initialized(kit: KitProject) -> KitProject:
    """The copy of the bake for ``database``, its database initialized (migrated, seeded)."""
    kit.invoke("init")
    return kit


def _insert_user(url: str, email: str) -> None:
    query(url, f"INSERT INTO users (email, display_name, is_admin) VALUES ('{email}', 'x', false)")


def _backup(project: KitProject) -> Path:
    output = project.invoke("backup").stdout
    return Path(output.split("Backup written to", 1)[1].split()[0])


def snapshot_or_none(url: str) -> object:
    try:
        return snapshot(url)
    except Exception as exc:  # the tables are gone after downgrade to base
        return repr(exc)


def test_reset_round_trip(initialized: KitProject, database: str) -> None:
    initialized.invoke("backup")  # not needed by reset; proves several backups coexist
    query_before = query(database, "SELECT count(*) FROM countries")
    assert query_before[0][0] > 0
    _insert_user(database, "kept-in-backup@example.com")

    result = initialized.invoke("reset")
    backups = sorted((initialized.path / "backups").iterdir())
    assert len(backups) == 2, backups
    assert "Backup written to" in result.stdout

    # Data gone, schema at head, seeds in.
    assert query(database, "SELECT email FROM users WHERE email LIKE 'kept%'") == []
    assert query(database, "SELECT version_num FROM alembic_version") == [(INITIAL,)]
    assert query(database, "SELECT count(*) FROM countries") == query_before
    initialized.invoke("check")

    # The backup reset took is restorable and holds the row reset dropped.
    initialized.invoke("restore", str(backups[-1]))
    assert query(database, "SELECT email FROM users WHERE email LIKE 'kept%'") == [
        ("kept-in-backup@example.com",)
    ]


@sqlite_only
def test_backups_of_the_same_second_sort_in_the_order_taken(initialized: KitProject) -> None:
    first = _backup(initialized)
    prefix, suffix = first.name.split("-", 1)[0], first.suffix
    # Occupy the names of this second and the next few, so the next backup collides.
    now = datetime.now(UTC)
    placeholders = [
        first.parent / f"{prefix}-{(now + timedelta(seconds=s)):%Y%m%dT%H%M%SZ}{suffix}"
        for s in range(5)
    ]
    for placeholder in placeholders:
        placeholder.touch()
    newest = _backup(initialized)
    same_second = newest.with_name(newest.name.replace("_02", ""))
    assert same_second in placeholders, newest
    for later in placeholders[placeholders.index(same_second) + 1 :]:
        later.unlink()
    assert max(first.parent.iterdir()) == newest


def test_reset_no_backup(initialized: KitProject) -> None:
    initialized.invoke("reset", no_backup=True)
    assert not (initialized.path / "backups").exists()


def test_backup_change_restore_gives_identical_rows(initialized: KitProject, database: str) -> None:
    _insert_user(database, "someone@example.com")
    before = snapshot(database)
    path = Path(initialized.invoke("backup").stdout.split("Backup written to ")[1].strip())
    assert path.parent == initialized.path / "backups"
    assert path.is_file()

    query(database, "DELETE FROM users")
    query(database, "UPDATE countries SET name = 'changed'")
    initialized.invoke("downgrade", "base")  # even the schema may change
    assert snapshot_or_none(database) != before

    initialized.invoke("restore", str(path))
    assert snapshot(database) == before
    initialized.invoke("check")


def test_protected_environment_refuses_then_force_yes_passes(
    initialized: KitProject, database: str
) -> None:
    backup = initialized.invoke("backup").stdout.split("Backup written to ")[1].strip()
    # task, its arguments, its options: db.downgrade, db.stamp base, db.restore FILE,
    # db.reset --no-backup, db.drop
    destructive: list[tuple[str, tuple[str, ...], dict[str, Any]]] = [
        ("downgrade", (), {}),
        ("stamp", ("base",), {}),
        ("restore", (backup,), {}),
        ("reset", (), {"no_backup": True}),
        ("drop", (), {}),
    ]
    before = snapshot(database)
    production = {"APP_ENV": "production"}
    for task, args, options in destructive:
        refused = initialized.invoke(task, *args, environ=production, check=False, **options)
        assert refused.returncode == 1, task
        assert "APP_ENV=production is protected" in refused.stderr, task
        assert len(refused.stderr.strip().splitlines()) == 1, refused.stderr

        # --force alone is not enough when nobody can be asked (stdin is not a terminal).
        unconfirmed = initialized.invoke(
            task, *args, environ=production, check=False, force=True, **options
        )
        assert unconfirmed.returncode == 1, task
        assert "--force --yes" in unconfirmed.stderr, task
        assert snapshot(database) == before, task

    for task, args, options in destructive:
        initialized.invoke(task, *args, environ=production, force=True, yes=True, **options)
    if database.startswith("sqlite"):
        assert not Path(database.split(":///", 1)[1]).exists()


def test_environment_stamp_mismatch_refuses(initialized: KitProject, database: str) -> None:
    # Initialized under APP_ENV=development (the default); a staging run must not reset it.
    assert query(database, STAMP) == [("development",)]
    refused = initialized.invoke("reset", environ={"APP_ENV": "staging"}, check=False)
    assert refused.returncode == 1
    assert "initialized for 'development', not APP_ENV='staging'" in refused.stderr
    assert query(database, "SELECT count(*) FROM users")[0][0] > 0


def test_database_stamped_production_refuses_development_reset(
    initialized: KitProject, database: str
) -> None:
    query(database, f"UPDATE lifecycle_environment SET value = 'production' {ENVIRONMENT_ROW}")
    refused = initialized.invoke("reset", check=False)
    assert refused.returncode == 1
    assert "initialized for the protected environment 'production'" in refused.stderr
    initialized.invoke("reset", no_backup=True, force=True, yes=True)
    assert query(database, STAMP) == [("development",)]


@pytest.mark.postgresql
def test_remote_host_refuses_without_connecting(
    kit_project: Callable[[str, str], KitProject],
) -> None:
    project = kit_project("postgresql", "postgresql://app:pw_S3CRET_x@db.example.invalid/app")
    refused = project.invoke("drop", check=False)
    assert refused.returncode == 1
    assert "host 'db.example.invalid' is not this machine" in refused.stderr
    assert "pw_S3CRET_x" not in refused.stderr + refused.stdout


def test_interactive_confirmation_by_typing_the_name(initialized: KitProject) -> None:
    from groundwork import protection
    from groundwork.backends import backend_for
    from groundwork.engine import database_url

    settings = initialized.settings({"APP_ENV": "production"})
    url = database_url(settings)
    answers = iter(["wrong", backend_for(url).label(url)])
    with pytest.raises(Exception, match=r"^cancelled: 'wrong' is not"):
        protection.confirm(
            settings, url, "reset", force=True, ask=lambda _: next(answers), interactive=True
        )
    protection.confirm(
        settings, url, "reset", force=True, ask=lambda _: next(answers), interactive=True
    )


def test_failed_migration_leaves_no_trace(initialized: KitProject, database: str) -> None:
    add_revision(
        initialized,
        "dddd00000001",
        INITIAL,
        'op.create_table("half_done", sa.Column("id", sa.Integer(), primary_key=True))\n'
        "op.execute(\"INSERT INTO countries (code, alpha3, name) VALUES ('ZZ', 'ZZZ', 'Z')\")\n"
        'raise RuntimeError("boom half-way")',
    )
    before = snapshot(database)
    result = initialized.invoke("migrate", check=False)
    assert result.returncode == 1
    line = result.stderr.strip().splitlines()[-1]
    assert "revision dddd00000001 (dddd00000001_test.py) failed" in line
    assert f"still at {INITIAL}" in line
    assert "boom half-way" in line
    assert "Traceback" not in result.stderr
    assert snapshot(database) == before
    tables = (
        "SELECT name FROM sqlite_master WHERE name = 'half_done'"
        if database.startswith("sqlite")
        else "SELECT tablename FROM pg_tables WHERE tablename = 'half_done'"
    )
    assert query(database, tables) == []
    assert query(database, "SELECT revision FROM migration_ledger") == [(INITIAL,)]


def test_edited_or_deleted_applied_revision(initialized: KitProject) -> None:
    initialized.invoke("check")
    (initial,) = versions_dir(initialized).glob(f"*{INITIAL}*.py")
    initial.write_text(initial.read_text() + "\n# edited after it was applied\n")

    check = initialized.invoke("check", check=False)
    assert check.returncode == 1
    assert f"applied revision {INITIAL} ({initial.name}) was edited" in check.stderr

    migrate = initialized.invoke("migrate")
    assert f"WARNING: applied revision {INITIAL} ({initial.name}) was edited" in migrate.stderr

    initial.unlink()
    gone = initialized.invoke("check", check=False)
    assert gone.returncode == 1
    assert "Traceback" not in gone.stderr
    assert INITIAL in gone.stderr


FAILING_PG_DUMP = """#!/bin/sh
[ "$1" = --version ] && echo "pg_dump (PostgreSQL) 99" && exit 0
for arg; do case $arg in --file=*) echo half > "${arg#--file=}";; esac; done
echo "pg_dump: error: disk full (simulated)" >&2
exit 1
"""


def test_failed_backup_leaves_no_file(
    initialized: KitProject, database: str, tmp_path: Path
) -> None:
    if database.startswith("sqlite"):
        Path(database.split(":///", 1)[1]).write_bytes(b"not a database at all" * 100)
        env = {}
    else:
        bin_dir = tmp_path / "bin"
        bin_dir.mkdir()
        (bin_dir / "pg_dump").write_text(FAILING_PG_DUMP)
        (bin_dir / "pg_dump").chmod(0o755)
        env = {"POSTGRES_BIN_DIR": str(bin_dir)}
    result = initialized.invoke("backup", environ=env, check=False)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    assert list((initialized.path / "backups").iterdir()) == []
