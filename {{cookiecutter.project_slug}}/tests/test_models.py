"""The models package: every model is registered, and constraint names are deterministic."""

from __future__ import annotations

import pytest
from sqlalchemy import Connection, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from {{ cookiecutter.package_name }} import models

SEEDED_USERS = 2  # seeds/demo_users.py, loaded for APP_ENV=test


def test_every_model_is_listed_in_all() -> None:
    """A model module that exists but is missing from ``models.__all__`` fails here."""
    models.load_all_models()
    mapped = {mapper.class_.__name__ for mapper in models.Base.registry.mappers}
    assert mapped <= set(models.__all__), f"add to models.__all__: {mapped - set(models.__all__)}"


def test_every_table_is_in_the_metadata() -> None:
    metadata = models.load_all_models()
    assert {"countries", "users"} <= set(metadata.tables)


def test_constraints_follow_the_naming_convention() -> None:
    metadata = models.load_all_models()
    users = metadata.tables["users"]
    names = {constraint.name for constraint in users.constraints}
    assert {"pk_users", "uq_users_email", "fk_users_country_id_countries"} <= names


# Examples of tests on the database: each runs in a transaction rolled back afterwards.


def test_a_user_lives_in_a_country(session: Session) -> None:
    france = session.scalars(select(models.Country).where(models.Country.code == "FR")).one()
    session.add(models.User(email="new@example.com", display_name="New", country=france))
    session.commit()  # releases a SAVEPOINT; the test's transaction is still rolled back
    found = session.scalars(select(models.User).where(models.User.email == "new@example.com"))
    user = found.one()
    assert user.country is not None
    assert user.country.name == france.name
    assert user.created_at is not None  # the server default, read back


def test_emails_are_unique(session: Session) -> None:
    session.add(models.User(email="admin@example.com", display_name="Twin"))
    with pytest.raises(IntegrityError):
        session.flush()
    session.rollback()  # back to the test's SAVEPOINT: the session is usable again
    assert session.scalar(select(func.count()).select_from(models.User)) == SEEDED_USERS


def test_each_test_starts_from_the_seeded_state(session: Session) -> None:
    """Rows the tests above added are gone, whatever order the tests ran in."""
    emails = set(session.scalars(select(models.User.email)))
    assert emails == {"admin@example.com", "demo@example.com"}
    assert session.scalar(select(models.Country).where(models.Country.code == "ZZ")) is None


def test_core_connection_sees_the_same_tables(connection: Connection) -> None:
    connection.execute(insert(models.Country).values(code="ZZ", alpha3="ZZZ", name="Nowhere"))
    count = connection.execute(select(func.count()).select_from(models.Country)).scalar_one()
    assert count >= 250
