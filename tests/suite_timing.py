"""pytest plugin loaded into a baked project's own test run (tests/test_generated_suite.py,
bench/run.py), and ``summary()``, which reads what it wrote.

Writes one JSON line per test phase to $SUITE_TIMING: the test, the phase, its seconds at full
precision (``--durations`` rounds to 10 ms, coarser than a rollback), whether the test uses the
rolled-back ``connection`` (``session`` builds on it; "sync") or ``async_connection`` ("async"), the
seconds of session-scoped fixtures
set up within that phase (the one-off build of the test database, migrations and seeds, lands in
the setup of whichever test first needs it) and the xdist worker.
"""

from __future__ import annotations

import json
import os
import statistics
import time
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

_built = [0.0]  # session-scoped fixture seconds not yet written with a phase


def suite_command(python: str, *extra: str) -> list[str]:
    """The baked project's suite with this plugin loaded (run it in the project's folder)."""
    return [python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "suite_timing", *extra]


def plugin_env(timing: Path) -> dict[str, str]:
    """What the run needs to find the project's ``src``, this plugin and where to write."""
    return {
        "SUITE_TIMING": str(timing),
        "PYTHONPATH": f"src{os.pathsep}{Path(__file__).parent}",
    }


@pytest.hookimpl(wrapper=True)
def pytest_fixture_setup(fixturedef: pytest.FixtureDef[Any]) -> Generator[None, object, object]:
    started = time.perf_counter()
    try:
        return (yield)
    finally:
        if fixturedef.scope == "session":
            _built[0] += time.perf_counter() - started


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    target = os.environ.get("SUITE_TIMING")
    if target:
        fixtures = getattr(item, "fixturenames", ())
        # engine=async bakes: async tests get their rolled-back transaction from
        # async_connection (async_session builds on it), counted apart from the sync ones.
        isolated = (
            "async"
            if "async_connection" in fixtures
            else "sync"
            if "connection" in fixtures
            else ""
        )
        built, _built[0] = _built[0], 0.0
        with open(target, "a", encoding="utf-8") as out:
            worker = os.environ.get("PYTEST_XDIST_WORKER", "")
            line = [item.nodeid, call.when, report.duration, isolated, built, worker]
            out.write(json.dumps(line) + "\n")
    return report


def summary(timing: Path) -> dict[str, Any]:
    """The figures of one run from its $SUITE_TIMING file.

    ``isolation_per_test``: the median setup + teardown of the tests that use ``connection``,
    with the one-off build taken out: what each such test pays for its rolled-back transaction.
    ``async_isolation_per_test``: the same for the tests on ``async_connection`` (engine=async).
    ``database_build``: the one-off build, once per process (per xdist worker), the median.
    """
    phases: dict[str, dict[str, float]] = {}
    isolated: dict[str, set[str]] = {"sync": set(), "async": set()}
    builds: dict[str, float] = {}
    for line in timing.read_text().splitlines():
        test, phase, seconds, uses_connection, built, worker = json.loads(line)
        phases.setdefault(test, {})[phase] = seconds - built
        builds[worker] = builds.get(worker, 0.0) + built
        if uses_connection:
            isolated["async" if uses_connection == "async" else "sync"].add(test)

    def median_isolation(tests: set[str]) -> float | None:
        per_test = [phases[t].get("setup", 0.0) + phases[t].get("teardown", 0.0) for t in tests]
        return statistics.median(per_test) if per_test else None

    return {
        "tests": len(phases),
        "isolated_tests": len(isolated["sync"]),
        "isolation_per_test": median_isolation(isolated["sync"]),
        "async_isolated_tests": len(isolated["async"]),
        "async_isolation_per_test": median_isolation(isolated["async"]),
        "database_build": statistics.median(builds.values()) if builds else None,
        "call_per_test": sum(p.get("call", 0.0) for p in phases.values()) / max(len(phases), 1),
    }
