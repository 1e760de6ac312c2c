"""engine=async in the kit: the async URL forms, the application's async engine, and the
lifecycle (sync on purpose) under an async ``DATABASE_URL``, on SQLite and real PostgreSQL.

The async engine is driven with ``asyncio.run``: what the baked suite's fixtures do
(tests/conftest.async.py in the template), without pytest-asyncio in the template's own run.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from alembic import command
from groundwork import migrations
from groundwork.engine import (
    async_database_url,
    async_session_factory,
    make_async_engine,
)
from groundwork.errors import TaskError
from groundwork.urls import normalize
from sqlalchemy import Connection, func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from tests.kit.harness import KitProject
from tests.kit.sql import count, tables, version_rows
from tests.support import flavour_of

# The async forms of each test database's URL, and the driver the application then gets.
POSTGRESQL_FORMS = {
    "postgresql+asyncpg": "asyncpg",
    "postgresql+psycopg_async": "psycopg",
    "postgresql": "psycopg",
}
SQLITE_FORMS = {"sqlite+aiosqlite": "aiosqlite", "sqlite": "aiosqlite"}


def async_forms(database: str) -> dict[str, str]:
    """``database`` written in each accepted form -> the async driver it must give."""
    scheme, rest = database.split("://", 1)
    forms = SQLITE_FORMS if scheme == "sqlite" else POSTGRESQL_FORMS
    return {f"{form}://{rest}": driver for form, driver in forms.items()}


def test_async_forms_normalize_to_the_kits_sync_drivers(tmp_path: Path) -> None:
    pg = "postgres:secret@db.example:5432/app"
    assert normalize(f"postgresql+asyncpg://{pg}", tmp_path) == f"postgresql+psycopg://{pg}"
    assert normalize(f"postgresql+psycopg_async://{pg}", tmp_path) == f"postgresql+psycopg://{pg}"
    assert normalize("sqlite+aiosqlite:///var/app.sqlite3", tmp_path) == (
        f"sqlite:///{tmp_path.as_posix()}/var/app.sqlite3"
    )


def test_the_async_url_keeps_the_driver_asked_for_and_its_timeout(
    kit_project: Callable[[str, str], KitProject], pg_url: str
) -> None:
    project = kit_project("postgresql", pg_url)
    rest = pg_url.split("://", 1)[1]
    # sslmode written for libpq, as the tasks read it; after the URL's own query (the embedded
    # server's socket folder is one), if it has one.
    written = f"postgresql+asyncpg://{rest}{'&' if '?' in rest else '?'}sslmode=disable"
    asyncpg = async_database_url(project.settings({"DATABASE_URL": written}))
    assert asyncpg.drivername == "postgresql+asyncpg"
    # libpq's connect_timeout (DATABASE_CONNECT_TIMEOUT) and sslmode, in asyncpg's names only.
    assert (asyncpg.query.get("timeout"), asyncpg.query.get("ssl")) == ("10", "disable")
    assert not {"connect_timeout", "sslmode"} & set(asyncpg.query)
    assert asyncio.run(_select_one(make_async_engine(asyncpg))) == 1
    # The tasks read the same URL with psycopg: connected, it finds the revision pending.
    status = project.invoke("status", environ={"DATABASE_URL": written}, check=False)
    assert "1 of 1 revisions pending" in status.stderr, status.stdout + status.stderr
    psycopg = async_database_url(project.settings({"DATABASE_URL": pg_url}))
    assert psycopg.drivername == "postgresql+psycopg"
    assert psycopg.query.get("connect_timeout") == "10"


async def _select_one(engine: AsyncEngine) -> int:
    try:
        async with engine.connect() as connection:
            return int((await connection.execute(text("SELECT 1"))).scalar_one())
    finally:
        await engine.dispose()


async def _isolated_insert(engine: AsyncEngine) -> tuple[int, int]:
    """The baked fixtures' recipe: a session joined to an outer transaction with SAVEPOINTs;
    a country added and committed inside, then the outer transaction rolled back. Returns the
    countries seen inside after the commit and after the rollback, from a new connection."""
    async with engine.connect() as connection:
        outer = await connection.begin()
        async with AsyncSession(
            bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
        ) as session:
            await session.execute(
                text("INSERT INTO countries (code, alpha3, name) VALUES ('ZZ', 'ZZZ', 'Nowhere')")
            )
            await session.commit()  # releases the SAVEPOINT only
            assert connection.in_transaction()
            inside = await session.scalar(text("SELECT count(*) FROM countries"))
        await outer.rollback()
    async with engine.connect() as connection:
        after = await connection.scalar(text("SELECT count(*) FROM countries"))
    return int(inside or 0), int(after or 0)


async def _rolled_back_and_checked(engine: AsyncEngine, driver: str) -> tuple[int, int]:
    """:func:`_isolated_insert` on ``engine``, which must use ``driver`` and refuse a user of a
    country that does not exist (on SQLite too: PRAGMA foreign_keys)."""
    try:
        assert engine.dialect.is_async
        assert engine.dialect.driver == driver
        counts = await _isolated_insert(engine)
        orphan = text(
            "INSERT INTO users (email, display_name, country_id) VALUES ('x@example.com', 'X', -1)"
        )
        async with async_session_factory(engine)() as session:
            with pytest.raises(IntegrityError):
                await session.execute(orphan)
        return counts
    finally:
        await engine.dispose()


def test_the_async_engine_rolls_a_test_back_and_enforces_foreign_keys(
    kit_project: Callable[[str, str], KitProject], database: str
) -> None:
    project = kit_project(flavour_of(database), database)
    project.invoke("init")
    seeded = count(database, "countries")
    for url, driver in async_forms(database).items():
        engine = make_async_engine(async_database_url(project.settings({"DATABASE_URL": url})))
        inside, after = asyncio.run(_rolled_back_and_checked(engine, driver))
        assert (inside, after) == (seeded + 1, seeded), url
    assert count(database, "countries") == seeded


def test_migrate_and_status_run_with_an_async_database_url(
    kit_project: Callable[[str, str], KitProject], database: str
) -> None:
    """Every async form: the tasks use the sync driver of the same database."""
    forms = [url for url in async_forms(database) if "+" in url.split("://", 1)[0]]
    project = kit_project(flavour_of(database), forms[0])
    if database.startswith("sqlite"):
        Path(database.removeprefix("sqlite:///")).touch()
    for url in forms:
        project.invoke("migrate", environ={"DATABASE_URL": url})
        assert {"countries", "users", "alembic_version"} <= tables(database)
        (head,) = version_rows(database)
        status = project.invoke("status", environ={"DATABASE_URL": url})
        assert f"[X] {head}" in status.stdout, status.stdout
    # The plain alembic command too (env.py under its own settings), in a process of its own.
    done = project.process().run(
        sys.executable, "-m", "alembic", "current", env={"DATABASE_URL": forms[-1]}
    )
    assert f"{head} (head)" in done.stdout, done.stdout + done.stderr


def test_env_py_takes_the_connection_of_run_sync_and_refuses_an_async_one(
    kit_project: Callable[[str, str], KitProject], database: str
) -> None:
    """Alembic's cookbook for asyncio: ``await connection.run_sync(upgrade)``; handing over the
    AsyncConnection itself is one clear error saying so."""
    project = kit_project(flavour_of(database), database)
    if database.startswith("sqlite"):
        Path(database.removeprefix("sqlite:///")).touch()
    settings = project.settings()
    config = migrations.alembic_config(settings)

    def upgrade(connection: Connection) -> None:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")

    async def run() -> None:
        engine = make_async_engine(async_database_url(settings))
        try:
            async with engine.connect() as connection:
                config.attributes["connection"] = connection
                with pytest.raises(TaskError, match=r"run_sync") as refused:
                    command.upgrade(config, "head")
                assert "AsyncConnection" in str(refused.value)
                await connection.run_sync(upgrade)
                await connection.commit()
                found = await connection.scalar(
                    select(func.count()).select_from(text("alembic_version"))
                )
                assert found == 1
        finally:
            await engine.dispose()

    asyncio.run(run())
    assert {"countries", "users"} <= tables(database)


def test_a_sync_project_never_imports_the_asyncio_extension(
    kit_project: Callable[[str, str], KitProject], database: str
) -> None:
    """engine=sync: the kit's modules, the project's database module, a db.init and a session
    never load sqlalchemy.ext.asyncio: only the kit's async functions import it."""
    project = kit_project(flavour_of(database), database).process()
    code = (
        "import sys\n"
        "from groundwork import commands, engine, environment, testing\n"
        f"from {project.package}.database import create_engine, session_factory\n"
        f"from {project.package}.settings import load_settings\n"
        "commands.init(settings=load_settings())\n"
        "with session_factory(create_engine())() as session:\n"
        "    session.connection()\n"
        "print(sorted(m for m in sys.modules if m.startswith('sqlalchemy.ext.asyncio')))\n"
    )
    done = project.python(code)
    assert done.stdout.strip().splitlines()[-1] == "[]", done.stdout + done.stderr
