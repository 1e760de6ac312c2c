"""What a comparison of ACLs with the model does not see: each a way round the model that
``--check`` once called OK (column grants, the owner's other default privileges, outsiders'
CONNECT, SET on parameters, unpinned SECURITY DEFINER functions, large objects, types).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .exceptions import declared as declared_exceptions
from .model import LARGE_OBJECT_CREATORS

if TYPE_CHECKING:
    from .connection import Query
    from .names import RoleNames

_COLUMN_GRANTS_SQL = """
SELECT c.relname, a.attname,
       CASE WHEN g.grantee = 0 THEN 'PUBLIC' ELSE g.grantee::regrole::text END, g.privilege_type
  FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid, aclexplode(a.attacl) g
 WHERE c.relnamespace = to_regnamespace(%s) AND a.attacl IS NOT NULL AND NOT a.attisdropped
 ORDER BY 1, 2, 3, 4
"""
_OWNER_OTHER_DEFAULTS_SQL = """
SELECT coalesce(s.nspname, ''), d.defaclobjtype::text,
       CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE a.grantee::regrole::text END, a.privilege_type
  FROM pg_default_acl d LEFT JOIN pg_namespace s ON s.oid = d.defaclnamespace,
       aclexplode(d.defaclacl) a
 WHERE d.defaclrole = to_regrole(%s) AND a.grantee <> d.defaclrole
   AND d.defaclnamespace IS DISTINCT FROM to_regnamespace(%s)
 ORDER BY 1, 2, 3, 4
"""
_OUTSIDE_DATABASE_GRANTS_SQL = """
SELECT a.grantee::regrole::text, a.privilege_type
  FROM pg_database d, aclexplode(d.datacl) a
 WHERE d.datname = current_database() AND a.grantee NOT IN (0, d.datdba)
   AND a.grantee NOT IN (SELECT oid FROM pg_roles WHERE rolname = ANY(%s))
 ORDER BY 1, 2
"""
_PARAMETER_GRANTS_SQL = """
SELECT p.parname,
       CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE a.grantee::regrole::text END, a.privilege_type
  FROM pg_parameter_acl p, aclexplode(p.paracl) a
 WHERE a.grantee = 0 OR a.grantee IN (SELECT oid FROM pg_roles WHERE rolname = ANY(%s))
 ORDER BY 1, 2, 3
"""
# Composite types (CREATE TYPE ... AS (...)): a pg_class row of kind 'c' that the relation
# checks leave out; and any type's ACL beyond PUBLIC's default USAGE.
_TYPES_SQL = """
SELECT t.oid::regtype::text, t.typowner::regrole::text, t.typtype::text,
       coalesce((SELECT array_agg(ARRAY[CASE WHEN a.grantee = 0 THEN 'PUBLIC'
                                         ELSE a.grantee::regrole::text END, a.privilege_type])
                   FROM aclexplode(t.typacl) a
                  WHERE a.grantee <> t.typowner AND NOT (a.grantee = 0
                        AND a.privilege_type = 'USAGE')), '{}')
  FROM pg_type t LEFT JOIN pg_class c ON c.oid = t.typrelid
 WHERE t.typnamespace = to_regnamespace(%s) AND (t.typrelid = 0 OR c.relkind = 'c')
   AND NOT EXISTS (SELECT FROM pg_type e WHERE e.typarray = t.oid)
 ORDER BY 1
