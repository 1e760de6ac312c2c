"""The seeds: declared correctly, loaded in order, and a second run changes nothing."""

from __future__ import annotations

from groundwork import migrations
from groundwork.engine import (
    database_url,
    make_engine,
)
from groundwork.seeding import runner
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from {{ cookiecutter.package_name }}.models import (
    Country,
    User,
)
from {{ cookiecutter.package_name }}.seeds import load_all_seeds
from {{ cookiecutter.package_name }}.settings import Settings


def test_every_seed_is_well_declared() -> None:
    seeds = load_all_seeds()
    for seed in seeds.values():
        seed.check()
    assert runner.order(seeds).index("countries") < runner.order(seeds).index("demo_users")


def test_seeding_twice_changes_nothing(scratch_settings: Settings) -> None:
    migrations.upgrade(scratch_settings, "head")
    first = runner.run(scratch_settings, full=True, echo=lambda _: None)
    assert sum(o.counts.inserted for o in first) == sum(o.counts.rows for o in first) > 0
    second = runner.run(scratch_settings, full=True, echo=lambda _: None)
    assert sum(o.counts.inserted + o.counts.updated for o in second) == 0
    assert sum(o.counts.rows for o in second) == sum(o.counts.rows for o in first)
    engine = make_engine(database_url(scratch_settings))
    with engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(Country)).scalar_one() >= 249
    engine.dispose()


def test_the_test_database_is_seeded(session: Session) -> None:
    """Reference data and the test environment's demo data are there for every test."""
    countries = session.scalar(select(func.count()).select_from(Country))
    users = session.scalar(select(func.count()).select_from(User))
    assert countries is not None
    assert countries >= 249
    assert users == 2
