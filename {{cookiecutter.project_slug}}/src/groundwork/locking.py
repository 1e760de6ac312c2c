"""The migration lock, migration timeouts and waiting for the server: running from many replicas.

PostgreSQL: every task that changes the schema holds an advisory lock keyed on database +
schema + version table, so that replicas starting ``db.migrate`` together run each migration
once and the others find the database at head. The lock lives on a connection of its own: it
must outlast the migration's transaction (and any ``autocommit_block``, and the several
transactions of reset and restore).

It is a transaction-level lock (``pg_try_advisory_xact_lock``) taken in a transaction that the
lock connection keeps open until the task ends, then commits. That is what makes it hold through
PgBouncer in transaction pooling, where a session-level lock is taken on whichever server
connection the pooler lends for one statement, released (or not) on another one, and a lock left
behind then blocks every migrator until the pooler restarts: a client inside a transaction keeps
its server connection, and when the client dies the pooler closes that server connection, whose
backend then ends and drops the lock. A lock never outlives its process; a release (the COMMIT)
that fails is reported. Waiters poll in short transactions of their own, so that they do not
hold the pool's server connections while they wait. Every task connection turns psycopg's
automatic prepared statements off (``prepare_threshold=None``, see :func:`task_connect_args`):
through a transaction pooler a prepared statement lands on a server connection another client
uses next ("prepared statement "_pg3_0" already exists").

SQLite: the file's write lock serialises writers. Tasks that write take it at BEGIN (``BEGIN
IMMEDIATE``, ``sqlite_begin_immediate``), waiting at most ``--lock-timeout`` seconds and saying
which process holds it: replicas starting together take turns instead of failing.
"""

from __future__ import annotations

import hashlib
import os
import random
import socket
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from .backends import backend_for, backend_named
from .engine import make_engine
from .errors import TaskError, describe, details, sqlite_busy, sqlstate_of
from .project import current as current_project
from .roles.names import assume_migration_role
from .roles.tables import VERSION_TABLE
from .server_answer import answer
from .settings import Settings

DEFAULT_LOCK_WAIT = 60.0
DEFAULT_PG_LOCK_TIMEOUT = "5s"
DEFAULT_PG_STATEMENT_TIMEOUT = "15min"
DEFAULT_LOCK_RETRIES = 5
DEFAULT_RETRY_TIME = 300.0
DEFAULT_RETRY_BACKOFF = 1.0
_MAX_BACKOFF = 30.0
_POLL_SECONDS = 0.25

# Locks this process holds already, by key (two spellings of one URL are one lock): reset ->
# upgrade must not wait for itself.
_held: set[int] = set()


