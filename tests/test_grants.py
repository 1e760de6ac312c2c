"""``invoke db.grant``: the least-privilege role model, applied, migrated through and verified.

Real servers only (the embedded PostgreSQL 18, or TEST_DATABASE_URL). Role names are
cluster-wide, so every setup uses a random prefix and drops its roles at teardown the way
docs/database.md tells a DBA to (REASSIGN OWNED, DROP OWNED, DROP ROLE).

One setup per admin kind (a superuser; a CREATEROLE CREATEDB non-superuser, like a managed
cloud's master user), shared by the module: grant, migrate part-way as the migrator, grant twice
more (idempotency), migrate the rest (a LATER migration) with the plain ``alembic upgrade head``,
then every test reads that state.
"""

from __future__ import annotations

import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from sqlalchemy.engine import make_url

from tests.grants_support import Roles, drop_owned, login_url, teardown
from tests.support import Project, _psycopg_url, admin_sql, bake, package_dir, with_database

FIRST_REVISION = "0d848db94cb2"
LATER_REVISION = '''"""Later tables: created after the grants, reached through default privileges.

Revision ID: aaaa00000001
Revises: 0d848db94cb2
"""

import sqlalchemy as sa
from alembic import op

revision = "aaaa00000001"
down_revision = "0d848db94cb2"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "later_identity",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), primary_key=True),
        sa.Column("note", sa.String(50), nullable=False),
    )
    op.execute("CREATE TABLE later_serial (id serial PRIMARY KEY, note varchar(50) NOT NULL)")


def downgrade() -> None:
    op.drop_table("later_serial")
    op.drop_table("later_identity")
'''
PASSWORDS = {
    "DB_MIGRATOR_PASSWORD": "m1gr-" + uuid.uuid4().hex,
    "DB_APP_PASSWORD": "app-" + uuid.uuid4().hex,
    "DB_READER_PASSWORD": "rdr-" + uuid.uuid4().hex,
}


@dataclass
class Setup:
    kind: str
    project: Project
    roles: Roles
    super_db: str  # a superuser URL of the test database (for catalog reads and mutations)
    grant_admin: str  # the URL db.grant ran with
    env: dict[str, str]
    outputs: list[str]
    snapshots: list[list[str]]
    seed_outputs: list[str]
    alembic_output: str = ""

    def url(self, role: str) -> str:
        password = {
            self.roles.app: PASSWORDS["DB_APP_PASSWORD"],
            self.roles.reader: PASSWORDS["DB_READER_PASSWORD"],
            self.roles.migrator: PASSWORDS["DB_MIGRATOR_PASSWORD"],
        }.get(role)
        return login_url(self.super_db, role, password)

    def grant(self, *args: str, check: bool = True) -> str:
        result = self.project.invoke(
            "db.grant", "--admin-url", self.grant_admin, *args, env=self.env, check=check
        )
        return result.stdout + result.stderr

    def query(self, statement: str, *params: object) -> list[tuple[object, ...]]:
        with psycopg.connect(_psycopg_url(self.super_db), autocommit=True) as connection:
            return list(connection.execute(statement, params or None))

    def sql(self, *statements: str) -> None:
        admin_sql(self.super_db, *statements)


# -- the shared state -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Project:
    prefix = f"gw{uuid.uuid4().hex[:10]}"
    path = bake(tmp_path_factory.mktemp("grants"), role_prefix=prefix)
    package = package_dir(path)
    versions = package / "migrations" / "versions"
    (versions / "2026_11_23_0000-aaaa00000001_later_tables.py").write_text(LATER_REVISION)
    return Project(path, in_process=True)  # invoke in this process (tests/kit/cli.py)


