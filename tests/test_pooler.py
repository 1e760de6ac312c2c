"""The migration lock through PgBouncer in transaction pooling (issue 13 item 3).

A real PgBouncer (Debian's package, installed by tests/pgbouncer.py when missing) runs on
127.0.0.1 in front of the test server. Concurrent migrators through it must apply each revision
once, with no cryptic prepared-statement error; a migrator killed (SIGKILL) through it must not
leave a lock that blocks a later direct migration; a lock lost under a running task is reported.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator

import pytest

from tests.lifecycle_support import query
from tests.pgbouncer import UnavailableError, running_pgbouncer
from tests.support import Project, admin_sql

pytestmark = pytest.mark.postgresql

# A revision that takes a while (SLOW_REVISION_SECONDS, so that migrators overlap or can be
# killed in the middle) and cannot run twice: a second CREATE TABLE fails.
SLOW_REVISION = '''"""Slow: a table, after a pause.

Revision ID: 5e0c0de5e0c0
Revises: 0d848db94cb2
Create Date: 2026-12-03 07:00:00
"""

import os

from alembic import op

revision = "5e0c0de5e0c0"
down_revision = "0d848db94cb2"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(f"SELECT pg_sleep({float(os.environ.get('SLOW_REVISION_SECONDS', '0'))})")
    op.execute("CREATE TABLE slow_once (id integer PRIMARY KEY)")


def downgrade() -> None:
    op.execute("DROP TABLE slow_once")
'''


@pytest.fixture
def pooled(project_copy: Callable[..., Project], pg_url: str) -> Iterator[tuple[Project, str]]:
    """A project with the slow revision, its database, and the URL through a PgBouncer."""
    project = project_copy("postgresql", pg_url, in_process=True)
    versions = project.path / "src" / project.package / "migrations" / "versions"
    (versions / "2026_12_03_0700-5e0c0de5e0c0_slow.py").write_text(SLOW_REVISION)
    try:
        with running_pgbouncer(pg_url) as through_pooler:
            yield project, through_pooler
    except UnavailableError as exc:
        pytest.skip(f"no PgBouncer: {exc}")


def _start(project: Project, url: str, *args: str, seconds: float) -> subprocess.Popen[str]:
    env = project.environ({"DATABASE_URL": url, "SLOW_REVISION_SECONDS": str(seconds)})
    return subprocess.Popen(
        [sys.executable, "-m", "invoke", *args],
        cwd=project.path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def _one_line_error(stderr: str) -> None:
    """One line of error, besides Alembic's "Running upgrade" progress lines."""
    assert "Traceback" not in stderr, stderr
    lines = [
        line
        for line in stderr.splitlines()
        if line.strip() and not line.startswith(("Running upgrade", "Waiting for"))
    ]
    assert len(lines) == 1, stderr


def test_concurrent_migrations_through_pgbouncer_apply_each_revision_once(
    pooled: tuple[Project, str], pg_url: str
) -> None:
    project, through_pooler = pooled
    # Four migrators against a pool of four server connections: the waiters poll well past
    # psycopg's prepare threshold (5 runs) while the first one sleeps in its revision.
    tasks = [_start(project, through_pooler, "db.migrate", seconds=3) for _ in range(4)]
    results = [(task, *task.communicate(timeout=120)) for task in tasks]
    for task, stdout, stderr in results:
        assert task.returncode == 0, (stdout, stderr)
        assert "Traceback" not in stderr, stderr
        assert "prepared statement" not in stderr, stderr
    outputs = "".join(stdout + stderr for _, stdout, stderr in results)
    assert outputs.count("Running upgrade 0d848db94cb2 -> 5e0c0de5e0c0") == 1, outputs
    assert outputs.count("Running upgrade  -> 0d848db94cb2") == 1, outputs
    assert query(pg_url, "SELECT version_num FROM alembic_version") == [("5e0c0de5e0c0",)]
    # Nothing left behind on the pooler's server connections: a direct migrator proceeds. A
    # task that exits ends its transaction by closing its client connection, and PgBouncer
    # rolls the server side back when it sees the close, a moment after the task has gone.
    deadline = time.monotonic() + 10
    # This test's database only: other tests (xdist workers) migrate on the same server.
    advisory = (
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"
        " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
    )
    while query(pg_url, advisory) != [(0,)] and time.monotonic() < deadline:
        time.sleep(0.1)
    assert query(pg_url, advisory) == [(0,)]


