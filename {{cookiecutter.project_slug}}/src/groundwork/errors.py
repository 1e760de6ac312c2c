"""The one exception type a task reports as a single line, and how library errors become one.

Anything raised below a task is turned into one line by :func:`describe`; passwords are masked
there, whatever the message came from.
"""

from __future__ import annotations

import errno
import getpass
import os
import re
import sys
from pathlib import Path

# The whole authority up to the LAST '@' of the word: user and password both, so that a
# password with an unencoded '@', '/' or '?' never shows from its first '@' on. Hiding a host
# now and then (an '@' further on in the word) is the lesser harm.
_AUTHORITY = re.compile(r"(?P<prefix>[a-zA-Z][a-zA-Z0-9+.-]*://)\S*@")
# A text that is one URL and nothing else: its password may hold spaces too.
_WHOLE_URL = re.compile(r"(?P<prefix>[a-zA-Z][a-zA-Z0-9+.-]*://)[^\n]*@(?P<rest>[^@\n]*)")
_QUERY_PASSWORD = re.compile(r"(?P<prefix>\bpassword=)(?P<secret>[^&\s'\"]+)", re.IGNORECASE)


def mask_secrets(text: str) -> str:
    """``text`` with every URL's user and password shown as ``***``, and ``password=`` values.

    ``postgresql://user:secret@host/db`` becomes ``postgresql://***@host/db``. When ``text`` is
    a URL alone, everything up to its last '@' is hidden, unencoded spaces in a password included.
    """
    whole = _WHOLE_URL.fullmatch(text)
    if whole:
        text = f"{whole['prefix']}***@{whole['rest']}"
    else:
        # The placeholder of the URL help (urls.URL_HELP) stays readable.
        text = _AUTHORITY.sub(
            lambda m: m[0] if m[0].endswith("://user:password@") else f"{m['prefix']}***@", text
        )
    return _QUERY_PASSWORD.sub(lambda m: f"{m['prefix']}***", text)


class TaskError(Exception):
    """A failure the user can act on: its message is the one line a task prints."""


def _first_line(text: str) -> str:
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    return lines[0] if lines else ""


def _driver_message(exc: BaseException) -> str:
    """The database driver's own first line, without SQLAlchemy's wrapping and links."""
    original = getattr(exc, "orig", None)
    text = _first_line(str(original if original is not None else exc))
    return text.removeprefix("(psycopg.OperationalError) ").removeprefix("connection failed: ")


