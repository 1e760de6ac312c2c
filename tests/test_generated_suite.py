"""The baked project's own test suite passes on SQLite and PostgreSQL, one database per xdist
worker; its wall time and the per-test cost of the rolled-back transaction are recorded.

The figures appear in the terminal summary ("baked project's test suite"); bench/run.py
measures them with repetitions.
"""

from __future__ import annotations

import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.suite_timing import plugin_env, suite_command, summary
from tests.support import FLAVOURS, Project, admin_sql, bake_with, with_database

TESTS_OF_THE_BAKED_SUITE = 14
TESTS_WITHOUT_EXAMPLES = 9  # a bake with examples=no
# engine=async: tests/test_async_session.py besides, on the async fixtures.
TESTS_OF_AN_ASYNC_BAKE = {"yes": TESTS_OF_THE_BAKED_SUITE + 3, "no": TESTS_WITHOUT_EXAMPLES + 2}


def run_suite(
    project: Project,
    env: dict[str, str],
    tmp_path: Path,
    workers: int,
    tests: int | None = TESTS_OF_THE_BAKED_SUITE,
) -> dict[str, Any]:
    """Run the bake's suite; ``tests``: how many must pass (None: all there are, none skipped)."""
    timing = tmp_path / "timing.jsonl"
    env = {**env, **plugin_env(timing)}
    xdist = ["-n", str(workers)] if workers else ["-p", "no:xdist"]
    started = time.perf_counter()
    result = project.run(*suite_command(sys.executable, *xdist), env=env, check=False)
    wall = time.perf_counter() - started
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    if tests is not None:
        assert f"{tests} passed" in result.stdout, result.stdout[-2000:]
    assert " skipped" not in result.stdout, result.stdout[-2000:]
    figures = summary(timing)
    assert figures["tests"] == (tests or figures["tests"]) > 0
    assert figures["isolated_tests"], "no test of the baked suite uses the rolled-back connection"
    return {"wall": wall, **figures}


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
        drop_databases_of_the_run(request, database)
    else:
        created = sorted(
            p.name for p in Path(database.removeprefix("sqlite:///")).parent.glob("*.sqlite3")
        )
        expected = {0: ["test.sqlite3"], 2: ["test_gw0.sqlite3", "test_gw1.sqlite3"]}[workers]
        assert created == expected
    record(request, f"{flavour}, {'one process' if not workers else f'-n {workers}'}", figures)


