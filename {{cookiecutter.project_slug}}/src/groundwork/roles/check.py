"""Checking: every difference between the live catalog and the model (``db.grant --check``).

What the model grants (model.py), the project's exceptions (exceptions.py) and the history's
place (adoption.py) are judged here; the ways round the model that a plain ACL comparison
misses are in blind_spots.py.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from ..quoting import ident
from .adoption import SYSTEM_SCHEMAS
from .blind_spots import blind_spot_problems
from .connection import Query, connect
from .exceptions import declared as declared_exceptions
from .model import MODEL, expected
from .names import RoleNames, role_names
from .tables import READ_ONLY_TABLES, SEED_TABLES, VERSION_TABLE

if TYPE_CHECKING:
    from sqlalchemy.engine import URL

    from ..settings import Settings


def check(settings: Settings, url: URL) -> list[str]:
    """Every difference between the model and the catalog behind ``url`` (the admin's URL,
    :func:`.connection.admin_url`)."""
    names = role_names(settings)
    with connect(url) as connection:
        return _differences(lambda q, p=None: list(connection.execute(q, p)), names)


def _differences(query: Query, n: RoleNames) -> list[str]:
    problems: list[str] = []
    version_num = int(query("SHOW server_version_num")[0][0])
    problems += _role_problems(query, n, version_num)
    if any(p.endswith("does not exist: run `invoke db.grant`") for p in problems):
        return problems
    problems += _database_problems(query, n)
    schema = query(
        "SELECT oid, nspowner::regrole::text FROM pg_namespace WHERE nspname = %s", (n.schema,)
    )
    if not schema:
        return [*problems, f"schema {n.schema} does not exist: run `invoke db.grant`"]
    if schema[0][1] != n.owner:
        problems.append(f"schema {n.schema} is owned by {schema[0][1]}, not {n.owner}")
    problems += _acl_problems(
        f"schema {n.schema}",
        query(
            "SELECT a.grantee, a.privilege_type FROM pg_namespace s, aclexplode(coalesce("
            "s.nspacl, acldefault('n', s.nspowner))) a WHERE s.nspname = %s "
            "AND a.grantee <> s.nspowner",
            (n.schema,),
        ),
        expected(n, MODEL.schema),
        query,
    )
    problems += _object_problems(query, n)
    problems += _public_schema_problems(query)
    problems += _default_privilege_problems(query, n)
    problems += _ownership_problems(query, n)
    problems += blind_spot_problems(query, n, version_num)
    problems += _split_problems(query, n)
    problems += _exception_problems(query, n)
    return problems


def _split_problems(query: Query, n: RoleNames) -> list[str]:
    """A history (an alembic_version and what its owner owns beside it) outside the schema.

    What ``db.migrate`` as the migrator would never see: it would build a second, empty copy.
    """
    problems = []
    others = query(
        "SELECT s.nspname::text, c.relowner FROM pg_class c"
        " JOIN pg_namespace s ON s.oid = c.relnamespace"
        f" WHERE c.relname = %s AND c.relkind IN ('r', 'p') AND {SYSTEM_SCHEMAS}"
        " AND s.nspname <> %s ORDER BY 1",
        (VERSION_TABLE, n.schema),
    )
    in_schema = query(
        "SELECT FROM pg_class WHERE relname = %s AND relnamespace = to_regnamespace(%s)",
        (VERSION_TABLE, n.schema),
    )
    adopt = (
        "run `invoke db.grant`, which adopts it or names what prevents it (docs/database.md, "
        "Adopting an existing deployment)"
    )
    for source, owner in others:
        if in_schema:
            problems.append(
                f"{VERSION_TABLE} exists in schema {source} and in schema {n.schema}: the "
                f"application's history is split; {adopt}"
            )
        else:
            problems.append(
                f"the application's history ({VERSION_TABLE}) is in schema {source}, not "
                f"{n.schema}: {adopt}"
            )
        for (what,) in query(
            "SELECT pg_describe_object('pg_class'::regclass, c.oid, 0) FROM pg_class c"
            " WHERE c.relnamespace = to_regnamespace(%s) AND c.relowner = %s"
            " AND c.relkind IN ('r', 'p', 'v', 'm', 'f') AND c.relname <> %s ORDER BY 1",
            (source, owner, VERSION_TABLE),
        ):
            problems.append(f"{what} of that history is outside schema {n.schema}: {adopt}")
    return problems


def _acl_problems(
    what: str,
    rows: Iterable[tuple[int, str]],
    wanted: set[tuple[str, str]],
    query: Query,
    only: Iterable[str] | None = None,
) -> list[str]:
    # Grantee 0 is PUBLIC; role names are looked up by oid in one query per check.
    oids = {int(oid): name for oid, name in query(_ROLES_SQL)}
    actual = {(oids.get(int(oid), str(oid)) if oid else "PUBLIC", p) for oid, p in rows}
    if only is not None:
        keep = set(only)
        actual = {(grantee, priv) for grantee, priv in actual if grantee in keep}
    missing = sorted(wanted - actual)
    extra = sorted(actual - wanted)
    return [f"missing privilege {p} on {what} for {g}" for g, p in missing] + [
        f"extra privilege {p} on {what} for {g}" for g, p in extra
    ]


_ROLES_SQL = "SELECT oid, rolname FROM pg_roles"


def _role_problems(query: Query, n: RoleNames, version_num: int) -> list[str]:
    problems = []
    rows = {
        row[0]: row[1:]
        for row in query(
            "SELECT rolname, rolcanlogin, rolsuper, rolcreatedb, rolcreaterole, rolbypassrls,"
            " rolreplication, rolinherit FROM pg_roles WHERE rolname = ANY(%s)",
            (list(n.roles()),),
        )
    }
    for role, login in n.roles().items():
        if role not in rows:
            problems.append(f"role {role} does not exist: run `invoke db.grant`")
            continue
        canlogin, *powers, _inherit = rows[role]
        if canlogin != login:
            problems.append(f"role {role} should be {'LOGIN' if login else 'NOLOGIN'}")
        for attribute, has in zip(
            ("SUPERUSER", "CREATEDB", "CREATEROLE", "BYPASSRLS", "REPLICATION"), powers, strict=True
        ):
            if has:
                problems.append(f"role {role} has {attribute}")
    if problems:
        return problems

    def has_role(member: str, group: str, mode: str) -> bool:
        return bool(query("SELECT pg_has_role(%s, %s, %s)", (member, group, mode))[0][0])

    if not has_role(n.migrator, n.owner, "SET" if version_num >= 160000 else "MEMBER"):
        problems.append(f"{n.migrator} cannot SET ROLE {n.owner}")
    if has_role(n.migrator, n.owner, "USAGE"):
        problems.append(f"{n.migrator} inherits the rights of {n.owner} (must be NOINHERIT)")
    for member, group in ((n.app, n.rw), (n.reader, n.ro)):
        if not has_role(member, group, "USAGE"):
            problems.append(f"{member} does not have the rights of {group}")
    return problems + _membership_problems(query, n, version_num)


# Every membership a role of the model takes part in, as the member or as the role granted, with
# its options (PostgreSQL 16+; before, every membership inherits and allows SET ROLE).
_MEMBERSHIPS_SQL = """
SELECT DISTINCT g.rolname, m.rolname, a.admin_option, {options},
       m.rolsuper OR m.rolcreaterole, m.oid = d.datdba
  FROM pg_auth_members a
  JOIN pg_roles g ON g.oid = a.roleid
  JOIN pg_roles m ON m.oid = a.member
  JOIN pg_database d ON d.datname = current_database()
 WHERE g.rolname = ANY(%(roles)s) OR m.rolname = ANY(%(roles)s)
 ORDER BY 1, 2, 3
