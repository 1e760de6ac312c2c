"""The smaller gaps of the role model: procedures, functions in views and in the change report,
MAINTAIN on the lifecycle's tables (PostgreSQL 17+), and the attributes step 10 names.

One fresh database with the model applied by a superuser, shared by the module; each test puts
back what it changes.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.grants_support import Fresh, fresh_database, login_url
from tests.support import Project, _psycopg_url


@pytest.fixture(scope="module")
def project(baked: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Project:
    return Project.copy_of(
        baked["postgresql"], tmp_path_factory.mktemp("routines") / "p", in_process=True
    )


@pytest.fixture(scope="module")
def fresh(project: Project, admin_url: str) -> Iterator[Fresh]:
    with fresh_database(admin_url, "superuser") as database:
        grant(project, database)
        yield database


def grant(project: Project, fresh: Fresh, *args: str, check: bool = True) -> str:
    result = project.invoke(
        "db.grant", "--admin-url", fresh.grant_admin, *args, env=fresh.env, check=check
    )
    return result.stdout + result.stderr


def as_owner(fresh: Fresh, *statements: str) -> None:
    """What a migration does: the owner creates, so its default privileges apply."""
    r = fresh.roles
    fresh.sql(f'SET ROLE "{r.owner}"', f'SET search_path = "{r.schema}"', *statements)


@pytest.mark.postgresql
def test_procedures_are_granted_reported_and_checked_like_functions(
    project: Project, fresh: Fresh
) -> None:
    r = fresh.roles
    as_owner(fresh, "CREATE PROCEDURE tidy() LANGUAGE sql AS $$ SELECT 1 $$")
    procedure = f"{r.schema}.tidy()"
    # Drift: PUBLIC may call it, the app may not (a restore, a hand-made GRANT).
    fresh.sql(
        f'REVOKE EXECUTE ON PROCEDURE {procedure} FROM "{r.rw}", "{r.ro}"',
        f"GRANT EXECUTE ON PROCEDURE {procedure} TO PUBLIC",
    )
    checked = grant(project, fresh, "--check", check=False)
    assert f"extra privilege EXECUTE on function {procedure} for PUBLIC" in checked, checked
    assert f"missing privilege EXECUTE on function {procedure} for {r.rw}" in checked, checked
    report = grant(project, fresh)
    # The change report names function privileges (procedures: ALL ROUTINES reaches them).
    assert f"+ {r.rw}: EXECUTE on procedure {procedure}" in report, report
    assert f"+ {r.ro}: EXECUTE on procedure {procedure}" in report, report
    assert f"- PUBLIC: EXECUTE on procedure {procedure}" in report, report
    assert "OK: roles, ownership and privileges match the model" in grant(project, fresh, "--check")
    fresh.sql(f"DROP PROCEDURE {procedure}")


@pytest.mark.postgresql
def test_the_reader_reads_a_view_that_calls_a_function(fresh: Fresh) -> None:
    r = fresh.roles
    as_owner(
        fresh,
        "CREATE FUNCTION twice(n int) RETURNS int LANGUAGE sql IMMUTABLE AS $$ SELECT 2 * n $$",
        "CREATE VIEW doubled AS SELECT twice(21) AS answer",
    )
    try:
        with psycopg.connect(_psycopg_url(login_url(fresh.super_db, r.reader))) as connection:
            assert connection.execute("SELECT answer FROM doubled").fetchone() == (42,)
    finally:
        fresh.sql(f'DROP VIEW "{r.schema}".doubled', f'DROP FUNCTION "{r.schema}".twice(int)')


def test_maintain_is_revoked_only_where_it_exists(project: Project) -> None:
    """PostgreSQL 13 to 16 do not know MAINTAIN: it sits in a string run on 17+ only."""
    printed = project.invoke("db.grant", "--print").stdout
    block = re.search(
        r"IF pg_catalog\.current_setting\('server_version_num'\)::int >= 170000 THEN\n"
        r"    EXECUTE 'REVOKE MAINTAIN ON (?P<tables>[^']+) FROM (?P<grantees>[^']+)';\n"
        r"  END IF;",
        printed,
    )
    assert block is not None, printed
    for table in ("alembic_version", "migration_ledger", "lifecycle_environment"):
        assert f'."{table}"' in block["tables"]
    assert block["grantees"] == '"my_service_rw", "my_service_ro"'
    assert printed.count("MAINTAIN ON") == 1


@pytest.mark.postgresql
def test_maintain_on_the_lifecycle_tables_is_revoked(project: Project, fresh: Fresh) -> None:
    ((version,),) = fresh.query("SHOW server_version_num")
    if int(str(version)) < 170000:
        pytest.skip("MAINTAIN exists from PostgreSQL 17 on (the embedded server is 18)")
    r = fresh.roles
    table = f'"{r.schema}".migration_ledger'
    fresh.sql(f'GRANT MAINTAIN ON {table} TO "{r.rw}", "{r.ro}"')
    assert f"extra privilege MAINTAIN on table {r.schema}.migration_ledger for {r.rw}" in grant(
        project, fresh, "--check", check=False
    )
    report = grant(project, fresh)
    assert f"- {r.rw}: MAINTAIN on {r.schema}.migration_ledger" in report, report
    assert fresh.query(
        "SELECT has_table_privilege(%s, %s, 'MAINTAIN'), has_table_privilege(%s, %s, 'MAINTAIN')",
        r.rw,
        table,
        r.ro,
        table,
    ) == [(False, False)]


@pytest.mark.postgresql
def test_step_10_names_every_attribute_it_refuses(project: Project, fresh: Fresh) -> None:
    r = fresh.roles
    fresh.sql(f'ALTER ROLE "{r.app}" REPLICATION')
    try:
        out = grant(project, fresh, check=False)
    finally:
        fresh.sql(f'ALTER ROLE "{r.app}" NOREPLICATION')
    assert (
        f"roles.sql: {r.app} must not have SUPERUSER, BYPASSRLS, REPLICATION, CREATEDB or"
        " CREATEROLE" in out
    ), out
    assert "NOREPLICATION NOCREATEDB NOCREATEROLE" in out, out