def describe(exc: BaseException) -> str:
    """One line for ``exc``: what went wrong and, where we know it, what to do."""
    return mask_secrets(_describe(exc))


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TaskError):
        return _first_line(str(exc))
    if isinstance(exc, ModuleNotFoundError) and exc.name in {"psycopg", "psycopg2"}:
        return "the PostgreSQL driver is not installed: pip install 'psycopg[binary]'"
    sa_exc = sys.modules.get("sqlalchemy.exc")
    if sa_exc is not None:
        if isinstance(exc, sa_exc.ArgumentError) and "URL" in str(exc):
            return f"bad database URL: {_first_line(str(exc))}"
        if isinstance(exc, sa_exc.NoSuchModuleError):
            return f"unknown database driver: {_first_line(str(exc))}"
        if isinstance(exc, sa_exc.DBAPIError) and (known := _by_sqlstate(exc)) is not None:
            return known
        if isinstance(exc, sa_exc.OperationalError | sa_exc.InterfaceError):
            if sqlite_busy(getattr(exc, "orig", None)):
                return (
                    "the SQLite file stayed locked by another writer (a migration, a long "
                    "transaction): retry when it is done, or raise --lock-timeout"
                )
            return f"cannot reach the database: {_driver_message(exc)}"
        if isinstance(exc, sa_exc.DBAPIError):
            return f"database error: {_driver_message(exc)}"
    psycopg_errors = sys.modules.get("psycopg.errors")
    if psycopg_errors is not None and isinstance(exc, psycopg_errors.Error):
        # psycopg used directly (db.grant, the unchanged-seeds check), not through SQLAlchemy.
        known = _by_sqlstate(exc)
        if known is not None:
            return known
        if isinstance(exc, psycopg_errors.OperationalError) and sqlstate_of(exc) is None:
            return f"cannot reach the database: {_driver_message(exc)}"
        return f"database error: {_driver_message(exc)}"
    if isinstance(exc, OSError) and exc.filename and exc.errno in _FILE_ERRORS:
        return _file_error(exc)
    alembic_util = sys.modules.get("alembic.util.exc")
    if alembic_util is not None and isinstance(exc, alembic_util.CommandError):
        text = _first_line(str(exc))
        # A revision id Alembic cannot find (ResolutionError, which it words as "Can't locate
        # revision identified by ..."): by the class of the cause, not by its words.
        revisions = sys.modules.get("alembic.script.revision")
        if revisions is not None and isinstance(exc.__cause__, revisions.ResolutionError):
            return (
                f"{text}: the database was migrated with a revision file this checkout lacks "
                "(another branch?); check that file out, or `invoke db.stamp REV` if you are sure"
            )
        return text
    if sa_exc is not None and isinstance(exc.__cause__, sa_exc.DBAPIError):
        # A library's own error for a database one (alembic-postgresql-enum's ValueError when
        # rows still hold a removed enum value): its words, then the database's, which name the
        # value.
        return f"{_first_line(str(exc)).rstrip('.')}: {_driver_message(exc.__cause__)}"
    module = _failed_import(exc)
    if module is not None:
        return f"{module} failed to import: {type(exc).__name__}: {_first_line(str(exc))}"
    detail = _first_line(str(exc))
    return f"unexpected {type(exc).__name__}: {detail} (`invoke -d db.TASK` shows the traceback)"


# What a SQLSTATE means, by its code: PostgreSQL translates its messages (lc_messages), never
# its codes. Each entry says what happened and what to do; the server's own words follow.
SQLSTATE_MESSAGES: dict[str, str] = {
    "55P03": (
        "gave up waiting for a lock (lock_timeout): another session holds a lock on the table; "
        "let it finish, or end it, then run the task again"
    ),
    "57014": (
        "a statement was cancelled: it ran longer than statement_timeout, or an administrator "
        "cancelled it (pg_cancel_backend); raise the timeout for a statement known to be long"
    ),
    "53100": (
        "the database server's disk is full: free space on the server or grow its volume, then "
        "run the task again (nothing of the failed transaction was kept)"
    ),
    "53200": "the database server ran out of memory: retry when it is less busy",
    "53300": (
        "the database server has no connection slot left (max_connections): close idle "
        "connections or use fewer replicas, then retry"
    ),
    "53400": "a configured limit of the database server was exceeded",
    "57P01": (
        "the server ended the session (a shutdown, or an administrator terminated it): "
        "run the task again when the server is back"
    ),
    "57P02": "the server crashed and ended the session: run the task again when it is back",
    "57P03": (
        "the server is not accepting connections yet (starting up, or in recovery): "
        "retry, or pass --wait SECONDS"
    ),
    "57P04": "the database was dropped while this session was using it",
    "57P05": "the server ended an idle session (idle_session_timeout): run the task again",
    "25P03": (
        "the server ended a transaction left idle too long "
        "(idle_in_transaction_session_timeout): run the task again"
    ),
    "40001": "a concurrent transaction conflicted with this one (serialization failure): retry",
    "40P01": "a deadlock with another session: this transaction was rolled back, retry",
    "28P01": "the server refused the password: check the user and password of the URL",
    "28000": (
        "the server refused this login (pg_hba.conf, or the role may not log in): "
        "check the URL's user and host"
    ),
    "42501": "permission denied: the login lacks a privilege (see `invoke db.grant --check`)",
    "58030": "the database server hit an I/O error on its disk: ask its administrator",
}
# Classes whose every code means one thing.
_SQLSTATE_CLASSES = {
    "08": "the connection to the database was lost or refused",
    "53": "the database server ran out of a resource",
}
# The server or the network ended the connection: what was in flight was not committed.
_CONNECTION_LOST = {"57P01", "57P02", "57P04", "57P05", "25P03"}


