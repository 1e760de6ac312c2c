"""pytest plugin loaded into a baked project's own test run (tests/test_generated_suite.py).

Writes one JSON line per test phase to $SUITE_TIMING: the test, the phase, its seconds at full
precision (``--durations`` rounds to 10 ms, coarser than a rollback) and whether the test uses
the rolled-back ``connection`` (``session`` builds on it).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator

import pytest


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    report: pytest.TestReport = yield
    target = os.environ.get("SUITE_TIMING")
    if target:
        isolated = "connection" in getattr(item, "fixturenames", ())
        with open(target, "a", encoding="utf-8") as out:
            out.write(json.dumps([item.nodeid, call.when, report.duration, isolated]) + "\n")
    return report
