"""Faults that must each give one true line (issue 13, items 4, 6, 8, 9 and 11).

Real servers and real faults throughout: a TCP server that never answers, a lock held by another
session, a statement that outlives statement_timeout, a tablespace on a full tmpfs, a backend
terminated mid-migration, a folder the task's user may not write.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest

from tests.lifecycle_support import (
    INITIAL,
    _pump,
    add_revision,
    connect_to_server,
    query,
    through,
    versions_dir,
)
from tests.support import Project, admin_sql, create_pg_database, drop_pg_database

SECRET = "pw_S3CRET_x"


def one_line(result: subprocess.CompletedProcess[str], task: str) -> str:
    """The one error line a failed task printed last on stderr (after Alembic's progress)."""
    assert result.returncode == 1, (result.stdout, result.stderr)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert [line for line in lines if line.startswith(f"{task}: ")] == lines[-1:], result.stderr
    assert all(line.startswith("Running upgrade ") for line in lines[:-1]), result.stderr
    assert SECRET not in result.stdout + result.stderr
    return lines[-1]


def run_bounded(
    project: Project, *args: str, env: dict[str, str], timeout: float
) -> tuple[subprocess.CompletedProcess[str], float]:
    """``invoke ARGS``, failing the test (not hanging it) when it outlives ``timeout``.

    A process of its own, unlike the other tasks here (in this one: tests/kit/cli.py): an
    unbounded wait is stopped by killing it, which a task run in this process cannot be.
    """
    started = time.monotonic()
    try:
        result = subprocess.run(
            [sys.executable, "-m", "invoke", *args],
            cwd=project.path,
            env=project.environ(env),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"invoke {' '.join(args)} still ran after {timeout:g} s: no bounded timeout")
    return result, time.monotonic() - started


# -- item 4: a bounded connect timeout ---------------------------------------------------------


@contextmanager
def silent_server() -> Iterator[int]:
    """A TCP server on 127.0.0.1 that accepts connections and never says a word."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(32)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            with suppress(TimeoutError, OSError):
                accepted.append(listener.accept()[0])

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join()
        for connection in accepted:
            connection.close()
        listener.close()


@pytest.mark.postgresql
@pytest.mark.parametrize(
    ("task", "setting", "seconds"),
    [
        ("db.migrate", None, 10),  # the default: no setting, no --wait
        ("db.status", "2", 2),
        ("db.init", "2", 2),  # the admin connection (db/admin.py) first
        ("db.backup", "2", 2),
    ],
)
def test_a_server_that_never_answers_fails_within_the_connect_timeout(
    project_copy: Callable[..., Project], task: str, setting: str | None, seconds: int
) -> None:
    with silent_server() as port:
        project = project_copy("postgresql", f"postgresql://app:{SECRET}@127.0.0.1:{port}/app")
        env = {"DATABASE_CONNECT_TIMEOUT": setting} if setting else {}
        result, elapsed = run_bounded(project, task, env=env, timeout=seconds + 20)
    line = one_line(result, task)
    assert f"the server at 127.0.0.1:{port} did not answer within {seconds} s" in line
    assert "DATABASE_CONNECT_TIMEOUT" in line
    assert f"postgresql://***@127.0.0.1:{port}/" in line
    assert seconds <= elapsed < seconds + 10


@pytest.mark.postgresql
def test_the_admin_connection_of_db_grant_is_bounded_too(
    project_copy: Callable[..., Project], pg_url: str
) -> None:
    with silent_server() as port:
        project = project_copy("postgresql", pg_url)
        env = {
            "ADMIN_DATABASE_URL": f"postgresql://admin:{SECRET}@127.0.0.1:{port}/app",
            "DATABASE_CONNECT_TIMEOUT": "2",
        }
        result, elapsed = run_bounded(project, "db.grant", "--check", env=env, timeout=25)
    one_line(result, "db.grant")
    assert 2 <= elapsed < 12


def test_a_connect_timeout_that_is_not_a_number_is_reported(
    project_copy: Callable[..., Project],
) -> None:
    project = project_copy(
        "postgresql", f"postgresql://app:{SECRET}@127.0.0.1:1/app", in_process=True
    )
    result = project.invoke("db.status", env={"DATABASE_CONNECT_TIMEOUT": "soon"}, check=False)
    assert "DATABASE_CONNECT_TIMEOUT='soon' is not a number of seconds" in one_line(
        result, "db.status"
    )


# -- item 6: a settings file that does not parse; an empty DATABASE_URL ------------------------


@pytest.mark.sqlite
def test_an_env_file_line_that_does_not_parse_names_the_file_and_line(
    project_copy: Callable[..., Project], tmp_path: Path
) -> None:
    project = project_copy("sqlite", in_process=True)  # no DATABASE_URL: the files decide
    configured = tmp_path / "configured.sqlite3"
    (project.path / ".env.local").write_text(
        f'# this machine\nDATABASE_URL="sqlite:///{configured}\nOTHER=1\n'
    )
    result = project.invoke("db.migrate", check=False)
    line = one_line(result, "db.migrate")
    assert f"{project.path / '.env.local'} line 2 (DATABASE_URL=...) does not parse" in line
    assert "quotes" in line
    # Neither the configured database nor the project-local one was touched.
    assert not configured.exists()
    assert not (project.path / "var").exists()


@pytest.mark.sqlite
@pytest.mark.parametrize("where", [".env.local", "environment"])
def test_an_empty_database_url_is_reported(
    project_copy: Callable[..., Project], where: str
) -> None:
    project = project_copy("sqlite", in_process=True)
    env: dict[str, str] = {}
    if where == "environment":
        env["DATABASE_URL"] = ""
        origin = "the environment"
    else:
        (project.path / ".env.local").write_text("APP_ENV=development\nDATABASE_URL=\n")
        origin = ".env.local line 2"
    result = project.invoke("db.migrate", env=env, check=False)
    assert one_line(result, "db.migrate") == (
        f"db.migrate: DATABASE_URL is empty (set in {origin}): set it to the database's URL, "
        "or remove it to use the project-local database"
    )
    assert not (project.path / "var").exists()


# -- item 8: classified by SQLSTATE ------------------------------------------------------------


@pytest.fixture
def migrated(project_copy: Callable[..., Project], pg_url: str) -> Project:
    project = project_copy("postgresql", pg_url, in_process=True)
    project.invoke("db.migrate")
    return project


@pytest.mark.postgresql
def test_a_lock_timeout_names_the_setting_and_the_session_holding_the_lock(
    migrated: Project, pg_url: str
) -> None:
    import psycopg

    add_revision(
        migrated, "e1e100000001", INITIAL, 'op.add_column("users", sa.Column("x", sa.Integer()))'
    )
    with psycopg.connect(pg_url) as busy:  # a transaction left open after reading users
        busy.execute("SELECT count(*) FROM users -- the report")
        holder = busy.info.backend_pid
        result = migrated.invoke(
            "db.migrate",
            env={"MIGRATION_LOCK_TIMEOUT": "1s", "MIGRATION_LOCK_RETRIES": "0"},
            check=False,
        )
    line = one_line(result, "db.migrate")
    assert "revision e1e100000001 (e1e100000001_test.py) failed, nothing was applied" in line
    assert "gave up waiting for a lock (lock_timeout)" in line
    assert "lock_timeout is MIGRATION_LOCK_TIMEOUT=1s" in line
    assert f"pid {holder} (idle in transaction: SELECT count(*) FROM users -- the report)" in line
    assert "SQLSTATE 55P03" in line
    assert "cannot reach" not in line
    assert query(pg_url, "SELECT version_num FROM alembic_version") == [(INITIAL,)]


@pytest.mark.postgresql
def test_a_statement_timeout_names_the_setting(migrated: Project, pg_url: str) -> None:
    add_revision(migrated, "e1e100000002", INITIAL, 'op.execute("SELECT pg_sleep(30)")')
    result = migrated.invoke("db.migrate", env={"MIGRATION_STATEMENT_TIMEOUT": "1s"}, check=False)
    line = one_line(result, "db.migrate")
    assert "revision e1e100000002 (e1e100000002_test.py) failed, nothing was applied" in line
    assert "ran longer than statement_timeout" in line
    assert "statement_timeout is MIGRATION_STATEMENT_TIMEOUT=1s" in line
    assert "SQLSTATE 57014" in line
    assert "cannot reach" not in line
    assert query(pg_url, "SELECT version_num FROM alembic_version") == [(INITIAL,)]


@pytest.mark.postgresql
def test_the_classification_does_not_read_the_servers_words(migrated: Project, pg_url: str) -> None:
    """PostgreSQL translates its messages: the code decides, whatever the text says.

    German messages (lc_messages) need the de_DE locale on the server's machine, which the
    servers here lack; so the server raises SQLSTATE 55P03 and 53100 itself, with German words
    and none of the English ones ("lock timeout", "No space left").
    """
    add_revision(
        migrated,
        "e1e100000003",
        INITIAL,
        "op.execute(\"DO $$ BEGIN RAISE EXCEPTION 'Sperre nicht verfügbar' "
        "USING ERRCODE = 'lock_not_available'; END $$\")",
    )
    # Not retried (MIGRATION_LOCK_RETRIES=0): tests/kit/test_lock_retries.py covers the retries.
    no_retry = {"MIGRATION_LOCK_RETRIES": "0"}
    line = one_line(migrated.invoke("db.migrate", env=no_retry, check=False), "db.migrate")
    assert "gave up waiting for a lock (lock_timeout)" in line
    assert "SQLSTATE 55P03: Sperre nicht verfügbar" in line
    (revision,) = versions_dir(migrated).glob("e1e100000003_*.py")
    revision.write_text(
        revision.read_text()
        .replace("Sperre nicht verfügbar", "Platte voll")
        .replace("lock_not_available", "disk_full")
    )
    line = one_line(migrated.invoke("db.migrate", check=False), "db.migrate")
    assert "the database server's disk is full" in line
    assert "SQLSTATE 53100: Platte voll" in line


# A server's refusal of a connection, in German: what `lc_messages = 'de_DE'` makes a server
# say, which these test servers cannot (no de_DE locale on their machines). The words are the
# server's; the code is the one PostgreSQL sends for it.
_GERMAN = {
    "57P03": "das Datenbanksystem startet",
    "42501": "keine Berechtigung für Datenbank »postgres«",
    "3D000": "Datenbank »gw_fehlt« existiert nicht",
    "28000": "kein pg_hba.conf-Eintrag, keine Verschlüsselung",
}


# The severities a server with lc_messages = 'de_DE' sends in an ErrorResponse's or
# NoticeResponse's S field (psql prints that one; the V field stays English).
_GERMAN_SEVERITY = {
    b"ERROR": b"FEHLER",
    b"FATAL": b"SCHWERWIEGEND",
    b"WARNING": b"WARNUNG",
    b"NOTICE": b"HINWEIS",
}


def _in_german() -> Callable[[bytes], bytes]:
    """What :func:`_pump` passes of a server's messages: the severity of its errors and notices
    in German, each message once whole (a chunk may end inside one)."""
    buffer = b""

    def passed(data: bytes) -> bytes:
        nonlocal buffer
        buffer += data
        out = b""
        while len(buffer) >= 5 and len(buffer) >= 1 + int.from_bytes(buffer[1:5], "big"):
            size = 1 + int.from_bytes(buffer[1:5], "big")
            kind, body, buffer = buffer[:1], buffer[5:size], buffer[size:]
            if kind in (b"E", b"N"):
                fields = [
                    b"S" + _GERMAN_SEVERITY.get(field[1:], field[1:])
                    if field[:1] == b"S"
                    else field
                    for field in body.split(b"\0")
                ]
                body = b"\0".join(fields)
            out += kind + (len(body) + 4).to_bytes(4, "big") + body
        return out

    return passed


@contextmanager
def german_front(
    url: str,
    refuse: Callable[[dict[str, str]], str | None] = lambda parameters: None,
    tls: tuple[Path, Path] | None = None,
) -> Iterator[int]:
    """A port in front of the PostgreSQL server of ``url``, speaking its wire protocol.

    A connection whose startup parameters (user, database; ``_tls`` when encrypted) ``refuse``
    gives a SQLSTATE for is answered with that ErrorResponse, in German, and closed; every other
    one is relayed to the server, the severities of its errors and notices in German. SSL
    requests are accepted with ``tls`` (certificate, key) and declined ('N') without it, as GSS
    ones always are.
    """
    import ssl

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(32)
    listener.settimeout(0.1)
    stop = threading.Event()

    def read_message(client: socket.socket) -> bytes:
        head = b""
        while len(head) < 4:
            head += client.recv(4 - len(head)) or b"\0\0\0\0"
        length = int.from_bytes(head, "big")
        body = b""
        while len(body) < length - 4:
            body += client.recv(length - 4 - len(body))
        return head + body

    context = None
    if tls is not None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(*tls)

    def serve(client: socket.socket) -> None:
        with suppress(OSError):
            startup = read_message(client)
            encrypted = False
            while startup[4:8] in (b"\x04\xd2\x16\x2f", b"\x04\xd2\x16\x30"):  # SSL, GSS
                if context is not None and startup[4:8] == b"\x04\xd2\x16\x2f":
                    client.sendall(b"S")
                    client = context.wrap_socket(client, server_side=True)
                    encrypted = True
                else:
                    client.sendall(b"N")
                startup = read_message(client)
            words = startup[8:].split(b"\0")
            parameters = {
                k.decode(): v.decode() for k, v in zip(words[::2], words[1::2], strict=False) if k
            }
            code = refuse({**parameters, **({"_tls": "1"} if encrypted else {})})
            if code is not None:
                fields = (
                    b"SSCHWERWIEGEND\0VFATAL\0C"
                    + code.encode()
                    + b"\0M"
                    + _GERMAN[code].encode()
                    + b"\0\0"
                )
                client.sendall(b"E" + (len(fields) + 4).to_bytes(4, "big") + fields)
                client.close()
                return
            upstream = connect_to_server(url)
            upstream.sendall(startup)
            for source, sink, passed in (
                (client, upstream, lambda data: data),
                (upstream, client, _in_german()),
            ):
                threading.Thread(target=_pump, args=(source, sink, passed), daemon=True).start()

    def accept() -> None:
        while not stop.is_set():
            with suppress(TimeoutError):
                client, _ = listener.accept()
                threading.Thread(target=serve, args=(client,), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join()
        listener.close()


@pytest.mark.postgresql
def test_a_server_starting_up_in_german_is_waited_for(
    project_copy: Callable[..., Project], pg_url: str
) -> None:
    """`--wait` retried only on English words ("the database system is starting up"): a server
    saying it in German was taken as up, and the task failed at once. SQLSTATE 57P03 it is."""
    first: list[float] = []  # when the task first knocked: "starting up" for 2 s from then

    def starting(parameters: dict[str, str]) -> str | None:
        first.append(time.monotonic())
        return "57P03" if time.monotonic() < first[0] + 2 else None

    with german_front(pg_url, starting) as port:
        project = project_copy("postgresql", through(pg_url, "127.0.0.1", port), in_process=True)
        result = project.invoke("db.migrate", "--wait", "30", check=False)
    assert result.returncode == 0, result.stderr
    assert "Waiting up to 30 s for the database server" in result.stdout
    assert first[-1] >= first[0] + 2
    assert query(pg_url, "SELECT version_num FROM alembic_version") == [(INITIAL,)]


@pytest.mark.postgresql
def test_a_refused_maintenance_database_in_german_moves_on_to_template1(
    project_copy: Callable[..., Project], pg_url: str, admin_url: str
) -> None:
    """A login refused the `postgres` database (no CONNECT) moved on to template1 only when the
    refusal said "FATAL": in German it says "SCHWERWIEGEND". Any SQLSTATE is an answer."""
    from sqlalchemy.engine import make_url

    name = f"gw_de_{uuid.uuid4().hex[:8]}"
    missing = make_url(pg_url).set(database=name).render_as_string(hide_password=False)

    def no_connect_on_postgres(parameters: dict[str, str]) -> str | None:
        return "42501" if parameters.get("database") == "postgres" else None

    try:
        with german_front(pg_url, no_connect_on_postgres) as port:
            project = project_copy(
                "postgresql", through(missing, "127.0.0.1", port), in_process=True
            )
            result = project.invoke("db.init", check=False)
        assert result.returncode == 0, result.stderr
        assert "Created database" in result.stdout
        assert query(missing, "SELECT version_num FROM alembic_version") == [(INITIAL,)]
    finally:
        admin_sql(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.postgresql
def test_a_refusal_at_connection_is_classified_by_its_sqlstate(
    project_copy: Callable[..., Project], pg_url: str
) -> None:
    """psycopg gives no SQLSTATE for a refused connection: its server's answer gives it, so a
    German "starting up" reads as 57P03, not as "cannot reach the database"."""
    with german_front(pg_url, lambda parameters: "57P03") as port:
        project = project_copy("postgresql", through(pg_url, "127.0.0.1", port), in_process=True)
        line = one_line(project.invoke("db.status", check=False), "db.status")
    assert "the server is not accepting connections yet" in line, line
    assert "SQLSTATE 57P03" in line, line
    assert "das Datenbanksystem startet" in line, line
    assert "cannot reach" not in line


@pytest.mark.postgresql
def test_the_second_answer_is_asked_over_tls_as_the_connection_was(
    project_copy: Callable[..., Project], pg_url: str, tmp_path: Path
) -> None:
    """A server that refuses clear-text logins (hostssl only, a managed server's force_ssl)
    would answer a clear-text second try with 28000 and hide the real refusal: the second try
    is encrypted when the failed connection was, and finds 3D000."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("no openssl command to make the test certificate with")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            *(openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=gw-test"),
            *("-keyout", str(key), "-out", str(cert), "-days", "1"),
        ],
        check=True,
        capture_output=True,
    )

    def ssl_only(parameters: dict[str, str]) -> str:
        return "3D000" if parameters.get("_tls") else "28000"

    with german_front(pg_url, ssl_only, tls=(cert, key)) as port:
        url = through(pg_url, "127.0.0.1", port) + "?sslmode=require"
        project = project_copy("postgresql", url, in_process=True)
        line = one_line(project.invoke("db.status", check=False), "db.status")
    assert "Datenbank »gw_fehlt« existiert nicht: run `invoke db.init` to create it" in line, line
    assert "refused this login" not in line