def seconds_setting(settings: Settings, name: str, default: float) -> float:
    """A number of seconds: a task's option for it, else the setting (a one-line error naming
    a bad value), else ``default``."""
    if name in settings.seconds:
        return settings.seconds[name]
    raw = settings.get(name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if value < 0 or value != value:  # negative or NaN
        raise TaskError(f"{name}={raw!r} is not a number of seconds (e.g. 60)")
    return value


def count_setting(settings: Settings, name: str, default: int) -> int:
    """A number of times: the setting (a one-line error naming a bad value), else ``default``."""
    raw = settings.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = -1
    if value < 0:
        raise TaskError(f"{name}={raw!r} is not a number of times (e.g. 5; 0: never)")
    return value


def lock_key(database: str, schema: str) -> int:
    """The advisory lock id: a stable signed 64-bit hash of database + schema + version table."""
    digest = hashlib.sha256(f"{database}\0{schema}\0{VERSION_TABLE}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _application_name() -> str:
    # Shown to the waiting processes (and in pg_stat_activity): which machine and process.
    package = current_project().package
    return f"{package} migrations pid {os.getpid()} on {socket.gethostname()}"[:63]


def _holder(connection: Connection, key: int) -> str:
    unsigned = key & 0xFFFFFFFFFFFFFFFF
    row = connection.execute(
        text(
            "SELECT a.pid, coalesce(a.xact_start, a.backend_start), a.application_name,"
            " a.client_addr::text"
            " FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid"
            " WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1"
            " AND l.classid = :classid AND l.objid = :objid"
            " AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        ),
        {"classid": unsigned >> 32, "objid": unsigned & 0xFFFFFFFF},
    ).first()
    if row is None:
        return "another session (gone by now)"
    pid, since, application, client = row
    parts = [f"server pid {pid}"]
    if since is not None:
        parts.append(f"since {since:%Y-%m-%d %H:%M:%S %Z}".strip())
    if application:
        parts.append(f"({application})")
    if client:
        parts.append(f"from {client}")
    return " ".join(parts)


def lock_wait(settings: Settings) -> float:
    """Seconds to wait for another process's migration: ``MIGRATION_LOCK_WAIT``, --lock-timeout."""
    return seconds_setting(settings, "MIGRATION_LOCK_WAIT", DEFAULT_LOCK_WAIT)


def task_connect_args(url: URL, **extra: Any) -> dict[str, Any]:
    """psycopg connect arguments of a task's connection: no automatic prepared statements.

    psycopg prepares a statement run five times on a connection; through PgBouncer in
    transaction pooling (before 1.21) that prepared statement stays on a server connection that
    another client gets next, which then fails ("prepared statement "_pg3_0" already exists").
    A task runs each statement a few times at most: preparing gains it nothing.
    """
    return backend_for(url).task_connect_args(extra)


@contextmanager
def migration_lock(settings: Settings, url: URL) -> Iterator[None]:
    """Hold the migration lock of ``url`` (PostgreSQL) for the duration of the block.

    Waits at most ``MIGRATION_LOCK_WAIT`` seconds (``--lock-timeout``), saying once who holds
    it, then fails with one line naming the holder. Re-entrant within a process: reset and
    restore hold it around the upgrade or the drops that take it again.
    """
    if not backend_for(url).has_server:  # SQLite: the file's write lock (BEGIN IMMEDIATE)
        yield
        return
    wait = lock_wait(settings)
    engine = make_engine(
        url,
        poolclass=NullPool,
        connect_args=task_connect_args(url, application_name=_application_name()),
    )
    try:
        with engine.connect() as connection:
            transaction = connection.begin()
            database, key = _identity(connection, settings)
            if key in _held:
                transaction.rollback()
                yield
                return
            deadline = time.monotonic() + wait
            reported = False
            while not _try_lock(connection, key):
                holder = _holder(connection, key)
                # Not waiting inside a transaction: through a pooler that would hold one of
                # its server connections per waiter, which the holder may need to migrate.
                transaction.rollback()
                if time.monotonic() >= deadline:
                    raise TaskError(
                        f"the migration lock of database {database!r} is held by {holder}; "
                        f"gave up after {wait:g} s: retry later, or raise --lock-timeout"
                    )
                if not reported:
                    print(f"Waiting for the migration lock, held by {holder}", file=sys.stderr)
                    reported = True
                time.sleep(_POLL_SECONDS)
                transaction = connection.begin()
            _held.add(key)
            failed = False
            try:
                yield
            except BaseException:
                failed = True
                raise
            finally:
                _held.discard(key)
                _release(transaction, database, quiet=failed)
    finally:
        engine.dispose()


def _try_lock(connection: Connection, key: int) -> bool:
    """Take the lock for the rest of the open transaction, if free; no wait.

    The lock's transaction stays idle until the task ends: server-side idle and transaction
    timeouts must not end it (and the lock) under a running migration.
    """
    locked = connection.execute(text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": key})
    if not locked.scalar():
        return False
    connection.execute(
        text(
            "SELECT set_config(name, '0', true) FROM pg_settings"
            " WHERE name IN ('idle_in_transaction_session_timeout', 'transaction_timeout')"
        )
    )
    return True


def _release(transaction: Any, database: str, *, quiet: bool) -> None:
    """End the lock's transaction, which releases the lock; a failure is never silent.

    A release that fails means the lock's connection (and the lock) went away while the task
    ran: another migrator may have run at the same time. After a task that succeeded, that is
    the task's error. After one that failed (``quiet``), its own error is the one line to
    report: its transaction was rolled back, so nothing was committed without the lock, and the
    usual cause of both (the server went away) is in that line already.
    """
    try:
        transaction.commit()
    except DBAPIError as exc:
        if quiet:
            return
        raise TaskError(
            f"the migration lock of database {database!r} was lost before its release "
            f"({describe(exc)}): another migrator may have run at the same time; "
            "check `invoke db.status` and `invoke db.check`"
        ) from exc


def _identity(connection: Connection, settings: Settings) -> tuple[str, int]:
    """The database's name and the lock key, the same whichever login a task connects with.

    The schema is the one the migrations write their version table to: the current schema
    once the migration role is assumed (SET ROLE the owner, under the role model). Before it,
    the migrator may not even use that schema and PostgreSQL skips it in the search path, so
    the app and the migrator would compute different keys and never exclude each other.
    """
    role = assume_migration_role(connection, settings)
    database, schema = connection.execute(text("SELECT current_database(), current_schema()")).one()
    if role is not None:
        # Back to the login: it may read its own sessions' pg_stat_activity rows (the
        # holder's pid and start), which the owner may not.
        connection.exec_driver_sql("RESET ROLE")
    return str(database), lock_key(database, schema or "public")


def apply_timeouts(settings: Settings, connection: Connection, *, local: bool = True) -> None:
    """``lock_timeout``/``statement_timeout`` for this migration transaction (PostgreSQL);
    for the session when not ``local`` (a revision's autocommit block, safe.py).

    A migration queued behind a long transaction on a busy table holds its ACCESS EXCLUSIVE
    request and blocks every later query on that table; failing after a few seconds is kinder
    to the traffic than stalling it.
    """
    if not backend_named(connection.dialect.name).has_server:
        return
    for setting, name, default in (
        ("lock_timeout", "MIGRATION_LOCK_TIMEOUT", DEFAULT_PG_LOCK_TIMEOUT),
        ("statement_timeout", "MIGRATION_STATEMENT_TIMEOUT", DEFAULT_PG_STATEMENT_TIMEOUT),
    ):
        value = settings.get(name, default) or default
        try:
            connection.execute(
                text("SELECT set_config(:setting, :value, :local)"),
                {"setting": setting, "value": value, "local": local},
            )
        except DBAPIError as exc:
            raise TaskError(f"{name}={value!r} is not a valid {setting} (e.g. 5s, 2min)") from exc


# -- retrying a migration run that hit lock_timeout -------------------------------------------

# lock_not_available: lock_timeout (or a NOWAIT) gave up on a lock another session holds.
_LOCK_NOT_AVAILABLE = "55P03"


def _lock_timeout_in(exc: BaseException) -> BaseException | None:
    """The database error of SQLSTATE 55P03 behind ``exc`` (the one-line TaskError a failed
    revision becomes is raised from it), by its code; None when the failure is another one."""
    seen: set[int] = set()
    each: BaseException | None = exc
    while each is not None and id(each) not in seen:
        seen.add(id(each))
        if sqlstate_of(each) == _LOCK_NOT_AVAILABLE:
            return each
        each = each.__cause__ or each.__context__
    return None


def retrying_lock_timeouts(settings: Settings, run: Callable[[], None]) -> None:
    """``run`` (a whole migration run, one transaction), run again when it hit lock_timeout.

    A DDL statement queued behind a long transaction gives up after ``MIGRATION_LOCK_TIMEOUT``
    (so that the traffic queued behind it moves again), the run rolls back, and after a backoff
    (``MIGRATION_RETRY_BACKOFF`` seconds, doubling, capped at 30 s, with jitter) it starts over
    from what is committed: at most ``MIGRATION_LOCK_RETRIES`` times, and no retry starts later
    than ``MIGRATION_RETRY_TIME`` seconds after the first attempt. Each retry says so on one
    line naming the sessions holding the tables; the caller holds the migration lock across
    them. Any other failure is not retried. SQLite never fails this way (its lock wait is
    BEGIN IMMEDIATE's busy timeout).
    """
    retries = count_setting(settings, "MIGRATION_LOCK_RETRIES", DEFAULT_LOCK_RETRIES)
    total = seconds_setting(settings, "MIGRATION_RETRY_TIME", DEFAULT_RETRY_TIME)
    backoff = seconds_setting(settings, "MIGRATION_RETRY_BACKOFF", DEFAULT_RETRY_BACKOFF)
    deadline = time.monotonic() + total
    attempt = 1
    while True:
        try:
            run()
            return
        except Exception as exc:
            timed_out = _lock_timeout_in(exc)
            if timed_out is None or retries == 0:
                raise
            # Jitter: migrators of several databases behind one busy server do not come back
            # in step; 75 to 100 % of the doubled wait, so that the cap still holds. Not a
            # secret: the standard generator is fine.
            jitter = random.uniform(0.75, 1.0)  # noqa: S311
            delay = min(_MAX_BACKOFF, backoff * 2 ** (attempt - 1)) * jitter
            if attempt > retries or time.monotonic() + delay > deadline:
                raise TaskError(
                    f"{describe(exc)} (gave up after {attempt} attempts: "
                    f"MIGRATION_LOCK_RETRIES={retries}, MIGRATION_RETRY_TIME={total:g})"
                ) from exc
            blockers = details(timed_out) or "the sessions holding the lock are gone by now"
            print(
                f"Lock timeout on attempt {attempt} of {retries + 1} ({blockers}): "
                f"rolled back, retrying in {delay:.1f} s",
                file=sys.stderr,
            )
        time.sleep(delay)
        attempt += 1


# What a server still starting (or shutting down, or in recovery) answers: cannot_connect_now.
# No answer at all (refused, no socket yet, timed out, closed) is retried too.
_NOT_YET = "57P03"


def wait_for_server(url: URL, seconds: float) -> None:
    """Retry connecting to the server of ``url`` until it accepts, for at most ``seconds``.

    Only "not up yet" errors are retried: a wrong password or a missing database means the
    server is up, and the task goes on to report (or fix) it.
    """
    if seconds <= 0 or not backend_for(url).has_server:
        return
    target = url.set(database="postgres")
    deadline = time.monotonic() + seconds
    announced = False
    while True:
        engine = make_engine(target, poolclass=NullPool, connect_args=_connect_timeout())
        try:
            with engine.connect():
                return
        except DBAPIError as exc:
            said = answer(exc)
            if said is not None and said != _NOT_YET:
                return
            message = describe(exc)
            if time.monotonic() >= deadline:
                raise TaskError(
                    f"the server did not accept connections in {seconds:g} s: {message}"
                ) from exc
            if not announced:
                print(f"Waiting up to {seconds:g} s for the database server...")
                announced = True
            time.sleep(0.5)
        finally:
            engine.dispose()


def _connect_timeout() -> dict[str, Any]:
    return {"connect_timeout": 3}


# -- waiting for a lock, said the same way by every task ---------------------------------------


def say_waiting(what: str, holder: str, wait: float) -> None:
    """The one line a task prints, once, when it starts waiting for ``what``."""
    print(f"Waiting up to {wait:g} s for {what}, held by {holder}", file=sys.stderr)


def gave_up(what: str, holder: str, wait: float) -> TaskError:
    """The one-line failure of a task that waited ``wait`` seconds for ``what`` in vain."""
    return TaskError(
        f"{what} is held by {holder}; gave up after {wait:g} s: retry when it is done, "
        "or raise --lock-timeout"
    )


# -- SQLite: the file's write lock -----------------------------------------------------------


def sqlite_begin_immediate(
    connection: Connection, path: str | None, wait: float, what: str = "the SQLite write lock"
) -> None:
    """``BEGIN IMMEDIATE`` on a SQLite connection: take the write lock, waiting at most ``wait``.

    The first attempt does not wait; when another writer holds the lock, the task says once
    what it waits for (naming the process, where the system tells), waits in SQLite's busy
    handler for at most ``wait`` seconds, then gives up with one line. Taking the lock at BEGIN
    is what lets concurrent writers (replicas running ``db.init`` together) take turns: two
    deferred transactions that both read, then both write, deadlock, and SQLite fails one of
    them at once whatever its busy timeout.
    """
    name = f"{what} of {path}" if path else what
    previous = connection.exec_driver_sql("PRAGMA busy_timeout").scalar()
    connection.exec_driver_sql("PRAGMA busy_timeout = 0")
    try:
        try:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
            return
        except DBAPIError as exc:
            if not sqlite_busy(exc.orig):
                raise
            if wait <= 0:
                raise gave_up(name, sqlite_writer(path), wait) from exc
        say_waiting(name, sqlite_writer(path), wait)
        connection.exec_driver_sql(f"PRAGMA busy_timeout = {max(1, int(wait * 1000))}")
        try:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        except DBAPIError as exc:
            if not sqlite_busy(exc.orig):
                raise
            raise gave_up(name, sqlite_writer(path), wait) from exc
    finally:
        connection.exec_driver_sql(f"PRAGMA busy_timeout = {int(previous or 0)}")


def sqlite_writer(path: str | None) -> str:
    """Who holds the write lock of the SQLite file ``path``: pid and command, where Linux tells.

    SQLite's locks are POSIX byte-range locks on the file (rollback journal) or on its ``-shm``
    index (WAL); ``/proc/locks`` lists their holders without opening the file, which would drop
    this process's own locks on it.
    """
    inodes: set[int] = set()
    for suffix in ("", "-shm"):
        try:
            inodes.add(os.stat(f"{path}{suffix}").st_ino)
        except OSError:
            continue  # no such file (no -shm outside WAL mode), or no path at all
    pids: list[int] = []
    try:
        with open("/proc/locks", encoding="ascii", errors="replace") as locks:
            for line in locks:
                fields = line.split()
                if "->" in fields or len(fields) < 8 or fields[3] != "WRITE":
                    continue  # a waiter, or a shared (read) lock
                try:
                    pid, inode = int(fields[4]), int(fields[5].rsplit(":", 1)[1])
                except (ValueError, IndexError):
                    continue
                if inode in inodes and pid > 0 and pid != os.getpid() and pid not in pids:
                    pids.append(pid)
    except OSError:
        pass
    if not pids:
        return "another process (a migration, a seed or an application transaction)"
    return ", ".join(f"pid {pid}{_command_of(pid)}" for pid in pids)


def _command_of(pid: int) -> str:
    """`` (python -m invoke db.seed)``: the command line of process ``pid``, where Linux tells."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as file:
            words = [w.decode(errors="replace") for w in file.read().split(b"\0") if w]
    except OSError:
        return ""
    if not words:
        return ""
    command = " ".join([os.path.basename(words[0]), *words[1:]])
    return f" ({command[:80]})"
