"""The async fixtures: an ``AsyncSession`` in a transaction rolled back after each test.

Add tests of your own models here (``async def``, on the ``async_session`` fixture). Under
asyncio a lazy load cannot run: load what you read (docs/database.md, "Async engines").
"""

from __future__ import annotations

from sqlalchemy import Column, Integer, MetaData, Table, func, insert, inspect, select
from sqlalchemy.ext.asyncio import AsyncConnection

from {{ cookiecutter.package_name }}.database import AsyncSession

PROBE = Table("async_probe", MetaData(), Column("id", Integer, primary_key=True))


async def test_a_table_made_in_a_test_is_rolled_back(async_connection: AsyncConnection) -> None:
    await async_connection.run_sync(PROBE.create)
    await async_connection.execute(insert(PROBE).values(id=1))
    assert await async_connection.scalar(select(func.count()).select_from(PROBE)) == 1


async def test_each_test_starts_afresh(async_session: AsyncSession) -> None:
    """The table the test above made is gone, whatever order the tests ran in."""
    await async_session.commit()  # releases a SAVEPOINT: the test's transaction goes on
    connection = await async_session.connection()
    assert not await connection.run_sync(lambda sync: inspect(sync).has_table(PROBE.name))
