"""How long the template's own checks take on this machine, next to the budget they must meet.

    python3 bench/suite_speed.py            # the checks that existed before the trust issues
    python3 bench/suite_speed.py --everyday # and the whole everyday suite after them

Issue 14 (item 5): "the checks that existed before the trust issues run in at most 3.5 minutes
on 2 cores with none lost (5.5 min today)". Those checks are the test files of commit 90701e4,
the last before issue 11, wherever their tests live now: three of them moved into tests/kit/
(in-process) with the kit. They run here as `python3 dev.py test` runs them (two xdist workers,
the embedded PostgreSQL 18 unless TEST_DATABASE_URL names a server), the server started first
so that its start-up is not counted, as it is not in an everyday run that reuses it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

# Run as a script: dev.py, the template's test command (its venv and worker count), from the
# repository's folder.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import dev

REPO = Path(__file__).resolve().parents[1]

# `git ls-tree --name-only 90701e4 tests/`, test files only; then where their tests went.
FOUNDATION = [
    "tests/test_bad_inputs.py",
    "tests/test_bake.py",
    "tests/test_docs.py",
    "tests/test_generated_suite.py",
    "tests/test_grants.py",
    "tests/test_lifecycle_safety.py",
    "tests/test_packaging.py",
    "tests/test_pre_gen_hook.py",
    "tests/test_project_files.py",
    "tests/test_seeds.py",
    "tests/test_tasks.py",
    "tests/kit/test_lifecycle.py",  # from test_lifecycle_safety.py and test_tasks.py
    "tests/kit/test_seeds.py",  # from test_seeds.py
    "tests/kit/test_tasks.py",  # from test_tasks.py
]
EVERYDAY = ["-m", "not material and not faults and not versions"]
BUDGET = {"foundation": (210.0, 330.0), "everyday": (None, None)}  # (target, before) seconds


def start_test_server() -> None:
    """The embedded server, started outside the timing (dev.py stops it after each run)."""
    if not os.environ.get("TEST_DATABASE_URL"):
        code = "from tests.support import REPO, pg_admin_url; pg_admin_url(REPO / '.cache')"
        subprocess.run([str(dev.PYTHON), "-c", code], cwd=REPO, check=True)


def timed(pytest_args: list[str]) -> tuple[float, str]:
    start_test_server()
    start = time.monotonic()
    result = subprocess.run(
        [sys.executable, str(REPO / "dev.py"), "test", *pytest_args, "-q"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.monotonic() - start
    summary = (result.stdout.strip().splitlines() or ["(no output)"])[-1]
    if result.returncode != 0:
        sys.exit(f"the run failed ({summary}); fix the suite before timing it")
    return seconds, summary


def main(argv: list[str]) -> int:
    dev.ensure_venv()
    runs = [("foundation", FOUNDATION)]
    if "--everyday" in argv:
        runs.append(("everyday", EVERYDAY))
    print(f"{'checks':<12} {'seconds':>8} {'target':>8} {'before':>8}  pytest")
    missed = False
    for name, args in runs:
        seconds, summary = timed(args)
        target, before = BUDGET[name]
        missed |= target is not None and seconds > target
        print(
            f"{name:<12} {seconds:8.1f} {target or '-':>8} {before or '-':>8}  {summary}",
            flush=True,
        )
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
