"""Roles and grants: the least-privilege model, as SQL to review, apply and verify.

One source of truth: :func:`render_sql` writes the script that ``invoke db.grant --print`` shows,
that ``invoke db.grant`` runs and that ``sql/roles.sql`` ships (a test keeps them equal);
:func:`check` compares the live catalog with the same :data:`MODEL`. See docs/database.md,
"For DBAs", for why each role may do what it does.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .errors import TaskError
from .ledger import ENVIRONMENT_TABLE, LEDGER_TABLE
from .project import current as current_project
from .seeding.names import LEDGER_TABLE as SEED_LEDGER_TABLE
from .seeding.names import RUNS_TABLE as SEED_RUNS_TABLE

if TYPE_CHECKING:
    from sqlalchemy import Connection, Table
    from sqlalchemy.engine import URL

    from .settings import Settings

VERSION_TABLE = "alembic_version"
# Written by migrations only; the app (and the reader) may read them.
READ_ONLY_TABLES = (VERSION_TABLE, LEDGER_TABLE, ENVIRONMENT_TABLE)
# Written by db.seed, which runs with the app's login: ordinary tables of the owner, so the app
# writes their rows like any other; created here because the app may not CREATE TABLE.
SEED_TABLES = (SEED_LEDGER_TABLE, SEED_RUNS_TABLE)
PASSWORD_SETTINGS = {
    "migrator": "DB_MIGRATOR_PASSWORD",
    "app": "DB_APP_PASSWORD",
    "reader": "DB_READER_PASSWORD",
}
_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")
_LONGEST_SUFFIX = "_migrator"


@dataclass(frozen=True)
class RoleNames:
    """The names of the model's roles and of the schema that holds the application's tables."""

    prefix: str
    schema: str

    @classmethod
    def from_prefix(cls, prefix: str, schema: str | None = None) -> RoleNames:
        for what, value in (("role prefix", prefix), ("schema", schema or prefix)):
            if not _NAME.match(value) or len(value) + len(_LONGEST_SUFFIX) > 63:
                raise TaskError(
                    f"the {what} {value!r} is not a plain lower-case identifier of at most "
                    f"{63 - len(_LONGEST_SUFFIX)} characters: set DB_ROLE_PREFIX (or DB_SCHEMA) "
                    "to letters, digits and underscores"
                )
            if value.startswith("pg_"):
                raise TaskError(
                    f"the {what} {value!r} starts with 'pg_', which PostgreSQL reserves for its "
                    "own roles and schemas: set DB_ROLE_PREFIX (or DB_SCHEMA) to another name"
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


# -- the model: who gets which privilege (the SQL and the check both read it) ------------------


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

_TABLE_KINDS = ("r", "p", "v", "m", "f")


def ident(name: str) -> str:
    """A quoted SQL identifier (names are validated too; quoting keeps it safe regardless)."""
    return '"' + name.replace('"', '""') + '"'


def literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _grantees(names: RoleNames, privileges: dict[str, tuple[str, ...]]) -> list[tuple[str, str]]:
    return [(getattr(names, key), ", ".join(privs)) for key, privs in privileges.items()]


# -- the SQL ------------------------------------------------------------------------------------


def render_sql(names: RoleNames) -> str:
    """The whole script: idempotent, PostgreSQL 13 to 18, no password, every identifier quoted."""
    n = names
    s, owner = ident(n.schema), ident(n.owner)
    role_rows = ",\n      ".join(
        f"({literal(role)}, {'true' if login else 'false'})" for role, login in n.roles().items()
    )
    model_roles = ", ".join(literal(role) for role in n.roles())
    lines = [
        "SET search_path = pg_catalog, pg_temp;",
        f"-- Roles and grants of the application: schema {s}, roles {n.prefix}_*.",
        "-- Generated by `invoke db.grant --print` (grants.py); `invoke db.grant` runs this text.",
        "-- Apply to the application's database as a superuser, or as an admin with CREATEROLE",
        "-- and CREATEDB that owns the database (managed clouds):",
        "--     psql -v ON_ERROR_STOP=1 -d DBNAME -f roles.sql",
        "-- Idempotent (a second run changes nothing), for PostgreSQL 13 to 18. It holds no",
        "-- password: `invoke db.grant` sets them from DB_MIGRATOR_PASSWORD, DB_APP_PASSWORD and",
        "-- DB_READER_PASSWORD, or use psql's \\password.",
        "-- The first line pins the search path: the built-ins called below (also qualified) and",
        "-- every operator come from pg_catalog, never from a function planted in `public`.",
        "--",
        f"--   {n.owner}: NOLOGIN, owns schema {s} and every object in it",
        f"--   {n.migrator}: LOGIN, runs migrations after SET ROLE {owner}; inherits nothing",
        f"--   {n.rw}: NOLOGIN group, reads and writes rows, uses sequences and functions",
        f"--   {n.ro}: NOLOGIN group, reads rows (and calls the functions its views may use)",
        f"--   {n.app}: LOGIN, the running service, member of {ident(n.rw)}",
        f"--   {n.reader}: LOGIN, reports and analysts, member of {ident(n.ro)}",
        "",
        "BEGIN;",
        "",
        "-- 1. Only a superuser or the database's owner can revoke PUBLIC's rights on it.",
        "DO $$",
        "BEGIN",
        "  IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)",
        "     AND NOT pg_catalog.pg_has_role(current_user, (SELECT datdba FROM pg_database",
        "                                        WHERE datname = current_database()), 'MEMBER')",
        "  THEN",
        "    RAISE EXCEPTION 'roles.sql: run it as a superuser or as the owner of database %',",
        "      current_database();",
        "  END IF;",
        "END $$;",
        "",
        "-- 2. The roles (CREATE ROLE has no IF NOT EXISTS). A non-superuser may not write",
        "--    NOSUPERUSER or NOBYPASSRLS: those attributes are verified instead, at the end.",
        "DO $$",
        "DECLARE",
        "  r record;",
        "BEGIN",
        "  FOR r IN SELECT * FROM (VALUES",
        f"      {role_rows}",
        "    ) AS model(name, login) LOOP",
        "    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = r.name) THEN",
        "      EXECUTE pg_catalog.format('CREATE ROLE %I %s', r.name,",
        "                     CASE WHEN r.login THEN 'LOGIN' ELSE 'NOLOGIN' END);",
        "      RAISE NOTICE 'created role %', r.name;",
        "    ELSIF (SELECT rolcanlogin FROM pg_roles WHERE rolname = r.name) <> r.login THEN",
        "      EXECUTE pg_catalog.format('ALTER ROLE %I %s', r.name,",
        "                     CASE WHEN r.login THEN 'LOGIN' ELSE 'NOLOGIN' END);",
        "      RAISE NOTICE 'changed LOGIN of role %', r.name;",
        "    END IF;",
        "    IF (SELECT rolcreatedb OR rolcreaterole FROM pg_roles WHERE rolname = r.name) THEN",
        "      EXECUTE pg_catalog.format('ALTER ROLE %I NOCREATEDB NOCREATEROLE', r.name);",
        "      RAISE NOTICE 'removed CREATEDB/CREATEROLE from role %', r.name;",
        "    END IF;",
        "  END LOOP;",
        "  -- The migrator acts as the owner only after SET ROLE, never by inheritance.",
        f"  IF (SELECT rolinherit FROM pg_roles WHERE rolname = {literal(n.migrator)}) THEN",
        f"    EXECUTE pg_catalog.format('ALTER ROLE %I NOINHERIT', {literal(n.migrator)});",
        "  END IF;",
        "END $$;",
        "",
        "-- 3. Memberships. PostgreSQL 16 has membership options; its syntax must stay inside",
        "--    EXECUTE strings, or PL/pgSQL would refuse to parse the block on 13 to 15.",
        "--    An admin that is not a superuser (managed clouds) needs SET ROLE on the owner to",
        "--    create its schema and set its default privileges.",
        "DO $$",
        "DECLARE",
        "  pg16 boolean := pg_catalog.current_setting('server_version_num')::int >= 160000;",
        "  admin_is_super boolean := (SELECT rolsuper FROM pg_roles WHERE rolname = current_user);",
        "BEGIN",
        "  IF pg16 THEN",
        "    IF NOT admin_is_super THEN",
        "      EXECUTE pg_catalog.format('GRANT %I TO %I WITH INHERIT FALSE, SET TRUE',",
        f"                     {literal(n.owner)}, current_user);",
        "    END IF;",
        "    EXECUTE pg_catalog.format('GRANT %I TO %I WITH INHERIT FALSE, SET TRUE',",
        f"                   {literal(n.owner)}, {literal(n.migrator)});",
        "  ELSE",
        "    IF NOT admin_is_super THEN",
        f"      EXECUTE pg_catalog.format('GRANT %I TO %I', {literal(n.owner)}, current_user);",
        "    END IF;",
        "    EXECUTE pg_catalog.format('GRANT %I TO %I',",
        f"                              {literal(n.owner)}, {literal(n.migrator)});",
        "  END IF;",
        "END $$;",
        f"GRANT {ident(n.rw)} TO {ident(n.app)};",
        f"GRANT {ident(n.ro)} TO {ident(n.reader)};",
        "",
        "-- 4. The database: nobody connects unless granted; role settings such as search_path",
        "--    apply to the login role only, never through a group or SET ROLE.",
        "DO $$",
        "DECLARE",
        "  db text := current_database();",
        "  login text;",
        "BEGIN",
        "  EXECUTE pg_catalog.format('REVOKE ALL ON DATABASE %I FROM PUBLIC', db);",
    ]
    for grantee, privs in _grantees(n, MODEL.database):
        lines.append(
            f"  EXECUTE pg_catalog.format('GRANT {privs} ON DATABASE %I TO %I',"
            f" db, {literal(grantee)});"
        )
    lines += [
        f"  FOREACH login IN ARRAY ARRAY[{', '.join(literal(x) for x in n.logins)}] LOOP",
        "    EXECUTE pg_catalog.format(",
        "      'ALTER ROLE %I IN DATABASE %I SET search_path = %I, public',",
        f"      login, db, {literal(n.schema)});",
        "  END LOOP;",
        "END $$;",
        "",
        "-- 5. Schema public: nobody creates there (PUBLIC still may on databases created on 14",
        "--    or earlier). REVOKE by a non-owner only warns, so the result is verified.",
        "DO $$",
        "BEGIN",
        "  IF EXISTS (SELECT FROM pg_namespace WHERE nspname = 'public') THEN",
        "    REVOKE CREATE ON SCHEMA public FROM PUBLIC;",
        "    IF pg_catalog.has_schema_privilege('public', 'public', 'CREATE') THEN",
        "      RAISE EXCEPTION 'roles.sql: PUBLIC can still CREATE in schema public'",
        "        USING HINT = 'run REVOKE CREATE ON SCHEMA public FROM PUBLIC as its owner';",
        "    END IF;",
        "  END IF;",
        "END $$;",
        "",
        "-- 6. The application's schema, owned by the owner.",
        f"CREATE SCHEMA IF NOT EXISTS {s} AUTHORIZATION {owner};",
        f"ALTER SCHEMA {s} OWNER TO {owner};",
        "",
        *_adoption_sql(n),
        "-- 7. Everything below is done as the owner: GRANT by anyone else only warns, and",
        "--    default privileges apply to objects created by the role named FOR ROLE only.",
        f"SET ROLE {owner};",
        f"REVOKE ALL ON SCHEMA {s} FROM PUBLIC;",
    ]
    for grantee, privs in _grantees(n, MODEL.schema):
        lines.append(f"GRANT {privs} ON SCHEMA {s} TO {ident(grantee)};")
    lines += [
        "",
        "-- Existing objects (GRANT ... ON ALL covers only those) ...",
        f"REVOKE EXECUTE ON ALL ROUTINES IN SCHEMA {s} FROM PUBLIC;",
    ]
    # ROUTINES: functions and procedures (FUNCTIONS leaves procedures out; default
    # privileges ON FUNCTIONS below cover both).
    for kind, privileges in (
        ("TABLES", MODEL.tables),
        ("SEQUENCES", MODEL.sequences),
        ("ROUTINES", MODEL.functions),
    ):
        for grantee, privs in _grantees(n, privileges):
            lines.append(f"GRANT {privs} ON ALL {kind} IN SCHEMA {s} TO {ident(grantee)};")
    lines += ["", "-- ... and those of every future migration."]
    for kind, privileges in (
        ("TABLES", MODEL.tables),
        ("SEQUENCES", MODEL.sequences),
        ("FUNCTIONS", MODEL.functions),
    ):
        for grantee, privs in _grantees(n, privileges):
            lines.append(
                f"ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA {s}"
                f" GRANT {privs} ON {kind} TO {ident(grantee)};"
            )
    lines += [
        "-- PUBLIC's EXECUTE on new functions can only be revoked globally (no IN SCHEMA).",
        f"ALTER DEFAULT PRIVILEGES FOR ROLE {owner} REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;",
        "",
        "-- 8. The lifecycle's tables, created here so that the app can read them but never",
        "--    rewrite them: Alembic's version table (Alembic's own layout), the checksums of",
        "--    applied migrations and the environment the database was initialized for.",
    ]
    for table in READ_ONLY_TABLES:
        qualified = f"{s}.{ident(table)}"
        lines += [
            *_create_table(qualified, table),
            f"REVOKE INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON {qualified}",
            f"    FROM {ident(n.rw)}, {ident(n.ro)};",
        ]
        for grantee, privs in _grantees(n, MODEL.version_table):
            lines.append(f"GRANT {privs} ON {qualified} TO {ident(grantee)};")
    lifecycle = ", ".join(f"{s}.{ident(table)}" for table in READ_ONLY_TABLES)
    revoke_maintain = f"REVOKE MAINTAIN ON {lifecycle} FROM {ident(n.rw)}, {ident(n.ro)}"
    lines += [
        "-- MAINTAIN (VACUUM, ANALYZE, REINDEX, CLUSTER, LOCK TABLE) exists from PostgreSQL 17 on",
        "-- (and comes with GRANT ALL): revoked there like the rest.",
        "DO $$",
        "BEGIN",
        "  IF pg_catalog.current_setting('server_version_num')::int >= 170000 THEN",
        f"    EXECUTE {literal(revoke_maintain)};",
        "  END IF;",
        "END $$;",
        "",
        "-- 9. The seeds' ledger and runs: db.seed writes them with the app's login, which may",
        "--    not create tables. The default privileges above give them the app's usual rights.",
    ]
    for table in SEED_TABLES:
        lines += _create_table(f"{s}.{ident(table)}", table)
    lines += ["", *_exceptions_sql(n), "RESET ROLE;", "", *_large_object_lines(n)]
    lines += [
        "-- 10. Verify what warnings would hide.",
        "DO $$",
        "DECLARE",
        "  bad text;",
        "  lifecycle_table oid;",
        "BEGIN",
        "  SELECT pg_catalog.string_agg(rolname, ', ') INTO bad FROM pg_roles",
        f"   WHERE rolname IN ({model_roles})",
        "     AND (rolsuper OR rolbypassrls OR rolreplication OR rolcreatedb OR rolcreaterole);",
        "  IF bad IS NOT NULL THEN",
        "    RAISE EXCEPTION 'roles.sql: % must not have SUPERUSER, BYPASSRLS, REPLICATION,"
        " CREATEDB or CREATEROLE', bad",
        "      USING HINT = 'a superuser must ALTER ROLE them NOSUPERUSER NOBYPASSRLS"
        " NOREPLICATION NOCREATEDB NOCREATEROLE';",
        "  END IF;",
        f"  IF pg_catalog.pg_has_role({literal(n.migrator)}, {literal(n.owner)}, 'USAGE')",
        f"     OR NOT pg_catalog.pg_has_role({literal(n.migrator)}, {literal(n.owner)},"
        " 'MEMBER') THEN",
        "    RAISE EXCEPTION 'roles.sql: % must be a member of % that does not inherit it',",
        f"      {literal(n.migrator)}, {literal(n.owner)};",
        "  END IF;",
        "  -- By oid: a non-superuser admin has no USAGE on the schema to look names up.",
        "  FOR lifecycle_table IN SELECT c.oid FROM pg_class c",
        f"     WHERE c.relname IN ({', '.join(literal(t) for t in READ_ONLY_TABLES)})",
        "       AND c.relnamespace = (SELECT oid FROM pg_namespace",
        f"                             WHERE nspname = {literal(n.schema)}) LOOP",
        f"    IF NOT pg_catalog.has_table_privilege({literal(n.rw)}, lifecycle_table, 'SELECT')",
        f"       OR pg_catalog.has_table_privilege({literal(n.rw)}, lifecycle_table, 'UPDATE')",
        "    THEN",
        "      RAISE EXCEPTION 'roles.sql: the grants on % did not apply', lifecycle_table;",
        "    END IF;",
        "  END LOOP;",
        "END $$;",
        "",
        "COMMIT;",
        "",
        "-- `invoke db.grant` then sets the logins' passwords from DB_*_PASSWORD (SCRAM, never",
        "-- printed); with psql, run \\password for each login instead.",
        "",
    ]
    return "\n".join(lines)


# Large objects: PUBLIC may create them (pg_catalog's functions, one copy per database), the
# reader included, without limit. Server-side lo_import/lo_export are superuser-only already.
LARGE_OBJECT_CREATORS = (
    "pg_catalog.lo_create(oid)",
    "pg_catalog.lo_creat(integer)",
    "pg_catalog.lo_from_bytea(oid, bytea)",
)


def _large_object_lines(n: RoleNames) -> list[str]:
    functions = ", ".join(LARGE_OBJECT_CREATORS)
    return [
        "-- 9b. Large objects: PUBLIC may create them in every database (the functions live in",
        "--     its pg_catalog), the reader too, without limit. Only a superuser may revoke",
        "--     that, in this database alone; the app keeps it through its group. Another",
        '--     admin is told (docs/database.md, "What stays open").',
        "DO $$",
        "BEGIN",
        "  IF (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN",
        f"    REVOKE EXECUTE ON FUNCTION {functions} FROM PUBLIC;",
        f"    GRANT EXECUTE ON FUNCTION {functions} TO {ident(n.rw)};",
        "  ELSE",
        "    RAISE NOTICE 'large objects: only a superuser can stop the reader creating them';",
        "  END IF;",
        "END $$;",
        "",
    ]


def _create_table(qualified: str, name: str) -> list[str]:
    """CREATE TABLE IF NOT EXISTS with the columns the code that writes the table defines."""
    from sqlalchemy.dialects.postgresql.base import PGDialect
    from sqlalchemy.schema import CreateTable

    from .ledger import lifecycle_metadata
    from .seeding.ledger import seeding_metadata

    table: Table = {**lifecycle_metadata.tables, **seeding_metadata.tables}[name]
    dialect = PGDialect()  # type: ignore[no-untyped-call]  # SQLAlchemy leaves it unannotated
    ddl = str(CreateTable(table).compile(dialect=dialect))
    body = ddl.split("(", 1)[1].rsplit(")", 1)[0]
    columns = [f"    {part.strip()}" for part in body.strip().split(", \n")]
    return [
        f"CREATE TABLE IF NOT EXISTS {qualified} (",
        *[f"{column}," for column in columns[:-1]],
        *columns[-1:],
        ");",
    ]


# -- adopting an existing deployment -------------------------------------------------------------

# The SQLSTATE of the script's refusal to adopt (a class of our own: nothing PostgreSQL raises).
ADOPTION_REFUSED = "GW001"
_LIFECYCLE_TABLES = (*READ_ONLY_TABLES, *SEED_TABLES)
# Schemas that never hold an application's history.
_SYSTEM_SCHEMAS = "s.nspname NOT IN ('pg_catalog', 'information_schema') AND s.nspname !~ '^pg_'"


def _adoption_sql(n: RoleNames) -> list[str]:
    """Step 6b: move a history migrated outside the schema (a first deploy's) into the model.

    The history is what the owner of an ``alembic_version`` outside the schema owns in that
    schema: tables (their indexes, constraints and owned sequences follow), views, sequences,
    types and routines. It is moved with ``ALTER ... SET SCHEMA`` and given to the owner with
    ``ALTER ... OWNER TO``, in the script's one transaction; any problem (a name in both schemas,
    two histories, an owner the admin cannot act as) refuses the whole script with SQLSTATE
    :data:`ADOPTION_REFUSED`, one DETAIL line per problem, before anything is changed.
    """
    s, owner = literal(n.schema), literal(n.owner)
    lifecycle = ", ".join(literal(t) for t in _LIFECYCLE_TABLES)
    return [
        "-- 6b. Adopting an existing deployment. A database first migrated by another login",
        "--     (the team's own, often a superuser: its tables went to `public`) keeps the",
        f"--     application's history outside schema {ident(n.schema)}; migrating as the",
        "--     migrator would build a second, empty copy. Whatever the owner of that",
        "--     alembic_version owns in its schema (tables with their indexes and sequences,",
        f"--     views, sequences, types, routines) moves into {ident(n.schema)} and is given",
        f"--     to {ident(n.owner)}, each move a NOTICE.",
        "--     A name in both schemas, two histories, or an owner this admin cannot act as",
        "--     refuses the whole script (SQLSTATE GW001, one DETAIL line per problem).",
        "DO $$",
        "DECLARE",
        f"  target_name text := {s};",
        "  target oid := (SELECT oid FROM pg_namespace WHERE nspname = target_name);",
        f"  model_owner text := {owner};",
        "  admin text := current_user;",
        "  admin_is_super boolean := (SELECT rolsuper FROM pg_roles WHERE rolname = current_user);",
        f"  lifecycle text[] := ARRAY[{lifecycle}];",
        "  sources text[];",
        "  source oid;",
        "  source_name text;",
        "  history_owner oid;",
        "  problems text[] := '{}';",
        "  doomed text[] := '{}';",
        "  doomed_oids oid[] := '{}';",
        "  is_empty boolean;",
        "  r record;",
        "  rels oid[];",
        "  types oid[];",
        "  routines oid[];",
        "BEGIN",
        "  SELECT pg_catalog.array_agg(s.nspname::text ORDER BY s.nspname) INTO sources",
        "    FROM pg_class c JOIN pg_namespace s ON s.oid = c.relnamespace",
        f"   WHERE c.relname = {literal(VERSION_TABLE)} AND c.relkind IN ('r', 'p')",
        f"     AND c.relnamespace <> target AND {_SYSTEM_SCHEMAS};",
        "  IF sources IS NULL THEN",
        "    RETURN;",
        "  END IF;",
        "  IF pg_catalog.cardinality(sources) > 1 THEN",
        "    RAISE EXCEPTION USING ERRCODE = 'GW001',",
        "      MESSAGE = 'roles.sql: the application''s history is split; nothing was changed',",
        "      DETAIL = pg_catalog.format('alembic_version exists in schemas %s: one database'",
        "        ' holds one history; keep the one the application uses, drop the others'",
        "        ' (after a backup)',",
        "        pg_catalog.array_to_string(sources, ', ')),",
        "      HINT = 'see docs/database.md, \"Adopting an existing deployment\"';",
        "  END IF;",
        "  source_name := sources[1];",
        "  source := (SELECT oid FROM pg_namespace WHERE nspname = source_name);",
        "  history_owner := (SELECT relowner FROM pg_class WHERE relnamespace = source",
        f"                     AND relname = {literal(VERSION_TABLE)});",
        "  SELECT pg_catalog.array_agg(c.oid) INTO rels FROM pg_class c",
        "   WHERE c.relnamespace = source AND c.relowner = history_owner",
        "     AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S', 'c')",
        "     AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_class'::regclass",
        "                     AND d.objid = c.oid AND (d.deptype = 'e'",
        "                     OR (c.relkind = 'S' AND d.refclassid = 'pg_class'::regclass",
        "                         AND d.deptype IN ('a', 'i'))));",
        "  SELECT pg_catalog.array_agg(t.oid) INTO types FROM pg_type t",
        "   WHERE t.typnamespace = source AND t.typowner = history_owner",
        "     AND t.typtype IN ('e', 'd', 'r')",
        "     AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_type'::regclass",
        "                     AND d.objid = t.oid AND d.deptype = 'e');",
        "  SELECT pg_catalog.array_agg(p.oid) INTO routines FROM pg_proc p",
        "   WHERE p.pronamespace = source AND p.proowner = history_owner",
        "     AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass",
        "                     AND d.objid = p.oid AND d.deptype = 'e');",
        "  -- Problems first: nothing is changed unless everything can move.",
        "  IF NOT admin_is_super",
        "     AND NOT pg_catalog.pg_has_role(admin, history_owner, 'USAGE') THEN",
        "    problems := problems || pg_catalog.format('the history in schema %I is owned by'",
        "      ' %s, whose objects %I cannot take over: run db.grant as a superuser, or'",
        "      ' GRANT %s TO %I first', source_name, history_owner::regrole, admin,",
        "      history_owner::regrole, admin);",
        "  END IF;",
        "  IF NOT admin_is_super THEN",
        "    EXECUTE pg_catalog.format('SET ROLE %I', model_owner);",
        "  END IF;",
        "  -- An empty lifecycle table an earlier db.grant created gives way to the history,",
        "  -- with its indexes, sequences and types.",
        "  FOR r IN SELECT b.oid, b.relname::text AS name FROM pg_class b",
        "            WHERE b.relnamespace = target AND b.relkind = 'r'",
        "              AND b.relname = ANY(lifecycle) AND EXISTS (SELECT FROM pg_class c",
        "                  WHERE c.relnamespace = source AND c.relname = b.relname",
        "                    AND c.relowner = history_owner) LOOP",
        "    EXECUTE pg_catalog.format('SELECT NOT EXISTS (SELECT FROM %I.%I)',",
        "      target_name, r.name) INTO is_empty;",
        "    IF is_empty THEN",
        "      doomed := doomed || r.name;",
        "      doomed_oids := doomed_oids || r.oid;",
        "    END IF;",
        "  END LOOP;",
        "  doomed_oids := doomed_oids",
        "    || ARRAY(SELECT indexrelid FROM pg_index WHERE indrelid = ANY(doomed_oids))",
        "    || ARRAY(SELECT d.objid FROM pg_depend d WHERE d.classid = 'pg_class'::regclass",
        "             AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')",
        "             AND d.refobjid = ANY(doomed_oids));",
        "  FOR r IN",
        "    SELECT a.name",
        "      FROM (SELECT c.relname::text AS name FROM pg_class c",
        "             WHERE c.relnamespace = source AND c.relowner = history_owner",
        "               AND c.relkind NOT IN ('t')",
        "            UNION SELECT t.typname::text FROM pg_type t",
        "             WHERE t.oid = ANY(types)) a",
        "     WHERE EXISTS (SELECT FROM pg_class b WHERE b.relnamespace = target",
        "                   AND b.relname = a.name AND b.oid <> ALL (doomed_oids))",
        "        OR EXISTS (SELECT FROM pg_type b WHERE b.typnamespace = target",
        "                   AND b.typname = a.name AND b.typrelid <> ALL (doomed_oids))",
        "     ORDER BY 1",
        "  LOOP",
        "    problems := problems || pg_catalog.format('%I.%I and %I.%I both exist: keep one'",
        "      ' (rename or drop the other, after a backup), then run db.grant again',",
        "      source_name, r.name, target_name, r.name);",
        "  END LOOP;",
        "  FOR r IN SELECT a.oid FROM pg_proc a WHERE a.oid = ANY(routines) AND EXISTS (",
        "             SELECT FROM pg_proc b WHERE b.pronamespace = target",
        "                AND b.proname = a.proname AND b.proargtypes = a.proargtypes) LOOP",
        "    problems := problems || pg_catalog.format('routine %s exists in schema %I too:'",
        "      ' keep one (rename or drop the other), then run db.grant again',",
        "      r.oid::regprocedure, target_name);",
        "  END LOOP;",
        "  IF NOT admin_is_super THEN",
        "    RESET ROLE;",
        "  END IF;",
        "  IF pg_catalog.cardinality(problems) > 0 THEN",
        "    RAISE EXCEPTION USING ERRCODE = 'GW001',",
        "      MESSAGE = pg_catalog.format('roles.sql: the application''s history in schema %I'",
        "        ' cannot move into schema %I; nothing was changed', source_name, target_name),",
        "      DETAIL = pg_catalog.array_to_string(problems, E'\\n'),",
        "      HINT = 'see docs/database.md, \"Adopting an existing deployment\"';",
        "  END IF;",
        "  -- Moving: as the owner of the objects (the admin, or a role it acts as), into a schema",
        "  -- the owner owns; a non-superuser admin gets USAGE and CREATE there for this",
        "  -- transaction only (USAGE: ALTER ... OWNER TO names the moved object there).",
        "  IF NOT admin_is_super THEN",
        "    EXECUTE pg_catalog.format('SET ROLE %I', model_owner);",
        "  END IF;",
        "  FOR r IN SELECT pg_catalog.unnest(doomed) AS name LOOP",
        "    EXECUTE pg_catalog.format('DROP TABLE %I.%I', target_name, r.name);",
        "    RAISE NOTICE 'dropped the empty table %.% (an earlier db.grant made it): %.%'",
        "      ' replaces it', target_name, r.name, source_name, r.name;",
        "  END LOOP;",
        "  IF NOT admin_is_super THEN",
        "    EXECUTE pg_catalog.format('GRANT USAGE, CREATE ON SCHEMA %I TO %I', target_name,",
        "      admin);",
        "    RESET ROLE;",
        "  END IF;",
        "  FOR r IN SELECT t.oid, t.typname, CASE t.typtype WHEN 'd' THEN 'DOMAIN' ELSE 'TYPE' END",
        "           AS kw FROM pg_type t WHERE t.oid = ANY(types) ORDER BY t.typname LOOP",
        "    EXECUTE pg_catalog.format('ALTER %s %I.%I SET SCHEMA %I', r.kw, source_name,",
        "      r.typname, target_name);",
        "    EXECUTE pg_catalog.format('ALTER %s %I.%I OWNER TO %I', r.kw, target_name,",
        "      r.typname, model_owner);",
        "    RAISE NOTICE 'moved % %.% to schema %, owned by %', pg_catalog.lower(r.kw),",
        "      source_name, r.typname, target_name, model_owner;",
        "  END LOOP;",
        "  FOR r IN SELECT c.oid, c.relname, CASE c.relkind WHEN 'v' THEN 'VIEW'",
        "             WHEN 'm' THEN 'MATERIALIZED VIEW' WHEN 'f' THEN 'FOREIGN TABLE'",
        "             WHEN 'S' THEN 'SEQUENCE' WHEN 'c' THEN 'TYPE' ELSE 'TABLE' END AS kw",
        "           FROM pg_class c WHERE c.oid = ANY(rels) ORDER BY c.relname LOOP",
        "    EXECUTE pg_catalog.format('ALTER %s %I.%I SET SCHEMA %I', r.kw, source_name,",
        "      r.relname, target_name);",
        "    EXECUTE pg_catalog.format('ALTER %s %I.%I OWNER TO %I', r.kw, target_name,",
        "      r.relname, model_owner);",
        "    RAISE NOTICE 'moved % %.% to schema %, owned by %', pg_catalog.lower(r.kw),",
        "      source_name, r.relname, target_name, model_owner;",
        "  END LOOP;",
        "  FOR r IN SELECT p.oid, p.proname, CASE p.prokind WHEN 'a' THEN 'AGGREGATE'",
        "             ELSE 'ROUTINE' END AS kw FROM pg_proc p WHERE p.oid = ANY(routines)",
        "           ORDER BY p.proname LOOP",
        "    EXECUTE pg_catalog.format('ALTER %s %I.%I(%s) SET SCHEMA %I', r.kw, source_name,",
        "      r.proname, pg_catalog.pg_get_function_identity_arguments(r.oid), target_name);",
        "    EXECUTE pg_catalog.format('ALTER %s %I.%I(%s) OWNER TO %I', r.kw, target_name,",
        "      r.proname, pg_catalog.pg_get_function_identity_arguments(r.oid), model_owner);",
        "    RAISE NOTICE 'moved routine %.%(%) to schema %, owned by %', source_name, r.proname,",
        "      pg_catalog.pg_get_function_identity_arguments(r.oid), target_name, model_owner;",
        "  END LOOP;",
        "  IF NOT admin_is_super THEN",
        "    EXECUTE pg_catalog.format('SET ROLE %I', model_owner);",
        "    EXECUTE pg_catalog.format('REVOKE USAGE, CREATE ON SCHEMA %I FROM %I', target_name,",
        "      admin);",
        "    RESET ROLE;",
        "  END IF;",
        "END $$;",
        "",
    ]


# -- the project's exceptions (grant_exceptions.py) ------------------------------------------


def declared_exceptions() -> tuple[list[str], dict[str, list[str]]]:
    """APPEND_ONLY and HIDDEN_COLUMNS of the project's grant_exceptions.py, sorted and validated."""
    grant_exceptions = current_project().grant_exceptions_module()

    append_only = sorted(grant_exceptions.APPEND_ONLY)
    hidden = {t: sorted(cols) for t, cols in sorted(grant_exceptions.HIDDEN_COLUMNS.items())}
    for what, value in [
        *(("APPEND_ONLY table", t) for t in append_only),
        *(("HIDDEN_COLUMNS table", t) for t in hidden),
        *(("HIDDEN_COLUMNS column", c) for cols in hidden.values() for c in cols),
    ]:
        if not isinstance(value, str) or not _NAME.match(value) or len(value) > 63:
            raise TaskError(
                f"{current_project().grant_exceptions_file}: the {what} {value!r} is not a plain "
                "lower-case identifier: name the table or column as the migrations create it"
            )
    return append_only, hidden


