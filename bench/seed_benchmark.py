"""Benchmark of ``invoke db.seed`` on PostgreSQL (not a test): run it by hand.

    python bench/seed_benchmark.py [--rows 1000000]

Bakes a project, adds a ``bench_items`` model, migration and CSV seed of ``--rows`` rows, then
prints side by side: db.seed on an empty table, psql ``\\copy`` of the same CSV (the physical
reference), a naive ORM loop (50,000 rows, scaled), an unchanged re-run (ledger), a ``--full``
unchanged re-run, a re-run with 1% of rows changed, and the seeding process's peak memory for
100k and for all rows. Server: TEST_DATABASE_URL (an admin URL), default
postgresql://postgres@127.0.0.1:5432/postgres.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.support import (  # noqa: E402
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

SEED = """from ..db.seeding import EVERY_ENVIRONMENT, Seed
from ..models.bench_item import BenchItem

bench_items = Seed(
    model=BenchItem, key="sku", data="bench_items.csv", environments=EVERY_ENVIRONMENT
)
"""

ORM_LOOP = """
import time
from decimal import Decimal
from {package}.db.engine import database_url, make_engine, session_factory
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


def write_csv(path: Path, rows: int, changed_every: int = 0) -> None:
    with path.open("w") as handle:
        handle.write("sku,name,price,quantity\n")
        for n in range(rows):
            name = f"Item {n}" if not changed_every or n % changed_every else f"Item {n} (new)"
            handle.write(f"SKU-{n:08d},{name},{n % 1000}.{n % 100:02d},{n % 500}\n")


def run_measured(project: Project, *args: str) -> tuple[float, int, str]:
    """Wall time, peak RSS (KiB) and stdout of ``invoke ARGS`` as a child process."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.monotonic()
        process = subprocess.Popen(
            [sys.executable, "-m", "invoke", *args],
            cwd=project.path,
            env=project.environ(),
            stdout=out,
            stderr=err,
        )
        _, status, usage = os.wait4(process.pid, 0)  # the child's own rusage: ru_maxrss
        elapsed = time.monotonic() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout = out.read()
        if process.returncode:
            raise SystemExit(f"invoke {' '.join(args)} failed:\n{stdout}\n{err.read()}")
    return elapsed, usage.ru_maxrss, stdout


def seed_seconds(out: str) -> float:
    found = re.search(r"^bench_items .*\(([\d.]+) s\)$", out, re.MULTILINE)
    return float(found[1]) if found else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    options = parser.parse_args()
    rows = options.rows
    admin = os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    work = Path(tempfile.mkdtemp(prefix="seed-bench-"))
    url = create_pg_database(admin)
    try:
        project = Project(bake(work / "bake"), {"DATABASE_URL": url, "APP_ENV": "development"})
        package_dir = project.path / "src" / project.package
        (package_dir / "models" / "bench_item.py").write_text(MODEL)
        (package_dir / "seeds" / "bench_items.py").write_text(SEED)
        project.invoke("db.migrate")
        project.invoke("db.migrate", "-m", "bench items")
        data = package_dir / "seeds" / "data" / "bench_items.csv"
        small = work / "small.csv"
        write_csv(data, rows)
        write_csv(small, 100_000)
        size_mb = data.stat().st_size / 1e6
        truncate = "TRUNCATE bench_items RESTART IDENTITY; DELETE FROM seed_ledger"

        # Naive ORM loop first (on the empty table), then start again from empty.
        orm_rows = 50_000
        orm = project.python(ORM_LOOP.format(package=project.package, rows=orm_rows))
        orm_rate = orm_rows / float(orm.stdout.strip().splitlines()[-1])
        admin_sql(url, "TRUNCATE bench_items RESTART IDENTITY")

        wall, rss_full, out = run_measured(project, "db.seed", "--only", "bench_items")
        seed_rate = rows / seed_seconds(out)
        seed_rate_wall = rows / wall

        psql = shutil.which("psql") or "/usr/bin/psql"
        admin_sql(url, "CREATE TABLE bench_copy (LIKE bench_items INCLUDING ALL)")
        started = time.monotonic()
        subprocess.run(
            [psql, url, "-q", "-c",
             f"\\copy bench_copy (sku, name, price, quantity) FROM '{data}' CSV HEADER"],
            check=True,
        )
        copy_rate = rows / (time.monotonic() - started)

        unchanged_wall, _, out = run_measured(project, "db.seed", "--only", "bench_items")
        assert "skipped" in out, out
        full_wall, _, out_full = run_measured(
            project, "db.seed", "--only", "bench_items", "--full"
        )
        write_csv(data, rows, changed_every=100)
        changed_wall, _, out_changed = run_measured(project, "db.seed", "--only", "bench_items")

        admin_sql(url, truncate)
        shutil.copy(small, data)
        _, rss_small, _ = run_measured(project, "db.seed", "--only", "bench_items")

        print(f"\nSeeding {rows:,} rows ({size_mb:.0f} MB CSV) into PostgreSQL\n")
        print(f"{'db.seed, empty table':<42}{seed_rate:>12,.0f} rows/s   "
              f"({seed_rate_wall:,.0f} rows/s counting process start-up)")
        copy_label, ratio_label = "psql \\copy, same CSV", "  db.seed / \\copy"
        print(f"{copy_label:<42}{copy_rate:>12,.0f} rows/s")
        print(f"{ratio_label:<42}{seed_rate / copy_rate:>12.2f} x   (target >= 0.6)")
        print(f"{'naive ORM loop (50,000 rows, scaled)':<42}{orm_rate:>12,.0f} rows/s "
              f"({rows / orm_rate:.1f} s for {rows:,})")
        print(f"{'unchanged re-run (ledger skip)':<42}{unchanged_wall:>12.2f} s        "
              "(target < 1 s, whole process)")
        print(f"{'unchanged re-run --full (every row)':<42}{full_wall:>12.2f} s  "
              f"[{_line(out_full)}]")
        print(f"{'re-run with 1% of rows changed':<42}{changed_wall:>12.2f} s  "
              f"[{_line(out_changed)}]")
        print(f"{'peak RSS, 100,000 rows':<42}{rss_small / 1024:>12.0f} MiB")
        print(f"{f'peak RSS, {rows:,} rows':<42}{rss_full / 1024:>12.0f} MiB")
    finally:
        drop_pg_database(admin, url)
        shutil.rmtree(work, ignore_errors=True)


def _line(out: str) -> str:
    found = re.search(r"^bench_items +[\d,]+ rows: (.*)$", out, re.MULTILINE)
    return found[1] if found else out.strip()


if __name__ == "__main__":
    main()