def sqlstate_of(exc: BaseException) -> str | None:
    """The SQLSTATE of a database error, SQLAlchemy-wrapped or not; None when there is none.

    A failed connection has none from psycopg; the code its server answered a second try with
    (server_answer.py) counts as its own.
    """
    original = getattr(exc, "orig", None)
    code = getattr(original if original is not None else exc, "sqlstate", None)
    if isinstance(code, str):
        return code
    answered = recorded_answer(exc)
    return answered if answered and _SQLSTATE.fullmatch(answered) else None


_SQLSTATE = re.compile(r"[0-9A-Z]{5}")


def violated_constraint(exc: BaseException) -> str | None:
    """The kind of constraint a database error says a row broke (``"unique"``, ``"foreign
    key"``, ``"CHECK"``, ``"NOT NULL"``), by its code on every driver; None when it is not a
    constraint's. For an application's ``except IntegrityError``: 409 for ``"unique"`` only.
    """
    from .seeding.violations import SQLITE_CODES, SQLSTATES

    code = sqlstate_of(exc)
    if code is not None:
        return SQLSTATES.get(code)
    # sqlite3's extended result code, on its error or on the one an async adapter wrapped.
    original = getattr(exc, "orig", None) or exc
    for error in (original, original.__cause__):
        name = getattr(error, "sqlite_errorname", None)
        if isinstance(name, str):
            return SQLITE_CODES.get(name)
    return None


_ANSWER_NOTE = "groundwork: asked the server again, it answered: "


def record_answer(exc: BaseException, answer: str) -> None:
    """Keep on ``exc`` what its server answered a second try (a SQLSTATE, or a word)."""
    exc.add_note(f"{_ANSWER_NOTE}{answer}")


def recorded_answer(exc: BaseException) -> str | None:
    """What :func:`record_answer` kept on ``exc`` (or on the driver error it wraps), if anything."""
    for each in (exc, getattr(exc, "orig", None)):
        for note in getattr(each, "__notes__", None) or ():
            if isinstance(note, str) and note.startswith(_ANSWER_NOTE):
                return note.removeprefix(_ANSWER_NOTE)
    return None


# SQLITE_BUSY: another connection holds the lock. Its extended codes keep it in the low byte.
_SQLITE_BUSY = 5


def sqlite_busy(exc: BaseException | None) -> bool:
    """Whether ``exc`` (sqlite3's own error) is SQLite's "busy", by its result code."""
    return (getattr(exc, "sqlite_errorcode", 0) & 0xFF) == _SQLITE_BUSY


def connection_lost(exc: BaseException) -> bool:
    """Whether ``exc`` means the connection died (server shut down, crashed, terminated us).

    By SQLSTATE (class 08, admin shutdown...) or by the connection's own state, as SQLAlchemy
    records it (``connection_invalidated``), never by the words of the message.
    """
    code = sqlstate_of(exc)
    if code is not None:
        return code.startswith("08") or code in _CONNECTION_LOST
    return bool(getattr(exc, "connection_invalidated", False))


def database_words(exc: BaseException) -> str:
    """The database's own words for ``exc``, after its SQLSTATE when it has one."""
    code = sqlstate_of(exc)
    return f"SQLSTATE {code}: {_driver_message(exc)}" if code else _driver_message(exc)


def _by_sqlstate(exc: BaseException) -> str | None:
    """The line of SQLSTATE_MESSAGES for ``exc``, with the server's words and our notes."""
    code = sqlstate_of(exc)
    notes = _notes(exc)
    if code is None:
        return notes or None
    if code == "3D000":  # invalid_catalog_name: the server's words name the database
        return f"{_driver_message(exc)}: run `invoke db.init` to create it"
    meaning = SQLSTATE_MESSAGES.get(code) or _SQLSTATE_CLASSES.get(code[:2])
    if meaning is None:
        return None
    extra = f"; {notes}" if notes else ""
    return f"{meaning}{extra} ({database_words(exc)})"