def _exceptions_sql(n: RoleNames) -> list[str]:
    """Step 9b: the project's exceptions, after the grants they narrow (run as the owner)."""
    append_only, hidden = declared_exceptions()
    lines = [
        "-- 9b. This project's exceptions (grant_exceptions.py), after the grants above that",
        "--     they narrow. A table a later migration creates gets them at the next db.grant;",
        "--     until then --check reports it.",
    ]
    if not append_only and not hidden:
        return [*lines, "--     None declared.", ""]
    s, rw, ro = ident(n.schema), ident(n.rw), ident(n.ro)
    for table in append_only:
        qualified = f"{s}.{ident(table)}"
        lines += [
            f"-- {table}: append-only; {n.rw} may SELECT and INSERT, never UPDATE or DELETE.",
            "DO $$",
            "BEGIN",
            f"  IF pg_catalog.to_regclass({literal(qualified)}) IS NOT NULL THEN",
            f"    REVOKE UPDATE, DELETE, TRUNCATE ON {qualified} FROM {rw};",
            "  END IF;",
            "END $$;",
        ]
    for table, columns in hidden.items():
        qualified = f"{s}.{ident(table)}"
        lines += [
            f"-- {table}: {n.ro} may SELECT every column but {', '.join(columns)}.",
            "DO $$",
            "DECLARE",
            f"  t regclass := pg_catalog.to_regclass({literal(qualified)});",
            f"  hidden text[] := ARRAY[{', '.join(literal(c) for c in columns)}];",
            "  visible text;",
            "BEGIN",
            "  IF t IS NOT NULL THEN",
            f"    REVOKE SELECT ON {qualified} FROM {ro};",
            "    SELECT pg_catalog.string_agg(pg_catalog.quote_ident(attname), ', '",
            "                                 ORDER BY attnum) INTO visible",
            "      FROM pg_attribute WHERE attrelid = t AND attnum > 0 AND NOT attisdropped",
            "       AND attname <> ALL (hidden);",
            "    IF visible IS NOT NULL THEN",
            "      EXECUTE pg_catalog.format('GRANT SELECT (%s) ON %s TO %I', visible, t,",
            f"                                {literal(n.ro)});",
            "    END IF;",
            "  END IF;",
            "END $$;",
        ]
    return [*lines, ""]