def test_baked_suite_without_examples_passes(
    cookies_session: Any, database: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """A bake with examples=no: no model, no revision, no seed, and its own suite is green."""
    flavour = "sqlite" if database.startswith("sqlite") else "postgresql"
    baked = bake_with(cookies_session, examples="no", **FLAVOURS[flavour])
    project = Project.copy_of(baked, tmp_path / "project")
    env = {"TEST_DATABASE_URL": database}
    figures = run_suite(project, env, tmp_path, workers=0, tests=TESTS_WITHOUT_EXAMPLES)
    if flavour == "postgresql":
        drop_databases_of_the_run(request, database)
    record(request, f"{flavour} without examples, one process", figures)


@pytest.mark.parametrize("examples", ["yes", "no"])
def test_baked_suite_with_sqlmodel_passes(
    cookies_session: Any,
    database: str,
    examples: str,
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    """A bake with models=sqlmodel: the same tests, on SQLModel table models, all green."""
    flavour = "sqlite" if database.startswith("sqlite") else "postgresql"
    baked = bake_with(cookies_session, models="sqlmodel", examples=examples, **FLAVOURS[flavour])
    project = Project.copy_of(baked, tmp_path / "project")
    tests = TESTS_OF_THE_BAKED_SUITE if examples == "yes" else TESTS_WITHOUT_EXAMPLES
    env = {"TEST_DATABASE_URL": database}
    figures = run_suite(project, env, tmp_path, workers=0, tests=tests)
    if flavour == "postgresql":
        drop_databases_of_the_run(request, database)
    label = f"{flavour}, sqlmodel{'' if examples == 'yes' else ' without examples'}, one process"
    record(request, label, figures)


@pytest.mark.parametrize("examples", ["yes", "no"])
def test_async_bake_suite_passes(
    cookies_session: Any,
    database: str,
    examples: str,
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    """engine=async: the sync tests and the async ones (async_session, rolled back per test)
    pass; the async driver is the one the test database's URL implies."""
    flavour = "sqlite" if database.startswith("sqlite") else "postgresql"
    baked = bake_with(cookies_session, engine="async", examples=examples, **FLAVOURS[flavour])
    project = Project.copy_of(baked, tmp_path / "project")
    tests = TESTS_OF_AN_ASYNC_BAKE[examples]
    figures = run_suite(project, {"TEST_DATABASE_URL": database}, tmp_path, workers=0, tests=tests)
    assert figures["async_isolated_tests"] >= 2, figures
    if flavour == "postgresql":
        drop_databases_of_the_run(request, database)
    label = f"{flavour}, engine=async{'' if examples == 'yes' else ' without examples'}"
    record(request, label, figures)


@pytest.mark.embedded
def test_baked_suite_on_the_embedded_default(
    project_copy: Any, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """No TEST_DATABASE_URL and no DATABASE_URL: the project's own PostgreSQL 18, as after a
    bake."""
    project: Project = project_copy("postgresql")
    try:
        # Empty is unset for the baked conftest: the template's own TEST_DATABASE_URL stays out.
        figures = run_suite(project, {"TEST_DATABASE_URL": ""}, tmp_path, workers=2)
        listed = project.python(LIST_DATABASES).stdout.split()
        assert "my_service_test_gw0" in listed
        assert "my_service_test_gw1" in listed
        assert "my_service_development" not in listed  # the tests never touch it
    finally:
        project.invoke("db.down")
    record(request, "postgresql, embedded default, -n 2", figures)


@pytest.mark.postgresql
@pytest.mark.parametrize(
    ("env_file", "xdist", "suffix"),
    [(".env", ["-p", "no:xdist"], "_test"), (".env.local", ["-n", "1"], "_test_gw0")],
)
def test_own_server_gets_a_test_database_next_to_the_configured_one(
    project_copy: Any, admin_url: str, env_file: str, xdist: list[str], suffix: str
) -> None:
    """DATABASE_URL in .env or .env.local (the README's "your own server"): the suite builds
    ``<that name>_test`` on that server, not on the embedded one; a shell DATABASE_URL is not
    taken as the base."""
    project: Project = project_copy("postgresql")
    configured, shell = (f"gw_{kind}_{uuid.uuid4().hex[:10]}" for kind in ("own", "shell"))
    with (project.path / env_file).open("a") as out:
        out.write(f"\nDATABASE_URL={with_database(admin_url, configured)}\n")
    env = {"TEST_DATABASE_URL": "", "DATABASE_URL": with_database(admin_url, shell)}
    try:
        result = project.run(
            sys.executable,
            *("-m", "pytest", "-q", "-p", "no:cacheprovider", *xdist),
            "tests/test_migrations.py::test_single_head",
            env=env,
            check=False,
        )
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
        assert _databases_like(admin_url, f"{configured}%") == [configured + suffix]
        assert _databases_like(admin_url, f"{shell}%") == []
        assert not (project.path / "var" / "postgres").exists(), "the embedded server started"
    finally:
        for name in _databases_like(admin_url, f"{configured}%"):
            admin_sql(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if (project.path / "var" / "postgres").exists():
            project.invoke("db.down")


LIST_DATABASES = """
import psycopg
from sqlalchemy.engine import make_url
from groundwork import local
from my_service.settings import load_settings

url = make_url(local.default_url(load_settings(), "postgres")).set(drivername="postgresql")
with psycopg.connect(url.render_as_string(hide_password=False)) as connection:
    for (name,) in connection.execute("SELECT datname FROM pg_database"):
        print(name)
"""


def drop_databases_of_the_run(request: pytest.FixtureRequest, url: str) -> None:
    from sqlalchemy.engine import make_url

    admin = request.getfixturevalue("admin_url")
    for created in _databases_like(admin, f"{make_url(url).database}_%"):
        admin_sql(admin, f'DROP DATABASE IF EXISTS "{created}" WITH (FORCE)')


def _databases_like(admin: str, pattern: str) -> list[str]:
    """Names in the server's pg_database matching the LIKE ``pattern``, sorted."""
    import psycopg

    with psycopg.connect(with_database(admin, "postgres"), autocommit=True) as connection:
        query = "SELECT datname FROM pg_database WHERE datname LIKE %s ORDER BY datname"
        return [row[0] for row in connection.execute(query, (pattern,))]
