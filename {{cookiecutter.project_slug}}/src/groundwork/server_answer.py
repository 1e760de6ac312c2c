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
        found = startup_answer(host, port, user, database)
    record_answer(exc, found or _NO_ANSWER)
    return found


_NO_ANSWER = "nothing"


def startup_answer(host: str, port: int, user: str, database: str) -> str | None:
    """Send a StartupMessage to ``host:port`` (a socket folder when ``host`` starts with ``/``):
    the SQLSTATE of the ErrorResponse, :data:`ACCEPTED`, or None (no answer)."""
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