def _expected_table_privileges(n: RoleNames, table: str) -> set[tuple[str, str]]:
    """What the model grants on an ordinary table of the schema, exceptions applied."""
    append_only, hidden = declared_exceptions()
    expected = _expected(n, MODEL.tables)
    if table in append_only:
        expected -= {(n.rw, "UPDATE"), (n.rw, "DELETE")}
    if table in hidden:
        expected -= {(n.ro, "SELECT")}
    return expected


def _exception_problems(query: Query, n: RoleNames) -> list[str]:
    """Each declared exception the catalog does not honour, judged by effective privileges."""
    append_only, hidden = declared_exceptions()
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


class AdoptionRefusedError(TaskError):
    """The script refused to adopt a first deploy's history: one line per problem, nothing done."""

    def __init__(self, message: str, problems: list[str], hint: str) -> None:
        super().__init__(f"{message} ({hint})" if hint else message)
        self.problems = problems


# -- applying -------------------------------------------------------------------------------------


# Databases every cluster has: an admin URL often names one, the role model never belongs there.
MAINTENANCE_DATABASES = ("postgres", "template0", "template1")


def admin_url(settings: Settings, given: str | None = None) -> URL:
    """The admin's URL of the application's database.

    ``--admin-url`` or ADMIN_DATABASE_URL supply the server and the credentials; the database is
    the application's (DATABASE_URL, else MIGRATOR_DATABASE_URL), whatever the admin URL names:
    an admin URL copied from a console usually names ``postgres``, and the model applied there
    would lock everyone out of it. Without either setting the admin URL's own database is taken,
    unless it is a maintenance database. With no admin URL and no DATABASE_URL: the project-local
    server, where we are the superuser. A URL object, never a rendered string: SQLAlchemy
    renders a password's space unencoded, which libpq then refuses (and prints).
    """
    from sqlalchemy.engine import make_url

    from .engine import connect_timeout, database_url, with_connect_timeout
    from .urls import backend_of, normalize

    raw = given or settings.get("ADMIN_DATABASE_URL")
    app_setting = "DATABASE_URL" if settings.database_url else "MIGRATOR_DATABASE_URL"
    app_raw = settings.get(app_setting)
    app = normalize(app_raw, settings.project_root, setting=app_setting) if app_raw else None
    if raw:
        url = with_connect_timeout(  # DATABASE_CONNECT_TIMEOUT, as every connection has
            normalize(raw, settings.project_root, setting="ADMIN_DATABASE_URL"),
            connect_timeout(settings),
        )
    elif settings.database_url is None:
        url = database_url(settings)  # the project-local server: we are its superuser
    elif backend_of(settings.database_url) == "sqlite":
        url = settings.database_url  # refused just below, for what it is
    else:
        raise TaskError(
            "db.grant needs an admin connection, never the app's: set ADMIN_DATABASE_URL "
            "(a superuser, or a CREATEROLE CREATEDB admin owning the database) or --admin-url"
        )
    if backend_of(url) != "postgresql" or (app and backend_of(app) != "postgresql"):
        raise TaskError(
            "roles and grants are a PostgreSQL feature; this database is SQLite "
            "(`invoke db.grant --print` shows the SQL for a PostgreSQL server)"
        )
    if not raw:
        return make_url(url)
    database = make_url(app).database if app else None
    if database:
        return make_url(url).set(database=database)
    named = make_url(url).database
    if not named or named in MAINTENANCE_DATABASES:
        what = f"the maintenance database {named!r}" if named else "no database"
        raise TaskError(
            f"the admin URL names {what} and DATABASE_URL is unset: name the application's "
            "database in ADMIN_DATABASE_URL (or --admin-url), or set DATABASE_URL"
        )
    return make_url(url)


