"""Backups and restores under faults (issue 13 items 1 and 7) and their secrecy (issue 12 items
2 and 4): a restore is all or nothing whatever dies, partial files never look like backups,
``latest`` names the newest backup, no password reaches a child's argv, backups are private."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.lifecycle_support import query
from tests.support import Project


def flavour_of(url: str) -> str:
    return "sqlite" if url.startswith("sqlite") else "postgresql"


@pytest.fixture
def initialized(project_copy: Callable[..., Project], database: str) -> Project:
    project = project_copy(flavour_of(database), database)
    project.invoke("db.init")
    return project


def _backup(project: Project, **kwargs: Any) -> Path:
    output = project.invoke("db.backup", **kwargs).stdout
    return Path(output.split("Backup written to", 1)[1].split()[0])


def _state(url: str) -> dict[str, Any]:
    """What a restore replaces: row counts and checksums, constraints and indexes, the ledger."""
    return {
        "users": query(
            url,
            "SELECT count(*), md5(coalesce(string_agg(email || display_name, ',' ORDER BY email),"
            " '')) FROM users",
        ),
        "countries": query(url, "SELECT count(*) FROM countries"),
        "ledger": query(url, "SELECT version_num FROM alembic_version"),
        "indexes": query(
            url,
            "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() ORDER BY 1",
        ),
        "constraints": query(
            url,
            "SELECT conname FROM pg_constraint WHERE connamespace = current_schema()::regnamespace"
            " ORDER BY 1",
        ),
    }


_COPYING_USERS = (
    "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
    " AND state = 'active' AND query LIKE 'COPY %users%FROM stdin%'"
)
_PSQL_LEFT = (
    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
    " AND application_name = 'psql'"
)


@pytest.mark.parametrize("database", ["postgresql"], indirect=True)
def test_restore_is_all_or_nothing_when_only_python_is_killed(
    initialized: Project, database: str
) -> None:
    # Enough rows that psql is still copying users when the task dies.
    query(
        database,
        "INSERT INTO users (email, display_name, is_admin) SELECT 'u' || g || '@example.com',"
        " repeat('x', 100), false FROM generate_series(1, 300000) g",
    )
    path = _backup(initialized)
    full = _state(database)
    query(database, "DELETE FROM users")
    query(database, "INSERT INTO users (email, display_name, is_admin) VALUES ('m@x.org', 'm', true)")
    before = _state(database)

    task = subprocess.Popen(  # noqa: S603 - the test's own interpreter
        [sys.executable, "-m", "invoke", "db.restore", str(path)],
        cwd=initialized.path,
        env=initialized.environ(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while not query(database, _COPYING_USERS):
            assert task.poll() is None, "the restore ended before its COPY was seen"
            assert time.monotonic() < deadline, "the restore never started copying users"
            time.sleep(0.01)
        os.kill(task.pid, signal.SIGKILL)  # the Python process alone: psql lives on
    finally:
        task.kill()
        task.wait()
    assert task.returncode == -signal.SIGKILL
    deadline = time.monotonic() + 120
    while query(database, _PSQL_LEFT)[0][0]:  # psql reads to the end of its input, then exits
        assert time.monotonic() < deadline, "psql never finished"
        time.sleep(0.1)

    assert _state(database) == before  # nothing of the restore committed
    initialized.invoke("db.check")
    initialized.invoke("db.restore", str(path))  # and the next one works
    assert _state(database) == full
