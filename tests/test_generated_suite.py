"""The baked project's own test suite passes on SQLite and PostgreSQL, one database per xdist
worker; its wall time and the per-test cost of the rolled-back transaction are recorded.

The figures appear in the terminal summary ("baked project's test suite"); bench/run.py
measures them with repetitions.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.support import REPO, Project, admin_sql, with_database

TESTS_OF_THE_BAKED_SUITE = 14


def run_suite(
    project: Project, env: dict[str, str], tmp_path: Path, workers: int
) -> dict[str, Any]:
    timing = tmp_path / "timing.jsonl"
    env = {**env, "SUITE_TIMING": str(timing), "PYTHONPATH": f"src:{REPO / 'tests'}"}
    xdist = ["-n", str(workers)] if workers else ["-p", "no:xdist"]
    started = time.perf_counter()
    result = project.run(
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "-p",
        "suite_timing",
        *xdist,
        env=env,
        check=False,
    )
    wall = time.perf_counter() - started
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert f"{TESTS_OF_THE_BAKED_SUITE} passed" in result.stdout, result.stdout[-2000:]
    phases: dict[str, dict[str, float]] = {}
    isolated: set[str] = set()
    for line in timing.read_text().splitlines():
        test, phase, seconds, uses_connection = json.loads(line)
        phases.setdefault(test, {})[phase] = seconds
        if uses_connection:
            isolated.add(test)
    assert len(phases) == TESTS_OF_THE_BAKED_SUITE
    assert isolated, "no test of the baked suite uses the rolled-back connection"
    # The first test of each worker also builds the database: the median leaves it out.
    per_test = statistics.median(
        phases[test].get("setup", 0.0) + phases[test].get("teardown", 0.0) for test in isolated
    )
    return {"wall": wall, "tests": len(phases), "isolation_per_test": per_test}


def record(request: pytest.FixtureRequest, label: str, figures: dict[str, Any]) -> None:
    request.node.user_properties.append(("baked_suite", {"label": label, **figures}))


@pytest.mark.parametrize("workers", [0, 2], ids=["one-process", "xdist-2"])
def test_baked_suite_passes(
    project_copy: Any,
    database: str,
    workers: int,
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    flavour = "sqlite" if database.startswith("sqlite") else "postgresql"
    project: Project = project_copy(flavour)
    figures = run_suite(project, {"TEST_DATABASE_URL": database}, tmp_path, workers)
    if flavour == "postgresql":
        _drop_databases_of_the_run(request, database)
    else:
        created = sorted(
            p.name for p in Path(database.removeprefix("sqlite:///")).parent.glob("*.sqlite3")
        )
        expected = {0: ["test.sqlite3"], 2: ["test_gw0.sqlite3", "test_gw1.sqlite3"]}[workers]
        assert created == expected
    record(request, f"{flavour}, {'one process' if not workers else f'-n {workers}'}", figures)


@pytest.mark.embedded
def test_baked_suite_on_the_embedded_default(
    project_copy: Any, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """No TEST_DATABASE_URL and no DATABASE_URL: the project's own PostgreSQL 18, as after a bake."""
    project: Project = project_copy("postgresql")
    try:
        figures = run_suite(project, {}, tmp_path, workers=2)
        listed = project.python(LIST_DATABASES).stdout.split()
        assert "my_service_test_gw0" in listed
        assert "my_service_test_gw1" in listed
        assert "my_service_development" not in listed  # the tests never touch it
    finally:
        project.invoke("db.down")
    record(request, "postgresql, embedded default, -n 2", figures)


LIST_DATABASES = """
import psycopg
from sqlalchemy.engine import make_url
from my_service.db import local
from my_service.settings import load_settings

url = make_url(local.default_url(load_settings(), "postgres")).set(drivername="postgresql")
with psycopg.connect(url.render_as_string(hide_password=False)) as connection:
    for (name,) in connection.execute("SELECT datname FROM pg_database"):
        print(name)
"""


def _drop_databases_of_the_run(request: pytest.FixtureRequest, url: str) -> None:
    from sqlalchemy.engine import make_url

    admin = request.getfixturevalue("admin_url")
    name = make_url(url).database
    import psycopg

    with psycopg.connect(with_database(admin, "postgres"), autocommit=True) as connection:
        names = [
            row[0]
            for row in connection.execute(
                "SELECT datname FROM pg_database WHERE datname LIKE %s", (f"{name}_%",)
            )
        ]
    for created in names:
        admin_sql(admin, f'DROP DATABASE IF EXISTS "{created}" WITH (FORCE)')