def snapshot(setup_db: str, roles: Roles) -> list[str]:
    """Raw ACLs and memberships, as the catalog stores them (order included)."""
    with psycopg.connect(_psycopg_url(setup_db), autocommit=True) as connection:
        rows = connection.execute(
            """
            SELECT 'rel ' || c.oid::regclass::text || ' ' || coalesce(c.relacl::text, '-')
              FROM pg_class c WHERE c.relnamespace = to_regnamespace(%(schema)s)
            UNION ALL SELECT 'nsp ' || nspname || ' ' || coalesce(nspacl::text, '-')
              FROM pg_namespace WHERE nspname IN (%(schema)s, 'public')
            UNION ALL SELECT 'db ' || coalesce(datacl::text, '-')
              FROM pg_database WHERE datname = current_database()
            UNION ALL SELECT 'defacl ' || defaclrole::regrole::text || ' '
                   || defaclnamespace::text || ' ' || defaclobjtype::text || ' '
                   || defaclacl::text FROM pg_default_acl
            UNION ALL SELECT 'member ' || (to_jsonb(m) - 'oid')::text FROM pg_auth_members m
             WHERE m.roleid::regrole::text = ANY(%(roles)s)
                OR m.member::regrole::text = ANY(%(roles)s)
            UNION ALL SELECT 'setting ' || setrole::regrole::text || ' ' || setconfig::text
              FROM pg_db_role_setting WHERE setrole::regrole::text = ANY(%(roles)s)
            """,
            {"schema": roles.schema, "roles": roles.all()},
        )
        return sorted(row[0] for row in rows)


@pytest.fixture(scope="module", params=["superuser", "cloud-admin"])
def applied(request: pytest.FixtureRequest, project: Project, admin_url: str) -> Iterator[Setup]:
    token = uuid.uuid4().hex[:10]
    database = f"gw_grants_{token}"
    env = dict(PASSWORDS)
    cloud_admin = None
    if request.param == "superuser":
        prefix = _baked_prefix(project)
        creator = admin_url
    else:
        # Another prefix, through the setting: both setups may share the cluster at once.
        prefix = f"gwc{token}"
        env["DB_ROLE_PREFIX"] = prefix
        cloud_admin = f"gwadm{token}"
        admin_sql(admin_url, f'CREATE ROLE "{cloud_admin}" LOGIN CREATEROLE CREATEDB')
        creator = login_url(admin_url, cloud_admin)
    admin_sql(creator, f'CREATE DATABASE "{database}"')
    roles = Roles(prefix, prefix)
    super_db = with_database(admin_url, database)
    setup = Setup(
        kind=request.param,
        project=project,
        roles=roles,
        super_db=super_db,
        grant_admin=with_database(creator, database),
        env=env,
        outputs=[],
        snapshots=[],
        seed_outputs=[],
    )
    try:
        migrate_env = {
            **env,
            "DATABASE_URL": setup.url(roles.app),
            "MIGRATOR_DATABASE_URL": setup.url(roles.migrator),
        }
        setup.outputs.append(setup.grant())
        project.invoke("db.upgrade", "--to", FIRST_REVISION, env=migrate_env)
        setup.outputs.append(setup.grant())
        setup.snapshots.append(snapshot(super_db, roles))
        setup.outputs.append(setup.grant())
        setup.snapshots.append(snapshot(super_db, roles))
        # The LATER migration through the plain alembic command: its own connection, where the
        # SET ROLE must be committed with the migration or nothing persists (roles.md, 18).
        upgraded = project.run(sys.executable, "-m", "alembic", "upgrade", "head", env=migrate_env)
        setup.alembic_output = upgraded.stdout + upgraded.stderr
        # Seeds run with the app's login, which may not create their ledger: db.grant did.
        for _ in range(2):
            seeded = project.invoke("db.seed", env=migrate_env, check=False)
            setup.seed_outputs.append(f"exit {seeded.returncode}: {seeded.stdout}{seeded.stderr}")
        yield setup
    finally:
        teardown(admin_url, super_db, database, roles, cloud_admin)


def _baked_prefix(project: Project) -> str:
    roles_sql = (project.path / "src" / project.package / "sql" / "roles.sql").read_text()
    return roles_sql.split('SET ROLE "', 1)[1].split('"', 1)[0].removesuffix("_owner")


# -- the matrix of roles.md -----------------------------------------------------------------


def attempt(url: str, statements: list[str]) -> str | None:
    """None when every statement ran, else the SQLSTATE of the first failure; rolled back."""
    with psycopg.connect(url) as connection:
        try:
            for statement in statements:
                connection.execute(statement)
        except psycopg.Error as exc:
            return exc.sqlstate or "?"
        finally:
            connection.rollback()
    return None


