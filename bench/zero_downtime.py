"""Issue 16: how long writers stall while a migration runs, naive revision against safe one.

A baked project's ``users`` table holds ROWS rows; WRITERS threads update random rows in a loop
(autocommit, on 127.0.0.1) while ``invoke db.migrate`` applies one revision. For each change
(add an index, a foreign key, a NOT NULL column with a default, a UNIQUE, a CHECK) it runs the
naive revision and the safe one (groundwork/safe.py), each on a fresh copy of the filled
database, and records the longest single write (the stall), the writes done, and the
migration's time.

    .venv/bin/python bench/zero_downtime.py                     # 100,000 and 1,000,000 rows
    .venv/bin/python bench/zero_downtime.py --rows 20000 --quick  # a smoke run, a minute
    .venv/bin/python bench/zero_downtime.py --json out.json

``TEST_DATABASE_URL``: an admin URL on 127.0.0.1 (default the local server); every database is
``gw_bench_zd_*``, dropped at the end. Figures on a shared 2-core machine are noisy: the stall
of a naive revision grows with the table, the safe one's should not.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.support import bake, package_dir

INITIAL = "0d848db94cb2"
ADMIN = os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")

# Before each experiment: a column to point a foreign key from, filled.
SETUP = "ALTER TABLE users ADD COLUMN home_id integer; UPDATE users SET home_id = country_id"

VOLATILE = "floor(random() * 100)::bigint"

CHANGES: dict[str, tuple[str, str]] = {
    "add index": (
        'op.create_index("ix_users_display_name", "users", ["display_name"])',
        'safe.create_index_concurrently("ix_users_display_name", "users", ["display_name"])',
    ),
    "add foreign key": (
        'op.create_foreign_key("fk_home", "users", "countries", ["home_id"], ["id"])',
        'safe.add_foreign_key_not_valid("fk_home", "users", "countries", ["home_id"], ["id"])\n'
        'safe.validate_constraint("fk_home", "users")',
    ),
    # A volatile default (a value per row): the naive form rewrites the whole table under
    # ACCESS EXCLUSIVE (a constant default is metadata-only since PostgreSQL 11). The safe one
    # adds the column bare, sets the default for new rows, backfills the old ones in committed
    # batches and makes it NOT NULL through a validated CHECK. bigint: squawk's
    # prefer-bigint-over-int would flag an integer in both forms, which says nothing of locks.
    "add NOT NULL column with default": (
        'op.add_column("users", sa.Column("score", sa.BigInteger(), nullable=False, '
        f"server_default=sa.text({VOLATILE!r})))",
        'op.add_column("users", sa.Column("score", sa.BigInteger()))\n'
        f'op.alter_column("users", "score", server_default=sa.text({VOLATILE!r}))\n'
        # Batches of 1,000 (the default): a writer waits at most for one batch's row locks.
        f'safe.backfill("users", set_={("score = " + VOLATILE)!r}, where="score IS NULL")\n'
        'safe.set_not_null_safely("users", "score")',
    ),
    "add UNIQUE": (
        'op.create_unique_constraint("uq_users_display_name", "users", ["display_name"])',
        'safe.add_unique_using_index("uq_users_display_name", "users", ["display_name"])',
    ),
    "add CHECK": (
        'op.create_check_constraint(op.f("ck_name"), "users", "length(display_name) > 0")',
        'safe.add_check_not_valid("ck_name", "users", "length(display_name) > 0")\n'
        'safe.validate_constraint("ck_name", "users")',
    ),
}


@dataclass
class Figure:
    rows: int
    change: str
    form: str
    migration_s: float
    longest_write_s: float
    writes: int
    ok: bool
    # The writes of the second before the migration, with nothing else running: the issue's
    # bound for a safe revision is 2 x that latency + the lock timeout.
    unloaded_write_s: float
    # `invoke db.lint` on the pending revision: True when squawk flags it.
    flagged: bool


def url_of(name: str) -> str:
    return ADMIN.rsplit("/", 1)[0] + "/" + name


def admin(sql: str) -> None:
    with psycopg.connect(ADMIN, autocommit=True) as connection:
        connection.execute(sql)


def revision_file(project: Path, body: str) -> Path:
    lines = "\n".join(f"    {line}" for line in body.splitlines())
    path = package_dir(project) / "migrations" / "versions" / "zd0000000001_bench.py"
    path.write_text(
        '"""bench"""\n\nimport sqlalchemy as sa\nfrom alembic import op\n\n'
        "from groundwork import safe\n\n"
        f'revision = "zd0000000001"\ndown_revision = "{INITIAL}"\n'
        "branch_labels = None\ndepends_on = None\n\n\n"
        f"def upgrade() -> None:\n{lines}\n\n\ndef downgrade() -> None:\n    pass\n"
    )
    return path


def linted(project: Path, url: str) -> bool:
    """Whether ``invoke db.lint`` flags the pending revision (exit 1) or not (exit 0)."""
    env = {**os.environ, "PYTHONPATH": str(project / "src"), "DATABASE_URL": url}
    done = subprocess.run(
        [sys.executable, "-m", "invoke", "db.lint"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode not in (0, 1):
        raise RuntimeError(done.stderr.strip().splitlines()[-1])
    return done.returncode == 1


def migrate(project: Path, url: str) -> tuple[float, bool]:
    env = {
        **os.environ,
        "PYTHONPATH": str(project / "src"),
        "DATABASE_URL": url,
        "MIGRATION_STATEMENT_TIMEOUT": "1h",
        "MIGRATION_LOCK_TIMEOUT": "1min",
    }
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "invoke", "db.migrate"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode:
        print(done.stderr.strip().splitlines()[-1], file=sys.stderr)
    return time.monotonic() - started, done.returncode == 0


def writers(url: str, count: int, rows: int, stop: threading.Event) -> list[list[float]]:
    """Start ``count`` threads updating random rows; each fills its list with write times."""
    times: list[list[float]] = [[] for _ in range(count)]

    def write(out: list[float]) -> None:
        with psycopg.connect(url, autocommit=True) as connection:
            while not stop.is_set():
                started = time.monotonic()
                connection.execute(
                    "UPDATE users SET is_admin = NOT is_admin WHERE id = %s",
                    (random.randint(1, rows),),
                )
                out.append(time.monotonic() - started)

    for out in times:
        threading.Thread(target=write, args=(out,), daemon=True).start()
    return times


def experiment(
    project: Path, template: str, rows: int, change: str, form: str, count: int
) -> Figure:
    name = f"gw_bench_zd_{uuid.uuid4().hex[:10]}"
    admin(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    url = url_of(name)
    try:
        naive, safe = CHANGES[change]
        revision_file(project, naive if form == "naive" else safe)
        flagged = linted(project, url)
        stop = threading.Event()
        times = writers(url, count, rows, stop)
        time.sleep(1.0)  # the writers at their pace
        unloaded = sorted(t for out in times for t in out)
        for out in times:
            out.clear()
        seconds, ok = migrate(project, url)
        time.sleep(0.5)
        stop.set()
        time.sleep(0.3)
        every = [t for out in times for t in out]
        median = unloaded[len(unloaded) // 2] if unloaded else 0.0
        return Figure(
            rows,
            change,
            form,
            round(seconds, 2),
            round(max(every, default=0), 3),
            len(every),
            ok,
            round(median, 4),
            flagged,
        )
    finally:
        admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def filled(project: Path, rows: int) -> str:
    """A database at the initial revision with ``rows`` users, to copy for each experiment."""
    name = f"gw_bench_zd_tpl_{uuid.uuid4().hex[:8]}"
    admin(f'CREATE DATABASE "{name}"')
    url = url_of(name)
    env = {**os.environ, "PYTHONPATH": str(project / "src"), "DATABASE_URL": url}
    subprocess.run(
        [sys.executable, "-m", "invoke", "db.upgrade", "--to", INITIAL],
        cwd=project,
        env=env,
        check=True,
        capture_output=True,
    )
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(
            "INSERT INTO countries (code, alpha3, name) VALUES ('FR', 'FRA', 'France')"
        )
        connection.execute(
            "INSERT INTO users (email, display_name, country_id) SELECT 'u' || n || '@x.org', "
            "'user ' || n, 1 FROM generate_series(1, %s) n",
            (rows,),
        )
        for statement in SETUP.split("; "):
            connection.execute(statement)
        connection.execute("VACUUM ANALYZE users")
    return name


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, action="append", help="table sizes (repeatable)")
    parser.add_argument("--writers", type=int, default=4)
    parser.add_argument("--quick", action="store_true", help="add index and add CHECK only")
    parser.add_argument("--change", action="append", choices=list(CHANGES), help="only these")
    parser.add_argument("--json", type=Path)
    options = parser.parse_args()
    sizes = options.rows or [100_000, 1_000_000]
    changes = options.change or (["add index", "add CHECK"] if options.quick else list(CHANGES))
    figures: list[Figure] = []
    with tempfile.TemporaryDirectory() as folder:
        project = bake(Path(folder), project_name="Bench ZD")
        for rows in sizes:
            template = filled(project, rows)
            try:
                for change in changes:
                    for form in ("naive", "safe"):
                        figure = experiment(project, template, rows, change, form, options.writers)
                        figures.append(figure)
                        print(
                            f"{rows:>9} rows  {change:<34} {form:<5} migration "
                            f"{figure.migration_s:>7.2f} s  longest write "
                            f"{figure.longest_write_s:>7.3f} s  writes {figure.writes:>7}"
                            f"  unloaded write {figure.unloaded_write_s * 1000:5.1f} ms"
                            f"  lint {'flagged' if figure.flagged else 'clean'}"
                            f"{'' if figure.ok else '  FAILED'}",
                            flush=True,
                        )
            finally:
                admin(f'DROP DATABASE IF EXISTS "{template}" WITH (FORCE)')
    if options.json:
        options.json.write_text(json.dumps([asdict(f) for f in figures], indent=2) + "\n")
    return 0 if all(f.ok for f in figures) else 1


if __name__ == "__main__":
    raise SystemExit(main())