def describe(parsed: URL) -> str:
    """Which database on which server, for the report's first line (no credentials)."""
    host = parsed.host or parsed.query.get("host") or "the local socket"
    port = f":{parsed.port}" if parsed.port else ""
    return f"database {parsed.database} on {host}{port}"


@contextmanager
def _connect(url: URL, notices: list[str] | None = None) -> Iterator[Any]:
    """An autocommit psycopg connection: the script has its own BEGIN/COMMIT.

    Keyword parameters (any character in a password), and the admin's search path pinned to
    ``pg_catalog, pg_temp``: a function planted in ``public`` (``public.pg_has_role(text, text,
    text)`` is a better match for string literals than the built-in) never runs as the admin.
    """
    from .driver import connect_kwargs
    from .driver import psycopg as load_psycopg

    psycopg = load_psycopg()
    try:
        connection = psycopg.connect(autocommit=True, **connect_kwargs(url, pinned=True))
    except psycopg.Error as exc:
        raise TaskError(f"cannot reach the database as the admin: {_first(exc)}") from exc
    if notices is not None:
        connection.add_notice_handler(
            lambda diag: (
                notices.append(diag.message_primary or "")
                if diag.severity in {"NOTICE", "WARNING"}
                else None
            )
        )
    try:
        with connection:
            yield connection
    except psycopg.Error as exc:
        raise TaskError(f"database error: {_diagnosed(exc)}") from exc