def add_detail(exc: BaseException, detail: str) -> None:
    """Attach ``detail`` (what we found out about ``exc``) to the line describe() gives."""
    exc.add_note(f"{_NOTE}{detail}")


_NOTE = "groundwork: "


def details(exc: BaseException) -> str:
    """What :func:`add_detail` attached to ``exc`` (or to the driver error it wraps), joined."""
    return _notes(exc)


def _notes(exc: BaseException) -> str:
    found: list[str] = []
    for each in (exc, getattr(exc, "orig", None)):
        for note in getattr(each, "__notes__", None) or ():
            if (
                isinstance(note, str)
                and note.startswith(_NOTE)
                and not note.startswith(_ANSWER_NOTE)
            ):
                found.append(note.removeprefix(_NOTE))
    return "; ".join(dict.fromkeys(found))


# File-system errors that come from where the project or its backups live, by errno.
_FILE_ERRORS = {errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOSPC, errno.EDQUOT}
_NO_SPACE = {errno.ENOSPC, errno.EDQUOT}


def _file_error(exc: OSError) -> str:
    """``cannot write FILE: permission denied ... FOLDER``: by errno, never the OS's words."""
    path = Path(str(exc.filename))
    folder = path if path.is_dir() else path.parent
    shown = _shown(str(folder))
    if exc.errno == errno.EROFS:
        why = f"the file system of {shown} is mounted read-only"
    elif exc.errno in _NO_SPACE:
        why = f"no space left on the disk of {shown} (or the quota is exceeded)"
    elif not os.access(folder, os.W_OK):
        why = f"permission denied: user {_user()} may not write in the folder {shown}"
    else:
        why = f"permission denied for user {_user()}"
    return (
        f"cannot write {_shown(str(path))}: {why}: make it writable (or run the task where it "
        "is), then run the task again"
    )


def _user() -> str:
    """The effective user's name (not $USER, which su and runuser may leave as it was)."""
    try:
        import pwd

        return pwd.getpwuid(os.geteuid()).pw_name
    except (ImportError, KeyError):  # Windows; a uid without a passwd entry (containers)
        return getpass.getuser()


def _failed_import(exc: BaseException) -> str | None:
    """``file:line`` of the project's module (a model, a revision) whose import raised ``exc``.

    That is the deepest module body of this package in the traceback; ``env.py``, whose body
    runs every migration, only when the error is in its own lines.
    """
    if isinstance(exc, SyntaxError) and exc.filename and _ours(exc.filename):
        return f"{_shown(exc.filename)}:{exc.lineno}"
    found: tuple[str, int] | None = None
    below = False  # a function of the package ran below the module body found
    tb = exc.__traceback__
    while tb is not None:
        code = tb.tb_frame.f_code
        # A module run as a script (python -m) is not an import that failed.
        if _ours(code.co_filename) and tb.tb_frame.f_globals.get("__name__") != "__main__":
            if code.co_name == "<module>":
                found, below = (code.co_filename, tb.tb_lineno), False
            else:
                below = True
        tb = tb.tb_next
    if found is None or (Path(found[0]).name == "env.py" and below):
        return None
    return f"{_shown(found[0])}:{found[1]}"


def _ours(filename: str) -> bool:
    """Whether ``filename`` is the project's (a model, a revision), not the kit's or a library's."""
    from . import project

    try:
        package_dir = project.current().package_dir
    except TaskError:
        return False
    return Path(filename).resolve().is_relative_to(package_dir)


def _shown(filename: str) -> str:
    path = Path(filename).resolve()
    return os.path.relpath(path) if path.is_relative_to(Path.cwd()) else str(path)
