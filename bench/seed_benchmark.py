"""Benchmark of ``invoke db.seed`` on PostgreSQL (issue 3; not a test): run it by hand.

    python bench/seed_benchmark.py [--rows 1000000] [--rounds 3]

Bakes a project, adds a ``bench_items`` model, migration and CSV seed of ``--rows`` rows
(default: the issue's 1,000,000), then prints every figure next to its reference and target,
with a verdict:

- ``db.seed`` into the empty table, the whole process, against ``psql \\copy`` of the same CSV
  into a table of the same definition (the physical floor): throughput >= 0.6x (issue 3);
- ``db.seed`` against a naive loop that adds ORM objects one by one and commits once
  (measured on 50,000 rows, scaled);
- an unchanged re-run (the ledger skips everything), the whole process: under 1 s (issue 3);
- an unchanged re-run with ``--full`` (every row compared) and a re-run with 1% of the rows
  changed, against the load into the empty table;
- the seeding process's peak memory for all rows against 100,000 rows: flat (issue 3).

Each round runs a figure and its reference back to back, in alternating order, after a
CHECKPOINT; ratios are the median of the per-round ratios. Commands run as a user runs them:
``python -m invoke`` in the project folder, bytecode cached (PYTHONDONTWRITEBYTECODE unset) and
compiled before the first timed run (``invoke --list``, then ``db.seed --plan``).
Server: TEST_DATABASE_URL (an admin URL), default postgresql://postgres@127.0.0.1:5432/postgres.

    python bench/seed_benchmark.py --backend sqlite [--rows 1000000] [--rounds 3]

SQLite has no COPY (batched ``executemany``) and no server to compare with: this mode prints,
for a SQLite bake, the seeding process's peak memory and wall time at 100,000 rows against
``--rows`` rows, into the empty table and for a ``--full`` re-run (every row compared).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# Run as a script: the repository's `tests` package is imported from its folder.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.support import (
    Project,
    admin_sql,
    bake,
    create_pg_database,
    drop_pg_database,
)

MODEL = '''"""Benchmark rows."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import Identity, Numeric, String
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base


class BenchItem(Base):
    __tablename__ = "bench_items"

    id: Mapped[int] = mapped_column(Identity(), primary_key=True)
    sku: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    price: Mapped[Decimal] = mapped_column(Numeric(10, 2))
    quantity: Mapped[int]
