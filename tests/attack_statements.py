"""The attack suite: what the app, reader and migrator logins may and may not do after db.grant.

Each :class:`Attack` is one statement (or a short chain) run in its own transaction, rolled
back, by one login; the outcome is ``OK`` (documented as allowed: docs/database.md, "For
DBAs") or the SQLSTATE it must fail with. Outcomes that differ by version say so. The table
statements are generated from the catalog, per table and per login; the rest are written out.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import psycopg

OK = "ok"
DENIED = "42501"  # insufficient_privilege, "must be owner" included
READ_ONLY = ("alembic_version", "migration_ledger", "lifecycle_environment")

Outcome = str | Callable[[int], str]


@dataclass(frozen=True)
class Attack:
    login: str  # "app", "reader", "migrator"
    statements: tuple[str, ...]
    outcome: Outcome
    transaction: bool = True  # False: CREATE DATABASE and the like refuse a transaction block

    def expected(self, major: int) -> str:
        return self.outcome(major) if callable(self.outcome) else self.outcome


def _until(last: int, then: str, after: str) -> Callable[[int], str]:
    return lambda major: then if major <= last else after


def table_attacks(
    login: str, tables: dict[str, list[str]], sequences: list[str], schema: str
) -> list[Attack]:
    """Per table of the schema: rows, DDL, locks, ownership; per sequence: nextval, setval."""
    attacks = []
    reads = login in ("app", "reader")
    for name, columns in sorted(tables.items()):
        table = f'"{schema}".{name}'
        writes = login == "app" and name not in READ_ONLY
        c = columns[0]
        for statement, allowed in (
            (f"SELECT * FROM {table}", reads),
            (f"INSERT INTO {table} SELECT * FROM {table} WHERE false", writes),
            (f"UPDATE {table} SET {c} = {c} WHERE false", writes),
            (f"DELETE FROM {table} WHERE false", writes),
            (f"SELECT * FROM {table} FOR UPDATE", writes),
            (f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE", writes),
            (f"TRUNCATE {table}", False),
            (f"DROP TABLE {table}", False),
            (f"ALTER TABLE {table} ADD COLUMN intruder int", False),
            (f"ALTER TABLE {table} OWNER TO CURRENT_USER", False),
            (f"ALTER TABLE {table} DISABLE TRIGGER ALL", False),
            (f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY", False),
            (f"CREATE INDEX ON {table} ({c})", False),
            (f"REINDEX TABLE {table}", False),
            (f"COMMENT ON TABLE {table} IS 'owned'", False),
            (f"CREATE RULE intruder AS ON INSERT TO {table} DO INSTEAD NOTHING", False),
            (
                (
                    f"CREATE TRIGGER intruder BEFORE INSERT ON {table} FOR EACH ROW"
                    " EXECUTE FUNCTION suppress_redundant_updates_trigger()"
                ),
                False,
            ),
            (f"CREATE POLICY intruder ON {table} USING (true)", False),
            (f"ALTER TABLE {table} SET SCHEMA public", False),
        ):
            attacks.append(Attack(login, (statement,), OK if allowed else DENIED))
        for column in columns:  # column by column: no column grant widens the table's
            attacks.append(
                Attack(
                    login,
                    (f"UPDATE {table} SET {column} = {column} WHERE false",),
                    OK if writes else DENIED,
                )
            )
    for sequence in (f'"{schema}".{name}' for name in sequences):
        attacks += [
            Attack(
                login,
                (f"SELECT currval('{sequence}')",),
                DENIED if login == "migrator" else "55000",
            ),
            Attack(login, (f"SELECT nextval('{sequence}')",), OK if login == "app" else DENIED),
            Attack(login, (f"SELECT setval('{sequence}', 1)",), DENIED),
            Attack(login, (f"ALTER SEQUENCE {sequence} RESTART",), DENIED),
        ]
    return attacks


def common_attacks(login: str, n: dict[str, str], closed_lo: bool) -> list[Attack]:
    """What every login tries: the server, the roles, files, the schemas, settings."""
    s, db = n["s"], n["db"]
    other = {"app": n["reader"], "reader": n["app"], "migrator": n["app"]}[login]
    me = n[login]
    temp = OK if login == "app" else DENIED  # TEMPORARY is the app's only
    a: list[tuple[str, Outcome]] = [
        (f"CREATE TABLE {s}.intruder (x int)", DENIED),
        ("CREATE TABLE public.intruder (x int)", DENIED),
        ("CREATE SCHEMA intruder", DENIED),
        (f"CREATE VIEW {s}.intruder AS SELECT 1 AS x", DENIED),
        (f"CREATE MATERIALIZED VIEW {s}.intruder AS SELECT 1 AS x", DENIED),
        (f"CREATE SEQUENCE {s}.intruder", DENIED),
        (f"CREATE FUNCTION {s}.intruder() RETURNS int LANGUAGE sql AS 'SELECT 1'", DENIED),
        ("CREATE FUNCTION public.intruder() RETURNS int LANGUAGE sql AS 'SELECT 1'", DENIED),
        (f"CREATE TYPE {s}.intruder AS (x int)", DENIED),
        (f"CREATE DOMAIN {s}.intruder AS int", DENIED),
        ("CREATE OPERATOR public.=== (LEFTARG = int, RIGHTARG = int, FUNCTION = int4eq)", DENIED),
        ("CREATE TEMP TABLE scratch (x int)", temp),
        ("CREATE FUNCTION pg_temp.scratch() RETURNS int LANGUAGE sql AS 'SELECT 1'", temp),
        ("CREATE ROLE intruder", DENIED),
        (f'ALTER ROLE "{me}" SUPERUSER', DENIED),
        (f'ALTER ROLE "{me}" CREATEDB', DENIED),
        (f'ALTER ROLE "{me}" CREATEROLE', DENIED),
        (f'ALTER ROLE "{me}" BYPASSRLS', DENIED),
        (f'ALTER ROLE "{me}" REPLICATION', DENIED),
        (f'ALTER ROLE "{n["owner"]}" LOGIN', DENIED),
        (f"ALTER ROLE \"{other}\" PASSWORD 'taken'", DENIED),
        (f'DROP ROLE "{n["rw"]}"', DENIED),
        (f'SET ROLE "{n["owner"]}"', OK if login == "migrator" else DENIED),
        (f'SET ROLE "{n["rw"]}"', OK if login == "app" else DENIED),
        (f'SET ROLE "{n["ro"]}"', OK if login == "reader" else DENIED),
        (f'SET ROLE "{n["migrator"]}"', OK if login == "migrator" else DENIED),
        ("SET SESSION AUTHORIZATION postgres", DENIED),
        (f'GRANT "{n["rw"]}" TO "{n["reader"]}"', DENIED),
        (f'GRANT "{n["owner"]}" TO "{me}"', DENIED),
        (f'GRANT "{n["ro"]}" TO "{other}"', DENIED),
        # A login may grant its own membership on PostgreSQL 14 and older (item 8): --check
        # reports the membership; 15 removed the rule.
        (f'GRANT "{me}" TO "{other}"', _until(14, OK, DENIED)),
        ("COPY (SELECT 1) TO '/tmp/gw_intruder'", DENIED),
        ("COPY (SELECT 1) TO PROGRAM 'id'", DENIED),
        ("CREATE TEMP TABLE IF NOT EXISTS pw (l text) ;; COPY pw FROM '/etc/passwd'", DENIED),
        ("SELECT pg_read_file('PG_VERSION')", DENIED),
        ("SELECT pg_read_binary_file('PG_VERSION')", DENIED),
        ("SELECT pg_ls_dir('.')", DENIED),
        ("SELECT pg_stat_file('PG_VERSION')", DENIED),
        ("SELECT pg_ls_logdir()", DENIED),
        ("SELECT pg_ls_waldir()", DENIED),
        ("SELECT lo_import('/etc/passwd')", DENIED),
        ("SELECT lo_export(0, '/tmp/gw_intruder')", DENIED),
        ("SET log_statement = 'none'", DENIED),
        ("SET session_replication_role = replica", DENIED),
        ("SET log_min_messages = panic", DENIED),
        ("LOAD 'plpgsql'", DENIED),
        ("SELECT pg_reload_conf()", DENIED),
        ("SELECT pg_rotate_logfile()", DENIED),
        ("SELECT pg_switch_wal()", DENIED),
        ("SELECT pg_create_restore_point('intruder')", DENIED),
        ("SELECT pg_promote()", DENIED),
        ("SELECT count(*) FROM pg_authid", DENIED),
        ("SELECT count(*) FROM pg_shadow", DENIED),
        ("SELECT count(*) FROM pg_statistic", DENIED),
        ("SELECT count(*) FROM pg_user_mapping", DENIED),
        (f'ALTER DATABASE "{db}" SET search_path = public', DENIED),
        (f'ALTER DATABASE "{db}" OWNER TO CURRENT_USER', DENIED),
        (f'ALTER DATABASE "{db}" RENAME TO intruder', DENIED),
        (f"COMMENT ON DATABASE \"{db}\" IS 'owned'", DENIED),
        (f"ALTER SCHEMA {s} RENAME TO intruder", DENIED),
        (f"ALTER SCHEMA {s} OWNER TO CURRENT_USER", DENIED),
        (f"DROP SCHEMA {s} CASCADE", DENIED),
        ("ALTER SCHEMA public OWNER TO CURRENT_USER", DENIED),
        ("DROP SCHEMA public CASCADE", DENIED),
        (f"GRANT CREATE ON SCHEMA {s} TO PUBLIC", _grant_without_rights(login)),
        (f'REASSIGN OWNED BY "{n["owner"]}" TO CURRENT_USER', DENIED),
        (f'DROP OWNED BY "{n["owner"]}"', DENIED),
        (
            f'ALTER DEFAULT PRIVILEGES FOR ROLE "{n["owner"]}" GRANT ALL ON TABLES TO PUBLIC',
            _until(15, OK, DENIED) if login == "migrator" else DENIED,
        ),
        ("CREATE PUBLICATION intruder FOR ALL TABLES", DENIED),
        (
            (
                "CREATE EVENT TRIGGER intruder ON ddl_command_start EXECUTE FUNCTION"
                " pg_catalog.pg_event_trigger_ddl_commands()"
            ),
            DENIED,
        ),
        ("CREATE FOREIGN DATA WRAPPER intruder", DENIED),
        ("CREATE CAST (int AS text) WITH INOUT", DENIED),
        (f"COMMENT ON ROLE \"{n['owner']}\" IS 'owned'", DENIED),
        ("CREATE LANGUAGE intruder HANDLER plpgsql_call_handler", DENIED),
        ("CREATE CONVERSION public.intruder FOR 'LATIN1' TO 'UTF8' FROM iso8859_1_to_utf8", DENIED),
        ("CREATE TEXT SEARCH CONFIGURATION public.intruder (COPY = simple)", DENIED),
        # Documented as allowed: harmless, or no privilege governs them (docs/database.md).
        ("SELECT 1", OK),
        ("DO $$BEGIN PERFORM 1; END$$", OK),
        ("SELECT pg_advisory_xact_lock(42)", OK),
        ("NOTIFY any_channel, 'from anyone'", OK),
        ("LISTEN any_channel", OK),
        # Large objects: closed where a superuser ran db.grant (the app keeps them).
        ("SELECT lo_create(0)", OK if login == "app" or not closed_lo else DENIED),
        ("SELECT lo_from_bytea(0, 'x')", OK if login == "app" or not closed_lo else DENIED),
        ("SELECT count(*) FROM pg_stat_activity", OK),
        ("SET work_mem = '64MB'", OK),
        (f"SELECT version_num FROM {s}.alembic_version", DENIED if login == "migrator" else OK),
    ]
    attacks = [Attack(login, tuple(x.split(" ;; ")), outcome) for x, outcome in a]
    for statement in (
        "CREATE DATABASE intruder",
        "ALTER SYSTEM SET work_mem = '1MB'",
        "CREATE TABLESPACE intruder LOCATION '/tmp'",
        "CHECKPOINT",
        "CREATE SUBSCRIPTION intruder CONNECTION 'dbname=x' PUBLICATION p WITH (connect = false)",
    ):
        attacks.append(Attack(login, (statement,), DENIED, transaction=False))
    return attacks


def _grant_without_rights(login: str) -> str:
    # No privilege at all on the schema is an error; USAGE without grant option only warns
    # ("no privileges were granted") and grants nothing: checked by the snapshot afterwards.
    return OK if login in ("app", "reader") else DENIED


def migrator_attacks(n: dict[str, str]) -> list[Attack]:
    """As the owner (after SET ROLE): DDL works and belongs to the owner, never to the login."""
    s, owner = n["s"], f'"{n["owner"]}"'
    return [
        Attack(
            "migrator",
            (f"SET ROLE {owner}", f"CREATE TABLE {s}.m_new (x int)", f"DROP TABLE {s}.m_new"),
            OK,
        ),
        Attack("migrator", (f"SET ROLE {owner}", "CREATE TABLE public.m_new (x int)"), DENIED),
        Attack("migrator", (f"SET ROLE {owner}", "CREATE DATABASE intruder"), DENIED, False),
        Attack("migrator", (f"SET ROLE {owner}", "CREATE ROLE intruder"), DENIED),
        Attack("migrator", (f"SET ROLE {owner}", f'GRANT {owner} TO "{n["app"]}"'), DENIED),
        Attack("migrator", (f"SET ROLE {owner}", "SELECT pg_read_file('PG_VERSION')"), DENIED),
        Attack(
            "migrator", (f"SET ROLE {owner}", "ALTER SYSTEM SET work_mem = '1MB'"), DENIED, False
        ),
    ]


def run(url: str, attacks: list[Attack], major: int) -> tuple[int, list[str]]:
    """Run each attack in its own rolled-back transaction; return (count, unexpected lines)."""
    failures = []
    from tests.attack_support import connect

    with connect(url, autocommit=True) as connection:
        for attack in attacks:
            got = OK
            try:
                if attack.transaction:
                    with connection.transaction(force_rollback=True):
                        for statement in attack.statements:
                            connection.execute(statement)
                else:
                    for statement in attack.statements:
                        connection.execute(statement)
            except psycopg.Error as exc:
                got = exc.sqlstate or "?"
                connection.execute("RESET ROLE")
            else:
                connection.execute("RESET ROLE")
            if got != attack.expected(major):
                failures.append(
                    f"{attack.login}: {' ; '.join(attack.statements)} -> {got},"
                    f" expected {attack.expected(major)}"
                )
    return len(attacks), failures