"""
_DEFAULT_OBJECT_KINDS = {
    "r": "tables",
    "S": "sequences",
    "f": "functions",
    "T": "types",
    "n": "schemas",
    "L": "large objects",
}


def blind_spot_problems(query: Query, n: RoleNames, version_num: int) -> list[str]:
    """Column grants, the owner's other default privileges, CONNECT for outsiders, SET on
    parameters, SECURITY DEFINER functions without a pinned search_path, composite types."""
    # The reader's column SELECTs on a table with hidden columns are the model's own
    # (grant_exceptions.py); _exception_problems checks them.
    hidden = declared_exceptions().hidden
    problems = [
        f"column privilege {priv} on {n.schema}.{table}({column}) for {grantee}: the model "
        f"grants none (a column grant adds to the table's); revoke it"
        for table, column, grantee, priv in query(_COLUMN_GRANTS_SQL, (n.schema,))
        if not (
            grantee == n.ro and priv == "SELECT" and table in hidden and column not in hidden[table]
        )
    ]
    for schema, objtype, grantee, priv in query(_OWNER_OTHER_DEFAULTS_SQL, (n.owner, n.schema)):
        where = f"in schema {schema}" if schema else "in every schema"
        kind = _DEFAULT_OBJECT_KINDS.get(objtype, objtype)
        problems.append(
            f"default privileges of {n.owner} {where} grant {priv} on new {kind} to {grantee}: "
            f"the model sets them in schema {n.schema} only; revoke them"
        )
    problems += [
        f"{grantee} (outside the model) has {priv} on the database: revoke it"
        for grantee, priv in query(_OUTSIDE_DATABASE_GRANTS_SQL, (list(n.roles()),))
    ]
    if version_num >= 150000:
        problems += [
            f"{grantee} may {priv} parameter {parameter}: the model grants none; revoke it"
            for parameter, grantee, priv in query(_PARAMETER_GRANTS_SQL, (list(n.roles()),))
        ]
    problems += unpinned_definer_problems(query)
    problems += _large_object_problems(query)
    for name, owner, typtype, acl in query(_TYPES_SQL, (n.schema,)):
        what = f"{'composite type' if typtype == 'c' else 'type'} {name}"
        if typtype == "c" and owner != n.owner:  # the others: _ownership_problems
            problems.append(f"{what} is owned by {owner}, not {n.owner}")
        problems += [f"extra privilege {priv} on {what} for {grantee}" for grantee, priv in acl]
    return problems


def _large_object_problems(query: Query) -> list[str]:
    """PUBLIC's EXECUTE on the large-object creators, where the checking admin could revoke it
    (a superuser: db.grant does); another admin cannot, and docs/database.md says so."""
    if not query("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")[0][0]:
        return []
    rows = query(
        "SELECT p.oid::regprocedure::text FROM pg_proc p, aclexplode(coalesce(p.proacl,"
        " acldefault('f', p.proowner))) a WHERE p.oid = ANY(%s::regprocedure[])"
        " AND a.grantee = 0 AND a.privilege_type = 'EXECUTE' ORDER BY 1",
        (list(LARGE_OBJECT_CREATORS),),
    )
    return [
        f"PUBLIC may EXECUTE {signature}: every login, the reader too, can create large "
        "objects without limit; run `invoke db.grant` as a superuser"
        for (signature,) in rows
    ]


# A SECURITY DEFINER function runs with its owner's rights under the caller's search path unless
# it sets its own: a temporary table (pg_temp is searched first unless named) or a function
# planted where the path looks first then runs as the owner. Safe: SET search_path with
# pg_temp named last. Functions of extensions are the extension's business.
_UNPINNED_DEFINERS_SQL = """
SELECT pg_catalog.quote_ident(s.nspname) || '.' || pg_catalog.quote_ident(p.proname) || '('
       || pg_catalog.pg_get_function_identity_arguments(p.oid) || ')',
       pg_catalog.pg_get_userbyid(p.proowner)
  FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace s ON s.oid = p.pronamespace
 WHERE p.prosecdef AND s.nspname <> 'information_schema'
   AND s.nspname OPERATOR(pg_catalog.!~) '^pg_'
   AND NOT EXISTS (SELECT FROM pg_catalog.pg_depend d
                    WHERE d.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass
                      AND d.objid = p.oid AND d.deptype = 'e')
   AND NOT EXISTS (SELECT FROM pg_catalog.unnest(p.proconfig) c
                    WHERE c OPERATOR(pg_catalog.~) '^search_path=.*(^|[ ,=])"?pg_temp"?$')
 ORDER BY 1
"""


def unpinned_definer_problems(query: Query) -> list[str]:
    """SECURITY DEFINER functions without ``SET search_path = ..., pg_temp`` (db.check too)."""
    return [
        f"function {signature} is SECURITY DEFINER (runs as {owner}) without SET search_path "
        "ending in pg_temp: a temporary table or a function planted by its caller runs as "
        f"{owner}; add SET search_path = pg_catalog, <schema>, pg_temp (docs/database.md)"
        for signature, owner in query(_UNPINNED_DEFINERS_SQL)
    ]