@pytest.mark.postgresql
def test_a_restore_failing_in_german_names_the_error_not_the_warnings_before_it(
    project_copy: Callable[..., Project], pg_url: str
) -> None:
    """psql's output was searched for the word ERROR; from a German server (FEHLER) the first
    line was shown instead: here a warning of the rows restored before the one that failed."""
    with german_front(pg_url) as port:
        project = project_copy("postgresql", through(pg_url, "127.0.0.1", port), in_process=True)
        project.invoke("db.init")
        # A CHECK that warns for every row, and refuses one when the database says so: the
        # restore's COPY warns twice, then fails (the setting is made after the backup).
        for statement in (
            "CREATE FUNCTION checked(v int) RETURNS boolean LANGUAGE plpgsql AS $$ BEGIN"
            " RAISE WARNING 'row % checked', v;"
            " IF v = 3 AND current_setting('gw.refuse', true) = 'on' THEN"
            " RAISE EXCEPTION 'row 3 refused'; END IF; RETURN true; END $$",
            "CREATE TABLE audited (v int CHECK (checked(v)))",
            "INSERT INTO audited VALUES (1), (2), (3)",
        ):
            query(pg_url, statement)
        project.invoke("db.backup")
        name = query(pg_url, "SELECT current_database()")[0][0]
        query(pg_url, f'ALTER DATABASE "{name}" SET gw.refuse = on')
        result = project.invoke("db.restore", "latest", check=False)
    line = one_line(result, "db.restore")
    assert line.endswith("failed: psql: row 3 refused"), line
    assert "(nothing was changed)" in line, line
    assert query(pg_url, "SELECT count(*) FROM audited") == [(3,)]


