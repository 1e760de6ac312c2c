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

from tests.drift_catalogue import Kind
from tests.grants_support import Fresh, drop_owned, fresh_database, login_url
from tests.support import Project, _psycopg_url, admin_sql, with_database


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
        with psycopg.connect(_psycopg_url(url), autocommit=True) as connection:
            for statement in statements:
                connection.execute(statement.format_map(self.names()))  # type: ignore[arg-type]

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


@contextmanager
def granted(admin_url: str, project: Project, kind: str = "superuser") -> Iterator[Granted]:
    """A fresh database, db.grant applied (passwords set), migrated to head as the migrator."""
    with psycopg.connect(_psycopg_url(admin_url)) as connection:
        ((version,),) = connection.execute("SHOW server_version_num")
    token = uuid.uuid4().hex[:8]
    out, creator = f"gwout{token}", f"gwcre{token}"
    with fresh_database(admin_url, kind) as fresh:
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
