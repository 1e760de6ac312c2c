"""A migration run that hits lock_timeout is retried (locking.py, retrying_lock_timeouts).

On a real PostgreSQL, in-process (tests/kit/harness.py): the blocker is another connection
holding a lock on ``users`` in an open transaction. Lock timeouts and backoffs are short
(``MIGRATION_LOCK_TIMEOUT=200ms``, ``MIGRATION_RETRY_BACKOFF``) so that each test takes seconds.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.kit.harness import KitProject
from tests.lifecycle_support import INITIAL, add_revision, query

FAST = {"MIGRATION_LOCK_TIMEOUT": "200ms", "MIGRATION_RETRY_BACKOFF": "0.2"}
BLOCKER_QUERY = "SELECT count(*) FROM users -- the report"
NEW = "7e7200000001"


@pytest.fixture
def pg(kit_project: Callable[[str, str], KitProject], pg_url: str) -> KitProject:
    project = kit_project("postgresql", pg_url)
    project.invoke("upgrade", INITIAL)
    add_revision(project, NEW, INITIAL, 'op.add_column("users", sa.Column("x", sa.Integer()))')
    return project


@pytest.fixture
def blocker(pg_url: str) -> Iterator[Any]:
    """A session left idle in transaction after reading ``users``: an ACCESS SHARE lock."""
    import psycopg

    with psycopg.connect(pg_url.replace("+psycopg", "")) as busy:
        busy.execute(BLOCKER_QUERY)
        yield busy


# The migration lock (locking.py): an advisory lock held by the task's lock connection.
_MIGRATION_LOCKS = (
    "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
    "WHERE l.locktype = 'advisory' AND l.granted AND a.application_name LIKE '% migrations pid %'"
    # This test's database only: other tests (xdist workers) migrate on the same server.
    " AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"
)


def _version(url: str) -> list[str]:
    return [row[0] for row in query(url, "SELECT version_num FROM alembic_version")]


def _retry_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("Lock timeout on attempt")]


def test_a_blocker_released_meanwhile_lets_the_run_succeed(
    pg: KitProject, pg_url: str, blocker: Any
) -> None:
    import psycopg

    holder = blocker.info.backend_pid
    samples: list[int] = []

    def watch_then_release() -> None:
        """Whether the migration lock is held, every 0.1 s from 0.5 s on, then release."""
        with psycopg.connect(pg_url.replace("+psycopg", ""), autocommit=True) as watcher:
            time.sleep(0.5)  # the first attempt has taken the lock by then
            while time.monotonic() < started + 2:
                (count,) = watcher.execute(_MIGRATION_LOCKS).fetchone() or (0,)
                samples.append(count)
                time.sleep(0.1)
        blocker.rollback()

    started = time.monotonic()
    release = threading.Thread(target=watch_then_release)
    release.start()
    try:
        result = pg.invoke("migrate", environ={**FAST, "MIGRATION_LOCK_RETRIES": "10"}, check=False)
        elapsed = time.monotonic() - started
    finally:
        release.join()
    assert result.returncode == 0, result.stderr
    # Held across the retries, their backoffs included: no other migrator slips in.
    assert len(samples) >= 10
    assert set(samples) == {1}, samples
    assert _version(pg_url) == [NEW]
    lines = _retry_lines(result.stderr)
    assert 2 <= len(lines) <= 9, result.stderr
    for number, line in enumerate(lines, 1):
        assert line.startswith(f"Lock timeout on attempt {number} of 11 ("), line
        assert "lock_timeout is MIGRATION_LOCK_TIMEOUT=200ms" in line
        assert f"pid {holder} (idle in transaction: {BLOCKER_QUERY})" in line, line
        assert "rolled back, retrying in " in line
    assert 2 <= elapsed < 15, elapsed


def test_a_blocker_that_stays_exhausts_the_retries(
    pg: KitProject, pg_url: str, blocker: Any
) -> None:
    # Bounded in count: 1 attempt + 3 retries.
    result = pg.invoke("migrate", environ={**FAST, "MIGRATION_LOCK_RETRIES": "3"}, check=False)
    assert result.returncode == 1
    assert len(_retry_lines(result.stderr)) == 3, result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"db.migrate: revision {NEW} ({NEW}_test.py) failed, nothing was ")
    assert "gave up waiting for a lock (lock_timeout)" in last
    assert f"pid {blocker.info.backend_pid} (idle in transaction: {BLOCKER_QUERY})" in last
    assert last.endswith(
        "(gave up after 4 attempts: MIGRATION_LOCK_RETRIES=3, MIGRATION_RETRY_TIME=300)"
    ), last
    assert _version(pg_url) == [INITIAL]
    assert "x" not in [row[0] for row in query(pg_url, _COLUMNS)]
    # Bounded in time: no retry starts later than MIGRATION_RETRY_TIME after the first attempt.
    started = time.monotonic()
    result = pg.invoke(
        "migrate",
        environ={**FAST, "MIGRATION_LOCK_RETRIES": "100", "MIGRATION_RETRY_TIME": "1.5"},
        check=False,
    )
    elapsed = time.monotonic() - started
    assert result.returncode == 1
    assert 1 <= len(_retry_lines(result.stderr)) <= 4, result.stderr
    assert "MIGRATION_RETRY_TIME=1.5)" in result.stderr.strip().splitlines()[-1]
    assert elapsed < 1.5 + 1.5, elapsed  # the last attempt's lock wait, and the run's own time
    assert _version(pg_url) == [INITIAL]


_COLUMNS = (
    "SELECT column_name FROM information_schema.columns "
    "WHERE table_schema = 'public' AND table_name = 'users'"
)


def test_no_retries_fails_at_once_as_before(pg: KitProject, pg_url: str, blocker: Any) -> None:
    started = time.monotonic()
    result = pg.invoke("migrate", environ={**FAST, "MIGRATION_LOCK_RETRIES": "0"}, check=False)
    assert time.monotonic() - started < 2
    assert result.returncode == 1
    assert _retry_lines(result.stderr) == []
    last = result.stderr.strip().splitlines()[-1]
    assert "gave up waiting for a lock (lock_timeout)" in last
    assert "attempts" not in last
    assert _version(pg_url) == [INITIAL]


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("MIGRATION_LOCK_RETRIES", "many", "is not a number of times (e.g. 5; 0: never)"),
        ("MIGRATION_LOCK_RETRIES", "-1", "is not a number of times (e.g. 5; 0: never)"),
        ("MIGRATION_RETRY_TIME", "5min", "is not a number of seconds (e.g. 60)"),
        ("MIGRATION_RETRY_BACKOFF", "-2", "is not a number of seconds (e.g. 60)"),
    ],
)
def test_a_bad_retry_setting_is_one_line(
    pg: KitProject, pg_url: str, name: str, value: str, says: str
) -> None:
    result = pg.invoke("migrate", environ={name: value}, check=False)
    assert result.returncode == 1
    assert result.stderr.strip() == f"db.migrate: {name}={value!r} {says}"
    assert _version(pg_url) == [INITIAL]


def test_another_failure_is_not_retried(pg: KitProject, pg_url: str) -> None:
    """A statement_timeout (57014) is not a lock timeout: one attempt, its own line."""
    add_revision(pg, "7e7200000002", NEW, 'op.execute("SELECT pg_sleep(5)")')
    started = time.monotonic()
    result = pg.invoke(
        "migrate", environ={**FAST, "MIGRATION_STATEMENT_TIMEOUT": "200ms"}, check=False
    )
    assert time.monotonic() - started < 3
    assert result.returncode == 1
    assert _retry_lines(result.stderr) == []
    last = result.stderr.strip().splitlines()[-1]
    assert "SQLSTATE 57014" in last
    assert "attempts" not in last
    assert _version(pg_url) == [INITIAL]


def test_a_lock_timeout_is_known_by_its_code(pg: KitProject, pg_url: str) -> None:
    """SQLSTATE 55P03 raised with other words is retried all the same; the retry started from
    what was committed (here: nothing), and the run ends with the attempts it made."""
    add_revision(
        pg,
        NEW,
        INITIAL,
        "op.execute(\"DO $$ BEGIN RAISE EXCEPTION 'Sperre nicht verfügbar' "
        "USING ERRCODE = 'lock_not_available'; END $$\")",
    )
    result = pg.invoke("migrate", environ={**FAST, "MIGRATION_LOCK_RETRIES": "1"}, check=False)
    assert result.returncode == 1
    (line,) = _retry_lines(result.stderr)
    assert line.startswith("Lock timeout on attempt 1 of 2 (lock_timeout is ")
    assert "gave up after 2 attempts" in result.stderr.strip().splitlines()[-1]
    assert _version(pg_url) == [INITIAL]