@contextmanager
def full_tablespace(admin_url: str) -> Iterator[str]:
    """A tablespace on a 1 MB tmpfs; skips, saying why, where that cannot be had."""
    rows = query(admin_url, "SELECT current_setting('data_directory')")
    data_directory = Path(rows[0][0])
    if not data_directory.is_dir():
        pytest.skip(f"the test server's data directory {data_directory} is not on this machine")
    owner = data_directory.stat().st_uid
    mountpoint = Path(tempfile.mkdtemp(prefix="gw-full-"))
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m,mode=0700", "tmpfs", str(mountpoint)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        mountpoint.rmdir()
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    name = f"gw_full_{uuid.uuid4().hex[:8]}"
    try:
        os.chown(mountpoint, owner, -1)
        admin_sql(admin_url, f"CREATE TABLESPACE {name} LOCATION '{mountpoint}'")
        try:
            yield name
        finally:
            admin_sql(admin_url, f"DROP TABLESPACE IF EXISTS {name}")
    finally:
        subprocess.run(["umount", str(mountpoint)], check=False)
        mountpoint.rmdir()


@pytest.mark.postgresql
def test_a_full_disk_says_disk_full(project_copy: Callable[..., Project], admin_url: str) -> None:
    with full_tablespace(admin_url) as tablespace:
        url = create_pg_database(admin_url)
        try:
            project = project_copy("postgresql", url, in_process=True)
            project.invoke("db.migrate")
            add_revision(
                project,
                "e1e100000004",
                INITIAL,
                f'op.execute("CREATE TABLE filler (x text) TABLESPACE {tablespace}")\n'
                "op.execute(\"INSERT INTO filler SELECT repeat('x', 2000) "
                'FROM generate_series(1, 5000)")',
            )
            line = one_line(project.invoke("db.migrate", check=False), "db.migrate")
            assert "revision e1e100000004 (e1e100000004_test.py) failed, nothing was applied" in (
                line
            )
            assert "the database server's disk is full" in line
            assert "SQLSTATE 53100" in line
            assert "cannot reach" not in line
            assert query(url, "SELECT version_num FROM alembic_version") == [(INITIAL,)]
        finally:
            drop_pg_database(admin_url, url)