def matrix_failures(app: str, schema: str, owner: str, reader: str | None = None) -> list[str]:
    """Every expectation of roles.md the layout breaks, as readable lines."""
    s = sql.Identifier(schema).as_string()
    allowed_app = {
        "SELECT": ["SELECT count(*) FROM countries", "SELECT count(*) FROM later_serial"],
        "INSERT identity": ["INSERT INTO countries (code, alpha3, name) VALUES ('ZZ','ZZZ','Z')"],
        "INSERT identity (later)": ["INSERT INTO later_identity (note) VALUES ('x')"],
        "INSERT serial (later)": ["INSERT INTO later_serial (note) VALUES ('x')"],
        "UPDATE": ["UPDATE countries SET name = name", "UPDATE later_serial SET note = note"],
        "DELETE": ["DELETE FROM users", "DELETE FROM later_identity"],
        "CREATE TEMP TABLE": ["CREATE TEMP TABLE scratch (x int)"],
        "read the version": ["SELECT version_num FROM alembic_version"],
        "read the lifecycle": [
            "SELECT count(*) FROM migration_ledger",
            "SELECT count(*) FROM lifecycle_environment",
        ],
    }
    denied_app = {
        "TRUNCATE": ["TRUNCATE users"],
        "DROP TABLE": ["DROP TABLE later_serial"],
        "ALTER TABLE": ["ALTER TABLE countries ADD COLUMN x int"],
        "CREATE INDEX": ["CREATE INDEX ON countries (name)"],
        "CREATE TABLE in the app schema": [f"CREATE TABLE {s}.intruder (x int)"],
        "CREATE TABLE in public": ["CREATE TABLE public.intruder (x int)"],
        "CREATE SCHEMA": ["CREATE SCHEMA intruder"],
        "setval": ["SELECT setval(pg_get_serial_sequence('later_serial', 'id'), 42)"],
        "SET ROLE owner": [f"SET ROLE {sql.Identifier(owner).as_string()}"],
        "rewrite the version": ["UPDATE alembic_version SET version_num = 'forged'"],
        "delete the version": ["DELETE FROM alembic_version"],
        "forge a migration checksum": ["UPDATE migration_ledger SET checksum = 'forged'"],
        "forget applied migrations": ["DELETE FROM migration_ledger"],
        "re-stamp the environment": ["UPDATE lifecycle_environment SET value = 'development'"],
    }
    failures = []
    for what, statements in allowed_app.items():
        state = attempt(app, statements)
        if state is not None:
            failures.append(f"app: {what} failed with {state}")
    for what, statements in denied_app.items():
        state = attempt(app, statements)
        if state != "42501":
            failures.append(f"app: {what} was not denied ({state or 'it ran'})")
    if reader is not None:
        if (state := attempt(reader, ["SELECT count(*) FROM countries, later_serial"])) is not None:
            failures.append(f"reader: SELECT failed with {state}")
        for what, statements in {
            "INSERT": ["INSERT INTO later_identity (note) VALUES ('x')"],
            "DELETE": ["DELETE FROM countries"],
            "nextval": ["SELECT nextval(pg_get_serial_sequence('later_serial', 'id'))"],
            "TEMP": ["CREATE TEMP TABLE scratch (x int)"],
            "CREATE": [f"CREATE TABLE {s}.intruder (x int)"],
            "CREATE in public": ["CREATE TABLE public.intruder (x int)"],
        }.items():
            if attempt(reader, statements) != "42501":
                failures.append(f"reader: {what} was not denied")
    return failures


@pytest.mark.postgresql
def test_the_app_and_the_reader_get_exactly_their_rights(applied: Setup) -> None:
    roles = applied.roles
    assert (
        matrix_failures(
            applied.url(roles.app), roles.schema, roles.owner, reader=applied.url(roles.reader)
        )
        == []
    )


@pytest.mark.postgresql
def test_the_migrator_acts_only_as_the_owner(applied: Setup) -> None:
    roles = applied.roles
    url = applied.url(roles.migrator)
    owner = sql.Identifier(roles.owner).as_string()
    schema = sql.Identifier(roles.schema).as_string()
    # Without SET ROLE it inherits nothing: not even reading the tables.
    assert attempt(url, [f"SELECT count(*) FROM {schema}.countries"]) == "42501"
    assert attempt(url, [f"CREATE TABLE {schema}.probe (x int)"]) == "42501"
    with psycopg.connect(url) as connection:
        connection.execute(f"SET ROLE {owner}")
        connection.execute("CREATE TABLE probe (x int)")
        made_by = connection.execute(
            "SELECT relowner::regrole::text, relnamespace::regnamespace::text"
            " FROM pg_class WHERE oid = 'probe'::regclass"
        ).fetchone()
        connection.rollback()
    assert made_by == (roles.owner, roles.schema)


