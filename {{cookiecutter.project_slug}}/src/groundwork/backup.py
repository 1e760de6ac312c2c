"""Backups and restores of the configured database, and emptying it for ``db.reset``.

PostgreSQL: ``pg_dump --format=custom`` of the application's schema (the schema of
``alembic_version``); a restore empties that schema and replays the dump through ``psql`` in one
explicit transaction whose ``COMMIT`` is sent only after the whole script, checked complete: if
anything dies on the way (this process, psql, the server), psql reaches the end of its input
without a COMMIT and the server rolls everything back. Both connect as migrations do:
``MIGRATOR_DATABASE_URL`` (falling back to ``DATABASE_URL``), and under the role model as the
owner (``SET ROLE``), who alone may drop and recreate the schema's tables and sees all of them.
The client programs are taken from ``POSTGRES_BIN_DIR`` when set, otherwise the PATH's or the
embedded server's, whichever is the closest version not older than the server (``pg_dump``
refuses servers newer than itself). They get the connection as libpq keywords on the command
line and the password in their environment (``PGPASSWORD``), never in their arguments.

SQLite: the online backup API (``sqlite3.Connection.backup``), consistent while the file is in
use, and the same API copies a backup back.

Backups go to ``BACKUP_DIR`` (default ``backups/``, git-ignored, mode 0700) as
``<database>-<UTC time>.dump`` / ``.sqlite3`` (``..._2.dump`` and on for a second backup within
the same second), mode 0600, so the names sort in the order the backups were taken and
``latest`` names the newest. A file is written under a hidden name,
``.<name>.<host>-<pid>.partial``, and renamed when complete, so an interrupted backup never
looks like a good one; the next backup removes the partial files of processes that are gone.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import sqlite3
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Connection, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import NullPool

from . import local
from .engine import database_url, make_engine
from .errors import TaskError, mask_secrets
from .protection import database_label
from .quoting import ident, literal
from .roles.names import assume_migration_role
from .roles.tables import READ_ONLY_TABLES, SEED_TABLES
from .settings import Settings
from .urls import backend_of

_SQLITE_HEADER = b"SQLite format 3\x00"
_TOOL_VERSION = re.compile(r"\(PostgreSQL\)\s+(\d+)")
# Created by db.grant, as the owner, for an app that may not create tables: db.reset under the
# role model empties them instead of dropping them, or the app could not seed afterwards and
# db.grant --check would find them gone (or, recreated by migrations, writable by the app).
LIFECYCLE_TABLES = (*READ_ONLY_TABLES, *SEED_TABLES)
LATEST = "latest"  # db.restore latest: the newest backup of the configured database


def backup_dir(settings: Settings) -> Path:
    raw = settings.get("BACKUP_DIR")
    path = Path(raw) if raw else settings.project_root / "backups"
    return path if path.is_absolute() else settings.project_root / path


def _new_path(settings: Settings, url: str, suffix: str) -> Path:
    folder = _private_folder(backup_dir(settings))
    _remove_stale_partials(folder)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    base = f"{_name_of(url)}-{stamp}"
    path = folder / f"{base}{suffix}"
    n = 2
    while path.exists():
        # "_" sorts after "." so that a later backup of the same second also sorts later.
        path = folder / f"{base}_{n:02}{suffix}"
        n += 1
    return path


def _name_of(url: str) -> str:
    return database_label(url).removesuffix(".sqlite3")


def _private_folder(folder: Path) -> Path:
    """``folder``, created 0700 (only its owner may list or read backups), or tightened to 0700
    when this user owns it; a shared sticky folder such as /tmp is left alone."""
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = folder.stat()
        if info.st_mode & 0o077 and info.st_uid == os.getuid() and not info.st_mode & stat.S_ISVTX:
            folder.chmod(0o700)
    except OSError as exc:
        raise TaskError(f"cannot create the backup folder {folder}: {exc.strerror}") from exc
    if not os.access(folder, os.W_OK):
        raise TaskError(f"the backup folder {folder} is not writable: fix it or set BACKUP_DIR")
    return folder


def _partial_of(target: Path) -> Path:
    """Where ``target`` is written until complete: hidden (``ls`` and ``latest`` skip it), never
    ending like a backup, and naming the host and process, so a later backup can tell when it
    was abandoned."""
    return target.with_name(f".{target.name}.{socket.gethostname()}-{os.getpid()}.partial")


# SQLite writes its journal (and WAL files) next to the partial file, under its name.
_PARTIAL_SUFFIXES = ("", "-journal", "-wal", "-shm")
_STALE_AFTER = 24 * 3600  # seconds without a write: abandoned, whichever host wrote it


def _remove_partial(partial: Path) -> None:
    for suffix in _PARTIAL_SUFFIXES:
        partial.with_name(partial.name + suffix).unlink(missing_ok=True)


def _remove_stale_partials(folder: Path) -> None:
    """Remove the partial files of backups whose process is gone (killed, or its machine
    crashed): those of this host whose process no longer runs, and any untouched for a day."""
    this_host = re.compile(
        rf"^\..+\.{re.escape(socket.gethostname())}-(\d+)\.partial(-journal|-wal|-shm)?$"
    )
    now = datetime.now(UTC).timestamp()
    for path in folder.glob(".*.partial*"):
        match = this_host.match(path.name)
        try:
            stale = (match is not None and not _running(int(match[1]))) or (
                now - path.stat().st_mtime > _STALE_AFTER
            )
            if stale:
                path.unlink()
        except OSError:
            continue  # gone already, or not ours to remove: it stays hidden either way


def _running(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True


def _create_private(path: Path) -> None:
    """Create ``path`` empty with mode 0600 before anything is written into it."""
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def latest_backup(settings: Settings, url: str) -> Path | None:
    """The newest backup of the database of ``url`` in the backup folder, or None."""
    suffix = ".sqlite3" if backend_of(url) == "sqlite" else ".dump"
    stamp = r"-(\d{8}T\d{6}Z)(?:_(\d+))?"  # not an f-string: the template renders double braces
    named = re.compile(f"^{re.escape(_name_of(url))}{stamp}{re.escape(suffix)}$")
    found = []
    folder = backup_dir(settings)
    for path in folder.iterdir() if folder.is_dir() else ():
        match = named.match(path.name)
        if match and path.is_file():
            found.append((match[1], int(match[2] or 1), path))
    return max(found)[2] if found else None


def backup(settings: Settings, url: str) -> Path:
    """Write a backup of the database of ``url``; return its path."""
    if backend_of(url) == "sqlite":
        source = _sqlite_path(url)
        if not source.is_file():
            raise TaskError(f"no database to back up: {source} does not exist")
        target = _new_path(settings, url, ".sqlite3")
        partial = _partial_of(target)
        # The source is opened for writing: after a crash its hot journal must be rolled back
        # before it can be read (read-only, SQLite refuses). The backup API only reads it.
        with _unlinked_on_error(partial):
            _create_private(partial)
            with _SQLite(source, mode="rw") as src, _SQLite(partial) as dst:
                src.backup(dst)
        partial.replace(target)
        return target
    login = _owner_login(settings)
    pg_dump = _tool(settings, "pg_dump", login.major)
    target = _new_path(settings, url, ".dump")
    partial = _partial_of(target)
    role = [f"--role={login.role}"] if login.role else []
    with _unlinked_on_error(partial):
        _create_private(partial)  # pg_dump truncates it and keeps its mode
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


def restore(settings: Settings, url: str, file: str) -> Path:
    """Replace the contents of the database of ``url`` by the backup ``file`` (``latest``: the
    newest backup of this database), atomically; return the backup's path."""
    path = Path(file).expanduser()
    if not path.is_absolute() and not path.exists():
        path = settings.project_root / path
    if file == LATEST and not path.exists():
        newest = latest_backup(settings, url)
        if newest is None:
            raise TaskError(
                f"no backup of {database_label(url)} in {backup_dir(settings)}:"
                " `invoke db.backup` writes one"
            )
        path, file = newest, str(newest)
    if not path.is_file():
        raise TaskError(f"backup {file!r} not found: `ls {backup_dir(settings)}` lists them")
    if backend_of(url) == "sqlite":
        if path.read_bytes()[: len(_SQLITE_HEADER)] != _SQLITE_HEADER:
            raise TaskError(f"{file!r} is not a SQLite backup (wrong file header)")
        target = _sqlite_path(url)
        target.parent.mkdir(parents=True, exist_ok=True)
        with _SQLite(path, readonly=True) as src:
            ok = src.execute("PRAGMA quick_check").fetchone()
            if not ok or ok[0] != "ok":
                raise TaskError(f"the backup {file!r} is damaged: {ok[0] if ok else '?'}")
            with _SQLite(target) as dst:
                src.backup(dst)  # one write transaction on the target: all or nothing
        return path
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
    return path


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

    url: str
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