# -- item 9: the connection lost mid-migration -------------------------------------------------


# Its own session only; or every session of the database first, the migration lock's too, as
# a server going away does (the lock's release then fails as well).
TERMINATED = {
    "itself": "",
    "every-session": (
        'op.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity '
        'WHERE datname = current_database() AND pid <> pg_backend_pid()")\n'
    ),
}


@pytest.mark.postgresql
@pytest.mark.parametrize("terminated", TERMINATED)
def test_a_connection_lost_mid_migration_says_so_and_nothing_was_committed(
    migrated: Project, pg_url: str, terminated: str
) -> None:
    add_revision(
        migrated,
        "e1e100000005",
        INITIAL,
        'op.create_table("half_done", sa.Column("id", sa.Integer(), primary_key=True))\n'
        f"{TERMINATED[terminated]}"
        'op.execute("SELECT pg_terminate_backend(pg_backend_pid())")',
    )
    line = one_line(migrated.invoke("db.migrate", check=False), "db.migrate")
    assert line.startswith(
        "db.migrate: revision e1e100000005 (e1e100000005_test.py) failed: the connection to the "
        "database was lost (SQLSTATE 57P01: "
    )
    assert line.endswith(
        f"); nothing of it was committed, the database is still at {INITIAL}: "
        "run `invoke db.migrate` again"
    )
    assert query(pg_url, "SELECT version_num FROM alembic_version") == [(INITIAL,)]
    assert query(pg_url, "SELECT tablename FROM pg_tables WHERE tablename = 'half_done'") == []


