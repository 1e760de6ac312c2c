"""The PostgreSQL admin's way in: a connection to a maintenance database.

CREATE DATABASE and DROP DATABASE run from outside the database they name
(backends/postgresql.py); db.grant never applies the role model to one of these databases
(roles/connection.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from .driver import PINNED_SEARCH_PATH
from .engine import make_engine
from .server_answer import answer

# Databases that every PostgreSQL server has; used to run CREATE/DROP DATABASE from outside.
MAINTENANCE_DATABASES = ("postgres", "template1")


@contextmanager
def maintenance(
    url: URL, *, or_target: bool = False, autocommit: bool = False
) -> Iterator[Connection]:
    """A connection to ``postgres``, else ``template1``, else (``or_target``) the database itself.

    Managed servers and careful DBAs may refuse a login the ``postgres`` database (no CONNECT,
    no pg_hba.conf line); a server's answer (any SQLSTATE) moves on to the next candidate, while a
    server that does not answer at all is reported at once. The first refusal is the one
    reported when none accepts: it names the database people expect to be used.

    The URL object goes to the driver as keyword parameters (any character in a password),
    and the search path is pinned to the catalog: this login creates and drops databases.
    """
    candidates = [*MAINTENANCE_DATABASES, *([url.database] if or_target else [])]
    first: DBAPIError | None = None
    given = url.query.get("options")
    given = given if isinstance(given, str) else (given[-1] if given else "")
    options: dict[str, Any] = {
        "poolclass": NullPool,
        "connect_args": {"options": f"{given} {PINNED_SEARCH_PATH}".strip()},
    }
    if autocommit:
        options["isolation_level"] = "AUTOCOMMIT"
    for name in dict.fromkeys(candidates):
        # make_engine: a connect timeout is reported with the server and the seconds.
        engine = make_engine(url.set(database=name), **options)
        try:
            try:
                connection = engine.connect()
            except DBAPIError as exc:
                if answer(exc) is None:  # by the protocol, not the words (server_answer.py)
                    raise
                first = first or exc
                continue
            with connection:
                yield connection
            return
        finally:
            engine.dispose()
    if first is not None:  # always, once the loop is over
        raise first
