"""``invoke db.seed`` in a process of its own: what only a real process shows.

A SIGKILL in the middle of a run, the peak memory of a run, what an unchanged run imports.
The tasks around them run invoke's program in this process (tests/kit/cli.py); everything
else about seeding calls the kit in-process: tests/kit/test_seeds.py.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.kit.sql import count, query
from tests.kit.test_seeds import (
    COUNTRIES,
    DEMO_USERS,
    PLAIN_USERS,
    USERS_FROM_CSV,
    add_seed,
    seeds_dir,
)
from tests.support import Project, flavour_of, sqlite_url


@pytest.fixture
def project(project_copy: Callable[..., Project], database: str) -> Project:
    return project_copy(flavour_of(database), database, in_process=True)


BIG_ROWS = 150_000


def _database_is_busy(url: str, path: Path) -> bool:
    if url.startswith("sqlite"):
        return Path(f"{path}-journal").exists()
    rows = query(
        url,
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
        "AND pid <> pg_backend_pid() AND state = 'active' AND query LIKE 'COPY%'",
    )
    return bool(rows[0][0] > 0)


def test_sigkill_in_the_middle_then_rerun(project: Project, database: str, tmp_path: Path) -> None:
    project.invoke("db.migrate")
    csv_path = seeds_dir(project) / "data" / "many.csv"
    with csv_path.open("w") as handle:
        handle.write("email,display_name,country\n")
        for n in range(BIG_ROWS):
            handle.write(f"user{n}@example.com,User {n},{'FR' if n % 2 else 'DE'}\n")
    add_seed(project, "extra_users", USERS_FROM_CSV.format(file="many.csv"))
    sqlite_file = (
        Path(database.removeprefix("sqlite:///")) if database.startswith("sqlite") else tmp_path
    )

    process = subprocess.Popen(
        [sys.executable, "-m", "invoke", "db.seed"],
        cwd=project.path,
        env=project.environ(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while not _database_is_busy(database, sqlite_file):
        assert process.poll() is None, "the seed finished before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.02)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL
    if database.startswith("postgresql"):
        time.sleep(0.5)  # let the server notice the dead connection and roll back

    assert count(database, "users") == 0
    project.invoke("db.seed")
    assert count(database, "users") == BIG_ROWS + DEMO_USERS
    assert count(database, "countries") == COUNTRIES
    assert query(database, "SELECT count(DISTINCT email) FROM users") == [(BIG_ROWS + DEMO_USERS,)]


# Runs invoke and writes its peak resident memory (VmHWM) to the file argv[1] at exit. Not the
# rusage a parent gets from wait4: that also counts the memory of the process it was forked
# from (this test's) until the exec.
PEAK_RSS = """
import atexit, runpy, sys
from pathlib import Path

out = Path(sys.argv.pop(1))
def report():
    status = Path("/proc/self/status").read_text().splitlines()
    out.write_text(next(line.split()[1] for line in status if line.startswith("VmHWM:")))
atexit.register(report)
sys.argv[0] = "invoke"
runpy.run_module("invoke", run_name="__main__")
"""


def peak_rss_mib(project: Project, *args: str) -> float:
    """The peak resident memory of ``invoke ARGS`` in the project."""
    out = project.path / "peak-rss"
    project.run(sys.executable, "-c", PEAK_RSS, str(out), *args)
    return int(out.read_text()) / 1024


@pytest.mark.sqlite
@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc/self/status")
def test_sqlite_seeding_memory_does_not_grow_with_the_file(
    project_copy: Callable[..., Project], tmp_path: Path
) -> None:
    """Four times the rows, the same peak memory: keys given twice are found on disk, not in
    a dictionary of every key (~180 bytes a row: 26 MiB more here)."""
    project = project_copy("sqlite", sqlite_url(tmp_path / "memory.sqlite3"), in_process=True)
    project.invoke("db.migrate")
    add_seed(project, "plain_users", PLAIN_USERS.format(file="plain.csv"))
    data = seeds_dir(project) / "data" / "plain.csv"
    peaks = []
    for rows in (50_000, 200_000):
        data.write_text(
            "email,display_name\n" + "".join(f"u{n}@x.io,User {n}\n" for n in range(rows))
        )
        peaks.append(peak_rss_mib(project, "db.seed", "--only", "plain_users"))
    assert count(project.env["DATABASE_URL"], "users") == 200_000
    small, big = peaks
    assert big < small + 12, f"peak RSS {small:.0f} MiB at 50,000 rows, {big:.0f} MiB at 200,000"


# -- a run in which nothing changed -----------------------------------------------------------

IMPORTED = """
import sys
import {package}.settings  # configures the kit, as tasks.py does
from groundwork import commands
commands.seed({options})
heavy = ("sqlalchemy", "alembic", "{package}.models", "{package}.seeds")
print("imported:", sorted({{m.split(".")[0] if m.startswith(heavy[:2]) else m
                           for m in sys.modules if m.startswith(heavy)}}))
"""


def test_an_unchanged_run_ends_before_importing_the_seeds(project: Project, database: str) -> None:
    project.invoke("db.init")
    code = IMPORTED.format(package=project.package, options="")
    skipped = project.python(code)
    assert skipped.stdout.count("skipped, unchanged since the last run") == 2, skipped.stdout
    assert "imported: []" in skipped.stdout

    # A table emptied behind the ledger's back (here by a downgrade and an upgrade: same
    # revisions, no rows) is noticed, and the full run loads it again.
    project.invoke("db.downgrade", "--to", "base")
    refused = project.invoke("db.seed", check=False)
    assert refused.returncode == 1
    assert "not at head" in refused.stderr
    project.invoke("db.migrate")
    reloaded = project.python(code)
    assert "249 inserted" in reloaded.stdout
    assert "'sqlalchemy'" in reloaded.stdout
    assert count(database, "countries") == COUNTRIES


@pytest.mark.sqlite
def test_a_sqlite_project_never_imports_the_postgresql_driver(
    project_copy: Callable[..., Project], tmp_path: Path
) -> None:
    """The sqlite flavour does not install psycopg; the kit ships the PostgreSQL loader to
    every project (src/groundwork is the same everywhere), so no SQLite run may import it."""
    project = project_copy("sqlite", sqlite_url(tmp_path / "no-psycopg.sqlite3"))
    code = (
        "import sys\n"
        f"import {project.package}.settings\n"
        "from groundwork import commands\n"
        "commands.init()\n"
        "commands.seed(full=True)\n"
        "print('psycopg:', sorted(m for m in sys.modules if m.split('.')[0] == 'psycopg'))\n"
    )
    ran = project.python(code)
    assert "249 inserted" in ran.stdout
    assert "psycopg: []" in ran.stdout, ran.stdout
