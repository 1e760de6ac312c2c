"""Where one task's time goes, on a grown project: the profiles behind docs/benchmarks.md.

    /tmp/benchvenv/bin/python bench/profile.py db.migrate --backend postgresql --revisions 300 \
        --from-empty

Grows a baked project to N revisions (as bench/run.py does), then runs ``invoke TASK`` three
times and prints:

1. the SQL it sends, by kind: statements, and seconds spent waiting for the database
   (SQLAlchemy's cursor events), i.e. the round trips per revision;
2. ``python -X importtime``: import seconds by top-level package (self time);
3. pyinstrument's wall-clock tree (library frames folded).

``--from-empty`` gives each run a new, empty database; otherwise the database is migrated to
head first (no-op ``db.migrate``, ``db.check``, ``db.status``...). PostgreSQL: the embedded
server of bench/run.py, or BENCH_DATABASE_URL.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run as bench

# Runs in the project: counts and times every statement, then runs the task as invoke would.
_SQL_COUNTER = """
import collections, sys, time
from sqlalchemy import event
from sqlalchemy.engine import Engine
count, spent, started = collections.Counter(), collections.Counter(), {}

@event.listens_for(Engine, "before_cursor_execute")
def _before(conn, cursor, statement, parameters, context, executemany):
    started[id(conn)] = time.perf_counter()

@event.listens_for(Engine, "after_cursor_execute")
def _after(conn, cursor, statement, parameters, context, executemany):
    words = statement.split()
    kind = " ".join(words[:2]).upper() if words[:1] != ["SELECT"] else " ".join(words[:3])
    count[kind] += 1
    spent[kind] += time.perf_counter() - started.pop(id(conn))

from invoke.main import program
try:
    program.run(["invoke", *sys.argv[1:]])
except SystemExit as exc:
    if exc.code:
        raise
print(f"{sum(count.values())} statements, {sum(spent.values()):.3f} s waiting for the "
      "database", file=sys.stderr)
for kind, n in count.most_common(12):
    print(f"  {n:5d}  {spent[kind]:6.3f} s  {kind[:70]}", file=sys.stderr)
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("task", nargs="+", help="the invoke task and its options, e.g. db.migrate")
    parser.add_argument("--backend", choices=("postgresql", "sqlite"), default="postgresql")
    parser.add_argument("--revisions", type=int, default=300)
    parser.add_argument("--from-empty", action="store_true")
    args = parser.parse_args()

    bench.WORK.mkdir(exist_ok=True)
    admin = bench.pg_admin_url() if args.backend == "postgresql" else None
    dbs = bench.Databases(args.backend, admin)
    try:
        project = bench.grown(bench.baked(args.backend), args.backend, args.revisions)
        at_head = None
        if not args.from_empty:
            at_head = dbs.fresh()
            bench.run(
                [str(bench.BIN / "alembic"), "upgrade", "head"],
                project,
                bench.base_env(DATABASE_URL=at_head),
            )

        def in_project(cmd: list[str]) -> str:
            url = at_head or dbs.fresh()
            try:
                done = subprocess.run(
                    cmd,
                    cwd=project,
                    env=bench.base_env(DATABASE_URL=url),
                    capture_output=True,
                    text=True,
                    check=False,
                )
            finally:
                if at_head is None:
                    dbs.drop(url)
            if done.returncode:
                raise bench.BenchError(
                    f"{' '.join(cmd)} exited {done.returncode}:\n{done.stderr[-2000:]}"
                )
            return done.stderr

        invoke = str(bench.BIN / "invoke")
        in_project([invoke, *args.task])  # warm-up: bytecode of the grown project
        title = f"invoke {' '.join(args.task)} [{args.backend}, {args.revisions} revisions" + (
            ", from empty]" if args.from_empty else ", at head]"
        )

        print(f"== SQL sent by {title}")
        print(_last_lines(in_project([bench.PY, "-c", _SQL_COUNTER, *args.task]), 13))

        print(f"\n== imports of {title}: self seconds by top-level package")
        print(_imports_by_package(in_project([bench.PY, "-X", "importtime", invoke, *args.task])))

        session = bench.WORK / "profile.pyisession"
        in_project(
            [
                bench.PY,
                "-m",
                "pyinstrument",
                "-i",
                "0.001",
                "-r",
                "session",
                "-o",
                str(session),
                invoke,
                *args.task,
            ]
        )
        print(f"\n== pyinstrument (wall clock) of {title}")
        print(_render(session))
    finally:
        dbs.drop_all()
        if admin is not None:
            bench.stop_embedded()
    return 0


def _last_lines(text: str, n: int) -> str:
    lines = [line for line in text.splitlines() if not line.startswith("Running upgrade")]
    return "\n".join(lines[-n:])


def _imports_by_package(stderr: str) -> str:
    self_us: dict[str, int] = defaultdict(int)
    for line in stderr.splitlines():
        found = re.match(r"import time:\s+(\d+) \|\s+\d+ \|\s*(\S+)", line)
        if found:
            self_us[found[2].split(".")[0]] += int(found[1])
    total = sum(self_us.values())
    top = sorted(self_us.items(), key=lambda item: -item[1])[:12]
    return "\n".join(
        [f"  {total / 1e6:6.3f} s  all imports"]
        + [f"  {us / 1e6:6.3f} s  {name}" for name, us in top]
    )


def _render(session: Path) -> str:
    done = subprocess.run(
        [bench.PY, "-m", "pyinstrument", "--load", str(session), "-r", "text", "--no-color"],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


if __name__ == "__main__":
    sys.exit(main())
