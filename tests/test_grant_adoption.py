"""Granting after a first deploy: ``db.grant`` adopts the history a team's own login migrated.

The default path: the team runs ``db.init`` with its own login (a superuser, or a managed
cloud's admin), whose search path puts every table in ``public``; a DBA applies the role model
later. ``db.grant`` must move that history (tables, sequences, views, types, routines, the
lifecycle's tables) into the model's schema, owned by the owner, with every row; or refuse,
one line per problem, changing nothing. ``--check`` must never call a split history OK, and
``db.migrate`` as the migrator must then find the history instead of building a second copy.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.grants_support import Fresh, fresh_database, login_url
from tests.support import Project, _psycopg_url

# Objects of the app's own making beside the migrations' tables: each kind must move too.
EXTRAS = (
    "CREATE TYPE mood AS ENUM ('calm', 'busy')",
    "CREATE TABLE notes (id serial PRIMARY KEY, mood mood NOT NULL DEFAULT 'calm')",
    "INSERT INTO notes (mood) VALUES ('busy'), ('calm')",
    "CREATE VIEW user_names AS SELECT display_name FROM users",
    "CREATE FUNCTION twice(n integer) RETURNS integer LANGUAGE sql IMMUTABLE AS 'SELECT 2 * n'",
)
TABLES = ("users", "countries", "notes", "alembic_version", "migration_ledger", "seed_ledger")


@pytest.fixture
def project(baked: dict[str, Path], tmp_path: Path) -> Project:
    return Project.copy_of(baked["postgresql"], tmp_path / "p", in_process=True)


def _first_deploy(project: Project, fresh: Fresh, team_url: str) -> dict[str, int]:
    """``db.init`` (migrate and seed) as the team's login, plus extras; the row counts."""
    project.invoke("db.init", env={**fresh.env, "DATABASE_URL": team_url})
    with psycopg.connect(_psycopg_url(team_url), autocommit=True) as connection:
        for statement in EXTRAS:
            connection.execute(statement)
        return {
            table: connection.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]  # type: ignore[index]
            for table in TABLES
        }


def _relations(fresh: Fresh) -> list[tuple[object, ...]]:
    """Every table, view and sequence of the application, by schema and owner."""
    return fresh.query(
        "SELECT n.nspname, c.relname, c.relkind, c.relowner::regrole::text FROM pg_class c"
        " JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname IN ('public', %s) AND c.relkind IN ('r', 'v', 'S') ORDER BY 1, 2",
        fresh.roles.schema,
    )


@pytest.fixture(params=["superuser", "cloud-admin"])
def fresh(request: pytest.FixtureRequest, admin_url: str) -> Iterator[Fresh]:
    with fresh_database(admin_url, request.param) as database:
        yield database


