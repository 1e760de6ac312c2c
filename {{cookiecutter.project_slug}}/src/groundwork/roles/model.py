"""The model: who gets which privilege. The script (render.py) and the check both read it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .names import RoleNames


@dataclass(frozen=True)
class Model:
    """Privileges by grantee attribute of :class:`RoleNames` ("rw", "ro", "migrator")."""

    database: dict[str, tuple[str, ...]]
    schema: dict[str, tuple[str, ...]]
    tables: dict[str, tuple[str, ...]]
    sequences: dict[str, tuple[str, ...]]
    functions: dict[str, tuple[str, ...]]
    version_table: dict[str, tuple[str, ...]]


MODEL = Model(
    # TEMPORARY: the app may need temp tables; the reader may not create anything.
    # The migrator gets CONNECT itself: it inherits nothing, not even through the owner.
    database={"rw": ("CONNECT", "TEMPORARY"), "ro": ("CONNECT",), "migrator": ("CONNECT",)},
    schema={"rw": ("USAGE",), "ro": ("USAGE",)},
    # Rows only: no TRUNCATE, REFERENCES, TRIGGER or MAINTAIN (what GRANT ALL would add).
    tables={"rw": ("SELECT", "INSERT", "UPDATE", "DELETE"), "ro": ("SELECT",)},
    # USAGE lets serial columns call nextval(); UPDATE (setval) is never needed by the app.
    sequences={"rw": ("USAGE", "SELECT"), "ro": ("SELECT",)},
    # The reader too: a view that calls a function needs EXECUTE from whoever reads the view.
    # (A SECURITY DEFINER function runs as the owner: docs/database.md says how to write one.)
    functions={"rw": ("EXECUTE",), "ro": ("EXECUTE",)},
    # Everyone may read which revision is applied (and the lifecycle's other records, below);
    # only the owner, that is migrations, may write them.
    version_table={"rw": ("SELECT",), "ro": ("SELECT",)},
)

# Large objects: PUBLIC may create them (pg_catalog's functions, one copy per database), the
# reader included, without limit. Server-side lo_import/lo_export are superuser-only already.
LARGE_OBJECT_CREATORS = (
    "pg_catalog.lo_create(oid)",
    "pg_catalog.lo_creat(integer)",
    "pg_catalog.lo_from_bytea(oid, bytea)",
)


def grantees(names: RoleNames, privileges: dict[str, tuple[str, ...]]) -> list[tuple[str, str]]:
    """(role, "PRIV, PRIV") for each grantee of ``privileges``, as GRANT writes them."""
    return [(getattr(names, key), ", ".join(privs)) for key, privs in privileges.items()]


def expected(names: RoleNames, privileges: dict[str, tuple[str, ...]]) -> set[tuple[str, str]]:
    """(role, privilege) for each privilege of ``privileges``, as the catalog lists them."""
    return {(getattr(names, key), priv) for key, privs in privileges.items() for priv in privs}