"""


def _membership_problems(query: Query, n: RoleNames, version_num: int) -> list[str]:
    """Each membership the model does not have.

    A role of the model is a member of its own group only (``pg_write_all_data`` or a superuser
    role would bypass every grant); only its login and an administrator are members of one. An
    administrator is judged by what its membership gives, not by its attributes (a CREATEROLE
    login could grant itself ``rw``, and PostgreSQL 15 and earlier would let it):

    - the admin that runs db.grant (superuser, CREATEROLE, or the database's owner) may be a
      member of the owner: SET ROLE, and on 16+ without INHERIT;
    - on 16+, the creator of a role holds it WITH ADMIN OPTION, without INHERIT and SET: that
      membership administers the role and gives none of its rights.
    """
    pg16 = version_num >= 160000
    options = "a.inherit_option, a.set_option" if pg16 else "true, true"
    model = {(n.rw, n.app), (n.ro, n.reader), (n.owner, n.migrator)}
    roles = set(n.roles())
    problems = []
    for group, member, admin_option, inherit, set_option, may_create_roles, owns_database in query(
        _MEMBERSHIPS_SQL.format(options=options), {"roles": list(roles)}
    ):
        if (group, member) in model:
            if admin_option:
                problems.append(f"{member} holds {group} WITH ADMIN OPTION: it could grant it")
            continue
        if member in roles:
            problems.append(f"{member} is a member of {group}, which the model does not grant")
            continue
        runs_grant = may_create_roles or owns_database
        if group == n.owner and runs_grant and not (pg16 and inherit):
            continue
        if pg16 and admin_option and not inherit and not set_option:
            continue
        given = ", ".join(
            what
            for what, has in (("ADMIN", admin_option), ("INHERIT", inherit), ("SET", set_option))
            if has
        )
        problems.append(
            f"{member} is a member of {group}, which the model does not grant ("
            f"{given or 'no option'}): revoke it (REVOKE {ident(group)} FROM {ident(member)})"
        )
    return problems


def _database_problems(query: Query, n: RoleNames) -> list[str]:
    rows = query(
        "SELECT a.grantee, a.privilege_type FROM pg_database d, aclexplode(coalesce(d.datacl,"
        " acldefault('d', d.datdba))) a WHERE d.datname = current_database()"
        " AND a.grantee <> d.datdba"
    )
    problems = _acl_problems(
        "the database",
        rows,
        expected(n, MODEL.database),
        query,
        only=["PUBLIC", *n.roles()],
    )
    for role in n.roles():
        if query("SELECT has_database_privilege(%s, current_database(), 'CREATE')", (role,))[0][0]:
            problems.append(f"{role} may CREATE schemas in the database")
        if query(
            "SELECT has_schema_privilege(%s, 'public', 'CREATE')"
            " FROM pg_namespace WHERE nspname = 'public'",
            (role,),
        ) == [(True,)]:
            problems.append(f"{role} may CREATE in schema public")
    if query(
        "SELECT has_schema_privilege('public', 'public', 'CREATE')"
        " FROM pg_namespace WHERE nspname = 'public'"
    ) == [(True,)]:
        problems.append("PUBLIC may CREATE in schema public")
    settings = {
        row[0]: row[1]
        for row in query(
            "SELECT r.rolname, s.setconfig FROM pg_db_role_setting s JOIN pg_roles r"
            " ON r.oid = s.setrole WHERE s.setdatabase ="
            " (SELECT oid FROM pg_database WHERE datname = current_database())"
        )
    }
    wanted = query("SELECT 'search_path=' || quote_ident(%s) || ', public'", (n.schema,))[0][0]
    for login in n.logins:
        if wanted not in (settings.get(login) or []):
            problems.append(f"{login} has no `{wanted}` setting in this database")
    return problems


_RELATIONS_SQL = """
SELECT c.relname, c.relkind, c.relowner::regrole::text,
       coalesce((SELECT array_agg(ARRAY[a.grantee::text, a.privilege_type])
                   FROM aclexplode(coalesce(c.relacl, acldefault(
                        CASE WHEN c.relkind = 'S' THEN 's' ELSE 'r' END::"char", c.relowner))) a
                  WHERE a.grantee <> c.relowner), '{}')
  FROM pg_class c
 WHERE c.relnamespace = to_regnamespace(%s) AND c.relkind IN ('r','p','v','m','f','S')
   AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
                   AND d.objid = c.oid AND d.deptype = 'e')
 ORDER BY c.relname
