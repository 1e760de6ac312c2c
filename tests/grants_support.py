"""Roles of the grants tests: their names, login URLs, and dropping them afterwards.

Role names are cluster-wide: every test that runs ``db.grant`` uses a random prefix and drops
its roles at the end the way docs/database.md tells a DBA to.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import psycopg
from sqlalchemy.engine import make_url

from tests.support import _psycopg_url, admin_sql


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
