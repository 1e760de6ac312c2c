"""The models package: every table model is registered, and constraint names are deterministic.

Queries name a field through ``col()`` (``col(User.email) == ...``): on the class, a SQLModel
field type-checks as its value (a ``str``), which ``mypy --strict`` refuses in a ``where``.
"""

from __future__ import annotations

import pytest
from sqlalchemy import Connection, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlmodel import SQLModel, col
from sqlmodel.main import default_registry

from {{ cookiecutter.package_name }} import models

SEEDED_USERS = 2  # seeds/demo_users.py, loaded for APP_ENV=test


def test_every_model_is_listed_in_all() -> None:
    """A model module that exists but is missing from ``models.__all__`` fails here."""
    models.load_all_models()
    mapped = {mapper.class_.__name__ for mapper in default_registry.mappers}
    assert mapped <= set(models.__all__), f"add to models.__all__: {mapped - set(models.__all__)}"


def test_every_table_is_in_the_metadata() -> None:
    """The table models, and they alone: a class without ``table=True`` is a schema."""

    class UserCreate(SQLModel):  # what an API would accept: no table, never migrated
        email: str

    metadata = models.load_all_models()
    assert metadata is SQLModel.metadata  # where migrations and db.check look
    assert {"countries", "users"} <= set(metadata.tables)
    assert "usercreate" not in metadata.tables
    assert UserCreate(email="a@example.com").email == "a@example.com"


def test_constraints_follow_the_naming_convention() -> None:
    metadata = models.load_all_models()
    users = metadata.tables["users"]
    names = {constraint.name for constraint in users.constraints}
    assert {"pk_users", "uq_users_email", "fk_users_country_id_countries"} <= names
    assert {index.name for index in users.indexes} == {"ix_users_country_id"}


# Examples of tests on the database: each runs in a transaction rolled back afterwards.


def test_a_user_lives_in_a_country(session: Session) -> None:
    france = session.scalars(select(models.Country).where(col(models.Country.code) == "FR")).one()
    session.add(models.User(email="new@example.com", display_name="New", country=france))
    session.commit()  # releases a SAVEPOINT; the test's transaction is still rolled back
    found = session.scalars(select(models.User).where(col(models.User.email) == "new@example.com"))
    user = found.one()
    assert user.country is not None
    assert user.country.name == france.name
    assert user.created_at is not None  # the server default, read back
    assert user.is_admin is False


def test_emails_are_unique(session: Session) -> None:
    session.add(models.User(email="admin@example.com", display_name="Twin"))
    with pytest.raises(IntegrityError):
        session.flush()
    session.rollback()  # back to the test's SAVEPOINT: the session is usable again
    assert session.scalar(select(func.count()).select_from(models.User)) == SEEDED_USERS


def test_each_test_starts_from_the_seeded_state(session: Session) -> None:
    """Rows the tests above added are gone, whatever order the tests ran in."""
    emails = set(session.scalars(select(col(models.User.email))))
    assert emails == {"admin@example.com", "demo@example.com"}
    country = session.scalar(select(models.Country).where(col(models.Country.code) == "ZZ"))
    assert country is None


def test_core_connection_sees_the_same_tables(connection: Connection) -> None:
    connection.execute(insert(models.Country).values(code="ZZ", alpha3="ZZZ", name="Nowhere"))
    count = connection.execute(select(func.count()).select_from(models.Country)).scalar_one()
    assert count >= 250