def _diagnosed(exc: Any) -> str:
    """The server's message with its DETAIL and HINT, on one line: PostgreSQL 16's "permission
    denied to grant role" says only in its DETAIL which ADMIN option the admin lacks."""
    diag = exc.diag
    detail = f": {' '.join(diag.message_detail.split())}" if diag.message_detail else ""
    hint = f" ({' '.join(diag.message_hint.split())})" if diag.message_hint else ""
    return f"{_first(exc)}{detail}{hint}"


def _first(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


def apply(settings: Settings, url: URL) -> tuple[list[str], list[str]]:
    """Run the script as the admin (``url``: :func:`admin_url`'s), then set passwords.

    Returns what changed and which passwords were set.
    """
    names = role_names(settings)
    notices: list[str] = []
    with _connect(url, notices) as connection:
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
        passwords = _set_passwords(connection, settings, names)
    return report, passwords


def _run_script(connection: Any, script: str) -> None:
    """Run the script; its refusal to adopt a history becomes :class:`AdoptionRefusedError`."""
    from .driver import psycopg

    try:
        connection.execute(script)
    except psycopg().Error as exc:
        if exc.sqlstate != ADOPTION_REFUSED:
            raise
        diag = exc.diag
        problems = (diag.message_detail or "").splitlines()
        message, hint = diag.message_primary or "", diag.message_hint or ""
        raise AdoptionRefusedError(message, problems, hint) from None


def _set_passwords(connection: Any, settings: Settings, names: RoleNames) -> list[str]:
    """ALTER ROLE ... PASSWORD with a SCRAM verifier made here: the password never travels."""
    done = []
    for key, setting in PASSWORD_SETTINGS.items():
        password = settings.get(setting)
        if not password:
            continue
        role = getattr(names, key)
        _set_password(connection, role, password)
        done.append(f"set the password of {role} (from {setting})")
    return done


def _set_password(connection: Any, role: str, password: str) -> None:
    from .driver import psycopg

    sql = psycopg().sql
    verifier = connection.pgconn.encrypt_password(
        password.encode(), role.encode(), b"scram-sha-256"
    ).decode()
    connection.execute(
        sql.SQL("ALTER ROLE {} PASSWORD {}").format(sql.Identifier(role), sql.Literal(verifier))
    )


def rotate(settings: Settings, url: URL, which: str) -> list[str]:
    """Only ``ALTER ROLE ... PASSWORD`` for the logins named in ``which`` ("app,reader").

    The passwords come from the environment (DB_*_PASSWORD), never from the command line; no
    privilege is granted or revoked, so nothing a migration narrowed is widened again.
    """
    keys = [key.strip() for key in which.split(",") if key.strip()]
    unknown = [key for key in keys if key not in PASSWORD_SETTINGS]
    if not keys or unknown:
        raise TaskError(
            f"--rotate {which!r}: name the logins whose password changes, comma-separated, "
            f"among {', '.join(PASSWORD_SETTINGS)} (the passwords come from DB_*_PASSWORD)"
        )
    missing = [PASSWORD_SETTINGS[key] for key in keys if not settings.get(PASSWORD_SETTINGS[key])]
    if missing:
        raise TaskError(
            f"--rotate {which}: set {', '.join(missing)} in the environment to the new password "
            "(never on the command line)"
        )
    names = role_names(settings)
    done = []
    with _connect(url) as connection, connection.transaction():
        for key in keys:
            role = getattr(names, key)
            exists = connection.execute(
                "SELECT rolcanlogin FROM pg_roles WHERE rolname = %s", (role,)
            ).fetchall()
            if exists != [(True,)]:
                raise TaskError(
                    f"--rotate {key}: {role} is not a login of this cluster: run `invoke db.grant` "
                    "first (it creates the roles); nothing was changed"
                )
            _set_password(connection, role, settings.get(PASSWORD_SETTINGS[key]) or "")
            done.append(f"set the password of {role} (from {PASSWORD_SETTINGS[key]})")
    return done


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
    return name if _NAME.match(name) else ident(name)


# -- checking -------------------------------------------------------------------------------------


def check(settings: Settings, url: URL) -> list[str]:
    """Every difference between the catalog behind ``url`` (:func:`admin_url`'s) and the model."""
    names = role_names(settings)
    with _connect(url) as connection:
        return _differences(lambda q, p=None: list(connection.execute(q, p)), names)


Query = Callable[..., list[Any]]


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
        _expected(n, MODEL.schema),
        query,
    )
    problems += _object_problems(query, n)
    problems += _public_schema_problems(query)
    problems += _default_privilege_problems(query, n)
    problems += _ownership_problems(query, n)
    problems += _blind_spot_problems(query, n, version_num)
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
        f" WHERE c.relname = %s AND c.relkind IN ('r', 'p') AND {_SYSTEM_SCHEMAS}"
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