'''

SEED = """from groundwork.seeding import EVERY_ENVIRONMENT, Seed
from ..models.bench_item import BenchItem

bench_items = Seed(
    model=BenchItem, key="sku", data="bench_items.csv", environments=EVERY_ENVIRONMENT
)
"""

ORM_LOOP = """
import time
from decimal import Decimal
from groundwork.engine import database_url, make_engine, session_factory
from {package}.models.bench_item import BenchItem
from {package}.settings import load_settings

engine = make_engine(database_url(load_settings()))
started = time.monotonic()
with session_factory(engine)() as session:
    for n in range({rows}):
        session.add(BenchItem(sku=f"orm-{{n}}", name=f"Item {{n}}", price=Decimal("9.99"),
                              quantity=n % 100))
    session.commit()
print(time.monotonic() - started)
"""

ORM_ROWS = 50_000
SMALL_ROWS = 100_000
# Both tables empty, the seeds' ledger forgotten (when it exists yet), dirty pages written.
EMPTY = (
    "TRUNCATE bench_items, bench_copy RESTART IDENTITY",
    (
        "DO $$ BEGIN IF to_regclass('seed_ledger') IS NOT NULL THEN "
        "DELETE FROM seed_ledger; DELETE FROM seed_runs; END IF; END $$"
    ),
    "CHECKPOINT",
)


def write_csv(path: Path, rows: int, changed_every: int = 0) -> None:
    with path.open("w") as handle:
        handle.write("sku,name,price,quantity\n")
        for n in range(rows):
            name = f"Item {n}" if not changed_every or n % changed_every else f"Item {n} (new)"
            handle.write(f"SKU-{n:08d},{name},{n % 1000}.{n % 100:02d},{n % 500}\n")


def add_bench_items(project: Project) -> Path:
    """The bench_items model, its migration (applied) and seed; returns the seed's CSV path."""
    package_dir = project.path / "src" / project.package
    (package_dir / "models" / "bench_item.py").write_text(MODEL)
    (package_dir / "seeds" / "bench_items.py").write_text(SEED)
    project.invoke("db.migrate")
    project.invoke("db.migrate", "-m", "bench items")
    return package_dir / "seeds" / "data" / "bench_items.csv"


class Bench:
    def __init__(self, project: Project, url: str) -> None:
        self.project = project
        self.url = url
        env = project.environ()
        # As on a user's machine: with PYTHONDONTWRITEBYTECODE (which tests.support sets for
        # the tests) every command would compile every module again.
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        self.env = env

    def invoke(self, *args: str, env: dict[str, str] | None = None) -> tuple[float, int, str]:
        """Wall time, peak RSS (KiB) and stdout of ``invoke ARGS`` as a child process."""
        return self.measure([sys.executable, "-m", "invoke", *args], env)

    def measure(
        self, command: list[str], env: dict[str, str] | None = None
    ) -> tuple[float, int, str]:
        with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
            started = time.perf_counter()
            process = subprocess.Popen(
                command, cwd=self.project.path, env=env or self.env, stdout=out, stderr=err
            )
            _, status, usage = os.wait4(process.pid, 0)  # the child's own rusage: ru_maxrss
            elapsed = time.perf_counter() - started
            out.seek(0)
            err.seek(0)
            stdout = out.read()
            if os.waitstatus_to_exitcode(status):
                raise SystemExit(f"{' '.join(command)} failed:\n{stdout}\n{err.read()}")
        return elapsed, usage.ru_maxrss, stdout

    def seed(self, *options: str) -> tuple[float, int, str]:
        return self.invoke("db.seed", "--only", "bench_items", *options)

    def psql_copy(self, data: Path) -> float:
        psql = shutil.which("psql") or "/usr/bin/psql"
        copy = f"\\copy bench_copy (sku, name, price, quantity) FROM '{data}' CSV HEADER"
        return self.measure([psql, "-X", "-q", self.url, "-c", copy])[0]


def seed_line(out: str) -> str:
    found = re.search(r"^bench_items +[\d,]+ rows: (.*)$", out, re.MULTILINE)
    return found[1] if found else out.strip()


def in_process_seconds(out: str) -> float:
    found = re.search(r"^bench_items .*\(([\d.]+) s\)$", out, re.MULTILINE)
    return float(found[1]) if found else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows of the CSV")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of each figure")
    parser.add_argument("--backend", choices=("postgresql", "sqlite"), default="postgresql")
    options = parser.parse_args()
    rows, rounds = options.rows, options.rounds
    if options.backend == "sqlite":
        sqlite_main(rows, rounds)
        return
    admin = os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    work = Path(tempfile.mkdtemp(prefix="seed-bench-"))
    url = create_pg_database(admin)
    load_before = os.getloadavg()[0]
    try:
        project = Project(bake(work / "bake"), {"DATABASE_URL": url, "APP_ENV": "development"})
        data = add_bench_items(project)
        admin_sql(url, "CREATE TABLE bench_copy (LIKE bench_items INCLUDING ALL)")
        bench = Bench(project, url)
        original, changed, small = work / "all.csv", work / "changed.csv", work / "small.csv"
        write_csv(original, rows)
        write_csv(changed, rows, changed_every=100)
        write_csv(small, SMALL_ROWS)
        shutil.copy(original, data)
        size_mb = data.stat().st_size / 1e6
        bench.invoke("--list")  # compiles the project's bytecode once, as a first use would
        # The seeding modules are imported only by a seed run: a plan (rolled back; the first
        # round's TRUNCATE drops what it left) compiles them, so that the first timed db.seed
        # does not pay for it.
        assert "nothing written" in bench.seed("--plan")[2]

        # Into the empty table: db.seed (whole process) and psql \copy, alternating.
        seed_s, copy_s, ratios, rss_full, in_process = [], [], [], [], []
        for round_ in range(rounds):
            admin_sql(url, *EMPTY)
            if round_ % 2:
                copy_s.append(bench.psql_copy(data))
            wall, rss, out = bench.seed()
            if not round_ % 2:
                copy_s.append(bench.psql_copy(data))
            assert f"{rows:,} inserted" in out, out
            seed_s.append(wall)
            rss_full.append(rss)
            in_process.append(in_process_seconds(out))
            ratios.append(copy_s[-1] / wall)

        # Unchanged re-runs (the table is full, the ledger has it), then the start-up floor.
        unchanged, floor = [], []
        for _ in range(max(rounds, 5)):
            wall, _, out = bench.seed()
            assert "skipped" in out, out
            unchanged.append(wall)
            floor.append(bench.invoke("--list")[0])
        no_bytecode = {**bench.env, "PYTHONDONTWRITEBYTECODE": "1"}
        cold = statistics.median(
            bench.invoke("db.seed", "--only", "bench_items", env=no_bytecode)[0] for _ in range(3)
        )

        full, out_full = [], ""
        for _ in range(rounds):
            wall, _, out_full = bench.seed("--full")
            full.append(wall)
        one_percent, out_changed = [], ""
        for round_ in range(rounds):
            # Each run changes 1% of the rows: to the changed file and back.
            shutil.copy(original if round_ % 2 else changed, data)
            wall, _, out_changed = bench.seed()
            assert f"{rows // 100:,} updated" in out_changed, out_changed
            one_percent.append(wall)

        admin_sql(url, *EMPTY)
        shutil.copy(small, data)
        rss_small = bench.seed()[1]
        admin_sql(url, "TRUNCATE bench_items RESTART IDENTITY")
        orm = project.python(ORM_LOOP.format(package=project.package, rows=ORM_ROWS))
        orm_rate = ORM_ROWS / float(orm.stdout.strip().splitlines()[-1])
        load_after = os.getloadavg()[0]
        version = admin_sql_value(url, "SHOW server_version")
    finally:
        drop_pg_database(admin, url)
        shutil.rmtree(work, ignore_errors=True)

    seed_t, copy_t = statistics.median(seed_s), statistics.median(copy_s)
    seed_rate, copy_rate = rows / seed_t, rows / copy_t
    ratio = statistics.median(ratios)
    unchanged_t, floor_t = statistics.median(unchanged), statistics.median(floor)
    full_t, changed_t = statistics.median(full), statistics.median(one_percent)
    big_mib, small_mib = max(rss_full) / 1024, rss_small / 1024
    print(
        f"\nSeeding {rows:,} rows ({size_mb:.0f} MB CSV) into PostgreSQL {version}; medians of "
        f"{rounds} rounds; load average {load_before:.1f} before, {load_after:.1f} after.\n"
    )
    table = [
        (
            "db.seed, empty table (whole process)",
            f"{seed_t:.2f} s, {seed_rate:,.0f} rows/s",
            "psql \\copy, same CSV",
            f"{copy_t:.2f} s, {copy_rate:,.0f} rows/s",
            f"{ratio:.2f}x",
            ">= 0.6x (issue 3)",
            verdict(ratio >= 0.6),
        ),
        (
            "db.seed vs naive ORM loop",
            f"{seed_rate:,.0f} rows/s",
            f"ORM add+commit, {ORM_ROWS:,} rows scaled",
            f"{orm_rate:,.0f} rows/s ({rows / orm_rate:.0f} s)",
            f"{seed_rate / orm_rate:.1f}x",
            ">= 10x (ours)",
            verdict(seed_rate / orm_rate >= 10),
        ),
        (
            "unchanged re-run (whole process)",
            f"{unchanged_t:.2f} s",
            "invoke --list (start-up)",
            f"{floor_t:.2f} s",
            f"{unchanged_t / floor_t:.2f}x",
            "< 1 s (issue 3)",
            verdict(unchanged_t < 1.0),
        ),
        (
            "unchanged re-run --full (every row)",
            f"{full_t:.2f} s",
            "db.seed, empty table",
            f"{seed_t:.2f} s",
            f"{full_t / seed_t:.2f}x",
            "<= 1.0x (ours)",
            verdict(full_t <= seed_t),
        ),
        (
            "re-run with 1% of rows changed",
            f"{changed_t:.2f} s",
            "db.seed, empty table",
            f"{seed_t:.2f} s",
            f"{changed_t / seed_t:.2f}x",
            "<= 1.0x (ours)",
            verdict(changed_t <= seed_t),
        ),
        (
            f"peak RSS, {rows:,} rows",
            f"{big_mib:.0f} MiB",
            f"peak RSS, {SMALL_ROWS:,} rows",
            f"{small_mib:.0f} MiB",
            f"{big_mib / small_mib:.2f}x",
            "flat: <= 1.1x (issue 3)",
            verdict(big_mib <= small_mib * 1.1),
        ),
    ]
    # One line a figure, its cells two spaces apart (bench/run.py keeps each line as a row);
    # the header has single spaces so that it is not taken for a figure.
    print("columns: figure | value | reference | ref value | ratio | target | verdict")
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    for row in table:
        print(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )
    print(
        f"\nin-process seed time (the seed's own line), empty table: "
        f"{statistics.median(in_process):.2f} s\n"
        f"unchanged re-run with PYTHONDONTWRITEBYTECODE=1 (no bytecode cache): {cold:.2f} s\n"
        f"--full: [{seed_line(out_full)}]\n1% changed: [{seed_line(out_changed)}]\n"
        f"samples (s): db.seed {fmt(seed_s)}; \\copy {fmt(copy_s)}; unchanged {fmt(unchanged)}; "
        f"--full {fmt(full)}; 1% {fmt(one_percent)}"
    )


def sqlite_main(rows: int, rounds: int) -> None:
    work = Path(tempfile.mkdtemp(prefix="seed-bench-sqlite-"))
    database = work / "bench.sqlite3"
    sizes = (SMALL_ROWS, rows)
    try:
        project = Project(
            bake(work / "bake", database="sqlite"),
            {"DATABASE_URL": f"sqlite:///{database}", "APP_ENV": "development"},
        )
        data = add_bench_items(project)
        bench = Bench(project, f"sqlite:///{database}")
        files = {size: work / f"{size}.csv" for size in sizes}
        for size, path in files.items():
            write_csv(path, size)
        shutil.copy(files[SMALL_ROWS], data)
        bench.invoke("--list")  # bytecode compiled once, as in main()
        assert "nothing written" in bench.seed("--plan")[2]
        # (wall s, peak RSS KiB) per size: into the empty table, then a --full re-run.
        empty: dict[int, list[tuple[float, int]]] = {size: [] for size in sizes}
        full: dict[int, list[tuple[float, int]]] = {size: [] for size in sizes}
        for round_ in range(rounds):
            for size in sizes if round_ % 2 else reversed(sizes):
                sqlite_empty(database)
                shutil.copy(files[size], data)
                wall, rss, out = bench.seed()
                assert f"{size:,} inserted" in out, out
                empty[size].append((wall, rss))
                wall, rss, out = bench.seed("--full")
                assert f"{size:,} unchanged" in out, out
                full[size].append((wall, rss))
        version = sqlite3.sqlite_version
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print(
        f"\nSeeding into SQLite {version}: {SMALL_ROWS:,} and {rows:,} rows; medians of "
        f"{rounds} rounds; load average {os.getloadavg()[0]:.1f} at the end.\n"
    )
    print("columns: figure | value | reference | ref value | ratio | target | verdict")
    for label, runs in (("empty table", empty), ("--full re-run", full)):
        big_mib = statistics.median(rss for _, rss in runs[rows]) / 1024
        small_mib = statistics.median(rss for _, rss in runs[SMALL_ROWS]) / 1024
        print(
            f"peak RSS, {label}, {rows:,} rows  {big_mib:.0f} MiB  "
            f"peak RSS, {SMALL_ROWS:,} rows  {small_mib:.0f} MiB  {big_mib / small_mib:.2f}x  "
            f"flat: <= 1.1x (issue 3)  {verdict(big_mib <= small_mib * 1.1)}"
        )
    for label, runs in (("empty table", empty), ("--full re-run", full)):
        for size in sizes:
            seconds = [wall for wall, _ in runs[size]]
            wall = statistics.median(seconds)
            print(
                f"db.seed, {label}, {size:,} rows (whole process): {wall:.2f} s, "
                f"{size / wall:,.0f} rows/s; samples (s): {fmt(seconds)}"
            )


def sqlite_empty(database: Path) -> None:
    """The bench table empty and the seeds' ledger forgotten, as EMPTY does on PostgreSQL."""
    with sqlite3.connect(database) as connection:
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master")}
        for table in ("bench_items", "seed_ledger", "seed_runs"):
            if table in tables:
                connection.execute(f"DELETE FROM {table}")
    connection.close()


def verdict(passed: bool) -> str:
    return "PASS" if passed else "MISS"


def fmt(samples: list[float]) -> str:
    return " ".join(f"{sample:.2f}" for sample in samples)


def admin_sql_value(url: str, sql: str) -> str:
    import psycopg

    with psycopg.connect(url) as connection:
        row = connection.execute(sql).fetchone()
    return str(row[0]) if row else "?"


if __name__ == "__main__":
    main()
