"""The test database of a project's own suite: which one, and built from nothing each run.

The project's ``tests/conftest.py`` holds the fixtures; what they need to find and rebuild the
database lives here, the same for every project (its docstring gives the order followed).
pytest, a development dependency, is imported only where a refusal ends the run.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from dotenv import dotenv_values

from . import protection
from .backends import backend_for
from .engine import database_url, ensure_local_server
from .settings import DEFAULT_APP_ENV, Settings, env_files, load_settings
from .urls import names_asyncpg, normalize

if TYPE_CHECKING:
    from sqlalchemy.engine import URL


def settings_for_tests(suffix: str = "") -> Settings:
    """``APP_ENV=test`` settings on this worker's test database (plus ``suffix`` in its name)."""
    # A DATABASE_URL in the shell is usually the development database, exported for `invoke`:
    # taking it (or a name derived from it) would point a run that drops its database there.
    environ = {name: value for name, value in os.environ.items() if name != "DATABASE_URL"}
    settings = load_settings(environ={**environ, "APP_ENV": "test"})
    worker = os.environ.get("PYTEST_XDIST_WORKER")  # gw0, gw1, ... under pytest -n
    asked, found = _test_database_url(settings, environ)
    url = _renamed(found, f"_{worker}" if worker else "", suffix)
    if names_asyncpg(asked or ""):
        # The kit reads it as psycopg's URL (urls.py); the suite's async engine uses asyncpg.
        url = url.set(drivername="postgresql+asyncpg")
    text = url.render_as_string(hide_password=False)  # settings hold text, as the files do
    return dataclasses.replace(settings, values={**settings.values, "DATABASE_URL": text})


def _test_database_url(settings: Settings, environ: dict[str, str]) -> tuple[str | None, str | URL]:
    """The test database before the worker's suffix, the first of the order in conftest.py,
    and the URL as it was written (None for the project-local one)."""
    given = os.environ.get("TEST_DATABASE_URL") or _set_by_test_files(settings)
    if given:
        return given, normalize(given, settings.project_root)
    # .env.local, where the README puts your own server, is not read under APP_ENV=test: the
    # development layering tells which server the project uses on this machine.
    development = load_settings(settings.project_root, {**environ, "APP_ENV": DEFAULT_APP_ENV})
    if development.database_url:
        return development.database_url, _renamed(database_url(development), "_test")
    ensure_local_server(settings)  # the project-local server, started as the tasks start it
    return None, database_url(settings)


def _set_by_test_files(settings: Settings) -> str | None:
    """``DATABASE_URL`` of ``.env.test``/``.env.test.local``, not of the files all share."""
    shared = env_files(settings.project_root, DEFAULT_APP_ENV)
    found = None
    for path in env_files(settings.project_root, "test"):
        if path not in shared and path.is_file():
            found = dotenv_values(path).get("DATABASE_URL") or found
    return found


def _renamed(url: str | URL, *suffixes: str) -> URL:
    """``url`` with ``suffixes`` appended to the database name (the file name on SQLite)."""
    renamed = backend_for(url).sibling(url, "".join(suffixes))
    name = renamed.database or ""
    if "test" not in Path(name).name:
        _refuse(f"refusing to use {name!r} as a test database: its name must contain 'test'")
    return renamed


def recreate(settings: Settings) -> None:
    """Drop and create the database of ``settings``: each run starts from nothing."""
    url = database_url(settings)
    stamped = protection.stamped_environment(url)
    if stamped not in (None, "test"):
        label = backend_for(url).label(url)
        _refuse(f"refusing to drop {label}: it was initialized for APP_ENV={stamped}")
    backend_for(url).drop_database(url)
    backend_for(url).create_database(url)


def drop(settings: Settings) -> None:
    """Drop the database of ``settings`` (a scratch database, after its test)."""
    url = database_url(settings)
    backend_for(url).drop_database(url)


def _refuse(reason: str) -> NoReturn:
    import pytest

    pytest.exit(reason)
