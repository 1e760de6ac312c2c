"""The migrations: one head, a full round trip, and no drift from the models."""

from __future__ import annotations

from {{ cookiecutter.package_name }}.db import migrations
from {{ cookiecutter.package_name }}.settings import Settings


def test_single_head(settings: Settings) -> None:
    assert len(migrations.script_directory(settings).get_heads()) == 1


def test_upgrade_downgrade_upgrade(settings: Settings) -> None:
    migrations.upgrade(settings, "head")
    head = migrations.script_directory(settings).get_current_head()
    assert migrations.current(settings) == (head,)
    migrations.downgrade(settings, "base")
    assert migrations.current(settings) == ()
    migrations.upgrade(settings, "head")
    assert migrations.current(settings) == (head,)


def test_models_match_migrations(settings: Settings) -> None:
    migrations.upgrade(settings, "head")
    assert migrations.check(settings) == []