def _expected(n: RoleNames, privileges: dict[str, tuple[str, ...]]) -> set[tuple[str, str]]:
    return {(getattr(n, key), priv) for key, privs in privileges.items() for priv in privs}


def _acl_problems(
    what: str,
    rows: Iterable[tuple[int, str]],
    expected: set[tuple[str, str]],
    query: Query,
    only: Iterable[str] | None = None,
) -> list[str]:
    # Grantee 0 is PUBLIC; role names are looked up by oid in one query per check.
    oids = {int(oid): name for oid, name in query(_ROLES_SQL)}
    actual = {(oids.get(int(oid), str(oid)) if oid else "PUBLIC", p) for oid, p in rows}
    if only is not None:
        keep = set(only)
        actual = {(grantee, priv) for grantee, priv in actual if grantee in keep}
    missing = sorted(expected - actual)
    extra = sorted(actual - expected)
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
        _expected(n, MODEL.database),
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
            expected = _expected(n, MODEL.sequences)
        elif name in READ_ONLY_TABLES:
            expected = _expected(n, MODEL.version_table)
        else:
            expected = _expected_table_privileges(n, name)
        rows = [(int(grantee), priv) for grantee, priv in acl]
        problems += _acl_problems(what, rows, expected, query)
    for name in sorted(missing):
        problems.append(f"table {n.schema}.{name} is missing: run `invoke db.grant`")
    for signature, owner, acl in query(_FUNCTIONS_SQL, (n.schema,)):
        what = f"function {signature}"
        if owner != n.owner:
            problems.append(f"{what} is owned by {owner}, not {n.owner}")
        rows = [(int(grantee), priv) for grantee, priv in acl]
        problems += _acl_problems(what, rows, _expected(n, MODEL.functions), query)
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
            _expected(n, privileges),
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


