"""A database granted and migrated through the role model, for the drift catalogue and the
attack suite (tests/test_check_catalogue.py, tests/test_attacks.py, tests/test_versions.py).

Works on any server whose admin URL it is given: the shared test server (which trusts every
login: passwords are set but not needed) or a cluster of tests/pg_versions.py (scram-sha-256:
every login uses its password). Passwords reach the children through the environment only.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

from tests.drift_catalogue import Kind
from tests.grants_support import Fresh, drop_owned, fresh_database, login_url
from tests.support import Project, _psycopg_url, admin_sql, with_database


def connect(url: str, autocommit: bool = False) -> psycopg.Connection[tuple[object, ...]]:
    """A connection by keyword parameters: libpq refuses a URL whose password has a space."""
    from sqlalchemy.engine import make_url

    parsed = make_url(_psycopg_url(url))
    # The query's options too: the embedded server is reached by ?host=<socket folder>.
    params: dict[str, str | int | None] = {
        **{k: v for k, v in parsed.query.items() if isinstance(v, str)},
        "port": parsed.port, "user": parsed.username, "password": parsed.password,
        "dbname": parsed.database,
    }  # fmt: skip
    if parsed.host:
        params["host"] = parsed.host
    # libpq keywords, as psycopg passes them on: make_conninfo's text, not typed arguments.
    conninfo = make_conninfo("", **{k: v for k, v in params.items() if v is not None})
    return psycopg.connect(conninfo, autocommit=autocommit)


@dataclass
class Granted:
    fresh: Fresh
    project: Project
    passwords: dict[str, str]  # role -> password
    out: str  # a plain outside login
    creator: str  # an outside CREATEROLE login
    major: int

    def url(self, role: str) -> str:
        return login_url(self.fresh.super_db, role, self.passwords.get(role))

    def names(self) -> dict[str, str]:
        r = self.fresh.roles
        return {
            "owner": r.owner, "migrator": r.migrator, "rw": r.rw, "ro": r.ro, "app": r.app,
            "reader": r.reader, "schema": r.schema, "s": f'"{r.schema}"', "db": self.fresh.database,
            "out": self.out, "creator": self.creator,
        }  # fmt: skip

    def env(self) -> dict[str, str]:
        r = self.fresh.roles
        return {
            **self.fresh.env,
            "ADMIN_DATABASE_URL": self.fresh.grant_admin,
            "DB_MIGRATOR_PASSWORD": self.passwords[r.migrator],
            "DB_APP_PASSWORD": self.passwords[r.app],
            "DB_READER_PASSWORD": self.passwords[r.reader],
        }

    def grant(self, *args: str, check: bool = True) -> tuple[int, str]:
        result = self.project.invoke("db.grant", *args, env=self.env(), check=check)
        return result.returncode, result.stdout + result.stderr

    def migrate(self) -> None:
        r = self.fresh.roles
        env = {**self.env(), "DATABASE_URL": self.url(r.app),
               "MIGRATOR_DATABASE_URL": self.url(r.migrator)}  # fmt: skip
        self.project.invoke("db.upgrade", env=env)

    def run_as(self, login: str | None, statements: tuple[str, ...]) -> None:
        """As the superuser in the database; as an outside login in `postgres` (roles are the
        cluster's: it needs no CONNECT on the application's database)."""
        url = self.fresh.super_db if login is None else with_database(self.url(login), "postgres")
        with connect(url, autocommit=True) as connection:
            for statement in statements:
                connection.execute(statement.format_map(self.names()))

    def check_kind(self, kind: Kind) -> str | None:
        """None when --check exits 1 naming every expected line; else what went wrong."""
        login = None if kind.as_login is None else self.names()[kind.as_login]
        self.run_as(login, kind.inject)
        try:
            code, output = self.grant("--check", check=False)
        finally:
            self.run_as(login, kind.undo)
        expected = [line.format_map(self.names()) for line in kind.expect]
        missing = [line for line in expected if line not in output]
        if code != 1 or missing:
            return f"{kind.name}: exit {code}, missing {missing} in:\n{output}"
        return None


PG14_REVOKE = "REVOKE CREATE ON SCHEMA public FROM PUBLIC"


@contextmanager
def granted(admin_url: str, project: Project, kind: str = "superuser") -> Iterator[Granted]:
    """A fresh database, db.grant applied (passwords set), migrated to head as the migrator."""
    with psycopg.connect(_psycopg_url(admin_url)) as connection:
        ((version,),) = connection.execute("SHOW server_version_num")
    token = uuid.uuid4().hex[:8]
    out, creator = f"gwout{token}", f"gwcre{token}"
    if kind == "cloud-admin" and int(version) < 150000:
        # What docs/database.md ("PostgreSQL 14 and older") asks of the DBA: a non-superuser
        # admin does not own `public`, so PUBLIC's CREATE there is revoked in template1, from
        # which the database is created (test_versions checks the refusal without it).
        admin_sql(with_database(admin_url, "template1"), PG14_REVOKE)
    with fresh_database(admin_url, kind, admin_password=f"adm@:/{token}") as fresh:
        r = fresh.roles
        passwords = {
            r.migrator: f"m1 gr@t:/#?{token}",  # a space and URL delimiters: keyword params
            r.app: f"app'\"{token}",
            r.reader: f"rdr-{token}",
            out: f"out-{token}",
            creator: f"cre-{token}",
        }
        admin_sql(
            admin_url,
            *(
                sql.SQL("CREATE ROLE {} LOGIN {} PASSWORD {}")
                .format(sql.Identifier(role), sql.SQL(extra), sql.Literal(passwords[role]))
                .as_string()
                for role, extra in ((out, ""), (creator, "CREATEROLE"))
            ),
        )
        setup = Granted(fresh, project, passwords, out, creator, int(version) // 10000)
        try:
            setup.grant()
            setup.migrate()
            yield setup
        finally:
            drop_owned(fresh.super_db, [out, creator])
            for role in (out, creator):
                admin_sql(admin_url, f'DROP ROLE IF EXISTS "{role}"')


# -- the attack suite --------------------------------------------------------------------------


def attack_figures(setup: Granted) -> tuple[dict[str, int], list[str]]:
    """Every attack of tests/attack_statements.py by each login: statements run, surprises."""
    from tests.attack_statements import common_attacks, migrator_attacks, run, table_attacks

    n = setup.names()
    tables: dict[str, list[str]] = {}
    for table, column in setup.fresh.query(
        "SELECT c.relname, a.attname FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid"
        " WHERE c.relnamespace = to_regnamespace(%s) AND c.relkind = 'r' AND a.attnum > 0"
        " AND NOT a.attisdropped ORDER BY c.relname, a.attnum",
        setup.fresh.roles.schema,
    ):
        tables.setdefault(str(table), []).append(str(column))
    sequences = [
        str(name)
        for (name,) in setup.fresh.query(
            "SELECT relname FROM pg_class WHERE relnamespace = to_regnamespace(%s)"
            " AND relkind = 'S' ORDER BY 1",
            setup.fresh.roles.schema,
        )
    ]
    counts, failures = {}, []
    for login in ("app", "reader", "migrator"):
        attacks = table_attacks(
            login, tables, sequences, setup.fresh.roles.schema
        ) + common_attacks(login, n, setup.fresh.kind == "superuser")
        if login == "migrator":
            attacks += migrator_attacks(n)
        count, wrong = run(setup.url(n[login]), attacks, setup.major)
        counts[login] = count
        failures += wrong
    return counts, failures


DEFINER = """
CREATE TABLE {s}.audit_log (at timestamptz DEFAULT now(), what text);
CREATE FUNCTION {s}.record(what text) RETURNS void LANGUAGE plpgsql SECURITY DEFINER {pin} AS $$
BEGIN
  INSERT INTO audit_log (what) VALUES (what);
