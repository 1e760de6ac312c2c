"""Helpers of the lifecycle tests: reading rows straight from a database, adding revisions,
the role model's logins, a relay that reaches the test server late or under another name."""

from __future__ import annotations

import socket
import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy.engine import make_url

from tests.grants_support import Roles, login_url
from tests.support import Project, with_database

INITIAL = "0d848db94cb2"


class ProjectFolder(Protocol):
    """A copy of a bake: run through invoke (tests.support.Project) or in-process (tests/kit)."""

    path: Path

    @property
    def package(self) -> str: ...


def query(url: str, sql: str) -> list[tuple[Any, ...]]:
    """Rows of ``sql`` on ``url`` (sqlite:///path or a PostgreSQL URL), read without the project."""
    if url.startswith("sqlite"):
        connection = sqlite3.connect(url.split(":///", 1)[1])
        try:
            rows = [tuple(row) for row in connection.execute(sql).fetchall()]
            connection.commit()
            return rows
        finally:
            connection.close()
    import psycopg

    plain = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain, autocommit=True) as server:
        cursor = server.execute(sql)
        return [tuple(row) for row in cursor.fetchall()] if cursor.description else []


def snapshot(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the application's tables, in a stable order."""
    return {
        table: sorted(query(url, f"SELECT * FROM {table}"), key=repr)
        for table in ("countries", "users", "alembic_version")
    }


def versions_dir(project: ProjectFolder) -> Path:
    return project.path / "src" / project.package / "migrations" / "versions"


def add_revision(project: ProjectFolder, rev: str, down: str, upgrade_body: str) -> Path:
    """Write revision ``rev`` after ``down`` whose upgrade() runs ``upgrade_body`` (indented)."""
    body = "\n".join(f"    {line}" for line in upgrade_body.strip().splitlines())
    path = versions_dir(project) / f"{rev}_test.py"
    path.write_text(
        f'"""test revision {rev}"""\n\n'
        "import sqlalchemy as sa\n"
        "from alembic import op\n\n"
        f'revision = "{rev}"\n'
        f'down_revision = "{down}"\n'
        "branch_labels = None\n"
        "depends_on = None\n\n\n"
        f"def upgrade() -> None:\n{body}\n\n\n"
        "def downgrade() -> None:\n    pass\n"
    )
    return path


@dataclass
class RoleModel:
    """The logins of ``db.grant``'s role model on database ``database``, for one test."""

    admin_url: str
    database: str
    roles: Roles
    passwords: dict[str, str] = field(
        default_factory=lambda: {
            "DB_MIGRATOR_PASSWORD": "m1gr-" + uuid.uuid4().hex,
            "DB_APP_PASSWORD": "app-" + uuid.uuid4().hex,
            "DB_READER_PASSWORD": "rdr-" + uuid.uuid4().hex,
        }
    )

    @property
    def super_db(self) -> str:
        return with_database(self.admin_url, self.database)

    def login(self, role: str) -> str:
        setting = {self.roles.app: "DB_APP_PASSWORD", self.roles.migrator: "DB_MIGRATOR_PASSWORD"}
        return login_url(self.super_db, role, self.passwords[setting[role]])

    def env(self) -> dict[str, str]:
        """The project's settings: the app's login, the migrator's, the prefix, passwords."""
        return {
            **self.passwords,
            "DB_ROLE_PREFIX": self.roles.prefix,
            "DATABASE_URL": self.login(self.roles.app),
            "MIGRATOR_DATABASE_URL": self.login(self.roles.migrator),
        }

    def grant(self, project: Project, *args: str) -> str:
        """``db.grant`` (``--check``...) as the admin; its output, having exited 0."""
        result = project.invoke("db.grant", "--admin-url", self.super_db, *args)
        return result.stdout


def connect_to_server(url: str) -> socket.socket:
    """A socket connected to the PostgreSQL server of ``url``: its Unix socket when the URL
    names a socket directory (the embedded server), else its host and port."""
    parsed = make_url(url)
    socket_dir = parsed.query.get("host")
    if isinstance(socket_dir, str) and socket_dir.startswith("/"):
        path = str(next(Path(socket_dir).glob(f".s.PGSQL.{parsed.port or '*'}")))
        upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        upstream.connect(path)
        return upstream
    return socket.create_connection((parsed.host or "127.0.0.1", parsed.port or 5432))


@contextmanager
def relay(url: str, *, opened: threading.Event | None = None) -> Iterator[int]:
    """A TCP port on every address of this machine relaying to the PostgreSQL server of ``url``.

    Until ``opened`` is set the port is bound but not listening, so connections are refused as
    by a server still starting. Reaching the server under another host name
    (this machine's) makes it look remote to the tasks while it is the test server.
    """
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("0.0.0.0", 0))
    stop = threading.Event()

    def serve() -> None:
        while opened is not None and not opened.wait(0.1):
            if stop.is_set():
                return
        listener.listen(16)
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            upstream = connect_to_server(url)
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=_pump, args=(source, sink), daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join()
        listener.close()


def _pump(
    source: socket.socket,
    sink: socket.socket,
    passed: Callable[[bytes], bytes] = lambda data: data,
) -> None:
    """Relay ``source`` to ``sink`` until either ends; ``passed`` gives what to send of each
    chunk read (it may keep a partial message back for the next one)."""
    try:
        while data := source.recv(65536):
            sink.sendall(passed(data))
    except OSError:
        pass
    finally:
        for end in (source, sink):
            with suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)


def through(url: str, host: str, port: int) -> str:
    """``url`` reaching its server at ``host:port`` (a :func:`relay`), no Unix socket."""
    parsed = make_url(url)
    return parsed.set(host=host, port=port, query={}).render_as_string(hide_password=False)


# A password that must never be printed, and a model added after the first revision: shared by
# the task tests in-process (tests/kit/test_tasks.py) and through invoke (tests/test_tasks.py).
SECRET = "pw_S3CRET_x"
NEW_MODEL = '''
"""Orders: a model added after the initial migration."""

from __future__ import annotations

from sqlalchemy import ForeignKey, Identity, String
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base


class Order(Base):
    __tablename__ = "orders"

    id: Mapped[int] = mapped_column(Identity(), primary_key=True)
    reference: Mapped[str] = mapped_column(String(40), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
'''
