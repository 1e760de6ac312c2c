"""PostgreSQL backups and restores: ``pg_dump`` archives, replayed through ``psql``.

``pg_dump --format=custom`` of the application's schema (the schema of ``alembic_version``); a
restore empties that schema and replays the dump through ``psql`` in one explicit transaction
whose ``COMMIT`` is sent only after the whole script, checked complete: if anything dies on the
way (this process, psql, the server), psql reaches the end of its input without a COMMIT and the
server rolls everything back. Both connect as migrations do: ``MIGRATOR_DATABASE_URL`` (falling
back to ``DATABASE_URL``), and under the role model as the owner (``SET ROLE``), who alone may
drop and recreate the schema's tables and sees all of them. The client programs are taken from
``POSTGRES_BIN_DIR`` when set, otherwise the PATH's or the embedded server's, whichever is the
closest version not older than the server (``pg_dump`` refuses servers newer than itself). They
get the connection as libpq keywords on the command line and the password in their environment
(``PGPASSWORD``), never in their arguments.

``empty_schema`` is also ``db.reset``'s: it drops what the application's schema holds.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection, text
from sqlalchemy.engine import URL
from sqlalchemy.pool import NullPool

from .. import local
from ..backup import create_private, new_path, partial_of, unlinked_on_error
from ..engine import database_url, make_engine
from ..errors import TaskError, mask_secrets
from ..quoting import ident, literal
from ..roles.names import assume_migration_role
from ..roles.tables import LIFECYCLE_TABLES
from ..settings import Settings
from .postgresql import PostgreSQL

_TOOL_VERSION = re.compile(r"\(PostgreSQL\)\s+(\d+)")
# LIFECYCLE_TABLES: created by db.grant, as the owner, for an app that may not create tables:
# db.reset under the role model empties them instead of dropping them, or the app could not
# seed afterwards and db.grant --check would find them gone (or, recreated by migrations,
# writable by the app).


def backup(settings: Settings, url: URL) -> Path:
    """Write a ``pg_dump`` archive of the application's schema; return its path."""
    login = _owner_login(settings)
    pg_dump = _tool(settings, "pg_dump", login.major)
    target = new_path(settings, url, PostgreSQL.backup_suffix)
    partial = partial_of(target)
    role = [f"--role={login.role}"] if login.role else []
    with unlinked_on_error(partial):
        create_private(partial)  # pg_dump truncates it and keeps its mode
        _run(
            [
                str(pg_dump),
                "--format=custom",
                f"--schema={login.schema}",
                *role,
                f"--file={partial}",
            ],
            login.url,
            connect=True,
            what="backup",
        )
    partial.replace(target)
    return target


