"""The PostgreSQL adapter: a server, reached with psycopg 3.

Databases are created and dropped from a maintenance database (admin.py); backups are
``pg_dump`` archives (postgresql_backup.py). SQLAlchemy, Alembic and psycopg are imported by
the methods that use them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from io import StringIO
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import TaskError, add_detail, mask_secrets
from ..urls import as_url
from .base import Backend

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.script import ScriptDirectory
    from sqlalchemy import Engine
    from sqlalchemy.engine import URL
    from sqlalchemy.ext.asyncio import AsyncEngine

    from ..settings import Settings

_LOCAL_HOSTS = {"", "localhost", "127.0.0.1", "::1", "[::1]"}
# CREATE DATABASE racing another one of the same name (two replicas running db.init):
# "already exists", or the unique index of pg_database when both passed the existence check.
_ALREADY_EXISTS = ("42P04", "23505")


class PostgreSQL(Backend):
    name = "postgresql"
    backup_suffix = ".dump"
    render_as_batch = False
    has_server = True
    has_roles = True
    foreign_keys_off_in_migrations = False
    bare_placeholder = "%s"
    bare_table_exists = "SELECT to_regclass(%s)"

    def label(self, url: str | URL) -> str:
        return as_url(url).database or ""

    def sibling(self, url: str | URL, suffix: str) -> URL:
        parsed = as_url(url)
        return parsed.set(database=(parsed.database or "") + suffix)

    def is_local(self, url: URL) -> bool:
        hosts = [url.host or ""]
        query_host = url.query.get("host")
        if query_host:
            hosts = list(query_host) if isinstance(query_host, tuple) else [query_host]
        # A host starting with "/" is a Unix socket folder: this machine.
        return all(host.startswith("/") or host.lower() in _LOCAL_HOSTS for host in hosts)

    def with_connect_timeout(self, url: str, seconds: int) -> str:
        """libpq's ``connect_timeout``, unless the URL's text gives one itself."""
        if re.search(r"[?&]connect_timeout=", url):
            return url
        return f"{url}{'&' if '?' in url else '?'}connect_timeout={seconds}"

    def make_engine(
        self,
        url: str | URL,
        *,
        enforce_foreign_keys: bool,
        write_lock_wait: float | None,
        existing_only: bool,
        **kwargs: Any,
    ) -> Engine:
        from sqlalchemy import create_engine, event

        parsed = as_url(url)
        engine = create_engine(parsed, **kwargs)
        event.listen(engine, "do_connect", _timed_connect(parsed))
        return engine

    def make_async_engine(self, url: URL, **kwargs: Any) -> AsyncEngine:
        """asyncpg takes its connect ``timeout`` as a number: from the URL's text it would get
        a string, so it is passed as an argument (psycopg reads ``connect_timeout`` itself)."""
        timeout = url.query.get("timeout")
        if url.get_driver_name() == "asyncpg" and isinstance(timeout, str):
            url = url.difference_update_query(["timeout"])
            kwargs["connect_args"] = {"timeout": float(timeout), **kwargs.get("connect_args", {})}
        return super().make_async_engine(url, **kwargs)

    def task_connect_args(self, extra: dict[str, Any]) -> dict[str, Any]:
        """No automatic prepared statements (locking.task_connect_args says why)."""
        return {"prepare_threshold": None, **extra}

    def bare_connection(self, url: str) -> tuple[Any, tuple[type[Exception], ...]]:
        from ..driver import psycopg as load_psycopg

        psycopg = load_psycopg()
        # Without its driver name, SQLAlchemy's URL is a libpq connection URI.
        return psycopg.connect(f"postgresql://{url.split('://', 1)[1]}"), (psycopg.Error,)

    def database_exists(self, url: str | URL) -> bool:
        from sqlalchemy import text

        from ..admin import maintenance

        parsed = as_url(url)
        # Reaching the database itself answers the question too.
        with maintenance(parsed, or_target=True) as connection:
            found = connection.execute(
                text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": parsed.database}
            ).first()
        return found is not None

    def create_database(self, url: str | URL) -> bool:
        from sqlalchemy import text
        from sqlalchemy.exc import DBAPIError

        from ..admin import maintenance

        parsed = as_url(url)
        if self.database_exists(parsed):
            return False
        with maintenance(parsed, autocommit=True) as connection:
            quoted = connection.dialect.identifier_preparer.quote(parsed.database or "")
            privileged = connection.execute(
                text("SELECT rolcreatedb OR rolsuper FROM pg_roles WHERE rolname = current_user")
            ).scalar()
            if not privileged:
                raise TaskError(
                    f"database {parsed.database!r} does not exist and {parsed.username!r} may "
                    "not create databases: ask a DBA to create it, or use a login with CREATEDB"
                )
            try:
                connection.exec_driver_sql(f"CREATE DATABASE {quoted}")
            except DBAPIError as exc:
                # Outside the migration lock (there is no database to hold it in yet): another
                # process created it between our check and our CREATE, which is what we wanted.
                if getattr(exc.orig, "sqlstate", None) in _ALREADY_EXISTS:
                    return False
                raise
        return True

    def drop_database(self, url: str | URL) -> bool:
        from ..admin import maintenance

        parsed = as_url(url)
        if not self.database_exists(parsed):
            return False
        with maintenance(parsed, autocommit=True) as connection:
            quoted = connection.dialect.identifier_preparer.quote(parsed.database or "")
            connection.exec_driver_sql(f"DROP DATABASE {quoted} WITH (FORCE)")
        return True

    def empty_for_reset(self, settings: Settings, url: URL) -> str:
        """The database stays (the login may not be allowed to create one); what the
        application's schema holds is dropped (postgresql_backup.empty_schema)."""
        from .. import migrations
        from .postgresql_backup import empty_schema

        if self.create_database(url):
            return f"Created database {self.label(url)}"
        # The migrator's connection, as the owner under the role model: only the owner may
        # drop the schema's objects.
        with migrations.connected(settings, exclusive=True) as (_, connection):
            dropped, emptied = empty_schema(connection)
        kept = f", emptied {', '.join(emptied)}" if emptied else ""
        return f"Dropped {len(dropped)} objects of the application's schema{kept}"

    def backup(self, settings: Settings, url: URL) -> Path:
        from .postgresql_backup import backup

        return backup(settings, url)

    def restore(self, settings: Settings, url: URL, path: Path, file: str) -> None:
        from .postgresql_backup import restore

        restore(settings, url, path, file)

    def offline_sql(
        self,
        config: Config,
        scripts: ScriptDirectory,
        url: URL,
        start: str,
        end: str,
        *,
        downgrade: bool,
    ) -> str:
        from alembic import command

        buffer = StringIO()
        config.output_buffer = buffer
        config.attributes["url"] = url
        (command.downgrade if downgrade else command.upgrade)(config, f"{start}:{end}", sql=True)
        return buffer.getvalue()


