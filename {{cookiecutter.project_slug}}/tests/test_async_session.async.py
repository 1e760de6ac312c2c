"""Async sessions on the example models, each test in a transaction rolled back afterwards.

Under asyncio a lazy load cannot run: reading a relationship (or an expired attribute) that is
not loaded raises MissingGreenlet. Load what you read: ``selectinload`` in the query, or
``await session.refresh(obj, ["name"])`` (docs/database.md, "Async engines").
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import InvalidRequestError
from sqlalchemy.orm import raiseload

from {{ cookiecutter.package_name }} import models
from {{ cookiecutter.package_name }}.database import AsyncSession

SEEDED_USERS = 2  # seeds/demo_users.py, loaded for APP_ENV=test


async def test_a_relationship_is_loaded_before_it_is_read(async_session: AsyncSession) -> None:
    # raiseload("*"): an attribute the query did not load is an error at once, on every
    # driver, rather than a lazy load that asyncio cannot run (MissingGreenlet).
    query = select(models.User).filter_by(email="admin@example.com").options(raiseload("*"))
    admin = (await async_session.scalars(query)).one()
    with pytest.raises(InvalidRequestError):
        _ = admin.country
    await async_session.refresh(admin, ["country"])  # loaded by an awaited query instead
    assert admin.country is not None
    assert admin.country.code == "FR"


async def test_commit_in_a_test_is_rolled_back_afterwards(async_session: AsyncSession) -> None:
    germany = (await async_session.scalars(select(models.Country).filter_by(code="DE"))).one()
    user = models.User(email="async@example.com", display_name="Async", country_id=germany.id)
    async_session.add(user)
    await async_session.commit()  # releases a SAVEPOINT; the test's transaction is rolled back
    # expire_on_commit=False: the object's attributes are still loaded, nothing lazy to load;
    # the server default (created_at) was never loaded, so it is asked for explicitly.
    await async_session.refresh(user, ["created_at", "country"])
    assert user.created_at is not None
    assert user.country is not None
    assert user.country.name == germany.name


async def test_each_async_test_starts_from_the_seeded_state(async_session: AsyncSession) -> None:
    """The user the test above committed is gone, whatever order the tests ran in."""
    users = await async_session.scalar(select(func.count()).select_from(models.User))
    assert users == SEEDED_USERS
    found = await async_session.scalars(select(models.User).filter_by(email="async@example.com"))
    assert found.first() is None