@pytest.mark.postgresql
def test_migrations_ran_as_the_owner_into_the_schema(applied: Setup) -> None:
    rows = applied.query(
        "SELECT c.relname, c.relowner::regrole::text FROM pg_class c"
        " WHERE c.relnamespace = to_regnamespace(%s) AND c.relkind IN ('r', 'S', 'i')",
        applied.roles.schema,
    )
    names = {name for name, _ in rows}
    assert {"countries", "users", "later_identity", "later_serial", "alembic_version"} <= names
    assert {owner for _, owner in rows} == {applied.roles.owner}
    # Nothing landed in public.
    assert applied.query(
        "SELECT count(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace"
    ) == [(0,)]
    # The later tables came from `alembic upgrade head` (the fixture): it persisted its work.
    assert "Running upgrade 0d848db94cb2 -> aaaa00000001" in applied.alembic_output
    assert applied.query(f"SELECT version_num FROM {applied.roles.schema}.alembic_version") == [
        ("aaaa00000001",)
    ]


@pytest.mark.postgresql
def test_the_catalog_matches_roles_md(applied: Setup) -> None:
    r = applied.roles
    assert (
        applied.query(
            "SELECT r.rolname, pg_describe_object(s.classid, s.objid, s.objsubid)"
            " FROM pg_shdepend s JOIN pg_roles r ON r.oid = s.refobjid"
            " WHERE s.deptype = 'o' AND r.rolname = ANY(%s)",
            [r.migrator, r.app, r.reader, r.rw, r.ro],
        )
        == []
    )
    table = f"{r.schema}.countries"
    serial = applied.query("SELECT pg_get_serial_sequence(%s, 'id')", f"{r.schema}.later_serial")[
        0
    ][0]
    assert applied.query(
        "SELECT has_table_privilege(%s, %s, 'TRUNCATE'), has_table_privilege(%s, %s, 'INSERT'),"
        " has_sequence_privilege(%s, %s, 'UPDATE'), has_sequence_privilege(%s, %s, 'USAGE'),"
        " has_schema_privilege('public', 'public', 'CREATE'),"
        " has_table_privilege(%s, %s, 'UPDATE')",
        r.rw,
        table,
        r.app,
        table,
        r.app,
        serial,
        r.app,
        serial,
        r.app,
        f"{r.schema}.alembic_version",
    ) == [(False, True, False, True, False, False)]
    powers = applied.query(
        "SELECT rolname FROM pg_roles WHERE rolname = ANY(%s) AND (rolsuper OR rolbypassrls"
        " OR rolcreaterole OR rolcreatedb OR rolreplication)",
        r.all(),
    )
    assert powers == []


@pytest.mark.postgresql
def test_a_role_outside_the_model_cannot_connect(applied: Setup) -> None:
    outsider = f"gwout{uuid.uuid4().hex[:10]}"
    applied.sql(f'CREATE ROLE "{outsider}" LOGIN')
    try:
        with pytest.raises(psycopg.OperationalError, match="permission denied for database"):
            psycopg.connect(login_url(applied.super_db, outsider)).close()
    finally:
        applied.sql(f'DROP ROLE "{outsider}"')


@pytest.mark.postgresql
def test_a_second_apply_changes_nothing(applied: Setup) -> None:
    first, _, third = applied.outputs
    assert f"+ role {applied.roles.owner} NOLOGIN" in first
    assert "- PUBLIC: CONNECT on database" in first
    assert "Applied the role model: no changes to roles or privileges" in third
    before, after = applied.snapshots
    assert len(before) > 20
    assert before == after
    # No password is ever printed; each was stored as a SCRAM verifier.
    assert not any(
        password in output for output in applied.outputs for password in PASSWORDS.values()
    )
    if applied.kind == "superuser":
        stored = applied.query(
            "SELECT rolpassword FROM pg_authid WHERE rolname = ANY(%s)",
            [applied.roles.migrator, applied.roles.app, applied.roles.reader],
        )
        assert [str(v).startswith("SCRAM-SHA-256$") for (v,) in stored] == [True] * 3


