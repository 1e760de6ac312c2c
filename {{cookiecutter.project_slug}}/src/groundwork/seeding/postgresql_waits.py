"""What a seed run waits for on PostgreSQL, said once, and for how long (``--lock-timeout``).

- The seed lock: a transaction-level advisory lock, so that two runs on one database take
  turns. A waiting run names the session that holds it (an abandoned session idle in its
  transaction, say) and gives up after ``--lock-timeout`` seconds with one line naming it.
- Everything else the run waits for (a row an application transaction has locked, a table
  locked by another writer) is bounded by ``lock_timeout`` set to the same seconds; a watch on
  a connection of its own asks ``pg_blocking_pids`` who blocks the run, says so once, and names
  that session in the line that ends a run whose lock wait timed out.

On SQLite, ``BEGIN IMMEDIATE`` waits for the file's write lock (db/locking.py): there is no
other lock for a seed run to wait for.
"""

from __future__ import annotations

import threading
import time
from types import TracebackType
from typing import Any

from sqlalchemy import Connection, text
from sqlalchemy.engine import URL
from sqlalchemy.pool import NullPool

from .. import locking
from ..engine import make_engine

# Any constant will do: it makes two `db.seed` runs on one database take turns.
SEED_LOCK = 0x5EED5EED
_POLL_SECONDS = 0.25
_WATCH_SECONDS = 0.5
_LOCK_NOT_AVAILABLE = "55P03"  # lock_timeout expired (SQLSTATE)

_SESSION = (
    "SELECT a.pid, a.state, a.xact_start, a.application_name, host(a.client_addr), a.query"
    " FROM pg_stat_activity a"
)


def seed_lock(connection: Connection, wait: float) -> None:
    """Take the seed lock for this transaction, waiting at most ``wait`` seconds; then bound
    every later lock wait of the transaction by ``wait`` too."""
    deadline = time.monotonic() + wait
    announced = False
    while not connection.exec_driver_sql(f"SELECT pg_try_advisory_xact_lock({SEED_LOCK})").scalar():
        holder = _seed_lock_holder(connection)
        if time.monotonic() >= deadline:
            raise locking.gave_up("the seed lock", holder, wait)
        if not announced:
            locking.say_waiting("the seed lock", holder, wait)
            announced = True
        time.sleep(_POLL_SECONDS)
    connection.exec_driver_sql(
        f"SELECT set_config('lock_timeout', '{max(1, int(wait * 1000))}ms', true)"
    )


def _seed_lock_holder(connection: Connection) -> str:
    row = connection.execute(
        text(
            f"{_SESSION} JOIN pg_locks l ON a.pid = l.pid"
            " WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1"
            " AND l.classid = 0 AND l.objid = :objid"
            " AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        ),
        {"objid": SEED_LOCK},
    ).first()
    return "another session (gone by now)" if row is None else describe_session(row)


def describe_session(row: Any) -> str:
    """``server pid N (idle in transaction since ..., application ..., last query: ...)``,
    with how to end it when it sits idle in a transaction (an orphan, often)."""
    pid, state, since, application, client, query = row
    details = [state or "state unknown"]
    if since is not None:
        details[0] += f" since {since:%Y-%m-%d %H:%M:%S %Z}".rstrip()
    if application:
        details.append(f"application {application!r}")
    if client:
        details.append(f"from {client}")
    if query:
        details.append(f"last query: {' '.join(str(query).split())[:120]}")
    hint = ""
    if state and state.startswith("idle in transaction"):
        hint = f"; if its client is gone, `SELECT pg_terminate_backend({pid})` ends it"
    return f"server pid {pid} ({', '.join(details)}){hint}"


class BlockedWatch:
    """While a seed run works, who blocks it: said once, and named if the wait times out.

    A context manager around the run's work, inside its transaction: on leaving with a lock
    timeout (SQLSTATE 55P03), the error becomes one line naming the blocking session. The
    watch is a courtesy: if its own connection fails, the run goes on without it.
    """

    def __init__(self, url: URL, connection: Connection, wait: float) -> None:
        self.url = url
        self.wait = wait
        self.pid = connection.exec_driver_sql("SELECT pg_backend_pid()").scalar()
        self.holder: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="seed lock watch", daemon=True)

    def __enter__(self) -> BlockedWatch:
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        if exc is not None and _lock_timed_out(exc):
            holder = self.holder or "another session (gone by now)"
            raise locking.gave_up("a lock the seeds need", holder, self.wait) from exc

    def _watch(self) -> None:
        try:
            engine = make_engine(self.url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
            try:
                with engine.connect() as connection:
                    while not self._stop.wait(_WATCH_SECONDS):
                        self._look(connection)
            finally:
                engine.dispose()
        except Exception:  # a courtesy: the run itself reports its errors
            return

    def _look(self, connection: Connection) -> None:
        row = connection.execute(
            text(f"{_SESSION} WHERE a.pid = ANY(pg_blocking_pids(:pid)) ORDER BY a.pid LIMIT 1"),
            {"pid": self.pid},
        ).first()
        if row is None:
            return
        announce = self.holder is None
        self.holder = describe_session(row)
        if announce:
            locking.say_waiting("a lock the seeds need", self.holder, self.wait)


def _lock_timed_out(exc: BaseException) -> bool:
    """Whether ``exc``, or an error it was raised from (a loader's one line), is a lock timeout."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if getattr(getattr(current, "orig", current), "sqlstate", None) == _LOCK_NOT_AVAILABLE:
            return True
        current = current.__cause__ or current.__context__
    return False
