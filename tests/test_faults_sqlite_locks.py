"""Faults (issue 13, items 2, 5 and 10): replicas starting together on SQLite, foreign keys on
SQLite, and seeds waiting on a lock (bounded, saying what for), on real databases."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from tests.lifecycle_support import INITIAL, add_revision, query
from tests.support import Project, sqlite_url

SEEDED_COUNTRIES = "SELECT count(*), count(DISTINCT code) FROM countries"
MANY_USERS = 20_000
DEMO_USERS = 2
# A seed long enough (about a second) that replicas starting together meet in it.
MANY_USERS_SEED = """
from groundwork.seeding import Ref, Seed
from ..models import Country, User

many_users = Seed(
    model=User,
    key="email",
    data="many_users.csv",
    environments=("development", "test"),
    references={"country": Ref("country_id", Country.code)},
)
"""


def _with_many_users(project: Project) -> None:
    seeds = project.path / "src" / project.package / "seeds"
    (seeds / "many_users.py").write_text(MANY_USERS_SEED)
    rows = (f"user{n}@example.com,User {n},{'FR' if n % 2 else 'DE'}\n" for n in range(MANY_USERS))
    (seeds / "data" / "many_users.csv").write_text("email,display_name,country\n" + "".join(rows))


def _flavour(url: str) -> str:
    return "sqlite" if url.startswith("sqlite") else "postgresql"


def _together(project: Project, count: int, *task: str) -> list[tuple[int, str, str]]:
    """Run ``invoke TASK`` ``count`` times at once; (exit code, stdout, stderr) of each."""
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "invoke", *task],
            cwd=project.path,
            env=project.environ(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(count)
    ]
    return [(p.wait(timeout=180), *p.communicate()) for p in processes]


# -- item 2: replicas starting together on SQLite ----------------------------------------------


def test_eight_concurrent_inits_on_a_missing_sqlite_file_all_succeed(
    project_copy: Callable[..., Project], tmp_path: Path
) -> None:
    path = tmp_path / "missing" / "replicas.sqlite3"
    url = sqlite_url(path)
    project = project_copy("sqlite", url)
    _with_many_users(project)
    results = _together(project, 8, "db.init")
    assert [code for code, _, _ in results] == [0] * 8, results
    for _, _, stderr in results:
        assert "Traceback" not in stderr
        assert "stayed locked" not in stderr
    # Each migration applied once, the seeds loaded once.
    assert query(url, "SELECT revision FROM migration_ledger") == [(INITIAL,)]
    assert query(url, "SELECT version_num FROM alembic_version") == [(INITIAL,)]
    ((rows, distinct),) = query(url, SEEDED_COUNTRIES)
    assert rows == distinct > 200
    assert query(url, "SELECT count(*), count(DISTINCT email) FROM users") == [
        (MANY_USERS + DEMO_USERS, MANY_USERS + DEMO_USERS)
    ]
    assert sum("Seeded (" in stdout for _, stdout, _ in results) == 1, results


def test_four_concurrent_seeds_all_succeed_and_seed_once(
    project_copy: Callable[..., Project], database: str
) -> None:
    project = project_copy(_flavour(database), database, in_process=True)
    _with_many_users(project)
    project.invoke("db.migrate")
    results = _together(project, 4, "db.seed")
    assert [code for code, _, _ in results] == [0] * 4, results
    assert sum("Seeded (" in stdout for _, stdout, _ in results) == 1, results
    ((rows, distinct),) = query(database, SEEDED_COUNTRIES)
    assert rows == distinct > 200
    assert query(database, "SELECT count(*), count(DISTINCT email) FROM users") == [
        (MANY_USERS + DEMO_USERS, MANY_USERS + DEMO_USERS)
    ]


# -- item 10: a seed waiting on a lock says for what, and gives up in time ---------------------


def test_sqlite_seed_waits_for_the_write_lock_naming_its_holder_then_gives_up(
    project_copy: Callable[..., Project], tmp_path: Path
) -> None:
    path = tmp_path / "held.sqlite3"
    project = project_copy("sqlite", sqlite_url(path), in_process=True)
    project.invoke("db.migrate")
    holder = sqlite3.connect(path, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")  # a writer of the application, or a stuck seed
        started = time.monotonic()
        # A process of its own: the holder is named by its pid, and a task leaves its own out.
        process = replace(project, in_process=False)
        result = process.invoke("db.seed", "--lock-timeout", "2", check=False)
        elapsed = time.monotonic() - started
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert result.returncode == 1, result
    assert "Traceback" not in result.stderr
    assert f"Waiting up to 2 s for the SQLite write lock of {path}, held by pid {os.getpid()}" in (
        result.stderr
    )
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"db.seed: the SQLite write lock of {path} is held by pid {os.getpid()}")
    assert "gave up after 2 s" in last
    assert "--lock-timeout" in last
    assert 2 <= elapsed < 20
    assert query(sqlite_url(path), "SELECT count(*) FROM countries") == [(0,)]
    # Nobody holding it: the same command goes through.
    assert "Seeded (" in project.invoke("db.seed", "--lock-timeout", "2").stdout


@pytest.mark.postgresql
def test_postgresql_seed_waits_for_the_seed_lock_naming_the_session_then_gives_up(
    project_copy: Callable[..., Project], pg_url: str
) -> None:
    import psycopg

    project = project_copy("postgresql", pg_url, in_process=True)
    project.invoke("db.migrate")
    # An orphaned session: it took the seed lock in a transaction and went idle in it.
    with psycopg.connect(pg_url, application_name="orphaned-seeder") as holder:
        holder.execute("SELECT pg_advisory_xact_lock(1592614637) /* stuck seed */")
        pid = holder.info.backend_pid
        started = time.monotonic()
        result = project.invoke("db.seed", "--lock-timeout", "2", check=False)
        elapsed = time.monotonic() - started
        holder.rollback()
    assert result.returncode == 1, result
    assert "Traceback" not in result.stderr
    assert f"Waiting up to 2 s for the seed lock, held by server pid {pid}" in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"db.seed: the seed lock is held by server pid {pid} (idle in trans")
    assert "application 'orphaned-seeder'" in last
    assert "stuck seed" in last
    assert f"pg_terminate_backend({pid})" in last
    assert "gave up after 2 s" in last
    assert 2 <= elapsed < 20
    assert query(pg_url, "SELECT count(*) FROM countries") == [(0,)]
    assert "Seeded (" in project.invoke("db.seed", "--lock-timeout", "2").stdout


def test_seed_rejects_a_bad_lock_timeout(
    project_copy: Callable[..., Project], tmp_path: Path
) -> None:
    project = project_copy("sqlite", sqlite_url(tmp_path / "bad.sqlite3"), in_process=True)
    result = project.invoke("db.seed", "--lock-timeout", "soon", check=False)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        "db.seed: --lock-timeout 'soon' is not a number of seconds (e.g. 30)"
    )


# -- item 5: foreign keys on SQLite --------------------------------------------------------------

DANGLING = (
    'op.execute("INSERT INTO users (email, display_name, is_admin, country_id)'
    " VALUES ('dangling@example.com', 'x', 0, 999999)\")"
)


def test_sqlite_migration_leaving_a_dangling_reference_is_rolled_back(
    project_copy: Callable[..., Project], tmp_path: Path
) -> None:
    url = sqlite_url(tmp_path / "fk.sqlite3")
    project = project_copy("sqlite", url, in_process=True)
    project.invoke("db.upgrade", "--to", INITIAL)
    add_revision(
        project,
        "eeee00000001",
        INITIAL,
        'op.create_table("fk_side_effect", sa.Column("id", sa.Integer(), primary_key=True))\n'
        + DANGLING,
    )
    result = project.invoke("db.migrate", check=False)
    assert result.returncode == 1, result
    assert "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("db.migrate: the migrations left rows whose foreign keys point nowhere")
    assert "table users rowid 1: country_id points to no row of countries" in last
    assert f"nothing was applied, the database is still at {INITIAL}" in last
    assert query(url, "SELECT version_num FROM alembic_version") == [(INITIAL,)]
    assert query(url, "SELECT count(*) FROM users") == [(0,)]
    assert query(url, "SELECT name FROM sqlite_master WHERE name = 'fk_side_effect'") == []
    assert query(url, "SELECT revision FROM migration_ledger") == [(INITIAL,)]


def test_sqlite_check_reports_rows_written_with_foreign_keys_off(
    project_copy: Callable[..., Project], tmp_path: Path
) -> None:
    url = sqlite_url(tmp_path / "fk.sqlite3")
    project = project_copy("sqlite", url, in_process=True)
    project.invoke("db.init")
    project.invoke("db.check")
    # sqlite3's own connections have foreign keys off: nothing stops this row.
    query(
        url,
        "INSERT INTO users (email, display_name, is_admin, country_id)"
        " VALUES ('by-hand@example.com', 'x', 0, 999999)",
    )
    ((rowid,),) = query(url, "SELECT rowid FROM users WHERE email = 'by-hand@example.com'")
    result = project.invoke("db.check", check=False)
    assert result.returncode == 1, result
    assert "Traceback" not in result.stderr
    assert (
        f"broken foreign key: table users rowid {rowid}: country_id points to no row of countries"
        in result.stderr
    )


def test_sqlite_application_engine_refuses_a_dangling_reference(
    project_copy: Callable[..., Project], tmp_path: Path
) -> None:
    url = sqlite_url(tmp_path / "fk.sqlite3")
    project = project_copy("sqlite", url, in_process=True)
    project.invoke("db.migrate")
    out = project.python(
        f"from sqlalchemy.exc import IntegrityError\n"
        "from groundwork.engine import make_engine, session_factory\n"
        f"from {project.package}.models.user import User\n"
        f"Session = session_factory(make_engine({url!r}))\n"
        "with Session() as session:\n"
        "    session.add(User(email='x@example.com', display_name='x', country_id=999999))\n"
        "    try:\n"
        "        session.commit()\n"
        "    except IntegrityError as exc:\n"
        "        print('REFUSED', exc.orig)\n"
        "    else:\n"
        "        print('ACCEPTED')\n"
    ).stdout
    assert out.strip() == "REFUSED FOREIGN KEY constraint failed"
    assert query(url, "SELECT count(*) FROM users") == [(0,)]


def test_sqlite_plain_alembic_upgrade_refuses_a_dangling_reference(
    project_copy: Callable[..., Project], tmp_path: Path
) -> None:
    url = sqlite_url(tmp_path / "fk.sqlite3")
    project = project_copy("sqlite", url, in_process=True)
    project.invoke("db.upgrade", "--to", INITIAL)
    add_revision(project, "eeee00000002", INITIAL, DANGLING)
    result = project.run(sys.executable, "-m", "alembic", "upgrade", "head", check=False)
    assert result.returncode != 0
    assert "table users rowid 1: country_id points to no row of countries" in result.stderr
    assert query(url, "SELECT version_num FROM alembic_version") == [(INITIAL,)]
    assert query(url, "SELECT count(*) FROM users") == [(0,)]


@pytest.mark.postgresql
def test_postgresql_seed_blocked_on_a_row_names_the_blocking_session_then_gives_up(
    project_copy: Callable[..., Project], pg_url: str
) -> None:
    import psycopg

    project = project_copy("postgresql", pg_url, in_process=True)
    project.invoke("db.init")
    query(pg_url, "UPDATE countries SET name = 'Changed by hand' WHERE code = 'FR'")
    # An orphaned session holding the row the seed wants to put back.
    with psycopg.connect(pg_url, application_name="row-holder") as holder:
        holder.execute("SELECT * FROM countries WHERE code = 'FR' FOR UPDATE")
        pid = holder.info.backend_pid
        started = time.monotonic()
        result = project.invoke("db.seed", "--full", "--lock-timeout", "2", check=False)
        elapsed = time.monotonic() - started
        holder.rollback()
    assert result.returncode == 1, result
    assert "Traceback" not in result.stderr
    assert f"Waiting up to 2 s for a lock the seeds need, held by server pid {pid}" in (
        result.stderr
    )
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"db.seed: a lock the seeds need is held by server pid {pid} (idle in")
    assert "application 'row-holder'" in last
    assert "FOR UPDATE" in last
    assert "gave up after 2 s" in last
    assert 2 <= elapsed < 20
    assert query(pg_url, "SELECT name FROM countries WHERE code = 'FR'") == [("Changed by hand",)]
    project.invoke("db.seed", "--full", "--lock-timeout", "2")
    assert query(pg_url, "SELECT name FROM countries WHERE code = 'FR'") != [("Changed by hand",)]
