"""Test fixtures: a test database built by the real migrations, and a rolled-back transaction
per test. docs/database.md ("Testing") explains them.

Which database, first found: ``TEST_DATABASE_URL``; the ``DATABASE_URL`` of ``.env.test``
(or ``.env.test.local``); ``<name>_test`` next to the database ``DATABASE_URL`` names in ``.env``
or ``.env.local`` (your own server: same server, same login); the project-local
``<package>_test`` database. A ``DATABASE_URL`` in your shell is ignored here, so the tests
never touch the development database. Under ``pytest -n`` every worker gets a copy of its own,
named with the worker id (``<package>_test_gw0``). The database is dropped and created again at
the start of each run (and left afterwards, to look into), so its name must contain "test".

Fixtures for your tests:

- ``session``: an ORM ``Session`` in a transaction that is rolled back after the test. Its
  ``commit()`` only releases a SAVEPOINT, so code under test may commit freely.
- ``connection``: the same for Core: a ``Connection`` in a rolled-back transaction.
- ``engine``: the ``Engine`` of this worker's test database (migrated and seeded once).
- ``test_settings``: the ``Settings`` that point at it (``APP_ENV=test``).
- ``scratch_settings``: ``Settings`` of an empty database of its own, for tests that migrate,
  seed or otherwise commit for real (slower: use it only for that).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from dotenv import dotenv_values
from groundwork import (
    migrations,
    protection,
)
from groundwork.backends import backend_for
from groundwork.engine import (
    database_url,
    ensure_local_server,
    make_engine,
)
from groundwork.seeding import runner
from groundwork.settings import DEFAULT_APP_ENV, env_files
from groundwork.urls import (
    normalize,
)
from sqlalchemy import Connection, Engine
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session

from {{ cookiecutter.package_name }}.settings import Settings, load_settings


def settings_for_tests(suffix: str = "") -> Settings:
    """``APP_ENV=test`` settings on this worker's test database (plus ``suffix`` in its name)."""
    # A DATABASE_URL in the shell is usually the development database, exported for `invoke`:
    # taking it (or a name derived from it) would point a run that drops its database there.
    environ = {name: value for name, value in os.environ.items() if name != "DATABASE_URL"}
    settings = load_settings(environ={**environ, "APP_ENV": "test"})
    worker = os.environ.get("PYTEST_XDIST_WORKER")  # gw0, gw1, ... under pytest -n
    url = _renamed(_test_database_url(settings, environ), f"_{worker}" if worker else "", suffix)
    text = url.render_as_string(hide_password=False)  # settings hold text, as the files do
    return dataclasses.replace(settings, values={**settings.values, "DATABASE_URL": text})


def _test_database_url(settings: Settings, environ: dict[str, str]) -> str | URL:
    """The test database before the worker's suffix: the first of the order in the docstring."""
    given = os.environ.get("TEST_DATABASE_URL") or _set_by_test_files(settings)
    if given:
        return normalize(given, settings.project_root)
    # .env.local, where the README puts your own server, is not read under APP_ENV=test: the
    # development layering tells which server the project uses on this machine.
    development = load_settings(settings.project_root, {**environ, "APP_ENV": DEFAULT_APP_ENV})
    if development.database_url:
        return _renamed(database_url(development), "_test")
    ensure_local_server(settings)  # the project-local server, started as the tasks start it
    return database_url(settings)


def _set_by_test_files(settings: Settings) -> str | None:
    """``DATABASE_URL`` of ``.env.test``/``.env.test.local``, not of the files all share."""
    shared = env_files(settings.project_root, DEFAULT_APP_ENV)
    found = None
    for path in env_files(settings.project_root, "test"):
        if path not in shared and path.is_file():
            found = dotenv_values(path).get("DATABASE_URL") or found
    return found


def _renamed(url: str | URL, *suffixes: str) -> URL:
    """``url`` with ``suffixes`` appended to the database name (the file name on SQLite)."""
    renamed = backend_for(url).sibling(url, "".join(suffixes))
    name = renamed.database or ""
    if "test" not in Path(name).name:
        pytest.exit(f"refusing to use {name!r} as a test database: its name must contain 'test'")
    return renamed


def recreate(settings: Settings) -> None:
    """Drop and create the database of ``settings``: each run starts from nothing."""
    url = database_url(settings)
    stamped = protection.stamped_environment(url)
    if stamped not in (None, "test"):
        label = backend_for(url).label(url)
        pytest.exit(f"refusing to drop {label}: it was initialized for APP_ENV={stamped}")
    backend_for(url).drop_database(url)
    backend_for(url).create_database(url)


@pytest.fixture(scope="session")
def test_settings() -> Settings:
    """This worker's test database, built once per run by the real migrations and seeds."""
    settings = settings_for_tests()
    recreate(settings)
    migrations.upgrade(settings, "head")
    runner.run(settings, echo=lambda _: None)
    return settings


@pytest.fixture(scope="session")
def engine(test_settings: Settings) -> Iterator[Engine]:
    engine = make_engine(database_url(test_settings))
    yield engine
    engine.dispose()


@pytest.fixture
def connection(engine: Engine) -> Iterator[Connection]:
    """A connection in a transaction that is rolled back after the test."""
    with engine.connect() as connection:
        transaction = connection.begin()
        try:
            yield connection
        finally:
            transaction.rollback()


@pytest.fixture
def session(connection: Connection) -> Iterator[Session]:
    """A session joined to ``connection``'s transaction; ``commit()`` releases a SAVEPOINT."""
    with Session(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    ) as session:
        yield session


@pytest.fixture
def scratch_settings() -> Iterator[Settings]:
    """An empty database of its own (dropped afterwards), for tests that commit for real."""
    settings = settings_for_tests("_scratch")
    recreate(settings)
    yield settings
    url = database_url(settings)
    backend_for(url).drop_database(url)