END $$;
"""
SHADOW = (
    "CREATE TEMP TABLE audit_log (at timestamptz, what text)",
    "GRANT ALL ON pg_temp.audit_log TO PUBLIC",  # the function's owner inserts there
    (
        "CREATE FUNCTION pg_temp.escalate() RETURNS trigger LANGUAGE plpgsql AS $$"
        " BEGIN EXECUTE 'DROP TABLE {s}.countries CASCADE'; RETURN NEW; END $$"
    ),
    (
        "CREATE TRIGGER escalate BEFORE INSERT ON pg_temp.audit_log FOR EACH ROW"
        " EXECUTE FUNCTION pg_temp.escalate()"
    ),
    "SELECT {s}.record('hello')",
)


def definer_escalation(setup: Granted, pinned: bool) -> tuple[bool, str]:
    """Item 7: the app shadows the table a SECURITY DEFINER function writes with a temporary one
    whose trigger runs as the function's owner. Returns (countries dropped?, db.check output)."""
    r = setup.fresh.roles
    pin = f'SET search_path = pg_catalog, "{r.schema}", pg_temp' if pinned else ""
    migrator = [f'SET ROLE "{r.owner}"', DEFINER.format(s=f'"{r.schema}"', pin=pin)]
    setup.run_as(r.migrator, ())  # the migrator's password works (special characters)
    with connect(setup.url(r.migrator), autocommit=True) as connection:
        for statement in migrator:
            connection.execute(statement)
    try:
        env = {**setup.env(), "DATABASE_URL": setup.url(r.app),
               "MIGRATOR_DATABASE_URL": setup.url(r.migrator)}  # fmt: skip
        checked = setup.project.invoke("db.check", env=env, check=False)
        dropped = False
        with connect(setup.url(r.app)) as connection:
            try:
                for statement in SHADOW:
                    connection.execute(statement.format(s=f'"{r.schema}"'))
                ((gone,),) = connection.execute(
                    "SELECT to_regclass(%s) IS NULL", (f'"{r.schema}".countries',)
                )
                dropped = bool(gone)
            except psycopg.Error as exc:
                print(f"chain stopped: {exc.sqlstate} {exc}")
                dropped = False
            finally:
                connection.rollback()
        return dropped, f"exit {checked.returncode}: {checked.stdout}{checked.stderr}"
    finally:
        setup.fresh.sql(
            f'DROP FUNCTION "{r.schema}".record(text)', f'DROP TABLE "{r.schema}".audit_log'
        )


def self_grant_escalation(setup: Granted) -> tuple[str, str]:
    """Item 8: the migrator grants its own membership to the app (PostgreSQL 14 and older),
    then the app takes the owner's role and drops a table. Returns (what happened, --check)."""
    r = setup.fresh.roles
    try:
        with connect(setup.url(r.migrator), autocommit=True) as connection:
            connection.execute(f'GRANT "{r.migrator}" TO "{r.app}"')
    except psycopg.Error as exc:
        return f"grant refused {exc.sqlstate}", ""
    try:
        _, checked = setup.grant("--check", check=False)
        with connect(setup.url(r.app)) as connection:
            try:
                connection.execute(f'SET ROLE "{r.owner}"')
                connection.execute(f'DROP TABLE "{r.schema}".countries CASCADE')
                return "app dropped a table as the owner", checked
            except psycopg.Error as exc:
                return f"granted, then refused {exc.sqlstate}", checked
            finally:
                connection.rollback()
    finally:
        setup.fresh.sql(f'REVOKE "{r.migrator}" FROM "{r.app}"')
