"""Who holds the locks a failed statement waited for: the sessions a lock timeout names."""

from __future__ import annotations

from sqlalchemy import Connection, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from .backends import backend_named
from .engine import make_engine

# Sessions other than ours holding a lock on a table (or index, sequence...) of this database,
# the longest-running transaction first: the ones a lock_timeout most likely waited behind. The
# failed transaction may already be gone, so its pg_blocking_pids() cannot be asked.
_HOLDERS = text(
    """
    SELECT a.pid, a.state, left(regexp_replace(a.query, '\\s+', ' ', 'g'), 100) AS query,
           min(a.xact_start) AS since
    FROM pg_locks l
    JOIN pg_stat_activity a ON a.pid = l.pid
    JOIN pg_class c ON c.oid = l.relation
    JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE l.granted AND l.locktype = 'relation'
      AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
      AND l.pid <> pg_backend_pid() AND NOT l.pid = ANY(:ours)
      AND n.nspname NOT IN ('pg_catalog', 'information_schema')
      AND n.nspname NOT LIKE 'pg\\_toast%'
    GROUP BY a.pid, a.state, a.query
    ORDER BY since NULLS LAST
    LIMIT 3
    """
)


def backend_pid(connection: Connection) -> int | None:
    """The server pid of ``connection`` (PostgreSQL), readable even in a failed transaction."""
    if not backend_named(connection.dialect.name).has_server:
        return None
    info = getattr(connection.connection.dbapi_connection, "info", None)
    pid = getattr(info, "backend_pid", None)
    return pid if isinstance(pid, int) else None


def lock_holders(url: URL, ours: list[int]) -> str | None:
    """``held by pid 123 (idle in transaction: LOCK TABLE ...)``; None when none is found.

    Best effort, on a connection of its own: the failure being reported matters more than this.
    """
    engine = make_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            rows = connection.execute(_HOLDERS, {"ours": ours}).all()
    except SQLAlchemyError:
        return None
    finally:
        engine.dispose()
    if not rows:
        return None
    held = ", ".join(
        f"pid {pid} ({state or 'unknown state'}: {query or '?'})" for pid, state, query, _ in rows
    )
    return f"its tables are locked by {held}"