# -- item 11: protection by name whatever its case; a folder the task may not write ------------


@pytest.mark.sqlite
@pytest.mark.parametrize("app_env", ["Production", " PRODUCTION "])
def test_production_is_protected_whatever_its_case_and_spaces(
    project_copy: Callable[..., Project], tmp_path: Path, app_env: str
) -> None:
    project = project_copy("sqlite", f"sqlite:///{tmp_path / 'prod.sqlite3'}", in_process=True)
    project.invoke("db.init", env={"APP_ENV": app_env})
    for task in ("db.reset", "db.drop"):
        line = one_line(project.invoke(task, env={"APP_ENV": app_env}, check=False), task)
        assert f"APP_ENV={app_env} is protected (PROTECTED_ENVIRONMENTS)" in line
    database = f"sqlite:///{tmp_path / 'prod.sqlite3'}"
    assert (tmp_path / "prod.sqlite3").is_file()
    assert query(database, "SELECT count(*) FROM countries") != [(0,)]
    # Development data stays out too: by APP_ENV, and by the stamp when APP_ENV is unset.
    for env in ({"APP_ENV": app_env}, {}):
        args = ("db.seed", "--only", "demo_users") if env else ("db.seed",)
        line = one_line(project.invoke(*args, env=env, check=False), "db.seed")
        assert "seed demo_users is not for production" in line
    assert query(database, "SELECT count(*) FROM users") == [(0,)]