# What the checks above do not see: each a way round the model that --check once called OK.
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


def _blind_spot_problems(query: Query, n: RoleNames, version_num: int) -> list[str]:
    """Column grants, the owner's other default privileges, CONNECT for outsiders, SET on
    parameters, SECURITY DEFINER functions without a pinned search_path, composite types."""
    # The reader's column SELECTs on a table with hidden columns are the model's own
    # (grant_exceptions.py); _exception_problems checks them.
    _, hidden = declared_exceptions()
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


# -- migrations as the owner ----------------------------------------------------------------------


def assume_migration_role(connection: Connection, settings: Settings) -> str | None:
    """``SET ROLE`` the owner when migrating as the migrator; return the role set, if any.

    Called inside the migration's one transaction (``engine.begin()``), which is committed at
    the end: a SET ROLE in a transaction SQLAlchemy 2 would autobegin and then discard is how
    ``alembic upgrade`` ends up exiting 0 having persisted nothing. DB_MIGRATION_ROLE names the
    role explicitly; without it, the owner is taken when the login is this project's migrator.
    """
    if connection.dialect.name != "postgresql":
        return None
    names = role_names(settings)
    role = settings.get("DB_MIGRATION_ROLE")
    if role is None:
        if connection.exec_driver_sql("SELECT session_user").scalar() != names.migrator:
            return None
        role = names.owner
    connection.exec_driver_sql(f"SET ROLE {connection.dialect.identifier_preparer.quote(role)}")
    return role
