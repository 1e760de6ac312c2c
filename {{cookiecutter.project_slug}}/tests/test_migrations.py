"""The migrations: one head, every step down and up again, and no drift from the models.

pytest-alembic's built-in tests cover the same ground, but 0.13.1 (the latest) cannot collect
them under pytest 9 (``AttributeError: 'TestCollector' object has no attribute '_nodeid'``),
so these tests drive the project's own migration functions instead.
"""

from __future__ import annotations

from groundwork import migrations
from groundwork.engine import (
    database_url,
    make_engine,
)
from sqlalchemy import inspect

from {{ cookiecutter.package_name }}.settings import Settings


def test_single_head(test_settings: Settings) -> None:
    # None before the first revision (a project started clean); never several.
    assert len(migrations.script_directory(test_settings).get_heads()) <= 1


def test_every_step_downgrades_and_upgrades_again(scratch_settings: Settings) -> None:
    """The stairway: each revision, parents first, is upgraded, downgraded to each of its
    parents (a merge has several) and upgraded again; then all the way down to base and up to
    head again, to the same schema.

    A revision whose downgrade forgets an object fails here: the second upgrade collides with
    it, or the schema after the round trip differs. Merges (`invoke db.merge`) are walked too.
    """
    scripts = migrations.script_directory(scratch_settings)
    revisions = [script.revision for script in reversed(list(scripts.walk_revisions()))]
    if not revisions:  # no revision yet (a project started clean): head is base
        migrations.upgrade(scratch_settings, "head")
        assert migrations.current(scratch_settings) == ()
        return
    for revision in revisions:  # parents before children
        migrations.upgrade(scratch_settings, revision)
        applied = migrations.current(scratch_settings)
        assert revision in applied
        upgraded = schema_of(scratch_settings)
        parents = migrations.parents(scripts, revision)
        # Down to a merge's parent undoes the merge alone; REV@-1 undoes REV alone, whatever
        # other branch is applied next to it.
        for target in parents if len(parents) > 1 else (f"{revision}@-1",):
            migrations.downgrade(scratch_settings, target)
            assert revision not in migrations.current(scratch_settings)
            for head in applied:
                migrations.upgrade(scratch_settings, head)
            assert schema_of(scratch_settings) == upgraded, f"{revision} does not round-trip"
    heads = tuple(scripts.get_heads())
    assert set(migrations.current(scratch_settings)) == set(heads)
    at_head = schema_of(scratch_settings)
    migrations.downgrade(scratch_settings, "base")
    assert migrations.current(scratch_settings) == ()
    migrations.upgrade(scratch_settings, "head")
    assert set(migrations.current(scratch_settings)) == set(heads)
    assert schema_of(scratch_settings) == at_head, "base -> head does not give the same schema"


def test_models_match_migrations(test_settings: Settings) -> None:
    """A model change without its revision fails here (as `invoke db.check` does)."""
    assert migrations.check(test_settings) == []


def test_offline_sql_renders_every_revision(test_settings: Settings) -> None:
    """What `invoke db.sql` gives a DBA: every revision, without connecting."""
    sql = migrations.offline_sql(test_settings)
    for script in migrations.script_directory(test_settings).walk_revisions():
        assert script.revision in sql


def schema_of(settings: Settings) -> dict[str, object]:
    """Tables with their columns, indexes and foreign keys, as the database reports them."""
    engine = make_engine(database_url(settings))
    try:
        with engine.connect() as connection:
            inspector = inspect(connection)
            return {
                table: (
                    [
                        (c["name"], str(c["type"]), c["nullable"])
                        for c in inspector.get_columns(table)
                    ],
                    sorted(str(i["name"]) for i in inspector.get_indexes(table)),
                    sorted(str(fk["name"]) for fk in inspector.get_foreign_keys(table)),
                )
                for table in sorted(inspector.get_table_names())
            }
    finally:
        engine.dispose()