@pytest.mark.postgresql
def test_the_app_seeds_with_its_own_login(applied: Setup) -> None:
    first, second = applied.seed_outputs
    assert first.startswith("exit 0: "), first
    assert "Seeded (development" in first, first
    assert second.startswith("exit 0: "), second
    assert " 0 inserted, 0 updated" in second, second
    ((countries,),) = applied.query(f'SELECT count(*) FROM "{applied.roles.schema}".countries')
    assert countries == 249
    ((owners,),) = applied.query(
        "SELECT array_agg(DISTINCT tableowner) FROM pg_tables WHERE tablename LIKE 'seed_%%'"
        " AND schemaname = %s",
        applied.roles.schema,
    )
    assert owners == [applied.roles.owner]


@pytest.mark.postgresql
def test_the_migrator_records_the_kit_tables_version_the_app_reads_it(applied: Setup) -> None:
    """The version of the kit's tables (kit_tables.py) is a row the migrator wrote as the owner:
    the app's login, which seeded after it, may read it and may not change it."""
    table = f'"{applied.roles.schema}".lifecycle_environment'
    row = f"{table} WHERE key = 'kit_tables_version'"
    ((recorded,),) = applied.query(f"SELECT value FROM {row}")
    assert int(str(recorded)) >= 1
    app = applied.url(applied.roles.app)
    assert attempt(app, [f"SELECT value FROM {row}"]) is None
    assert attempt(app, [f"UPDATE {table} SET value = '999' WHERE key = 'kit_tables_version'"]) == (
        "42501"
    )


@pytest.mark.postgresql
def test_check_passes_fresh_and_names_each_difference(applied: Setup) -> None:
    r = applied.roles
    s = f'"{r.schema}"'
    assert "OK: roles, ownership and privileges match the model" in applied.grant("--check")

    def fails_with(*expected: str) -> None:
        result = applied.project.invoke(
            "db.grant", "--admin-url", applied.grant_admin, "--check", env=applied.env, check=False
        )
        assert result.returncode == 1, result.stdout
        for line in expected:
            assert line in result.stdout, result.stdout

    applied.sql(f'GRANT ALL ON ALL TABLES IN SCHEMA {s} TO "{r.rw}"')
    fails_with(
        f"extra privilege TRUNCATE on table {r.schema}.users for {r.rw}",
        f"extra privilege UPDATE on table {r.schema}.alembic_version for {r.rw}",
    )
    applied.sql(f'REVOKE ALL ON ALL TABLES IN SCHEMA {s} FROM "{r.rw}"')
    applied.grant()  # re-grants what the revoke took
    applied.grant("--check")

    applied.sql(f"CREATE TABLE {s}.stray (x int)")
    fails_with(
        f"table {r.schema}.stray is owned by",
        f"missing privilege SELECT on table {r.schema}.stray for {r.ro}",
    )
    applied.sql(f"DROP TABLE {s}.stray")

    applied.sql("CREATE TABLE public.stray (x int)", f'ALTER TABLE public.stray OWNER TO "{r.app}"')
    fails_with(f"{r.app} owns table public.stray", "schema public holds table public.stray")
    applied.sql("DROP TABLE public.stray")

    applied.sql(f'REVOKE SELECT ON {s}.countries FROM "{r.ro}"', f'ALTER ROLE "{r.app}" CREATEDB')
    fails_with(
        f"missing privilege SELECT on table {r.schema}.countries for {r.ro}",
        f"role {r.app} has CREATEDB",
    )
    out = applied.grant()
    assert f"removed CREATEDB/CREATEROLE from role {r.app}" in out
    assert "OK" in applied.grant("--check")

    # Memberships: a predefined role that bypasses grants, the owner, a stranger in a group.
    # (The cloud admin's memberships of the model's roles passed above: it administers them.)
    stranger = f"gwout{uuid.uuid4().hex[:10]}"
    applied.sql(
        f'GRANT pg_write_all_data TO "{r.reader}"',
        f'GRANT "{r.owner}" TO "{r.app}"',
        f'CREATE ROLE "{stranger}" LOGIN IN ROLE "{r.ro}"',
    )
    try:
        fails_with(
            f"{r.reader} is a member of pg_write_all_data, which the model does not grant",
            f"{r.app} is a member of {r.owner}, which the model does not grant",
            f"{stranger} is a member of {r.ro}, which the model does not grant",
        )
    finally:
        applied.sql(
            f'REVOKE pg_write_all_data FROM "{r.reader}"',
            f'REVOKE "{r.owner}" FROM "{r.app}"',
            f'DROP ROLE "{stranger}"',
        )
    assert "OK" in applied.grant("--check")


