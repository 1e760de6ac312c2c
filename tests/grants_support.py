"""Roles of the grants tests: their names, login URLs, and dropping them afterwards.

Role names are cluster-wide: every test that runs ``db.grant`` uses a random prefix and drops
its roles at the end the way docs/database.md tells a DBA to.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import psycopg
from sqlalchemy.engine import make_url

from tests.support import _psycopg_url, admin_sql, with_database


def login_url(url: str, user: str, password: str | None = None) -> str:
    return (
        make_url(_psycopg_url(url))
        .set(username=user, password=password)
        .render_as_string(hide_password=False)
    )


@dataclass
class Roles:
    prefix: str
    schema: str
    owner: str = field(init=False)
    migrator: str = field(init=False)
    rw: str = field(init=False)
    ro: str = field(init=False)
    app: str = field(init=False)
    reader: str = field(init=False)

    def __post_init__(self) -> None:
        for role in ("owner", "migrator", "rw", "ro", "app", "reader"):
            setattr(self, role, f"{self.prefix}_{role}")

    def all(self) -> list[str]:
        return [self.owner, self.migrator, self.rw, self.ro, self.app, self.reader]


def teardown(
    admin_url: str, super_db: str, database: str, roles: Roles, cloud_admin: str | None
) -> None:
    """What docs/database.md tells a DBA: REASSIGN OWNED and DROP OWNED, then DROP ROLE."""
    existing = [
        r
        for r in roles.all()
        if psycopg.connect(_psycopg_url(admin_url), autocommit=True)
        .execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (r,))
        .fetchone()
    ]
    if existing:
        drop_owned(super_db, existing)
    admin_sql(admin_url, f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    for role in [*existing, *([cloud_admin] if cloud_admin else [])]:
        admin_sql(admin_url, f'DROP ROLE IF EXISTS "{role}"')


def drop_owned(database_url: str, roles: list[str]) -> None:
    """REASSIGN OWNED and DROP OWNED in one database, as superuser: what pins the roles there."""
    names = ", ".join(f'"{r}"' for r in roles)
    # One DROP OWNED per role: with several at once, PostgreSQL trips over a default ACL
    # that names two of them ("could not find tuple for default ACL").
    admin_sql(
        database_url,
        f"REASSIGN OWNED BY {names} TO CURRENT_USER",
        *(f'DROP OWNED BY "{r}"' for r in roles),
    )


@dataclass
class Fresh:
    """A new database with the role model applied by ``kind`` of admin: its names and URLs."""

    kind: str
    roles: Roles
    database: str
    super_db: str  # a superuser URL of the database (catalog reads, planting, teardown)
    grant_admin: str  # the URL db.grant runs with (the superuser's, or the cloud admin's)
    env: dict[str, str]  # DB_ROLE_PREFIX: one baked project serves every fresh database

    def sql(self, *statements: str) -> None:
        admin_sql(self.super_db, *statements)

    def query(self, statement: str, *params: object) -> list[tuple[object, ...]]:
        with psycopg.connect(_psycopg_url(self.super_db), autocommit=True) as connection:
            return list(connection.execute(statement, params or None))


@contextmanager
def fresh_database(admin_url: str, kind: str, admin_password: str | None = None) -> Iterator[Fresh]:
    """A database created by a superuser or by a CREATEROLE CREATEDB login (a cloud admin).

    Nothing is applied yet; roles, database and admin are dropped afterwards. The cloud admin
    gets ``admin_password`` (clusters with password authentication: tests/pg_versions.py).
    """
    token = uuid.uuid4().hex[:10]
    prefix, database = f"gwf{token}", f"gw_fresh_{token}"
    cloud_admin = None
    creator = admin_url
    if kind == "cloud-admin":
        cloud_admin = f"gwadm{token}"
        password = f" PASSWORD '{admin_password}'" if admin_password else ""
        admin_sql(admin_url, f'CREATE ROLE "{cloud_admin}" LOGIN CREATEROLE CREATEDB{password}')
        creator = login_url(admin_url, cloud_admin, admin_password)
    admin_sql(creator, f'CREATE DATABASE "{database}"')
    roles = Roles(prefix, prefix)
    fresh = Fresh(
        kind=kind,
        roles=roles,
        database=database,
        super_db=with_database(admin_url, database),
        grant_admin=with_database(creator, database),
        env={"DB_ROLE_PREFIX": prefix},
    )
    try:
        yield fresh
    finally:
        teardown(admin_url, fresh.super_db, database, roles, cloud_admin)
