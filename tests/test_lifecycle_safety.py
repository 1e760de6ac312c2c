"""Safe lifecycle (issue 5) between processes: the migration lock, timeouts and --wait, the
role model, on SQLite and real PostgreSQL. Reset, backup/restore, protections, atomic failures
and the checksum ledger run in-process: tests/kit/test_lifecycle.py."""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from tests.grants_support import Roles, teardown
from tests.lifecycle_support import (
    INITIAL,
    RoleModel,
    add_revision,
    query,
    relay,
    snapshot,
    through,
)
from tests.support import Project, admin_sql, drop_pg_database, sqlite_url, with_database

# -- the migration lock (PostgreSQL) ------------------------------------------------------------

SLOW = """
op.execute("CREATE TABLE side_effects (name text)")
op.execute("INSERT INTO side_effects VALUES ('{rev}')")
op.execute("SELECT pg_sleep({sleep})")
"""


@pytest.mark.postgresql
def test_six_concurrent_migrates_run_each_migration_once(
    project_copy: Callable[..., Project], pg_url: str
) -> None:
    project = project_copy("postgresql", pg_url)
    add_revision(project, "aaaa00000001", INITIAL, SLOW.format(rev="aaaa00000001", sleep=1))
    add_revision(
        project,
        "aaaa00000002",
        "aaaa00000001",
        "op.execute(\"INSERT INTO side_effects VALUES ('aaaa00000002')\")",
    )
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "invoke", "db.migrate"],
            cwd=project.path,
            env=project.environ(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(6)
    ]
    results = [(p.wait(timeout=120), *p.communicate()) for p in processes]
    assert [code for code, _, _ in results] == [0] * 6, results
    assert query(pg_url, "SELECT version_num FROM alembic_version") == [("aaaa00000002",)]
    assert sorted(query(pg_url, "SELECT name FROM side_effects")) == [
        ("aaaa00000001",),
        ("aaaa00000002",),
    ]
    assert query(pg_url, "SELECT count(*) FROM migration_ledger") == [(3,)]


