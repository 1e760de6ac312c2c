"""The role model's names, and the ``SET ROLE`` that makes a migration the owner's."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..backends import backend_named
from ..errors import TaskError
from ..project import current as current_project
from .prefix import problem

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from ..settings import Settings


@dataclass(frozen=True)
class RoleNames:
    """The names of the model's roles and of the schema that holds the application's tables."""

    prefix: str
    schema: str

    @classmethod
    def from_prefix(cls, prefix: str, schema: str | None = None) -> RoleNames:
        for what, value in (("role prefix", prefix), ("schema", schema or prefix)):
            reason = problem(value)
            if reason:
                raise TaskError(
                    f"the {what} {value!r} {reason}: set DB_ROLE_PREFIX (or DB_SCHEMA) to "
                    "another name"
                )
        return cls(prefix, schema or prefix)

    owner = property(lambda self: f"{self.prefix}_owner")
    migrator = property(lambda self: f"{self.prefix}_migrator")
    rw = property(lambda self: f"{self.prefix}_rw")
    ro = property(lambda self: f"{self.prefix}_ro")
    app = property(lambda self: f"{self.prefix}_app")
    reader = property(lambda self: f"{self.prefix}_reader")

    def roles(self) -> dict[str, bool]:
        """Every role of the model and whether it logs in."""
        return {
            self.owner: False,
            self.migrator: True,
            self.rw: False,
            self.ro: False,
            self.app: True,
            self.reader: True,
        }

    @property
    def logins(self) -> tuple[str, str, str]:
        return (self.migrator, self.app, self.reader)


def role_names(settings: Settings) -> RoleNames:
    # The prefix of the project's configuration; DB_ROLE_PREFIX overrides it (one project,
    # several clusters).
    baked = current_project().role_prefix
    prefix = settings.get("DB_ROLE_PREFIX", baked) or baked
    return RoleNames.from_prefix(prefix, settings.get("DB_SCHEMA"))


def assume_migration_role(connection: Connection, settings: Settings) -> str | None:
    """``SET ROLE`` the owner when migrating as the migrator; return the role set, if any.

    Called inside the migration's one transaction (``engine.begin()``), which is committed at
    the end: a SET ROLE in a transaction SQLAlchemy 2 would autobegin and then discard is how
    ``alembic upgrade`` ends up exiting 0 having persisted nothing. DB_MIGRATION_ROLE names the
    role explicitly; without it, the owner is taken when the login is this project's migrator.
    """
    if not backend_named(connection.dialect.name).has_roles:
        return None
    names = role_names(settings)
    role = settings.get("DB_MIGRATION_ROLE")
    if role is None:
        if connection.exec_driver_sql("SELECT session_user").scalar() != names.migrator:
            return None
        role = names.owner
    connection.exec_driver_sql(f"SET ROLE {connection.dialect.identifier_preparer.quote(role)}")
    return role