def restore(settings: Settings, url: URL, path: Path, file: str) -> None:
    """Replace what the application's schema holds by the archive at ``path``, atomically."""
    login = _owner_login(settings, drops=True)
    major = login.major
    pg_restore = _tool(settings, "pg_restore", major)
    psql = pg_restore.with_name("psql")
    listing = _run([str(pg_restore), "--list", str(path)], url, what=f"reading {file!r}")
    # The schema itself stays (with its owner and grants); only what is inside is replaced.
    own_schema = re.compile(r"^\d+; \d+ \d+ (SCHEMA - |\S+ - SCHEMA )")
    kept = "\n".join(line for line in listing.splitlines() if not own_schema.match(line))
    with tempfile.TemporaryDirectory() as scratch:
        list_file = Path(scratch) / "restore.list"
        list_file.write_text(kept)
        # --single-transaction: one BEGIN first, one COMMIT last, none in between (large
        # objects would otherwise commit on their own).
        script = _run(
            [
                str(pg_restore),
                "--single-transaction",
                f"--use-list={list_file}",
                "--file=-",
                str(path),
            ],
            url,
            what=f"reading {file!r}",
        )
    if major < 17:  # written by a newer pg_restore for any server; older ones reject it
        script = script.replace("SET transaction_timeout = 0;\n", "")
    # As the owner: only an object's owner may drop it or ALTER ... OWNER TO as the dump does.
    role = f"SET ROLE {ident(login.role)};\n" if login.role else ""
    drops = (
        role
        + "SET client_min_messages = warning;\n"
        + "".join(f"{statement};\n" for statement in login.drops)
    )
    if " DEFAULT ACL " in kept:
        drops += _WITHOUT_DEFAULT_PRIVILEGES.replace("{schema}", literal(login.schema))
    # Not psql --single-transaction: at the end of its input psql COMMITs that one, so if this
    # process died mid-COPY, the rows sent so far would be committed. The script's own BEGIN
    # and COMMIT, the COMMIT last and only after the whole script was checked complete: input
    # that ends early ends without a COMMIT, psql exits and the server rolls back.
    _run(
        [str(psql), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-f", "-"],
        login.url,
        connect=True,
        stdin=_in_one_transaction(script, drops, file),
        what=f"restoring {file!r} (nothing was changed)",
    )


_COMMENT_OR_BLANK = re.compile(r"^(--.*|\\(un)?restrict \S+|\s*)$")


def _in_one_transaction(script: str, preamble: str, file: str) -> str:
    """``script`` (pg_restore --single-transaction) with ``preamble`` after its BEGIN, checked
    to be complete: one BEGIN before any statement, one COMMIT after every statement, and the
    dump's end marker after it. Anything else is refused before psql sees a line of it."""
    lines = script.splitlines(keepends=True)
    begin = next((i for i, line in enumerate(lines) if line == "BEGIN;\n"), None)
    commit = next((i for i in range(len(lines) - 1, -1, -1) if lines[i] == "COMMIT;\n"), None)
    tail = "".join(lines[commit + 1 :]) if commit is not None else ""
    if (
        begin is None
        or commit is None
        or commit < begin
        or not all(_COMMENT_OR_BLANK.match(line.rstrip("\n")) for line in lines[:begin])
        or not all(_COMMENT_OR_BLANK.match(line.rstrip("\n")) for line in lines[commit + 1 :])
        or "-- PostgreSQL database dump complete" not in tail
    ):
        raise TaskError(
            f"the backup {file!r} is incomplete or not a pg_dump archive this pg_restore reads"
            " (nothing was changed): restore another one (`ls` the backup folder)"
        )
    head, body = "".join(lines[: begin + 1]), "".join(lines[begin + 1 : commit])
    return head + preamble + body + "COMMIT;\n" + tail


def empty_schema(connection: Connection) -> tuple[list[str], list[str]]:
    """Drop every object of the application's schema (PostgreSQL); return what was dropped and
    the tables emptied instead.

    The schema itself, its owner, grants and default privileges stay, and so does the database:
    this works for a login that may not create databases, and keeps what a DBA set up. Under
    the role model (the migrator's connection, after SET ROLE the owner) the lifecycle tables
    db.grant created stay too, emptied, with their grants.
    """
    as_owner = connection.exec_driver_sql("SELECT current_user <> session_user").scalar()
    keep = LIFECYCLE_TABLES if as_owner else ()
    statements = _drop_statements_on(connection, keep)
    for statement in statements:
        connection.exec_driver_sql(statement)
    emptied = [
        str(name)
        for (name,) in connection.execute(
            text(
                "SELECT format('%I.%I', current_schema(), c.relname) FROM pg_class c"
                " WHERE c.relnamespace = current_schema()::regnamespace"
                " AND c.relkind IN ('r', 'p') AND c.relname = ANY(:keep) ORDER BY 1"
            ),
            {"keep": list(keep)},
        )
    ]
    if emptied:
        connection.exec_driver_sql(f"TRUNCATE {', '.join(emptied)}")
    return statements, emptied


@dataclass(frozen=True)
class _OwnerLogin:
    """How backups and restores connect: the migrator's URL, the role it sets, what it sees."""

    url: URL
    role: str | None  # the owner under the role model (SET ROLE), else None
    schema: str
    major: int
    drops: list[str]


def _owner_login(settings: Settings, *, drops: bool = False) -> _OwnerLogin:
    url = database_url(settings, setting="MIGRATOR_DATABASE_URL")
    engine = make_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            role = assume_migration_role(connection, settings)
            # After SET ROLE: the migrator alone may not even use the schema, so the search
            # path would skip it.
            schema, version = connection.execute(
                text("SELECT current_schema(), current_setting('server_version_num')::int")
            ).one()
            statements = _drop_statements_on(connection) if drops else []
    finally:
        engine.dispose()
    return _OwnerLogin(url, role, str(schema or "public"), int(version) // 10000, statements)


# A dump's ACL entries are differences from the built-in defaults, not from the schema's
# default privileges: replayed while those are in force, a table the app may only read (such
# as alembic_version under the role model) would come back writable. Without them until the
# dump's own DEFAULT ACL entries, replayed last, put them back, every object gets exactly the
# privileges it had. Only the current role's own, in this schema: the ones that apply here.
_WITHOUT_DEFAULT_PRIVILEGES = """DO $$
DECLARE
  d record;
BEGIN
  FOR d IN SELECT a.defaclobjtype AS kind, x.grantee
             FROM pg_default_acl a, aclexplode(a.defaclacl) x
            WHERE a.defaclnamespace = to_regnamespace({schema})
              AND a.defaclrole = current_user::regrole LOOP
    EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %I REVOKE ALL ON %s FROM %s', {schema},
      CASE d.kind WHEN 'r' THEN 'TABLES' WHEN 'S' THEN 'SEQUENCES' WHEN 'f' THEN 'FUNCTIONS'
                  ELSE 'TYPES' END,
      CASE WHEN d.grantee = 0 THEN 'PUBLIC' ELSE d.grantee::regrole::text END);
  END LOOP;
END $$;
"""


def _drop_statements_on(connection: Connection, keep: tuple[str, ...] = ()) -> list[str]:
    # Objects of current_schema() that no extension owns: views, tables, sequences, types,
    # routines, in that order; CASCADE takes dependants, IF EXISTS skips what went with them.
    # Tables named in ``keep`` stay.
    not_extension = (
        "NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = {oid} AND d.deptype = 'e')"
    )
    query = f"""
        SELECT format('DROP %s IF EXISTS %I.%I CASCADE',
                      CASE c.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW'
                                     WHEN 'S' THEN 'SEQUENCE' WHEN 'f' THEN 'FOREIGN TABLE'
                                     ELSE 'TABLE' END,
                      n.nspname, c.relname),
               CASE c.relkind WHEN 'v' THEN 1 WHEN 'm' THEN 1 WHEN 'S' THEN 3 ELSE 2 END
          FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
           AND NOT c.relispartition AND {not_extension.format(oid="c.oid")}
           AND NOT (c.relkind IN ('r', 'p') AND c.relname = ANY(:keep))
        UNION ALL
        SELECT format('DROP TYPE IF EXISTS %I.%I CASCADE', n.nspname, t.typname), 4
          FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
          LEFT JOIN pg_class c ON c.oid = t.typrelid
         WHERE n.nspname = current_schema() AND t.typtype IN ('e', 'd', 'r', 'c')
           AND (t.typtype <> 'c' OR c.relkind = 'c') AND {not_extension.format(oid="t.oid")}
        UNION ALL
        SELECT format('DROP ROUTINE IF EXISTS %s CASCADE', p.oid::regprocedure), 5
          FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
         WHERE n.nspname = current_schema() AND p.prokind IN ('f', 'p')
           AND {not_extension.format(oid="p.oid")}
        ORDER BY 2, 1
    """
    return [row[0] for row in connection.execute(text(query), {"keep": list(keep)})]


def _tool(settings: Settings, name: str, server_major: int) -> Path:
    """The oldest ``name`` program that still handles a server of ``server_major``."""
    explicit = settings.get("POSTGRES_BIN_DIR")
    folders = [Path(explicit)] if explicit else []
    if not explicit:
        found = shutil.which(name)
        folders += [p for p in (local.bin_dir(), Path(found).parent if found else None) if p]
    candidates: list[tuple[int, Path]] = []
    for folder in folders:
        program = folder / name
        if not (program.is_file() and os.access(program, os.X_OK)):
            continue
        try:
            output = subprocess.run(  # noqa: S603 - our own path, no shell
                [str(program), "--version"], capture_output=True, text=True, timeout=30
            ).stdout
        except OSError:
            continue
        match = _TOOL_VERSION.search(output)
        if match:
            candidates.append((int(match[1]), program))
    if not candidates:
        where = f"POSTGRES_BIN_DIR={explicit}" if explicit else "PATH nor the embedded server"
        raise TaskError(
            f"{name} not found in {where}: install the PostgreSQL {server_major} client programs "
            f"(e.g. apt install postgresql-client-{server_major}) or set POSTGRES_BIN_DIR"
        )
    usable = sorted(c for c in candidates if c[0] >= server_major)
    if not usable:
        major, program = max(candidates)
        raise TaskError(
            f"{program} is version {major}, older than the server ({server_major}): install the "
            f"PostgreSQL {server_major} client programs or set POSTGRES_BIN_DIR"
        )
    # The closest version: its archives and scripts suit this server best (a newer pg_restore
    # writes settings an older server rejects, an older one cannot read a newer archive).
    return usable[0][1]


def _libpq(url: URL) -> tuple[str, dict[str, str]]:
    """libpq keyword parameters without the password, and the environment that carries it.

    Never a URI re-rendered by SQLAlchemy: ``URL.set(password=None)`` keeps the password (None
    means "unchanged" there), and ``ps`` shows a child's arguments to every local user.
    """
    env = dict(os.environ)
    # The programs' own words in English, whatever the user's locale: _failure_line finds the
    # line that says why by them. The server's words stay in the server's language.
    env.pop("LC_ALL", None)
    env["LC_MESSAGES"] = "C"
    keywords = {
        "host": url.host,
        "port": str(url.port) if url.port else None,
        "dbname": url.database,
        "user": url.username,
    }
    for key, value in url.query.items():  # sslmode=require and the like
        keywords[key] = value[-1] if isinstance(value, tuple) else value
    password = keywords.pop("password", None) or url.password
    if password:
        env["PGPASSWORD"] = str(password)
    conninfo = " ".join(
        f"{key}={_conninfo_value(str(value))}" for key, value in keywords.items() if value
    )
    return conninfo, env


def _conninfo_value(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace("'", "\\'")
    return f"'{escaped}'"


def _run(
    args: list[str],
    url: URL,
    *,
    connect: bool = False,
    stdin: str | None = None,
    what: str | None = None,
) -> str:
    conninfo, env = _libpq(url)
    if connect:
        args = [*args, "--dbname", conninfo]
    try:
        result = subprocess.run(  # noqa: S603 - a PostgreSQL program, no shell
            args, input=stdin, capture_output=True, text=True, env=env
        )
    except OSError as exc:
        raise TaskError(f"cannot run {args[0]}: {exc.strerror}") from exc
    if result.returncode != 0:
        name = Path(args[0]).name
        detail = _failure_line(name, result.stderr) or f"exit status {result.returncode}"
        raise TaskError(mask_secrets(f"{what or name} failed: {name}: {detail}"))
    return result.stdout


def _failure_line(program: str, stderr: str) -> str | None:
    """The line of ``stderr`` that says why ``program`` failed, without its prefix.

    Chosen by where the programs put it, not by words a server translates (``ERROR`` is
    ``FEHLER`` under ``lc_messages = 'de_DE'``): the program's own ``error:`` line (its words
    are English, _run sets LC_MESSAGES=C), else the last statement-located line of psql
    (``psql:<stdin>:12:``; with ON_ERROR_STOP nothing follows the error but its DETAIL, HINT and
    LINE, which carry no location; the notices and warnings before it do).
    """
    lines = [line for line in stderr.splitlines() if line.strip()]
    own = [line for line in lines if line.startswith(f"{program}: error: ")]
    located = [line for line in lines if re.match(rf"{program}:<stdin>:\d+: ", line)]
    chosen = own[:1] or located[-1:] or lines[:1]
    if not chosen:
        return None
    detail = re.sub(rf"^{program}(:<stdin>:\d+)?: (error: )?", "", chosen[0])
    # The server's severity word, in whatever language: "ERROR:  ", "FEHLER:  ".
    return re.sub(r"^[^\s:]+: {2}", "", detail)