def test_concurrent_migrates_on_sqlite_wait_for_each_other(
    project_copy: Callable[..., Project], tmp_path: Path
) -> None:
    """SQLite's write lock, taken at BEGIN, serialises migrations: one runs, the others wait."""
    url = sqlite_url(tmp_path / "concurrent.sqlite3")
    project = project_copy("sqlite", url, in_process=True)
    project.invoke("db.upgrade", "--to", INITIAL)
    add_revision(
        project,
        "aaaa00000001",
        INITIAL,
        'op.execute("CREATE TABLE side_effects (name text)")\n'
        "__import__('time').sleep(1)\n"
        "op.execute(\"INSERT INTO side_effects VALUES ('aaaa00000001')\")",
    )
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "invoke", "db.migrate"],
            cwd=project.path,
            env=project.environ(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    results = [(p.wait(timeout=120), *p.communicate()) for p in processes]
    assert [code for code, _, _ in results] == [0] * 4, results
    assert query(url, "SELECT name FROM side_effects") == [("aaaa00000001",)]
    assert query(url, "SELECT version_num FROM alembic_version") == [("aaaa00000001",)]


def test_sqlite_migrate_blocked_by_a_writer_gives_up_after_the_lock_timeout(
    project_copy: Callable[..., Project], tmp_path: Path
) -> None:
    url = sqlite_url(tmp_path / "blocked.sqlite3")
    project = project_copy("sqlite", url, in_process=True)
    project.invoke("db.upgrade", "--to", INITIAL)
    add_revision(project, "aaaa00000001", INITIAL, "op.execute('CREATE TABLE t (x int)')")
    writer = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
    try:
        writer.execute("BEGIN IMMEDIATE")  # a long write transaction of the application
        started = time.monotonic()
        # A process of its own: the writer is named by its pid, and a task leaves its own out.
        process = replace(project, in_process=False)
        result = process.invoke("db.migrate", "--lock-timeout", "1", check=False)
        waited = time.monotonic() - started
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    path = url.removeprefix("sqlite:///")
    assert last.startswith(
        f"db.migrate: the SQLite write lock of {path} is held by pid {os.getpid()}"
    )
    assert "gave up after 1 s" in last
    assert "Traceback" not in result.stderr
    assert waited >= 1
    assert query(url, "SELECT version_num FROM alembic_version") == [(INITIAL,)]
    project.invoke("db.migrate")  # once the writer is done, it goes through


@pytest.mark.postgresql
def test_waiting_process_reports_holder_and_times_out(
    project_copy: Callable[..., Project], pg_url: str
) -> None:
    project = project_copy("postgresql", pg_url, in_process=True)
    project.invoke("db.migrate")
    add_revision(project, "bbbb00000001", INITIAL, SLOW.format(rev="bbbb00000001", sleep=8))
    holder = subprocess.Popen(
        [sys.executable, "-m", "invoke", "db.migrate"],
        cwd=project.path,
        env=project.environ(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_for_side_effect(pg_url)
        started = time.monotonic()
        waiter = project.invoke("db.migrate", "--lock-timeout", "1", check=False)
        elapsed = time.monotonic() - started
    finally:
        holder_code = holder.wait(timeout=60)
        holder.communicate()
    assert waiter.returncode == 1
    assert "Traceback" not in waiter.stderr
    last = waiter.stderr.strip().splitlines()[-1]
    assert last.startswith("db.migrate: the migration lock of database")
    assert "held by server pid" in last
    assert "since 20" in last
    assert "migrations pid" in last
    assert "gave up after 1 s" in last
    assert 1 <= elapsed < 15
    assert holder_code == 0
    assert query(pg_url, "SELECT version_num FROM alembic_version") == [("bbbb00000001",)]


@pytest.mark.postgresql
def test_lock_timeout_setting_fails_a_migration_blocked_by_traffic(
    project_copy: Callable[..., Project], pg_url: str
) -> None:
    import psycopg

    project = project_copy("postgresql", pg_url, in_process=True)
    project.invoke("db.migrate")
    add_revision(
        project, "cccc00000001", INITIAL, 'op.add_column("users", sa.Column("x", sa.Integer()))'
    )
    with psycopg.connect(pg_url) as busy:  # a long transaction reading users
        busy.execute("SELECT count(*) FROM users")
        started = time.monotonic()
        result = project.invoke(
            "db.migrate",
            env={"MIGRATION_LOCK_TIMEOUT": "1s", "MIGRATION_LOCK_RETRIES": "0"},
            check=False,
        )
        elapsed = time.monotonic() - started
    assert result.returncode == 1
    assert "revision cccc00000001 (cccc00000001_test.py) failed" in result.stderr
    assert "lock timeout" in result.stderr
    assert elapsed < 20
    assert query(pg_url, "SELECT version_num FROM alembic_version") == [(INITIAL,)]


# -- failures, ledger, --wait -----------------------------------------------------------------


@pytest.mark.postgresql
def test_wait_retries_then_fails_clearly(project_copy: Callable[..., Project]) -> None:
    project = project_copy(
        "postgresql", "postgresql://app:pw_S3CRET_x@127.0.0.1:1/app", in_process=True
    )
    started = time.monotonic()
    result = project.invoke("db.init", "--wait", "2", check=False)
    elapsed = time.monotonic() - started
    assert result.returncode == 1
    assert "did not accept connections in 2 s" in result.stderr
    assert "pw_S3CRET_x" not in result.stderr + result.stdout
    assert elapsed >= 2


@pytest.mark.postgresql
def test_wait_retries_until_the_server_accepts(
    project_copy: Callable[..., Project], pg_url: str
) -> None:
    opened = threading.Event()  # the server "starts" once the task says it is waiting
    with relay(pg_url, opened=opened) as port:
        project = project_copy("postgresql", through(pg_url, "127.0.0.1", port))
        task = subprocess.Popen(
            [sys.executable, "-m", "invoke", "db.init", "--wait", "30"],
            cwd=project.path,
            env=project.environ({"PYTHONUNBUFFERED": "1"}),
            stdout=subprocess.PIPE,
            text=True,
        )
        assert task.stdout is not None
        said = []
        for line in task.stdout:
            said.append(line)
            if "Waiting up to 30 s for the database server" in line:
                opened.set()
        assert task.wait() == 0, "".join(said)
    assert opened.is_set(), "".join(said)
    assert query(pg_url, "SELECT version_num FROM alembic_version") == [(INITIAL,)]


@pytest.mark.postgresql
def test_remote_host_refuses_then_force_yes_passes(
    project_copy: Callable[..., Project], pg_url: str
) -> None:
    host = socket.gethostname()  # resolves to one of this machine's addresses: the relay's
    try:
        socket.gethostbyname(host)
    except OSError:
        pytest.skip(f"this machine's name {host!r} does not resolve")
    if host.lower() == "localhost":
        pytest.skip("this machine is named localhost, which counts as local")
    with relay(pg_url) as port:  # the test server, reached as this machine's name
        project = project_copy("postgresql", through(pg_url, host, port), in_process=True)
        project.invoke("db.init")
        _insert_user(pg_url, "remote@example.com")
        refused = project.invoke("db.reset", check=False)
        assert refused.returncode == 1
        assert f"the database host {host!r} is not this machine" in refused.stderr
        project.invoke("db.reset", "--force", "--yes")
    assert query(pg_url, "SELECT email FROM users WHERE email LIKE 'remote%'") == []
    assert query(pg_url, "SELECT version_num FROM alembic_version") == [(INITIAL,)]
    assert len(list((project.path / "backups").glob("*.dump"))) == 1


@pytest.mark.postgresql
def test_reset_holds_one_lock_whatever_the_urls_spelling(
    project_copy: Callable[..., Project], pg_url: str
) -> None:
    """The lock is the database's, not the URL's: reset -> upgrade must not wait for itself."""
    parsed = make_url(pg_url)
    other = {"127.0.0.1": "localhost", "localhost": "127.0.0.1"}.get(parsed.host or "")
    spelled = (
        parsed.set(host=other) if other else parsed.update_query_dict({"connect_timeout": "9"})
    ).render_as_string(hide_password=False)
    project = project_copy("postgresql", pg_url, in_process=True)
    project.env["MIGRATOR_DATABASE_URL"] = spelled
    result = project.invoke("db.reset", "--no-backup", "--lock-timeout", "1", check=False)
    assert result.returncode == 0, result.stderr
    assert "Waiting for the migration lock" not in result.stderr
    assert query(pg_url, "SELECT version_num FROM alembic_version") == [(INITIAL,)]


@pytest.mark.postgresql
def test_concurrent_creations_of_a_missing_database_all_succeed(
    project_copy: Callable[..., Project], admin_url: str
) -> None:
    """Replicas running db.init on a database not created yet: one creates it, none fails.

    Threads released together by a barrier, so that all pass the existence check before any
    CREATE DATABASE (processes would start too unevenly to race reliably); db.init runs the
    same create_database() before taking the migration lock.
    """
    url = with_database(admin_url, f"gw_test_{uuid.uuid4().hex[:12]}")
    project = project_copy("postgresql", url, in_process=True)
    code = (
        "import threading\n"
        "from groundwork.backends import backend_for\n"
        "from groundwork.engine import database_url\n"
        f"from {project.package}.settings import load_settings\n"
        "url = database_url(load_settings())\n"
        "barrier, results = threading.Barrier(4), []\n"
        "def create():\n"
        "    barrier.wait()\n"
        "    try:\n"
        "        results.append(backend_for(url).create_database(url))\n"
        "    except Exception as exc:\n"
        "        results.append(repr(exc))\n"
        "threads = [threading.Thread(target=create) for _ in range(4)]\n"
        "[t.start() for t in threads]\n"
        "[t.join() for t in threads]\n"
        "print(sorted(map(str, results)))\n"
    )
    try:
        out = project.python(code).stdout.strip()
        assert out == "['False', 'False', 'False', 'True']", out
        project.invoke("db.init")
    finally:
        drop_pg_database(admin_url, url)


def _backup(project: Project) -> Path:
    output = project.invoke("db.backup").stdout
    return Path(output.split("Backup written to", 1)[1].split()[0])


def _insert_user(url: str, email: str) -> None:
    query(url, f"INSERT INTO users (email, display_name, is_admin) VALUES ('{email}', 'x', false)")


_SLEEPING = (
    "SELECT 1 FROM pg_stat_activity WHERE query LIKE '%pg_sleep%'"
    " AND pid <> pg_backend_pid() AND datname = current_database()"
)


def _wait_for_side_effect(url: str) -> None:
    import psycopg

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if query(url, _SLEEPING):
                return
        except psycopg.Error:
            pass
        time.sleep(0.1)
    raise AssertionError("the slow migration never started")


# -- under the role model (db.grant): app login, migrator login, owner ------------------------


@pytest.fixture
def role_model(
    project_copy: Callable[..., Project], admin_url: str
) -> Iterator[tuple[Project, RoleModel]]:
    """A project on a database of its own with the role model applied, migrated and seeded."""
    token = uuid.uuid4().hex[:10]
    model = RoleModel(admin_url, f"gw_life_{token}", Roles(f"gwl{token}", f"gwl{token}"))
    admin_sql(admin_url, f'CREATE DATABASE "{model.database}"')
    project = project_copy("postgresql", in_process=True)
    project.env.update(model.env())
    try:
        model.grant(project)
        project.invoke("db.migrate")
        project.invoke("db.seed")
        yield project, model
    finally:
        teardown(admin_url, model.super_db, model.database, model.roles, None)


@pytest.mark.postgresql
def test_role_model_restore_then_reset(role_model: tuple[Project, RoleModel]) -> None:
    project, model = role_model
    app = model.login(model.roles.app)
    _insert_user(app, "someone@example.com")
    before = snapshot(app)
    path = _backup(project)

    # Restore: as the migrator, after SET ROLE the owner; the app may not.
    query(app, "DELETE FROM users")
    query(app, "UPDATE countries SET name = 'changed'")
    assert snapshot(app) != before
    restored = project.invoke("db.restore", str(path), check=False)
    assert restored.returncode == 0, restored.stderr
    assert snapshot(app) == before
    assert "OK" in model.grant(project, "--check")

    # Reset: the lifecycle tables db.grant created stay (emptied), so the app seeds again.
    reset = project.invoke("db.reset", "--no-backup", check=False)
    assert reset.returncode == 0, reset.stderr
    assert query(app, "SELECT email FROM users WHERE email = 'someone@example.com'") == []
    assert query(app, "SELECT version_num FROM alembic_version") == [(INITIAL,)]
    assert query(app, "SELECT count(*) FROM countries") == [(249,)]
    assert "OK" in model.grant(project, "--check")