def _unprivileged() -> tuple[int, int]:
    """uid and gid of ``nobody``: root writes through any folder mode, so the task runs as it."""
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("needs root and setpriv to run the task as an unprivileged user")
    try:
        entry = pwd.getpwnam("nobody")
    except KeyError:
        pytest.skip("no user nobody on this machine")
    return entry.pw_uid, entry.pw_gid


@contextmanager
def read_only_copy(project: Project) -> Iterator[Project]:
    """A copy of ``project`` that every user may read and none but root may write."""
    folder = Path(tempfile.mkdtemp(prefix="gw-ro-"))
    try:
        folder.chmod(0o755)
        copy = Project(folder / "project", dict(project.env))
        shutil.copytree(project.path, copy.path, symlinks=True)
        for path in [copy.path, *copy.path.rglob("*")]:
            if not path.is_symlink():
                path.chmod(0o555 if path.is_dir() else 0o444)
        yield copy
    finally:
        for path in [folder, *folder.rglob("*")]:
            if not path.is_symlink():
                path.chmod(0o755)
        shutil.rmtree(folder)


def run_as_nobody(project: Project, *args: str) -> subprocess.CompletedProcess[str]:
    uid, gid = _unprivileged()
    return subprocess.run(
        [
            *("setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups"),
            *(sys.executable, "-m", "invoke", *args),
        ],
        cwd=project.path,
        env=project.environ({"HOME": str(project.path)}),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.sqlite
def test_a_read_only_project_folder_is_one_line_naming_the_folder(
    project_copy: Callable[..., Project],
) -> None:
    _unprivileged()
    base = project_copy("sqlite", in_process=True)  # the project-local SQLite file, under var/
    base.invoke("db.init")
    with read_only_copy(base) as project:
        database = project.path / "var" / f"{project.package}_development.sqlite3"
        before = database.read_bytes()
        line = one_line(run_as_nobody(project, "db.revision", "--empty", "-m", "x"), "db.revision")
        folder = f"src/{project.package}/migrations/versions"
        assert "permission denied: user nobody may not write in the folder " in line
        assert line.endswith(
            f"{folder}: make it writable (or run the task where it is), then run the task again"
        )
        assert "unexpected" not in line
        line = one_line(run_as_nobody(project, "db.reset", "--no-backup"), "db.reset")
        assert "permission denied: user nobody may not write in the folder var:" in line
        assert "unexpected" not in line
        assert database.read_bytes() == before
        assert [p.name for p in versions_dir(project).iterdir() if p.suffix == ".py"] == [
            p.name for p in versions_dir(base).iterdir() if p.suffix == ".py"
        ]