"""
_FUNCTIONS_SQL = """
SELECT p.oid::regprocedure::text, p.proowner::regrole::text,
       coalesce((SELECT array_agg(ARRAY[a.grantee::text, a.privilege_type])
                   FROM aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
                  WHERE a.grantee <> p.proowner), '{}')
  FROM pg_proc p
 WHERE p.pronamespace = to_regnamespace(%s)
   AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass
                   AND d.objid = p.oid AND d.deptype = 'e')
"""


def _object_problems(query: Query, n: RoleNames) -> list[str]:
    problems = []
    missing = {*READ_ONLY_TABLES, *SEED_TABLES}
    for name, kind, owner, acl in query(_RELATIONS_SQL, (n.schema,)):
        what = f"{'sequence' if kind == 'S' else 'table'} {n.schema}.{name}"
        missing.discard(name)
        if owner != n.owner:
            problems.append(f"{what} is owned by {owner}, not {n.owner}")
        if kind == "S":
            wanted = expected(n, MODEL.sequences)
        elif name in READ_ONLY_TABLES:
            wanted = expected(n, MODEL.version_table)
        else:
            wanted = _expected_table_privileges(n, name)
        rows = [(int(grantee), priv) for grantee, priv in acl]
        problems += _acl_problems(what, rows, wanted, query)
    for name in sorted(missing):
        problems.append(f"table {n.schema}.{name} is missing: run `invoke db.grant`")
    for signature, owner, acl in query(_FUNCTIONS_SQL, (n.schema,)):
        what = f"function {signature}"
        if owner != n.owner:
            problems.append(f"{what} is owned by {owner}, not {n.owner}")
        rows = [(int(grantee), priv) for grantee, priv in acl]
        problems += _acl_problems(what, rows, expected(n, MODEL.functions), query)
    return problems


# Whatever sits in schema `public` that no extension brought: the model puts nothing there, and
# a function there (public.pg_has_role(text, text, text), public.format(text, text)) is a better
# match for string arguments than the built-in, so it runs as whoever calls the name with
# `public` on the search path, an admin included. Row and array types follow their table or
# type; a multirange follows its range.
_PUBLIC_OBJECTS_SQL = """
WITH public_objects(classid, objid, owner) AS (
  SELECT 'pg_class'::regclass, c.oid, c.relowner FROM pg_class c
   WHERE c.relnamespace = to_regnamespace('public') AND c.relkind NOT IN ('i', 'I', 't')
     AND NOT (c.relkind = 'S' AND EXISTS (SELECT FROM pg_depend d
              WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                AND d.deptype IN ('a', 'i')))
  UNION ALL SELECT 'pg_proc'::regclass, p.oid, p.proowner FROM pg_proc p
   WHERE p.pronamespace = to_regnamespace('public')
  UNION ALL SELECT 'pg_type'::regclass, t.oid, t.typowner FROM pg_type t
   WHERE t.typnamespace = to_regnamespace('public') AND t.typrelid = 0 AND t.typtype <> 'm'
     AND NOT EXISTS (SELECT FROM pg_type e WHERE e.typarray = t.oid)
  UNION ALL SELECT 'pg_operator'::regclass, o.oid, o.oprowner FROM pg_operator o
   WHERE o.oprnamespace = to_regnamespace('public')
  UNION ALL SELECT 'pg_collation'::regclass, o.oid, o.collowner FROM pg_collation o
   WHERE o.collnamespace = to_regnamespace('public')
  UNION ALL SELECT 'pg_conversion'::regclass, o.oid, o.conowner FROM pg_conversion o
   WHERE o.connamespace = to_regnamespace('public')
  UNION ALL SELECT 'pg_opfamily'::regclass, o.oid, o.opfowner FROM pg_opfamily o
   WHERE o.opfnamespace = to_regnamespace('public')
  UNION ALL SELECT 'pg_ts_config'::regclass, o.oid, o.cfgowner FROM pg_ts_config o
   WHERE o.cfgnamespace = to_regnamespace('public')
  UNION ALL SELECT 'pg_ts_dict'::regclass, o.oid, o.dictowner FROM pg_ts_dict o
   WHERE o.dictnamespace = to_regnamespace('public')
)
SELECT pg_describe_object(o.classid, o.objid, 0), o.owner::regrole::text
  FROM public_objects o
 WHERE NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = o.classid AND d.objid = o.objid
                   AND d.deptype = 'e')
 ORDER BY 1
