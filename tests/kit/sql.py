"""Reading and changing a test database behind the kit's back, in plain SQL."""

from __future__ import annotations

from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError


def engine_url(url: str) -> str:
    return url.replace("postgresql://", "postgresql+psycopg://", 1)


def query(url: str, sql: str) -> list[tuple[Any, ...]]:
    engine = create_engine(engine_url(url))
    try:
        with engine.connect() as connection:
            return [tuple(row) for row in connection.execute(text(sql))]
    finally:
        engine.dispose()


def execute(url: str, sql: str) -> None:
    engine = create_engine(engine_url(url))
    try:
        with engine.begin() as connection:
            connection.execute(text(sql))
    finally:
        engine.dispose()


def count(url: str, table: str) -> int:
    return int(query(url, f"SELECT count(*) FROM {table}")[0][0])


def ledger_rows(url: str) -> list[tuple[Any, ...]]:
    try:
        return query(url, "SELECT name FROM seed_ledger")
    except DBAPIError:  # the table does not exist: nothing was ever recorded
        return []


def tables(url: str) -> set[str]:
    from sqlalchemy import inspect

    engine = create_engine(engine_url(url))
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def version_rows(url: str) -> list[str]:
    return [row[0] for row in query(url, "SELECT version_num FROM alembic_version")]
