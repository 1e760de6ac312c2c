"""Applying the model: the script as the admin, what it changed, then the passwords."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..quoting import ident
from .adoption import ADOPTION_REFUSED, AdoptionRefusedError
from .connection import connect
from .names import RoleNames, role_names
from .passwords import set_passwords
from .prefix import IDENTIFIER
from .render import render_sql

if TYPE_CHECKING:
    from sqlalchemy.engine import URL

    from ..settings import Settings


def apply(settings: Settings, url: URL) -> tuple[list[str], list[str]]:
    """Run the script as the admin (``url``: :func:`.connection.admin_url`'s), then set passwords.

    Returns what changed and which passwords were set.
    """
    names = role_names(settings)
    notices: list[str] = []
    with connect(url, notices) as connection:
        before = _acl_snapshot(connection, names)
        _run_script(connection, render_sql(names))
        after = _acl_snapshot(connection, names)
        report = [
            n
            for n in notices
            if n.startswith(("changed LOGIN", "removed CREATEDB", "moved ", "dropped the empty"))
        ]
        # The owner's own rights on what it owns are implied: not worth a line each.
        owners = f"{names.owner}: "
        report += [f"+ {line}" for line in sorted(after - before) if not line.startswith(owners)]
        report += [f"- {line}" for line in sorted(before - after) if not line.startswith(owners)]
        passwords = set_passwords(connection, settings, names)
    return report, passwords


def _run_script(connection: Any, script: str) -> None:
    """Run the script; its refusal to adopt a history becomes :class:`AdoptionRefusedError`."""
    from ..driver import psycopg

    try:
        connection.execute(script)
    except psycopg().Error as exc:
        if exc.sqlstate != ADOPTION_REFUSED:
            raise
        diag = exc.diag
        problems = (diag.message_detail or "").splitlines()
        message, hint = diag.message_primary or "", diag.message_hint or ""
        raise AdoptionRefusedError(message, problems, hint) from None


_SNAPSHOT_SQL = """
SELECT 'role ' || r.rolname || CASE WHEN r.rolcanlogin THEN ' LOGIN' ELSE ' NOLOGIN' END
       || CASE WHEN r.rolinherit THEN '' ELSE ' NOINHERIT' END
  FROM pg_roles r WHERE r.rolname = ANY(%(roles)s)
UNION ALL
SELECT m.member::regrole::text || ' member of ' || m.roleid::regrole::text
  FROM pg_auth_members m
 WHERE m.roleid::regrole::text = ANY(%(quoted)s) OR m.member::regrole::text = ANY(%(quoted)s)
UNION ALL
SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE a.grantee::regrole::text END || ': '
       || a.privilege_type || ' on database ' || quote_ident(d.datname)
  FROM pg_database d, aclexplode(coalesce(d.datacl, acldefault('d', d.datdba))) a
 WHERE d.datname = current_database()
UNION ALL
SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE a.grantee::regrole::text END || ': '
       || a.privilege_type || ' on schema ' || quote_ident(n.nspname)
  FROM pg_namespace n, aclexplode(coalesce(n.nspacl, acldefault('n', n.nspowner))) a
 WHERE n.nspname IN (%(schema)s, 'public')
UNION ALL
SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE a.grantee::regrole::text END || ': '
       || a.privilege_type || ' on ' || c.oid::regclass::text
  FROM pg_class c, aclexplode(coalesce(c.relacl, acldefault(
       CASE WHEN c.relkind = 'S' THEN 's' ELSE 'r' END::"char", c.relowner))) a
 WHERE c.relnamespace = to_regnamespace(%(schema)s) AND c.relkind IN ('r','p','v','m','f','S')
UNION ALL
SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE a.grantee::regrole::text END || ': '
       || a.privilege_type || ' on '
       || CASE WHEN p.prokind = 'p' THEN 'procedure ' ELSE 'function ' END
       || p.oid::regprocedure::text
  FROM pg_proc p, aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
 WHERE p.pronamespace = to_regnamespace(%(schema)s)
UNION ALL
SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE a.grantee::regrole::text END || ': '
       || a.privilege_type || ' by default on new ' || d.defaclobjtype::text || ' of '
       || d.defaclrole::regrole::text
  FROM pg_default_acl d, aclexplode(d.defaclacl) a
 WHERE d.defaclrole::regrole::text = ANY(%(quoted)s)
UNION ALL
SELECT d.setrole::regrole::text || ' setting ' || array_to_string(d.setconfig, ', ')
  FROM pg_db_role_setting d
 WHERE d.setdatabase = (SELECT oid FROM pg_database WHERE datname = current_database())
   AND d.setrole::regrole::text = ANY(%(quoted)s)
"""


def _acl_snapshot(connection: Any, names: RoleNames) -> set[str]:
    """What the script may change, one readable line per fact (to report what changed)."""
    roles = list(names.roles())
    params = {"roles": roles, "quoted": [_ident_min(r) for r in roles], "schema": names.schema}
    return {row[0] for row in connection.execute(_SNAPSHOT_SQL, params)}


def _ident_min(name: str) -> str:
    # regrole::text quotes only when needed; validated names never need it.
    return name if IDENTIFIER.fullmatch(name) else ident(name)