"""


def _public_schema_problems(query: Query) -> list[str]:
    return [
        f"schema public holds {what} (owned by {owner}), which the model does not expect: "
        "an object there can shadow a built-in for every role that searches public; drop it "
        "or move it to a schema of its own"
        for what, owner in query(_PUBLIC_OBJECTS_SQL)
    ]


_DEFAULT_ACL_SQL = """
SELECT d.defaclrole::regrole::text, coalesce(d.defaclnamespace::regnamespace::text, ''),
       d.defaclobjtype, a.grantee, a.privilege_type
  FROM pg_default_acl d, aclexplode(d.defaclacl) a
 WHERE d.defaclrole IN (SELECT oid FROM pg_roles WHERE rolname = ANY(%s))
   AND a.grantee <> d.defaclrole
"""


def _default_privilege_problems(query: Query, n: RoleNames) -> list[str]:
    rows = query(_DEFAULT_ACL_SQL, (list(n.roles()),))
    problems = []
    for role in n.roles():
        if role != n.owner and any(row[0] == role for row in rows):
            problems.append(
                f"default privileges FOR ROLE {role} exist: they cover nothing the migrations "
                f"create (the tables are created by {n.owner}); drop them"
            )
    for objtype, kind, privileges in (
        ("r", "tables", MODEL.tables),
        ("S", "sequences", MODEL.sequences),
        ("f", "functions", MODEL.functions),
    ):
        actual = [
            (grantee, priv)
            for role, schema, otype, grantee, priv in rows
            if role == n.owner and schema == n.schema and otype == objtype
        ]
        problems += _acl_problems(
            f"new {kind} of {n.owner} (default privileges)",
            actual,
            expected(n, privileges),
            query,
        )
    global_functions = query(
        "SELECT count(*) FROM pg_default_acl d WHERE d.defaclrole = to_regrole(%s)"
        " AND d.defaclnamespace = 0 AND d.defaclobjtype = 'f'"
        " AND NOT EXISTS (SELECT FROM aclexplode(d.defaclacl) a WHERE a.grantee = 0)",
        (n.owner,),
    )[0][0]
    if not global_functions:
        problems.append(f"PUBLIC may EXECUTE new functions of {n.owner}: run `invoke db.grant`")
    return problems


_OWNED_BY_SQL = """
SELECT r.rolname, pg_describe_object(s.classid, s.objid, s.objsubid)
  FROM pg_shdepend s JOIN pg_roles r ON r.oid = s.refobjid
 WHERE s.refclassid = 'pg_authid'::regclass AND s.deptype = 'o'
   AND r.rolname = ANY(%s)
   AND s.dbid IN (0, (SELECT oid FROM pg_database WHERE datname = current_database()))
 ORDER BY 1, 2
