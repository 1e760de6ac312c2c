"""Test fixtures: a test database built by the real migrations, and a rolled-back transaction
per test. docs/database.md ("Testing") explains them.

Which database, first found (groundwork/testing.py finds it): ``TEST_DATABASE_URL``; the
``DATABASE_URL`` of ``.env.test`` (or ``.env.test.local``); ``<name>_test`` next to the database
``DATABASE_URL`` names in ``.env`` or ``.env.local`` (your own server: same server, same login);
the project-local ``<package>_test`` database. A ``DATABASE_URL`` in your shell is ignored
here, so the tests never touch the development database. Under ``pytest -n`` every worker gets
a copy of its own, named with the worker id (``<package>_test_gw0``). The database is dropped and
created again at the start of each run (and left afterwards, to look into), so its name must
contain "test".

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

from collections.abc import Iterator

import pytest
from groundwork import migrations
from groundwork.engine import database_url, make_engine
from groundwork.seeding import runner
from groundwork.testing import drop, recreate, settings_for_tests
from sqlalchemy import Connection, Engine

from {{ cookiecutter.package_name }}.database import Session
from {{ cookiecutter.package_name }}.settings import Settings


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
    drop(settings)