@contextmanager
def _unlinked_on_error(partial: Path) -> Iterator[None]:
    """Remove ``partial`` when the block fails: a failed backup leaves no file behind."""
    try:
        yield
    except BaseException:
        _remove_partial(partial)
        raise


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


def _libpq(url: str) -> tuple[str, dict[str, str]]:
    """libpq keyword parameters without the password, and the environment that carries it.

    Never a URI re-rendered by SQLAlchemy: ``URL.set(password=None)`` keeps the password (None
    means "unchanged" there), and ``ps`` shows a child's arguments to every local user.
    """
    parsed: URL = make_url(url)
    env = dict(os.environ)
    keywords = {
        "host": parsed.host,
        "port": str(parsed.port) if parsed.port else None,
        "dbname": parsed.database,
        "user": parsed.username,
    }
    for key, value in parsed.query.items():  # sslmode=require and the like
        keywords[key] = value[-1] if isinstance(value, tuple) else value
    password = keywords.pop("password", None) or parsed.password
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
    url: str,
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
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        errors = [line for line in lines if "ERROR" in line or "error:" in line or "FATAL" in line]
        detail = (errors or lines or [f"exit status {result.returncode}"])[0]
        name = Path(args[0]).name
        detail = re.sub(
            r"^(pg_dump|pg_restore|psql)(:<stdin>:\d+)?: (error: )?(ERROR: +)?", "", detail
        )
        raise TaskError(mask_secrets(f"{what or name} failed: {name}: {detail}"))
    return result.stdout


def _sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:":
        raise TaskError("an in-memory SQLite database cannot be backed up or restored")
    return Path(database)


class _SQLite:
    """``sqlite3.connect`` as a context manager that closes (sqlite3's own only commits)."""

    def __init__(self, path: Path, *, readonly: bool = False, mode: str = "rwc") -> None:
        self.path, self.mode = path, "ro" if readonly else mode

    def __enter__(self) -> sqlite3.Connection:
        try:
            if self.mode == "rwc":
                self.connection = sqlite3.connect(self.path)
            else:
                self.connection = sqlite3.connect(f"file:{self.path}?mode={self.mode}", uri=True)
            self.connection.execute("PRAGMA busy_timeout = 5000")
        except sqlite3.Error as exc:
            raise TaskError(f"cannot open {self.path}: {exc}") from exc
        return self.connection

    def __exit__(self, *_: object) -> None:
        self.connection.close()
