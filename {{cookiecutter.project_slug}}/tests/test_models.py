"""The models package: every model is registered, and constraint names are deterministic."""

from __future__ import annotations

from {{ cookiecutter.package_name }} import models


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
