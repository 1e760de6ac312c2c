"""The one exception type a task reports as a single line, and how library errors become one.

Anything raised below a task is turned into one line by :func:`describe`; passwords are masked
there, whatever the message came from.
"""

from __future__ import annotations

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
        if isinstance(exc, sa_exc.OperationalError | sa_exc.InterfaceError):
            message = _driver_message(exc)
            if "does not exist" in message and 'database "' in message:
                return f"{message}: run `invoke db.init` to create it"
            if message == "database is locked":
                return (
                    "the SQLite file stayed locked by another writer (a migration, a long "
                    "transaction): retry when it is done, or raise --lock-timeout"
                )
            return f"cannot reach the database: {message}"
        if isinstance(exc, sa_exc.DBAPIError):
            return f"database error: {_driver_message(exc)}"
    alembic_util = sys.modules.get("alembic.util.exc")
    if alembic_util is not None and isinstance(exc, alembic_util.CommandError):
        text = _first_line(str(exc))
        if "Can't locate revision" in text:
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


_PACKAGE_DIR = Path(__file__).resolve().parent


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
    return Path(filename).resolve().is_relative_to(_PACKAGE_DIR)


def _shown(filename: str) -> str:
    path = Path(filename).resolve()
    return os.path.relpath(path) if path.is_relative_to(Path.cwd()) else str(path)