def _wait_for_sleeping_revision(url: str, task: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while not query(
        url,
        "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep(%'"
        " AND datname = current_database()",
    )[0][0]:
        assert task.poll() is None, task.communicate()
        assert time.monotonic() < deadline, "the migration never reached its slow revision"
        time.sleep(0.1)


def test_a_migrator_killed_through_pgbouncer_leaves_no_lock_behind(
    pooled: tuple[Project, str], pg_url: str
) -> None:
    project, through_pooler = pooled
    project.invoke("db.upgrade", "--to", "0d848db94cb2", env={"DATABASE_URL": through_pooler})
    task = _start(project, through_pooler, "db.migrate", seconds=60)
    try:
        _wait_for_sleeping_revision(pg_url, task)
        os.kill(task.pid, signal.SIGKILL)  # the Python process alone, as the OOM killer does
        task.communicate(timeout=30)
    finally:
        if task.poll() is None:
            task.kill()
    assert task.returncode == -signal.SIGKILL
    # PgBouncer stays up; a direct migration is not blocked by a lock on its server connections.
    started = time.monotonic()
    result = project.invoke(
        "db.migrate", "--lock-timeout", "10", env={"DATABASE_URL": pg_url}, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "Waiting for the migration lock" not in result.stderr
    assert time.monotonic() - started < 30
    assert query(pg_url, "SELECT version_num FROM alembic_version") == [("5e0c0de5e0c0",)]
    # And through the pooler too.
    again = project.invoke("db.migrate", env={"DATABASE_URL": through_pooler}, check=False)
    assert again.returncode == 0, again.stderr


def test_a_failing_revision_through_pgbouncer_is_one_line(
    pooled: tuple[Project, str], pg_url: str
) -> None:
    project, through_pooler = pooled
    admin_sql(pg_url, "CREATE TABLE slow_once (id integer)")  # the revision's CREATE fails
    result = project.invoke("db.migrate", env={"DATABASE_URL": through_pooler}, check=False)
    assert result.returncode != 0
    _one_line_error(result.stderr)
    assert "5e0c0de5e0c0" in result.stderr
    assert "nothing was applied" in result.stderr
    # The lock went with the failed task: the next one (fixed) runs at once.
    admin_sql(pg_url, "DROP TABLE slow_once")
    fixed = project.invoke(
        "db.migrate", "--lock-timeout", "5", env={"DATABASE_URL": through_pooler}, check=False
    )
    assert fixed.returncode == 0, fixed.stderr
    assert "Waiting for the migration lock" not in fixed.stderr


def test_a_lock_lost_under_a_running_migration_is_reported(
    project_copy: Callable[..., Project], pg_url: str
) -> None:
    """The lock's connection dies mid-task (a server restart, a pooler's idle timeout): the
    task must not end as if it had excluded the other migrators all along."""
    project = project_copy("postgresql", pg_url, in_process=True)
    versions = project.path / "src" / project.package / "migrations" / "versions"
    (versions / "2026_12_03_0700-5e0c0de5e0c0_slow.py").write_text(SLOW_REVISION)
    task = _start(project, pg_url, "db.migrate", seconds=3)
    try:
        _wait_for_sleeping_revision(pg_url, task)
        admin_sql(
            pg_url,
            "SELECT pg_terminate_backend(pid) FROM pg_locks"
            " WHERE locktype = 'advisory' AND granted AND pid <> pg_backend_pid()"
            # This test's database only: other tests (xdist workers) hold migration locks on
            # the same server.
            " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
        )
        _, stderr = task.communicate(timeout=60)
    finally:
        if task.poll() is None:
            task.kill()
    assert task.returncode != 0, stderr
    _one_line_error(stderr)
    assert "migration lock" in stderr, stderr
    assert "lost" in stderr, stderr


def test_a_server_gone_mid_migration_is_one_line(
    project_copy: Callable[..., Project], pg_url: str
) -> None:
    """Every backend of the task ends (a server restart): the lock's connection is gone too,
    which is no news after a failed task; its one line is the error, not two."""
    project = project_copy("postgresql", pg_url, in_process=True)
    versions = project.path / "src" / project.package / "migrations" / "versions"
    (versions / "2026_12_03_0700-5e0c0de5e0c0_slow.py").write_text(SLOW_REVISION)
    project.invoke("db.upgrade", "--to", "0d848db94cb2")
    task = _start(project, pg_url, "db.migrate", seconds=30)
    try:
        _wait_for_sleeping_revision(pg_url, task)
        admin_sql(
            pg_url,
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()",
        )
        _, stderr = task.communicate(timeout=60)
    finally:
        if task.poll() is None:
            task.kill()
    assert task.returncode != 0, stderr
    _one_line_error(stderr)
    assert "was lost before its release" not in stderr
    assert query(pg_url, "SELECT version_num FROM alembic_version") == [("0d848db94cb2",)]
