"""errors.violated_constraint: the kind of constraint a row broke, by its code, on every driver
the kit and an application use (psycopg, asyncpg, sqlite3, aiosqlite)."""

from __future__ import annotations

import asyncio

import pytest
from groundwork.errors import violated_constraint  # the template's kit (tests/kit/harness.py)
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import create_async_engine

SCHEMA = [
    "CREATE TABLE parents (id integer PRIMARY KEY, name varchar(10) UNIQUE)",
    "CREATE TABLE children (id integer PRIMARY KEY,"
    " parent_id integer NOT NULL REFERENCES parents (id), age integer CHECK (age >= 0))",
    "INSERT INTO parents VALUES (1, 'one')",
]
BREAKING = {
    "INSERT INTO parents VALUES (2, 'one')": "unique",
    "INSERT INTO children VALUES (1, 9, 1)": "foreign key",
    "INSERT INTO children VALUES (1, 1, -1)": "CHECK",
    "INSERT INTO children (id, age) VALUES (1, 1)": "NOT NULL",
}
SYNC = {"postgresql": "postgresql+psycopg", "sqlite": "sqlite"}
ASYNC = {
    "postgresql": ("postgresql+psycopg_async", "postgresql+asyncpg"),
    "sqlite": ("sqlite+aiosqlite",),
}


def _url(database: str, driver: str) -> str:
    return f"{driver}:{database.split(':', 1)[1]}"


def _prepare(database: str) -> None:
    kind = "sqlite" if database.startswith("sqlite") else "postgresql"
    engine = create_engine(_url(database, SYNC[kind]))
    with engine.begin() as connection:
        if kind == "sqlite":
            connection.exec_driver_sql("PRAGMA foreign_keys = ON")
        for statement in SCHEMA:
            connection.exec_driver_sql(statement)
    engine.dispose()


def test_each_kind_is_named_on_the_sync_driver(database: str) -> None:
    _prepare(database)
    kind = "sqlite" if database.startswith("sqlite") else "postgresql"
    engine = create_engine(_url(database, SYNC[kind]))
    try:
        for statement, expected in BREAKING.items():
            with engine.connect() as connection:
                if kind == "sqlite":
                    connection.exec_driver_sql("PRAGMA foreign_keys = ON")
                with pytest.raises(IntegrityError) as raised:
                    connection.execute(text(statement))
            assert violated_constraint(raised.value) == expected, statement
    finally:
        engine.dispose()


def test_each_kind_is_named_on_the_async_drivers(database: str) -> None:
    _prepare(database)
    kind = "sqlite" if database.startswith("sqlite") else "postgresql"

    async def named(driver: str) -> list[str | None]:
        engine = create_async_engine(_url(database, driver))
        found = []
        try:
            for statement in BREAKING:
                async with engine.connect() as connection:
                    if kind == "sqlite":
                        await connection.exec_driver_sql("PRAGMA foreign_keys = ON")
                    try:
                        await connection.execute(text(statement))
                    except IntegrityError as exc:
                        found.append(violated_constraint(exc))
                    else:
                        found.append("no error")
        finally:
            await engine.dispose()
        return found

    for driver in ASYNC[kind]:
        assert asyncio.run(named(driver)) == list(BREAKING.values()), driver


def test_other_errors_are_no_violation(database: str) -> None:
    engine = create_engine(
        _url(database, "sqlite" if database.startswith("sqlite") else "postgresql+psycopg")
    )
    try:
        with engine.connect() as connection, pytest.raises(DBAPIError) as raised:
            connection.execute(text("SELECT * FROM no_such_table"))
        assert violated_constraint(raised.value) is None
    finally:
        engine.dispose()
