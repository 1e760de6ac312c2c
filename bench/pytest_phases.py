"""pytest plugin of bench/run.py: every test's setup/call/teardown seconds, full precision.

``--durations`` rounds to 10 ms, coarser than a fixture's cost; this writes the raw durations
as JSON lines to $BENCH_PHASES.
"""

from __future__ import annotations

import json
import os

import pytest


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    target = os.environ.get("BENCH_PHASES")
    if target:
        with open(target, "a", encoding="utf-8") as out:
            out.write(json.dumps([report.nodeid, report.when, report.duration]) + "\n")
