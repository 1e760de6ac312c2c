"""The fault matrix (bench/faults.py, issue 13): its smoke run in the everyday suite, the whole
matrix under the ``faults`` marker (``python3 dev.py test -m faults``, 5-10 minutes).

The smoke run (``--quick``) checks each kind of experiment once: bad inputs give one line and
leave nothing changed or stuck, concurrent migrators through PgBouncer apply each revision once,
a migrator killed through PgBouncer leaves no lock behind. PgBouncer comes from Debian (installed
by tests/pgbouncer.py when missing); without it those experiments are reported as skipped, and
this test is skipped with the reason rather than pass on less than it claims.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.postgresql


def _run_matrix(admin_url: str, output: Path, *args: str, timeout: float) -> dict[str, object]:
    result = subprocess.run(
        [sys.executable, str(REPO / "bench" / "faults.py"), "--json", str(output), *args],
        cwd=REPO,
        env={**os.environ, "TEST_DATABASE_URL": admin_url},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert output.is_file(), result.stdout[-3000:] + result.stderr[-3000:]
    report: dict[str, object] = json.loads(output.read_text())
    report["returncode"] = result.returncode
    report["output"] = result.stdout[-4000:]
    return report


def test_quick_fault_matrix(admin_url: str, tmp_path: Path) -> None:
    report = _run_matrix(admin_url, tmp_path / "faults.json", "--quick", timeout=240)
    totals = report["totals"]
    assert isinstance(totals, dict)
    if totals["skipped"]:  # no PgBouncer here: a skip with the reason, never a pass
        outcomes = report["outcomes"]
        assert isinstance(outcomes, list)
        pytest.skip("; ".join(sorted({o["skipped"] for o in outcomes if o["skipped"]})))
    assert totals["experiments run"] >= 6, report["output"]
    assert totals["survived cleanly"] == totals["experiments run"], report["output"]
    assert totals["data lost"] == 0, report["output"]
    assert totals["stuck states"] == 0, report["output"]
    assert totals["messages checked"] >= 7, report["output"]
    assert report["returncode"] == 0, report["output"]


@pytest.mark.faults
def test_whole_fault_matrix(admin_url: str, tmp_path: Path) -> None:
    report = _run_matrix(admin_url, tmp_path / "faults.json", timeout=1500)
    totals = report["totals"]
    assert isinstance(totals, dict)
    assert totals["data lost"] == 0, report["output"]
    assert totals["stuck states"] == 0, report["output"]
    assert totals["survived cleanly"] == totals["experiments run"], report["output"]
