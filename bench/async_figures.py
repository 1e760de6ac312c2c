"""engine=async against sync, side by side, on PostgreSQL and SQLite (issue 15).

    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres .venv/bin/python \\
        bench/async_figures.py

Two figures, from an ``engine=async`` bake:

- the per-test cost of the rolled-back transaction in the baked suite: its sync tests
  (``connection``/``session``) and its async ones (``async_connection``/``async_session``), from
  the same runs (tests/suite_timing.py takes both);
- ``invoke db.migrate`` from an empty database and at head, with an async ``DATABASE_URL``
  (asyncpg, psycopg's async form, aiosqlite) against the sync URL of the same database. The
  tasks run on the sync driver whatever the form (urls.py), so the target is <= 1.05x.

Every pair runs back to back, alternating which goes first, repeated (BENCH_REPEAT, default 5);
the table gives medians and the median of the per-pair ratios (as bench/run.py does).
PostgreSQL: BENCH_DATABASE_URL (an admin URL), otherwise bench/run.py's embedded server.
"""

from __future__ import annotations

import shutil
import statistics
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from run import (
    PY,
    REPEAT,
    REPO,
    WORK,
    Databases,
    admin_sql,
    base_env,
    pg_admin_url,
    run,
    stop_embedded,
)

from tests import suite_timing

# The test database's URL for the suite: plain (psycopg's async connection; aiosqlite), asyncpg.
SUITE_FORMS = {"postgresql": ["postgresql", "postgresql+asyncpg"], "sqlite": ["sqlite"]}
ASYNC_FORMS = {
    "postgresql": ["postgresql+asyncpg", "postgresql+psycopg_async"],
    "sqlite": ["sqlite+aiosqlite"],
}


WIDTH = 92  # the figure's label


def bake(backend: str) -> Path:
    out = WORK / "async" / backend
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    command = [PY, "-m", "cookiecutter", "--no-input", str(REPO), "-o", str(out)]
    run([*command, f"database={backend}", "engine=async"], WORK, base_env())
    return next(out.iterdir())


def suite(project: Path, backend: str, dbs: Databases, form: str) -> dict[str, Any]:
    """The baked suite's sync and async per-test isolation, medians over the runs; the async
    fixtures on the driver ``form`` implies (the sync ones on the kit's sync driver)."""
    runs = []
    for _ in range(REPEAT + 1):
        # The baked conftest drops and creates the database itself; its name must hold "test".
        url = dbs.fresh("gw_async_bench_test")
        timing = WORK / f"async-timing-{backend}.jsonl"
        timing.unlink(missing_ok=True)
        test_url = f"{form}://{url.split('://', 1)[1]}"
        env = base_env(TEST_DATABASE_URL=test_url, **suite_timing.plugin_env(timing))
        run(suite_timing.suite_command(PY, "-p", "no:xdist"), project, env)
        runs.append(suite_timing.summary(timing))
        dbs.drop(url)
    runs = runs[1:]  # the first warms the bytecode caches
    sync = [r["isolation_per_test"] for r in runs]
    async_ = [r["async_isolation_per_test"] for r in runs]
    return {
        "sync": statistics.median(sync),
        "async": statistics.median(async_),
        "ratio": statistics.median(a / s for a, s in zip(async_, sync, strict=True)),
        "tests": (runs[0]["isolated_tests"], runs[0]["async_isolated_tests"]),
    }


def emptied(dbs: Databases, backend: str, url: str) -> None:
    """The database of ``url`` empty again (not timed)."""
    if backend == "sqlite":
        path = Path(url.split(":///", 1)[1])
        path.unlink(missing_ok=True)
        path.touch()  # db.migrate migrates an existing file; creating it is db.init's job
        return
    assert dbs.admin
    name = url.rsplit("/", 1)[1].split("?")[0]
    admin_sql(dbs.admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin_sql(dbs.admin, f'CREATE DATABASE "{name}"')


def migrate(project: Path, backend: str, dbs: Databases, form: str) -> dict[str, Any]:
    """db.migrate from empty and at head: ``form``'s URL against the sync one, paired."""
    url = dbs.fresh("gw_async_bench")
    rest = url.split("://", 1)[1]
    urls = {"sync": url, "async": f"{form}://{rest}"}
    times: dict[str, dict[str, list[float]]] = {
        state: {"sync": [], "async": []} for state in ("empty", "head")
    }
    for i in range(REPEAT + 1):
        order = ["sync", "async"] if i % 2 else ["async", "sync"]
        for kind in order:
            emptied(dbs, backend, url)
            env = base_env(DATABASE_URL=urls[kind])
            empty, _ = run([PY, "-m", "invoke", "db.migrate"], project, env)
            head, _ = run([PY, "-m", "invoke", "db.migrate"], project, env)
            if i:  # the first round warms the bytecode caches
                times["empty"][kind].append(empty)
                times["head"][kind].append(head)
    dbs.drop(url)
    return {
        state: {
            "sync": statistics.median(pair["sync"]),
            "async": statistics.median(pair["async"]),
            "ratio": statistics.median(
                a / s for a, s in zip(pair["async"], pair["sync"], strict=True)
            ),
        }
        for state, pair in times.items()
    }


def main() -> int:
    admin = pg_admin_url()
    lines = [f"{'figure':<{WIDTH}} {'sync':>9} {'async':>9} {'async/sync':>10}"]
    try:
        for backend in ("postgresql", "sqlite"):
            project = bake(backend)
            dbs = Databases(backend, admin if backend == "postgresql" else None)
            try:
                for form in SUITE_FORMS[backend]:
                    print(f"[{backend}: the baked suite on {form}://]", flush=True)
                    found = suite(project, backend, dbs, form)
                    sync_tests, async_tests = found["tests"]
                    lines.append(
                        f"{backend}: rolled-back transaction per test, {form}:// "
                        f"({sync_tests} sync, {async_tests} async tests)".ljust(WIDTH)
                        + f" {found['sync'] * 1000:>6.2f} ms {found['async'] * 1000:>6.2f} ms"
                        + f" {found['ratio']:>9.2f}x"
                    )
                for form in ASYNC_FORMS[backend]:
                    print(f"[{backend}: db.migrate with {form}://]", flush=True)
                    for state, figure in migrate(project, backend, dbs, form).items():
                        label = "from empty" if state == "empty" else "at head"
                        lines.append(
                            f"{backend}: invoke db.migrate {label}, {form}://".ljust(WIDTH)
                            + f" {figure['sync']:>7.3f} s {figure['async']:>7.3f} s"
                            + f" {figure['ratio']:>9.3f}x"
                        )
            finally:
                dbs.drop_all()
    finally:
        stop_embedded()
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