def _database_acl(applied: Setup, database: str) -> list[tuple[object, ...]]:
    """Who may do what on ``database`` (the defaults spelled out: NULL means PUBLIC's rights)."""
    return applied.query(
        "SELECT a.grantee::regrole::text, a.privilege_type FROM pg_database d,"
        " aclexplode(coalesce(d.datacl, acldefault('d', d.datdba))) a"
        " WHERE d.datname = %s ORDER BY 1, 2",
        database,
    )


@pytest.mark.postgresql
def test_the_grants_go_to_the_apps_database_whatever_the_admin_url_names(applied: Setup) -> None:
    r = applied.roles
    database = make_url(applied.super_db).database
    console_url = with_database(applied.grant_admin, "postgres")  # what a cloud console shows
    before = _database_acl(applied, "postgres")
    try:
        for setting, login in (("DATABASE_URL", r.app), ("MIGRATOR_DATABASE_URL", r.migrator)):
            env = {**applied.env, setting: applied.url(login)}
            for args, first, last in (
                ((), "Applying the role model to", "no changes to roles or privileges"),
                (("--check",), "Checking", "OK: roles, ownership and privileges match"),
            ):
                result = applied.project.invoke(
                    "db.grant", "--admin-url", console_url, *args, env=env
                )
                lines = result.stdout.splitlines()
                assert lines[0].startswith(f"{first} database {database} on "), result.stdout
                assert last in lines[-1], result.stdout
        # Without the app's URL, `postgres` is no target: refused before connecting.
        for args in ((), ("--check",)):
            refused = applied.project.invoke(
                "db.grant", "--admin-url", console_url, *args, env=applied.env, check=False
            )
            assert refused.returncode == 1
            assert refused.stderr.strip().count("\n") == 0, refused.stderr
            assert "names the maintenance database 'postgres'" in refused.stderr
            assert "name the application's database" in refused.stderr
        assert _database_acl(applied, "postgres") == before
    finally:
        if any(grantee in r.all() for grantee, _ in _database_acl(applied, "postgres")):
            # This model landed in `postgres`: undo it there, or the shared server stays broken
            # (PUBLIC's CONNECT revoked) and its roles cannot be dropped.
            postgres = with_database(applied.super_db, "postgres")
            drop_owned(postgres, r.all())
            admin_sql(
                postgres,
                f'DROP SCHEMA IF EXISTS "{r.schema}" CASCADE',
                "GRANT CONNECT, TEMPORARY ON DATABASE postgres TO PUBLIC",
            )


