"""What a PostgreSQL server answered a connection that failed: its SQLSTATE, or nothing at all.

A server's refusal of a connection (``the database system is starting up``, no such database,
a wrong password) is in its language (``lc_messages``: ``SCHWERWIEGEND:  das Datenbanksystem
startet``), and psycopg gives no SQLSTATE for it: libpq keeps only the text of an error
received while connecting. The code is in the server's ErrorResponse all the same, so
:func:`answer` asks the server again, speaking the first message of the protocol (a
StartupMessage, protocol 3.0, unchanged since PostgreSQL 7.4), and reads the code of its reply.

That question goes to the host and port libpq itself tried last (the failed connection's
``pgconn``), with its user and database; it is asked only after a connection failed.
"""

from __future__ import annotations

import socket
import struct
from typing import Any

from .errors import record_answer, recorded_answer, sqlstate_of

# The server accepted the startup packet: it went on to authentication (or straight to the
# session), so it is up and answering; the failed connection's reason came later.
ACCEPTED = "accepted"
_PROTOCOL_3 = 196608  # 3 << 16
_SSL_REQUEST = 80877103  # 1234 << 16 | 5679
_PROBE_SECONDS = 3.0


def answer(exc: BaseException) -> str | None:
    """The SQLSTATE the server answered the failed connection of ``exc`` with, :data:`ACCEPTED`,
    or None when no server answered (refused, unreachable, timed out, closed without a word).

    The error's own SQLSTATE when the driver has one; otherwise the server is asked again,
    once: the answer is kept on ``exc`` (errors.record_answer), where errors.sqlstate_of and
    so every message of errors.py find it.
    """
    code = sqlstate_of(exc)
    if code is not None:
        return code
    recorded = recorded_answer(exc)
    if recorded is not None:
        return None if recorded == _NO_ANSWER else recorded
    original = getattr(exc, "orig", None) or exc
    pgconn = getattr(original, "pgconn", None)
    if pgconn is None or _timed_out(original):
        found = None  # no server reached (a host name that does not resolve), or none answered
    else:
        host = _text(getattr(pgconn, "hostaddr", b"")) or _text(getattr(pgconn, "host", b""))
        port = int(_text(getattr(pgconn, "port", b"")) or 5432)
        user, database = _text(getattr(pgconn, "user", b"")), _text(getattr(pgconn, "db", b""))
        # Encrypted as the failed connection asked (a server may refuse a login that is not:
        # that refusal would hide the one to classify).
        tls = _option(pgconn, "sslmode") not in ("disable", "allow")
        found = startup_answer(host, port, user, database, tls=tls)
    record_answer(exc, found or _NO_ANSWER)
    return found


_NO_ANSWER = "nothing"


def startup_answer(
    host: str, port: int, user: str, database: str, *, tls: bool = False
) -> str | None:
    """Send a StartupMessage to ``host:port`` (a socket folder when ``host`` starts with ``/``):
    the SQLSTATE of the ErrorResponse, :data:`ACCEPTED`, or None (no answer).

    ``tls``: ask for TLS first (SSLRequest), as libpq's ``sslmode=prefer`` and stricter do; a
    server without it says so and the startup goes on in the clear.
    """
    if not host:
        return None
    try:
        if host.startswith("/"):
            connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            connection.settimeout(_PROBE_SECONDS)
            connection.connect(f"{host}/.s.PGSQL.{port}")
        else:
            connection = socket.create_connection((host, port), timeout=_PROBE_SECONDS)
    except OSError:
        return None
    with connection:
        if tls and not host.startswith("/"):  # libpq never asks for TLS on a Unix socket
            try:
                connection = _encrypted(connection, host)
            except (OSError, ValueError):
                return None
        parameters = b"".join(
            f"{key}\0{value}\0".encode() for key, value in (("user", user), ("database", database))
        )
        body = struct.pack("!i", _PROTOCOL_3) + parameters + b"\0"
        try:
            connection.sendall(struct.pack("!i", len(body) + 4) + body)
            return _reply(connection)
        except OSError:
            return None


def _reply(connection: socket.socket) -> str | None:
    """The server's messages after a StartupMessage, up to the first that settles it."""
    while True:
        head = _read(connection, 5)
        if head is None:
            return None
        kind, length = head[:1], struct.unpack("!i", head[1:])[0]
        payload = _read(connection, min(max(length - 4, 0), 65536))
        if payload is None:
            return None
        if kind == b"E":  # ErrorResponse: the code, whatever the language of the words
            return _field(payload, b"C") or ACCEPTED
        if kind == b"R" and payload[:4] != struct.pack("!i", 0):
            return ACCEPTED  # it asks for a password: up, and answering
        if kind == b"Z":  # ReadyForQuery: this login works now
            connection.sendall(b"X" + struct.pack("!i", 4))  # Terminate
            return ACCEPTED
        # AuthenticationOk, ParameterStatus, BackendKeyData, notices: the next message says.


def _encrypted(connection: socket.socket, host: str) -> socket.socket:
    """``connection`` after an SSLRequest: wrapped in TLS when the server agrees ('S').

    The certificate is not checked: nothing secret is sent (a user and a database name, which
    the failed connection sent already), and only the code of the answer is read.
    """
    import ssl

    connection.sendall(struct.pack("!ii", 8, _SSL_REQUEST))
    if _read(connection, 1) != b"S":
        return connection  # 'N': no TLS on this server, the startup goes on in the clear
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context.wrap_socket(connection, server_hostname=None if host.startswith("/") else host)


def _option(pgconn: Any, keyword: str) -> str:
    """A connection option of ``pgconn`` as libpq resolved it (PQconninfo), or ''."""
    try:
        options = pgconn.info
    except Exception:  # a driver without PQconninfo: the default
        return ""
    for option in options:
        if _text(getattr(option, "keyword", b"")) == keyword:
            return _text(getattr(option, "val", b"")) or ""
    return ""


def _read(connection: socket.socket, size: int) -> bytes | None:
    data = b""
    while len(data) < size:
        chunk = connection.recv(size - len(data))
        if not chunk:
            return None  # closed without a word
        data += chunk
    return data


def _field(payload: bytes, code: bytes) -> str | None:
    """A field of an ErrorResponse: type bytes each followed by a NUL-terminated string."""
    for item in payload.split(b"\0"):
        if item[:1] == code:
            return item[1:].decode("ascii", "replace")
    return None


def _timed_out(original: BaseException) -> bool:
    """psycopg's ConnectionTimeout: asking again would wait as long, for the same silence."""
    import sys

    errors: Any = sys.modules.get("psycopg.errors")
    timeout = getattr(errors, "ConnectionTimeout", None) if errors is not None else None
    return isinstance(timeout, type) and isinstance(original, timeout)


def _text(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value if isinstance(value, str) else ""
