"""The drift catalogue of ``db.grant --check``: each way the catalog can leave the role model.

Each :class:`Kind` is injected alone into a granted database (as the superuser, or as the login
it names), ``--check`` must exit 1 and name the object, then the kind is undone. Kinds that
exist on some versions only say so (``versions``); the catalogue is run on the default test
server by tests/test_check_catalogue.py and on every version by tests/test_versions.py.
Placeholders: the model's names (``{owner}``, ``{rw}``, ...), ``{s}`` the quoted schema,
``{schema}``, ``{db}`` the database, ``{out}`` a plain outside login, ``{creator}`` an outside
CREATEROLE login.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Kind:
    name: str
    inject: tuple[str, ...]
    undo: tuple[str, ...]
    expect: tuple[str, ...]
    as_login: str | None = None  # None: the superuser; else a placeholder name ("creator")
    versions: tuple[int, int] = (13, 99)
    new: bool = False  # a blind spot of issue 12, item 6/7 (--check said OK before)
    superuser_only: bool = False  # reported when a superuser checks (it could have fixed it)


def _as_tuple(statements: str | tuple[str, ...]) -> tuple[str, ...]:
    return (statements,) if isinstance(statements, str) else statements


def _k(
    name: str,
    inject: str | tuple[str, ...],
    undo: str | tuple[str, ...],
    *expect: str,
    as_login: str | None = None,
    versions: tuple[int, int] = (13, 99),
    new: bool = False,
    superuser_only: bool = False,
) -> Kind:
    """A :class:`Kind`, with one statement to inject or undo written without its tuple."""
    return Kind(
        name,
        _as_tuple(inject),
        _as_tuple(undo),
        expect,
        as_login=as_login,
        versions=versions,
        new=new,
        superuser_only=superuser_only,
    )


AS_OWNER = 'SET ROLE "{owner}"'
KINDS: list[Kind] = [
    # -- what --check reported before issue 12 -------------------------------------------------
    _k(
        "extra table privilege",
        'GRANT TRUNCATE ON {s}.users TO "{rw}"',
        'REVOKE TRUNCATE ON {s}.users FROM "{rw}"',
        "extra privilege TRUNCATE on table {schema}.users for {rw}",
    ),
    _k(
        "writable version table",
        'GRANT UPDATE ON {s}.alembic_version TO "{rw}"',
        'REVOKE UPDATE ON {s}.alembic_version FROM "{rw}"',
        "extra privilege UPDATE on table {schema}.alembic_version for {rw}",
    ),
    _k(
        "missing table privilege",
        'REVOKE SELECT ON {s}.countries FROM "{ro}"',
        'GRANT SELECT ON {s}.countries TO "{ro}"',
        "missing privilege SELECT on table {schema}.countries for {ro}",
    ),
    _k(
        "extra sequence privilege",
        'GRANT UPDATE ON SEQUENCE {s}.users_id_seq TO "{rw}"',
        'REVOKE UPDATE ON SEQUENCE {s}.users_id_seq FROM "{rw}"',
        "extra privilege UPDATE on sequence {schema}.users_id_seq for {rw}",
    ),
    _k(
        "table of another owner",
        "CREATE TABLE {s}.stray (x int)",
        "DROP TABLE {s}.stray",
        "table {schema}.stray is owned by",
    ),
    _k(
        "view of another owner",
        "CREATE VIEW {s}.stray_view AS SELECT 1 AS x",
        "DROP VIEW {s}.stray_view",
        "table {schema}.stray_view is owned by",
    ),
    _k(
        "object in public",
        "CREATE TABLE public.gw_stray (x int)",
        "DROP TABLE public.gw_stray",
        "schema public holds table public.gw_stray",
    ),
    _k(
        "shadowing function in public",
        "CREATE FUNCTION public.pg_has_role(text, text, text) RETURNS boolean"
        " LANGUAGE sql AS 'SELECT true'",
        "DROP FUNCTION public.pg_has_role(text, text, text)",
        "schema public holds function public.pg_has_role(text,text,text)",
    ),
    _k(
        "a login owns an object",
        ("CREATE TABLE public.gw_owned (x int)", 'ALTER TABLE public.gw_owned OWNER TO "{app}"'),
        "DROP TABLE public.gw_owned",
        "{app} owns table public.gw_owned",
    ),
    _k(
        "SUPERUSER",
        'ALTER ROLE "{reader}" SUPERUSER',
        'ALTER ROLE "{reader}" NOSUPERUSER',
        "role {reader} has SUPERUSER",
    ),
    _k(
        "CREATEDB",
        'ALTER ROLE "{app}" CREATEDB',
        'ALTER ROLE "{app}" NOCREATEDB',
        "role {app} has CREATEDB",
    ),
    _k(
        "CREATEROLE",
        'ALTER ROLE "{migrator}" CREATEROLE',
        'ALTER ROLE "{migrator}" NOCREATEROLE',
        "role {migrator} has CREATEROLE",
    ),
    _k(
        "BYPASSRLS",
        'ALTER ROLE "{app}" BYPASSRLS',
        'ALTER ROLE "{app}" NOBYPASSRLS',
        "role {app} has BYPASSRLS",
    ),
    _k(
        "REPLICATION",
        'ALTER ROLE "{reader}" REPLICATION',
        'ALTER ROLE "{reader}" NOREPLICATION',
        "role {reader} has REPLICATION",
    ),
    _k(
        "owner may log in",
        'ALTER ROLE "{owner}" LOGIN',
        'ALTER ROLE "{owner}" NOLOGIN',
        "role {owner} should be NOLOGIN",
    ),
    _k(
        "migrator inherits the owner",
        'ALTER ROLE "{migrator}" INHERIT',
        'ALTER ROLE "{migrator}" NOINHERIT',
        "{migrator} inherits the rights of {owner}",
        versions=(13, 15),
    ),
    _k(
        "predefined role",
        'GRANT pg_write_all_data TO "{reader}"',
        'REVOKE pg_write_all_data FROM "{reader}"',
        "{reader} is a member of pg_write_all_data",
        versions=(14, 99),
    ),
    _k(
        "app member of the owner",
        'GRANT "{owner}" TO "{app}"',
        'REVOKE "{owner}" FROM "{app}"',
        "{app} is a member of {owner}, which the model does not grant",
    ),
    _k(
        "outsider in a group",
        'GRANT "{ro}" TO "{out}"',
        'REVOKE "{ro}" FROM "{out}"',
        "{out} is a member of {ro}",
    ),
    _k(
        "ADMIN OPTION on a model membership",
        'GRANT "{rw}" TO "{app}" WITH ADMIN OPTION',
        'REVOKE ADMIN OPTION FOR "{rw}" FROM "{app}"',
        "{app} holds {rw} WITH ADMIN OPTION",
    ),
    _k(
        "CREATE on the database",
        'GRANT CREATE ON DATABASE "{db}" TO "{app}"',
        'REVOKE CREATE ON DATABASE "{db}" FROM "{app}"',
        "{app} may CREATE schemas in the database",
    ),
    _k(
        "PUBLIC may connect",
        'GRANT CONNECT ON DATABASE "{db}" TO PUBLIC',
        'REVOKE CONNECT ON DATABASE "{db}" FROM PUBLIC',
        "extra privilege CONNECT on the database for PUBLIC",
    ),
    _k(
        "PUBLIC may create in public",
        "GRANT CREATE ON SCHEMA public TO PUBLIC",
        "REVOKE CREATE ON SCHEMA public FROM PUBLIC",
        "PUBLIC may CREATE in schema public",
    ),
    _k(
        "a login may create in public",
        'GRANT CREATE ON SCHEMA public TO "{app}"',
        'REVOKE CREATE ON SCHEMA public FROM "{app}"',
        "{app} may CREATE in schema public",
    ),
    _k(
        "search_path setting lost",
        'ALTER ROLE "{app}" IN DATABASE "{db}" RESET search_path',
        'ALTER ROLE "{app}" IN DATABASE "{db}" SET search_path = "{schema}", public',
        "{app} has no `search_path=",
    ),
    _k(
        "schema of another owner",
        "ALTER SCHEMA {s} OWNER TO CURRENT_USER",
        'ALTER SCHEMA {s} OWNER TO "{owner}"',
        "schema {schema} is owned by",
    ),
    _k(
        "CREATE on the schema",
        (AS_OWNER, 'GRANT CREATE ON SCHEMA {s} TO "{rw}"'),
        (AS_OWNER, 'REVOKE CREATE ON SCHEMA {s} FROM "{rw}"'),
        "extra privilege CREATE on schema {schema} for {rw}",
    ),
    _k(
        "function for PUBLIC",
        (
            AS_OWNER,
            "CREATE FUNCTION {s}.gw_open() RETURNS int LANGUAGE sql AS 'SELECT 1'",
            "GRANT EXECUTE ON FUNCTION {s}.gw_open() TO PUBLIC",
        ),
        "DROP FUNCTION {s}.gw_open()",
        "extra privilege EXECUTE on function {schema}.gw_open() for PUBLIC",
    ),
    _k(
        "function of another owner",
        "CREATE FUNCTION {s}.gw_foreign() RETURNS int LANGUAGE sql AS 'SELECT 1'",
        "DROP FUNCTION {s}.gw_foreign()",
        "function {schema}.gw_foreign() is owned by",
    ),
    _k(
        "default privileges of a login",
        'ALTER DEFAULT PRIVILEGES FOR ROLE "{app}" GRANT SELECT ON TABLES TO "{reader}"',
        'ALTER DEFAULT PRIVILEGES FOR ROLE "{app}" REVOKE SELECT ON TABLES FROM "{reader}"',
        "default privileges FOR ROLE {app} exist",
    ),
    _k(
        "extra default privilege in the schema",
        'ALTER DEFAULT PRIVILEGES FOR ROLE "{owner}" IN SCHEMA {s} GRANT TRUNCATE ON TABLES'
        ' TO "{rw}"',
        'ALTER DEFAULT PRIVILEGES FOR ROLE "{owner}" IN SCHEMA {s} REVOKE TRUNCATE ON TABLES'
        ' FROM "{rw}"',
        "extra privilege TRUNCATE on new tables of {owner} (default privileges) for {rw}",
    ),
    _k(
        "PUBLIC executes new functions",
        'ALTER DEFAULT PRIVILEGES FOR ROLE "{owner}" GRANT EXECUTE ON FUNCTIONS TO PUBLIC',
        'ALTER DEFAULT PRIVILEGES FOR ROLE "{owner}" REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC',
        "PUBLIC may EXECUTE new functions of {owner}",
    ),
    _k(
        "enum of another owner",
        "CREATE TYPE {s}.gw_mood AS ENUM ('calm')",
        "DROP TYPE {s}.gw_mood",
        "type {schema}.gw_mood is owned by",
    ),
    _k(
        "self-granted login membership",
        'GRANT "{migrator}" TO "{app}"',
        'REVOKE "{migrator}" FROM "{app}"',
        "{app} is a member of {migrator}, which the model does not grant",
    ),
    # -- blind spots of issue 12, item 6 and 7 (each was OK while exploitable) -------------------
    _k(
        "PUBLIC may create large objects",
        "GRANT EXECUTE ON FUNCTION pg_catalog.lo_from_bytea(oid, bytea) TO PUBLIC",
        "REVOKE EXECUTE ON FUNCTION pg_catalog.lo_from_bytea(oid, bytea) FROM PUBLIC",
        "PUBLIC may EXECUTE lo_from_bytea(oid,bytea)",
        new=True,
        superuser_only=True,
    ),
    _k(
        "column-level grant",
        'GRANT UPDATE (display_name) ON {s}.users TO "{ro}"',
        'REVOKE UPDATE (display_name) ON {s}.users FROM "{ro}"',
        "column privilege UPDATE on {schema}.users(display_name) for {ro}",
        new=True,
    ),
    _k(
        "owner's global default privileges",
        'ALTER DEFAULT PRIVILEGES FOR ROLE "{owner}" GRANT INSERT ON TABLES TO "{reader}"',
        'ALTER DEFAULT PRIVILEGES FOR ROLE "{owner}" REVOKE INSERT ON TABLES FROM "{reader}"',
        "default privileges of {owner} in every schema grant INSERT on new tables to {reader}",
        new=True,
    ),
    _k(
        "owner's default privileges in another schema",
        'ALTER DEFAULT PRIVILEGES FOR ROLE "{owner}" IN SCHEMA public GRANT UPDATE ON SEQUENCES'
        ' TO "{app}"',
        'ALTER DEFAULT PRIVILEGES FOR ROLE "{owner}" IN SCHEMA public REVOKE UPDATE ON SEQUENCES'
        ' FROM "{app}"',
        "default privileges of {owner} in schema public grant UPDATE on new sequences to {app}",
        new=True,
    ),
    _k(
        "membership taken by an outside CREATEROLE login",
        'GRANT "{rw}" TO "{creator}"',
        'REVOKE "{rw}" FROM "{creator}"',
        "{creator} is a member of {rw}",
        as_login="creator",
        versions=(13, 15),
        new=True,
    ),
    _k(
        "owner taken by an outside CREATEROLE login (16+: INHERIT)",
        'GRANT "{owner}" TO "{creator}" WITH INHERIT TRUE',
        'REVOKE "{owner}" FROM "{creator}"',
        "{creator} is a member of {owner}, which the model does not grant (INHERIT, SET)",
        versions=(16, 99),
        new=True,
    ),
    _k(
        "CREATEROLE admin using a group (16+: SET)",
        'GRANT "{rw}" TO "{creator}" WITH INHERIT FALSE, SET TRUE',
        'REVOKE "{rw}" FROM "{creator}"',
        "{creator} is a member of {rw}, which the model does not grant (SET)",
        versions=(16, 99),
        new=True,
    ),
    _k(
        "CONNECT for an outside role",
        'GRANT CONNECT ON DATABASE "{db}" TO "{out}"',
        'REVOKE CONNECT ON DATABASE "{db}" FROM "{out}"',
        "{out} (outside the model) has CONNECT on the database",
        new=True,
    ),
    _k(
        "TEMPORARY for an outside role",
        'GRANT TEMPORARY ON DATABASE "{db}" TO "{out}"',
        'REVOKE TEMPORARY ON DATABASE "{db}" FROM "{out}"',
        "{out} (outside the model) has TEMPORARY on the database",
        new=True,
    ),
    _k(
        "SET ON PARAMETER",
        'GRANT SET ON PARAMETER log_statement TO "{app}"',
        'REVOKE SET ON PARAMETER log_statement FROM "{app}"',
        "{app} may SET parameter log_statement",
        versions=(15, 99),
        new=True,
    ),
    _k(
        "ALTER SYSTEM ON PARAMETER",
        'GRANT ALTER SYSTEM ON PARAMETER work_mem TO "{migrator}"',
        'REVOKE ALTER SYSTEM ON PARAMETER work_mem FROM "{migrator}"',
        "{migrator} may ALTER SYSTEM parameter work_mem",
        versions=(15, 99),
        new=True,
    ),
    _k(
        "SECURITY DEFINER without search_path",
        (
            AS_OWNER,
            (
                "CREATE FUNCTION {s}.gw_definer() RETURNS int LANGUAGE sql SECURITY DEFINER"
                " AS 'SELECT 1'"
            ),
        ),
        "DROP FUNCTION {s}.gw_definer()",
        "function {schema}.gw_definer() is SECURITY DEFINER (runs as {owner}) without SET"
        " search_path",
        new=True,
    ),
    _k(
        "SECURITY DEFINER with pg_temp searched first",
        (
            AS_OWNER,
            (
                "CREATE FUNCTION {s}.gw_definer2() RETURNS int LANGUAGE sql SECURITY DEFINER"
                " SET search_path = pg_catalog, {s} AS 'SELECT 1'"
            ),
        ),
        "DROP FUNCTION {s}.gw_definer2()",
        "function {schema}.gw_definer2() is SECURITY DEFINER",
        new=True,
    ),
    _k(
        "composite type of another owner",
        "CREATE TYPE {s}.gw_pair AS (a int, b int)",
        "DROP TYPE {s}.gw_pair",
        "composite type {schema}.gw_pair is owned by",
        new=True,
    ),
    _k(
        "privilege on a type",
        (
            AS_OWNER,
            "CREATE TYPE {s}.gw_pair2 AS (a int)",
            'GRANT USAGE ON TYPE {s}.gw_pair2 TO "{out}"',
        ),
        "DROP TYPE {s}.gw_pair2",
        "extra privilege USAGE on composite type {schema}.gw_pair2 for {out}",
        new=True,
    ),
]


def kinds_for(major: int, admin: str = "superuser") -> list[Kind]:
    return [
        k
        for k in KINDS
        if k.versions[0] <= major <= k.versions[1]
        and (admin == "superuser" or not k.superuser_only)
    ]
