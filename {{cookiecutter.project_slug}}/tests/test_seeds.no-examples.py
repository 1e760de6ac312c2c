"""The seeds: declared correctly, loaded in order, and a second run changes nothing.

The project was baked without the example seeds (docs/database.md, "Seeds"): these tests cover
the ones you add to ``seeds/``.
"""

from __future__ import annotations

from groundwork import migrations
from groundwork.seeding import runner

from {{ cookiecutter.package_name }}.seeds import load_all_seeds
from {{ cookiecutter.package_name }}.settings import Settings


def test_every_seed_is_well_declared() -> None:
    seeds = load_all_seeds()
    for seed in seeds.values():
        seed.check()
    assert sorted(runner.order(seeds)) == sorted(seeds)


def test_seeding_twice_changes_nothing(scratch_settings: Settings) -> None:
    migrations.upgrade(scratch_settings, "head")
    first = runner.run(scratch_settings, full=True, echo=lambda _: None)
    assert sum(o.counts.inserted for o in first) == sum(o.counts.rows for o in first)
    second = runner.run(scratch_settings, full=True, echo=lambda _: None)
    assert sum(o.counts.inserted + o.counts.updated for o in second) == 0
    assert sum(o.counts.rows for o in second) == sum(o.counts.rows for o in first)
    third = runner.run(scratch_settings, echo=lambda _: None)  # the shortcut of an unchanged run
    assert [o.name for o in third] == [o.name for o in first]