@pytest.mark.postgresql
def test_granting_after_a_first_deploy_adopts_every_row(project: Project, fresh: Fresh) -> None:
    r = fresh.roles
    counts = _first_deploy(project, fresh, fresh.grant_admin)
    assert counts["users"] > 0, counts
    assert counts["countries"] > 0, counts
    assert {row[0] for row in _relations(fresh)} == {"public"}  # the split the issue describes

    granted = project.invoke("db.grant", "--admin-url", fresh.grant_admin, env=fresh.env)
    out = granted.stdout
    for table in ("users", "countries", "notes", "alembic_version", "migration_ledger"):
        assert f"moved table public.{table} to schema {r.schema}, owned by {r.owner}" in out, out
    assert f"moved view public.user_names to schema {r.schema}" in out, out
    assert f"moved type public.mood to schema {r.schema}" in out, out
    assert f"moved routine public.twice(n integer) to schema {r.schema}" in out, out

    relations = _relations(fresh)
    assert [row for row in relations if row[0] == "public"] == [], relations
    assert {row[3] for row in relations} == {r.owner}, relations
    # The sequences of serial and identity columns followed their tables.
    assert (r.schema, "notes_id_seq", "S", r.owner) in relations, relations
    assert (r.schema, "users_id_seq", "S", r.owner) in relations, relations
    assert fresh.query(
        "SELECT typnamespace::regnamespace::text, typowner::regrole::text FROM pg_type"
        " WHERE typname = 'mood'"
    ) == [(r.schema, r.owner)]
    assert fresh.query(
        "SELECT pronamespace::regnamespace::text, proowner::regrole::text FROM pg_proc"
        " WHERE proname = 'twice'"
    ) == [(r.schema, r.owner)]

    checked = project.invoke(
        "db.grant", "--admin-url", fresh.grant_admin, "--check", env=fresh.env, check=False
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "OK: roles, ownership and privileges match the model" in checked.stdout

    logins = {
        **fresh.env,
        "DATABASE_URL": login_url(fresh.super_db, r.app),
        "MIGRATOR_DATABASE_URL": login_url(fresh.super_db, r.migrator),
    }
    migrated = project.invoke("db.migrate", env=logins)
    assert "Running upgrade" not in migrated.stdout + migrated.stderr
    assert fresh.query("SELECT count(*) FROM pg_class WHERE relname = 'users'") == [(1,)]
    again = project.invoke("db.grant", "--admin-url", fresh.grant_admin, env=fresh.env)
    assert "no changes to roles or privileges" in again.stdout, again.stdout
    assert "moved " not in again.stdout

    # Every row is still there, read by the app's login and the reader's through their path.
    for login in (r.app, r.reader):
        with psycopg.connect(_psycopg_url(login_url(fresh.super_db, login))) as connection:
            for table, count in counts.items():
                assert connection.execute(f'SELECT count(*) FROM "{table}"').fetchone() == (
                    count,
                ), (login, table)
            assert connection.execute("SELECT twice(21), count(*) FROM user_names").fetchone() == (
                42,
                counts["users"],
            )
    with psycopg.connect(_psycopg_url(login_url(fresh.super_db, r.app))) as connection:
        connection.execute("INSERT INTO notes DEFAULT VALUES")  # the sequence works for the app


@pytest.mark.postgresql
def test_a_history_that_cannot_move_is_refused_one_line_each_changing_nothing(
    project: Project, admin_url: str
) -> None:
    with fresh_database(admin_url, "superuser") as fresh:
        r = fresh.roles
        _first_deploy(project, fresh, fresh.super_db)
        fresh.sql(
            f'CREATE SCHEMA "{r.schema}"',
            f'CREATE TABLE "{r.schema}".users (id integer)',
            f'CREATE TABLE "{r.schema}".alembic_version (version_num varchar(32) PRIMARY KEY)',
            f"INSERT INTO \"{r.schema}\".alembic_version VALUES ('someone_elses')",
        )
        before = _relations(fresh)
        refused = project.invoke(
            "db.grant", "--admin-url", fresh.grant_admin, env=fresh.env, check=False
        )
        out = refused.stdout + refused.stderr
        assert refused.returncode == 1, out
        problems = [line for line in refused.stdout.splitlines() if line.startswith("REFUSED ")]
        # One line per problem, each with its step: a second history (its alembic_version
        # holds a revision, so it is no empty table of an earlier db.grant) and a name clash.
        steps = "keep one (rename or drop the other, after a backup), then run db.grant again"
        assert problems == [
            f"REFUSED public.alembic_version and {r.schema}.alembic_version both exist: {steps}",
            f"REFUSED public.users and {r.schema}.users both exist: {steps}",
        ], out
        assert len(refused.stderr.strip().splitlines()) == 1, out
        assert "nothing was changed" in refused.stderr
        assert "Adopting an existing deployment" in refused.stderr
        assert "Traceback" not in out
        # Nothing changed: not a table moved, not a role created (one transaction).
        assert _relations(fresh) == before
        assert fresh.query("SELECT count(*) FROM pg_roles WHERE rolname = ANY(%s)", r.all()) == [
            (0,)
        ]


@pytest.mark.postgresql
def test_check_never_blesses_a_split_history(project: Project, admin_url: str) -> None:
    """The history migrated into a schema of the team's search path after an earlier grant.

    Before adoption, ``--check`` saw the model's (empty) lifecycle tables and said OK while the
    history sat in another schema, whatever its name; it must name the split, and ``db.grant``
    must then adopt the history (replacing the empty tables it made) so that it says OK.
    """
    with fresh_database(admin_url, "superuser") as fresh:
        r = fresh.roles
        project.invoke("db.grant", "--admin-url", fresh.grant_admin, env=fresh.env)
        team = fresh.query("SELECT current_user")[0][0]
        fresh.sql(
            "CREATE SCHEMA legacy",
            f'ALTER ROLE "{team}" IN DATABASE "{fresh.database}" SET search_path = legacy',
        )
        counts = _first_deploy(project, fresh, fresh.super_db)
        checked = project.invoke(
            "db.grant", "--admin-url", fresh.grant_admin, "--check", env=fresh.env, check=False
        )
        out = checked.stdout
        assert checked.returncode == 1, out
        assert (
            f"FAIL alembic_version exists in schema legacy and in schema {r.schema}: the "
            "application's history is split" in out
        ), out
        assert f"FAIL table legacy.users of that history is outside schema {r.schema}" in out

        granted = project.invoke("db.grant", "--admin-url", fresh.grant_admin, env=fresh.env)
        assert (
            f"dropped the empty table {r.schema}.alembic_version (an earlier db.grant made it)"
            in granted.stdout
        ), granted.stdout
        assert f"moved table legacy.users to schema {r.schema}" in granted.stdout
        rechecked = project.invoke(
            "db.grant", "--admin-url", fresh.grant_admin, "--check", env=fresh.env, check=False
        )
        assert rechecked.returncode == 0, rechecked.stdout
        with psycopg.connect(_psycopg_url(login_url(fresh.super_db, r.app))) as connection:
            for table, count in counts.items():
                assert connection.execute(f'SELECT count(*) FROM "{table}"').fetchone() == (
                    count,
                ), table
