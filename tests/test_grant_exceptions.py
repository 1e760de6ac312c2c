"""Rotation that never re-widens, and a project's per-table exceptions to the role model.

``db.grant --rotate app`` only changes the password (checked against the stored SCRAM verifier:
the test servers trust every login); grant_exceptions.py narrows the model per table
(append-only tables for the app, hidden columns for the reader), and db.grant applies, prints
and checks those like the rest, rotation included.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.grants_support import Fresh, fresh_database, login_url
from tests.support import Project, _psycopg_url
from tests.test_grant_passwords import scram_matches

EXCEPTIONS = """
APPEND_ONLY = frozenset({"countries"})
HIDDEN_COLUMNS = {"users": frozenset({"email"})}
"""


@pytest.fixture
def project(baked: dict[str, Path], tmp_path: Path) -> Project:
    project = Project.copy_of(baked["postgresql"], tmp_path / "p", in_process=True)
    module = project.path / "src" / project.package / "grant_exceptions.py"
    module.write_text(module.read_text() + EXCEPTIONS)
    return project


@pytest.fixture(params=["superuser", "cloud-admin"])
def fresh(request: pytest.FixtureRequest, admin_url: str) -> Iterator[Fresh]:
    with fresh_database(admin_url, request.param) as database:
        yield database


def _privileges(fresh: Fresh) -> list[tuple[object, ...]]:
    """Table, column, schema, database and default ACLs, memberships and role settings."""
    with psycopg.connect(_psycopg_url(fresh.super_db), autocommit=True) as connection:
        return connection.execute(
            """
        SELECT 'rel ' || c.oid::regclass::text || ' ' || coalesce(c.relacl::text, '-')
          FROM pg_class c WHERE c.relnamespace = to_regnamespace(%(schema)s)
        UNION ALL SELECT 'col ' || a.attrelid::regclass::text || '.' || a.attname || ' '
               || a.attacl::text FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
         WHERE c.relnamespace = to_regnamespace(%(schema)s) AND a.attacl IS NOT NULL
        UNION ALL SELECT 'nsp ' || nspname || ' ' || coalesce(nspacl::text, '-')
          FROM pg_namespace WHERE nspname IN (%(schema)s, 'public')
        UNION ALL SELECT 'db ' || coalesce(datacl::text, '-')
          FROM pg_database WHERE datname = current_database()
        UNION ALL SELECT 'defacl ' || defaclrole::regrole::text || ' ' || defaclacl::text
          FROM pg_default_acl
        UNION ALL SELECT 'member ' || roleid::regrole::text || ' ' || member::regrole::text
          FROM pg_auth_members WHERE roleid::regrole::text = ANY(%(roles)s)
            OR member::regrole::text = ANY(%(roles)s)
        UNION ALL SELECT 'role ' || rolname || rolinherit::text || rolcanlogin::text
          FROM pg_roles WHERE rolname = ANY(%(roles)s)
        ORDER BY 1
        """,
            {"schema": fresh.roles.schema, "roles": fresh.roles.all()},
        ).fetchall()


def _denied(url: str, statement: str) -> bool:
    with psycopg.connect(_psycopg_url(url)) as connection:
        try:
            connection.execute(statement)
        except psycopg.errors.InsufficientPrivilege:
            return True
        return False


@pytest.mark.postgresql
def test_exceptions_apply_print_check_and_survive_a_rotation(
    project: Project, fresh: Fresh
) -> None:
    r = fresh.roles
    app, reader = login_url(fresh.super_db, r.app), login_url(fresh.super_db, r.reader)
    printed = project.invoke("db.grant", "--print", env=fresh.env).stdout
    assert f'REVOKE UPDATE, DELETE, TRUNCATE ON "{r.schema}"."countries" FROM "{r.rw}";' in printed
    assert f"-- users: {r.ro} may SELECT every column but email." in printed

    def grant(*args: str, check: bool = True) -> str:
        result = project.invoke(
            "db.grant", "--admin-url", fresh.grant_admin, *args, env=fresh.env, check=check
        )
        return result.stdout + result.stderr

    grant()  # before the tables exist: the exceptions wait for them
    logins = {
        **fresh.env,
        "DATABASE_URL": app,
        "MIGRATOR_DATABASE_URL": login_url(fresh.super_db, r.migrator),
    }
    project.invoke("db.migrate", env=logins)
    # The migration's tables got the default privileges: --check names the widened ones.
    widened = grant("--check", check=False)
    assert f"FAIL extra privilege UPDATE on table {r.schema}.countries for {r.rw}" in widened
    assert (
        f"FAIL table {r.schema}.countries is append-only (grant_exceptions.py) but {r.app} "
        "may DELETE it: run `invoke db.grant`" in widened
    ), widened
    assert (
        f"FAIL column {r.schema}.users.email is hidden (grant_exceptions.py) but {r.reader} "
        "may SELECT it" in widened
    ), widened

    grant()
    assert "no changes to roles or privileges" in grant()
    assert "OK: roles, ownership and privileges match the model" in grant("--check")

    def assert_narrowed() -> None:
        with psycopg.connect(_psycopg_url(app)) as connection:
            connection.execute(
                "INSERT INTO countries (code, alpha3, name) VALUES ('ZZ', 'ZZZ', 'Nowhere')"
            )
            assert connection.execute("SELECT count(*) FROM countries").fetchone() == (1,)
        assert _denied(app, "UPDATE countries SET name = 'Elsewhere'")
        assert _denied(app, "DELETE FROM countries")
        assert _denied(app, "TRUNCATE countries")
        assert not _denied(app, "UPDATE users SET display_name = 'x'")  # only the exception
        assert _denied(reader, "SELECT email FROM users")
        assert _denied(reader, "SELECT * FROM users")
        assert not _denied(reader, "SELECT id, display_name, is_admin FROM users")

    assert_narrowed()
    fresh.sql(f'DELETE FROM "{r.schema}".countries')
    # A migration narrowed a table no exception names: rotation must leave that alone too.
    fresh.sql(f'REVOKE DELETE ON "{r.schema}".users FROM "{r.rw}"')
    before = _privileges(fresh)
    password = "rotated " + uuid.uuid4().hex
    rotated = project.invoke(
        "db.grant",
        "--admin-url",
        fresh.grant_admin,
        "--rotate",
        "app",
        env={**fresh.env, "DB_APP_PASSWORD": password},
    )
    out = rotated.stdout + rotated.stderr
    assert f"set the password of {r.app} (from DB_APP_PASSWORD)" in out
    assert password not in out
    assert password.split()[1] not in out
    assert _privileges(fresh) == before
    verifier = fresh.query("SELECT rolpassword FROM pg_authid WHERE rolname = %s", r.app)[0][0]
    assert scram_matches(str(verifier), password)
    assert not scram_matches(str(verifier), password + "x")
    assert _denied(app, "DELETE FROM users")
    assert_narrowed()
    fresh.sql(f'DELETE FROM "{r.schema}".countries')
    # The old way, a whole db.grant with the new password: the declared exceptions hold.
    grant_env = {**fresh.env, "DB_APP_PASSWORD": password + "2"}
    project.invoke("db.grant", "--admin-url", fresh.grant_admin, env=grant_env)
    assert_narrowed()


@pytest.mark.postgresql
@pytest.mark.parametrize(
    ("which", "env", "expected"),
    [
        ("app", {}, "--rotate app: set DB_APP_PASSWORD in the environment"),
        ("app,owner", {"DB_APP_PASSWORD": "x"}, "--rotate 'app,owner': name the logins"),
        ("reader", {"DB_READER_PASSWORD": "x"}, "is not a login of this cluster"),
    ],
    ids=["no-password", "not-a-login", "no-roles-yet"],
)
def test_a_bad_rotation_is_one_line_and_changes_nothing(
    project: Project, admin_url: str, which: str, env: dict[str, str], expected: str
) -> None:
    with fresh_database(admin_url, "superuser") as fresh:
        result = project.invoke(
            "db.grant",
            "--admin-url",
            fresh.grant_admin,
            "--rotate",
            which,
            env={**fresh.env, **env},
            check=False,
        )
        assert result.returncode == 1, result.stdout + result.stderr
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert expected in result.stderr, result.stderr
        assert fresh.query(
            "SELECT count(*) FROM pg_roles WHERE rolname = ANY(%s)", fresh.roles.all()
        ) == [(0,)]


@pytest.mark.parametrize(
    ("declared", "expected"),
    [
        ('APPEND_ONLY = frozenset({"Audit-Log"})', "the APPEND_ONLY table 'Audit-Log'"),
        (
            'HIDDEN_COLUMNS = {"users": frozenset({"pass word"})}',
            "the HIDDEN_COLUMNS column 'pass word'",
        ),
    ],
    ids=["table", "column"],
)
def test_a_bad_exception_name_is_one_line(
    baked: dict[str, Path], tmp_path: Path, declared: str, expected: str
) -> None:
    project = Project.copy_of(baked["postgresql"], tmp_path / "p", in_process=True)
    module = project.path / "src" / project.package / "grant_exceptions.py"
    module.write_text(module.read_text() + declared + "\n")
    result = project.invoke("db.grant", "--print", check=False)
    assert result.returncode == 1, result.stdout + result.stderr
    line = (
        f"db.grant: {project.package}/grant_exceptions.py: {expected} is not a plain lower-case "
        "identifier: name the table or column as the migrations create it"
    )
    assert result.stderr.strip().splitlines() == [line], result.stderr


def test_rotate_goes_alone(baked: dict[str, Path], tmp_path: Path) -> None:
    project = Project.copy_of(baked["postgresql"], tmp_path / "p", in_process=True)
    result = project.invoke("db.grant", "--print", "--rotate", "app", check=False)
    assert result.returncode == 1
    assert result.stdout == ""
    assert "--rotate only sets passwords" in result.stderr