def _timed_connect(parsed: URL) -> Callable[..., Any]:
    """A ``do_connect`` hook: a connection that timed out says where and after how long."""
    shown = mask_secrets(
        parsed.set(drivername="postgresql", query={}).render_as_string(hide_password=True)
    )

    def connect(dialect: Any, _record: Any, cargs: Any, cparams: dict[str, Any]) -> Any:
        try:
            return dialect.loaded_dbapi.connect(*cargs, **cparams)
        except dialect.loaded_dbapi.errors.ConnectionTimeout as exc:
            seconds = max(2, math.ceil(float(cparams.get("connect_timeout") or 0)))
            host = cparams.get("host") or parsed.host or "the local socket"
            port = cparams.get("port") or parsed.port or 5432
            add_detail(
                exc,
                f"the server at {host}:{port} did not answer within {seconds} s (connect "
                f"timeout expired; DATABASE_CONNECT_TIMEOUT): is {shown} a "
                "PostgreSQL server that is up? If it is only slow, raise DATABASE_CONNECT_TIMEOUT",
            )
            raise
        except dialect.loaded_dbapi.OperationalError as exc:
            # psycopg gives no SQLSTATE for a refused connection: the server's answer to a
            # second try is its code (a missing database, a wrong password, starting up).
            from ..server_answer import answer

            answer(exc)
            raise

    return connect


BACKEND = PostgreSQL()