@pytest.mark.postgresql
def test_the_shipped_sql_runs_twice_through_psql(
    project: Project, admin_url: str, tmp_path: Path
) -> None:
    token = uuid.uuid4().hex[:10]
    prefix, database = f"gwp{token}", f"gw_psql_{token}"
    env = {"DB_ROLE_PREFIX": prefix}
    roles = Roles(prefix, prefix)
    db = with_database(admin_url, database)
    script = tmp_path / "roles.sql"
    script.write_text(project.invoke("db.grant", "--print", env=env).stdout)
    psql = _psql(project, admin_url)
    admin_sql(admin_url, f'CREATE DATABASE "{database}"')
    try:
        for run in range(2):
            result = subprocess.run(
                [psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", _psycopg_url(db), "-f", script],
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
            assert result.returncode == 0, f"run {run + 1}: {result.stderr}"
        checked = project.invoke("db.grant", "--admin-url", db, "--check", env=env, check=False)
        assert "OK: roles, ownership and privileges match the model" in checked.stdout, (
            checked.stdout + checked.stderr
        )
    finally:
        teardown(admin_url, db, database, roles, None)


def _psql(project: Project, admin_url: str) -> str:
    """psql as db.backup finds pg_dump: PATH or the embedded server's, not older than the server.

    CI machines have it; a machine without it fails here with the finder's install hint.
    """
    with psycopg.connect(_psycopg_url(admin_url)) as connection:
        ((major,),) = connection.execute("SHOW server_version_num")
    found = project.python(
        "from groundwork.backends.postgresql_backup import _tool\n"
        f"from {project.package}.settings import load_settings\n"
        f"print(_tool(load_settings(), 'psql', {int(major) // 10000}))",
        check=False,
    )
    assert found.returncode == 0, f"no usable psql: {found.stderr.strip().splitlines()[-1:]}"
    return found.stdout.strip()


@pytest.mark.postgresql
def test_the_permissive_one_role_layout_fails_the_matrix(admin_url: str) -> None:
    """Negative control: one login owning everything, GRANT ALL, migrations run by it."""
    token = uuid.uuid4().hex[:10]
    role, database = f"gwbad{token}", f"gw_bad_{token}"
    admin_sql(admin_url, f'CREATE ROLE "{role}" LOGIN', f'CREATE DATABASE "{database}"')
    db = with_database(admin_url, database)
    try:
        admin_sql(db, f'GRANT ALL ON SCHEMA public TO "{role}"')
        with psycopg.connect(_psycopg_url(login_url(db, role)), autocommit=True) as connection:
            for statement in (
                (
                    "CREATE TABLE countries (id int GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
                    " code varchar(2), alpha3 varchar(3), name varchar(100))"
                ),
                "CREATE TABLE users (id serial PRIMARY KEY)",
                "CREATE TABLE later_identity (id int GENERATED BY DEFAULT AS IDENTITY, note text)",
                "CREATE TABLE later_serial (id serial PRIMARY KEY, note text)",
                "CREATE TABLE alembic_version (version_num varchar(32) PRIMARY KEY)",
                "INSERT INTO alembic_version VALUES ('x')",
                f'GRANT ALL PRIVILEGES ON ALL TABLES IN SCHEMA public TO "{role}"',
                f'ALTER DEFAULT PRIVILEGES GRANT ALL ON TABLES TO "{role}"',
            ):
                connection.execute(statement)
        failures = matrix_failures(login_url(db, role), "public", "postgres")
        assert "app: TRUNCATE was not denied (it ran)" in failures
        assert "app: DROP TABLE was not denied (it ran)" in failures
        assert "app: rewrite the version was not denied (it ran)" in failures
    finally:
        admin_sql(admin_url, f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        admin_sql(admin_url, f'DROP ROLE IF EXISTS "{role}"')


# -- the SQL file and the SQLite flavour (no server needed) -----------------------------------


def test_the_shipped_file_is_what_the_task_prints(project: Project) -> None:
    shipped = (project.path / "src" / project.package / "sql" / "roles.sql").read_text()
    printed = project.invoke("db.grant", "--print").stdout
    assert shipped == printed
    assert "-- `invoke db.grant` then sets the logins' passwords" in printed
    assert not re.search(r"PASSWORD\s*'|PASSWORD\s+\$|ENCRYPTED", shipped, re.IGNORECASE)
    # PostgreSQL-16 syntax only inside EXECUTE strings (PL/pgSQL parses dead branches).
    for line in shipped.splitlines():
        if "INHERIT FALSE" in line:
            assert "EXECUTE pg_catalog.format(" in line


def test_the_script_renders_with_the_standard_library_alone(project: Project) -> None:
    """The bake writes sql/roles.sql with cookiecutter's Python, before the project's
    dependencies exist: the kit's renderer imports nothing beyond the standard library."""
    code = (
        "import sys\n"
        "sys.path.insert(0, 'src')\n"
        "from groundwork.roles.exceptions import Exceptions\n"
        "from groundwork.roles.names import RoleNames\n"
        "from groundwork.roles.render import render_sql\n"
        f"sys.stdout.write(render_sql(RoleNames.from_prefix({_baked_prefix(project)!r}),"
        " Exceptions([], {})))\n"
        "third = sorted({m.split('.')[0] for m in sys.modules} & {'sqlalchemy', 'alembic',"
        " 'psycopg', 'dotenv', 'invoke'})\n"
        "assert not third, third\n"
    )
    # -I -S: no site-packages, so no SQLAlchemy to fall back on (-B: -I ignores PYTHON* settings).
    result = project.run(sys.executable, "-I", "-S", "-B", "-c", code)
    shipped = (project.path / "src" / project.package / "sql" / "roles.sql").read_text()
    assert result.stdout == shipped


def test_the_lifecycle_tables_are_created_as_the_code_declares_them(project: Project) -> None:
    """roles/tables.py writes the lifecycle tables' columns as SQL text (the bake has no
    SQLAlchemy); they are what PostgreSQL's dialect compiles ledger.py's tables to."""
    code = (
        "from sqlalchemy.dialects.postgresql.base import PGDialect\n"
        "from sqlalchemy.schema import CreateTable\n"
        "from groundwork.ledger import lifecycle_metadata\n"
        "from groundwork.roles.tables import COLUMNS, LIFECYCLE_TABLES, create_table\n"
        "from groundwork.seeding.ledger import seeding_metadata\n"
        "tables = {**lifecycle_metadata.tables, **seeding_metadata.tables}\n"
        "assert sorted(tables) == sorted(LIFECYCLE_TABLES) == sorted(COLUMNS), sorted(tables)\n"
        "for name, table in tables.items():\n"
        "    ddl = str(CreateTable(table).compile(dialect=PGDialect()))\n"
        "    body = ddl.split('(', 1)[1].rsplit(')', 1)[0]\n"
        "    columns = tuple(part.strip() for part in body.strip().split(', \\n'))\n"
        "    assert COLUMNS[name] == columns, (name, columns)\n"
        "    assert create_table('t', name)[1:-1] == [f'    {c},' for c in columns[:-1]]"
        " + [f'    {columns[-1]}']\n"
    )
    project.python(code)


def test_sqlite_flavour_says_roles_are_postgresql_and_still_prints(
    baked: dict[str, Path],
) -> None:
    project = Project(baked["sqlite"], in_process=True)
    result = project.invoke("db.grant", check=False)
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0
    assert "roles and grants are a PostgreSQL feature" in result.stderr
    printed = project.invoke("db.grant", "--print").stdout
    assert "ALTER DEFAULT PRIVILEGES FOR ROLE" in printed


@pytest.mark.parametrize("setting", ["DB_ROLE_PREFIX", "DB_SCHEMA"])
def test_a_pg_prefix_is_refused_in_one_line(project: Project, setting: str) -> None:
    result = project.invoke("db.grant", "--print", env={setting: "pg_app"}, check=False)
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0, result.stderr
    assert "'pg_app' starts with 'pg_', which PostgreSQL reserves" in result.stderr


@pytest.mark.postgresql
def test_seeded_ids_leave_the_sequence_past_them_for_the_app(applied: Setup) -> None:
    """Issue 11, item 7: a seed that gives ids runs with the app's login, which may not setval;
    the migrator's login moves the sequence, and the app's first INSERT without an id works."""
    r = applied.roles
    project = applied.project
    seed = project.path / "src" / project.package / "seeds" / "id_users.py"
    seed.write_text(
        "from groundwork.seeding import Seed\n"
        "from ..models import User\n\n"
        "id_users = Seed(\n"
        '    model=User, key="email", environments=("development", "test"),\n'
        '    rows=[{"id": 3, "email": "ids@example.com", "display_name": "Given an id"}],\n'
        ")\n"
    )
    env = {
        **applied.env,
        "DATABASE_URL": applied.url(r.app),
        "MIGRATOR_DATABASE_URL": applied.url(r.migrator),
    }
    try:
        project.invoke("db.seed", "--only", "id_users", env=env)
        insert = "INSERT INTO users (email, display_name) VALUES ('next@example.com', 'Next')"
        assert attempt(applied.url(r.app), [insert]) is None
        assert attempt(applied.url(r.app), ["SELECT setval('users_id_seq', 1000)"]) == "42501"
    finally:
        seed.unlink()
        applied.sql(f"DELETE FROM \"{r.schema}\".users WHERE email = 'ids@example.com'")
