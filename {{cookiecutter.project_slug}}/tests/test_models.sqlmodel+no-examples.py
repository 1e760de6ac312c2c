"""The models package: every table model is registered, and constraint names are deterministic.

The project was baked without the example models (docs/database.md, "Starting clean"): add
tests of your own models here, on the ``session`` fixture as the last test shows.
"""

from __future__ import annotations

from groundwork import migrations
from sqlalchemy import Column, Integer, String, Table, UniqueConstraint, select
from sqlalchemy.orm import Session
from sqlmodel import SQLModel
from sqlmodel.main import default_registry

from {{ cookiecutter.package_name }} import models
from {{ cookiecutter.package_name }}.settings import Settings


def test_every_model_is_listed_in_all() -> None:
    """A model module that exists but is missing from ``models.__all__`` fails here."""
    assert models.load_all_models() is SQLModel.metadata  # where migrations look
    mapped = {mapper.class_.__name__ for mapper in default_registry.mappers}
    assert mapped <= set(models.__all__), f"add to models.__all__: {mapped - set(models.__all__)}"


def test_constraints_follow_the_naming_convention() -> None:
    """Unnamed constraints get the names of the convention on ``SQLModel.metadata``."""
    metadata = models.load_all_models()
    table = Table(
        "naming_probe",
        type(metadata)(naming_convention=metadata.naming_convention),
        Column("id", Integer, primary_key=True),
        Column("code", String(8)),
        UniqueConstraint("code"),
    )
    assert {constraint.name for constraint in table.constraints} == {
        "pk_naming_probe",
        "uq_naming_probe_code",
    }


# An example of a test on the database: it runs in a transaction rolled back afterwards.


def test_the_test_database_is_at_head(session: Session, test_settings: Settings) -> None:
    heads = migrations.script_directory(test_settings).get_heads()
    assert set(migrations.applied_heads(session.connection())) == set(heads)
    assert session.scalar(select(1)) == 1