"""


def _ownership_problems(query: Query, n: RoleNames) -> list[str]:
    others = [role for role in n.roles() if role != n.owner]
    problems = [
        f"{role} owns {what}: only {n.owner} may own objects"
        for role, what in query(_OWNED_BY_SQL, (others,))
    ]
    # Enums, domains and ranges (a table's row type follows the table, checked above).
    rows = query(
        "SELECT oid::regtype::text, typowner::regrole::text FROM pg_type"
        " WHERE typnamespace = to_regnamespace(%s) AND typtype IN ('e', 'd', 'r', 'm')",
        (n.schema,),
    )
    problems += [
        f"type {name} is owned by {owner}, not {n.owner}"
        for name, owner in rows
        if owner != n.owner
    ]
    return problems


def _expected_table_privileges(n: RoleNames, table: str) -> set[tuple[str, str]]:
    """What the model grants on an ordinary table of the schema, exceptions applied."""
    declared = declared_exceptions()
    privileges = expected(n, MODEL.tables)
    if table in declared.append_only:
        privileges -= {(n.rw, "UPDATE"), (n.rw, "DELETE")}
    if table in declared.hidden:
        privileges -= {(n.ro, "SELECT")}
    return privileges


def _exception_problems(query: Query, n: RoleNames) -> list[str]:
    """Each declared exception the catalog does not honour, judged by effective privileges."""
    declared = declared_exceptions()
    append_only, hidden = declared.append_only, declared.hidden
    problems = []
    where = "(grant_exceptions.py)"
    for table in sorted({*append_only, *hidden}):
        # By the catalog: to_regclass needs USAGE on the schema, which an admin may lack.
        rows = query(
            "SELECT c.oid FROM pg_class c JOIN pg_namespace s ON s.oid = c.relnamespace"
            " WHERE s.nspname = %s AND c.relname = %s",
            (n.schema, table),
        )
        found = rows[0][0] if rows else None
        if found is None:
            problems.append(
                f"{where} names table {n.schema}.{table}, which does not exist: fix the name, "
                "or migrate and run `invoke db.grant`"
            )
            continue
        if table in append_only:
            for role in (n.rw, n.app):
                for privilege in ("UPDATE", "DELETE", "TRUNCATE"):
                    # UPDATE may be granted on columns alone: any column counts.
                    function = "has_any_column_privilege"
                    if privilege != "UPDATE":
                        function = "has_table_privilege"
                    sql = f"SELECT pg_catalog.{function}(%s, %s::oid, %s)"
                    if query(sql, (role, found, privilege))[0][0]:
                        problems.append(
                            f"table {n.schema}.{table} is append-only {where} but {role} may "
                            f"{privilege} it: run `invoke db.grant`"
                        )
        if table in hidden:
            columns = query(
                "SELECT attname::text FROM pg_attribute WHERE attrelid = %s::oid AND attnum > 0"
                " AND NOT attisdropped ORDER BY attnum",
                (found,),
            )
            names = [row[0] for row in columns]
            for column in hidden[table]:
                if column not in names:
                    problems.append(
                        f"{where} hides column {n.schema}.{table}.{column}, which does not exist"
                    )
            for column in names:
                for role in (n.ro, n.reader):
                    may = query(
                        "SELECT pg_catalog.has_column_privilege(%s, %s::oid, %s, 'SELECT')",
                        (role, found, column),
                    )[0][0]
                    if column in hidden[table] and may:
                        problems.append(
                            f"column {n.schema}.{table}.{column} is hidden {where} but {role} "
                            "may SELECT it: run `invoke db.grant`"
                        )
                    elif column not in hidden[table] and not may and role == n.ro:
                        problems.append(
                            f"{role} cannot SELECT column {n.schema}.{table}.{column}, which is "
                            f"not hidden {where}: run `invoke db.grant`"
                        )
    return problems
