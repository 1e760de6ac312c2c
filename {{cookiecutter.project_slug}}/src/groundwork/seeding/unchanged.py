"""Recognising a run in which nothing changed, before importing anything heavy.

A run that finds every seed unchanged does little, but getting there imported SQLAlchemy, the
seed modules with their models and the ORM, and Alembic with every revision file (to check
that the database is at head): most of a second. So each run remembers (``seed_runs``) a
fingerprint of everything its outcome depends on:

- the files of the ``seeds``, ``models`` and ``migrations`` packages (the declarations, the
  data files, the revisions that decide where head is);
- the run's options (environment, ``--only``, ``--keep-existing``, ``--force``, APP_ENV);
- the database's applied revisions, its environment stamp (a database stamped production
  since the run meets the production guard again) and the ledger's hash of each seed.

The next run with the same options computes it again, from the files and a few small queries
through the bare database driver. When it matches, and every table still holds the rows the
ledger counted (the guard against a table emptied behind the ledger's back), the full run
would skip every seed: the run ends here. Anything else, an error included, falls through to
the full run, which decides and reports as always.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..backends import Backend, backend_for, backend_named
from ..engine import database_url_text
from ..quoting import ident
from .names import ENVIRONMENT_TABLE, KIT_VERSION_KEY, LEDGER_TABLE, RUNS_TABLE

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from ..settings import Settings

PACKAGES = ("seeds", "models", "migrations")
# A run's seeds, each as (name, schema, table).
SeedTables = Sequence[tuple[str, str | None, str]]


def run_key(
    settings: Settings, environment: str, only: Sequence[str], *, keep: bool, force: bool
) -> str:
    options = [environment, sorted(only), keep, force, settings.app_env]
    return hashlib.sha256(repr(options).encode()).hexdigest()


def file_hashes(package_dir: Path | None = None) -> dict[Path, str]:
    """A hash of every file of the packages the seeds' outcome depends on, by path."""
    if package_dir is None:
        from ..project import current as current_project

        package_dir = current_project().package_dir
    hashes: dict[Path, str] = {}
    for name in PACKAGES:
        files = (p for p in (package_dir / name).rglob("*") if "__pycache__" not in p.parts)
        for path in sorted(p for p in files if p.is_file()):
            hashes[path] = file_hash(path)
    return hashes


def file_hash(path: Path) -> str:
    with path.open("rb") as handle:
        # SHA-1 is twice as fast as SHA-256 on a big data file; this notices changes, it
        # does not defend against anyone.
        return hashlib.file_digest(handle, lambda: hashlib.sha1(usedforsecurity=False)).hexdigest()


def files_digest(hashes: dict[Path, str]) -> str:
    content = repr(sorted((path.as_posix(), value) for path, value in hashes.items()))
    return hashlib.sha256(content.encode()).hexdigest()


def fingerprint(
    backend: Backend, dbapi: Any, key: str, digest: str, names: Sequence[str]
) -> tuple[str, dict[str, tuple[str, int]]]:
    """The fingerprint of a run of seeds ``names``, and the ledger it read (name: hash, rows)."""
    # Alembic's own table, read directly: asking Alembic would mean importing it. A project
    # without any revision yet has none (Alembic creates it with the first one).
    heads = (
        sorted(row[0] for row in _query(dbapi, "SELECT version_num FROM alembic_version"))
        if _table_exists(backend, dbapi, "alembic_version")
        else []
    )
    recorded = {
        name: (content_hash, int(rows))
        for name, content_hash, rows in _query(
            dbapi, f"SELECT name, content_hash, row_count FROM {LEDGER_TABLE}"
        )
    }
    hashes = [(name, recorded.get(name, ("", 0))[0]) for name in names]
    # The stamp, and the kit's tables' version: after a kit of another version touched them, a
    # full run (which checks that version, kit_tables.py) rather than a shortcut.
    rows = _environment(backend, dbapi)
    stamps = [rows.get("environment"), rows.get(KIT_VERSION_KEY)]
    content = repr([key, digest, heads, stamps, hashes]).encode()
    return hashlib.sha256(content).hexdigest(), recorded


def stamp(backend: Backend, dbapi: Any) -> str | None:
    """The environment the database was initialized for (db/protection.py), or None.

    Through the bare driver, for the shortcut; the full run reads it the same way, inside its
    transaction. The catalog is asked first: on PostgreSQL a query of a missing table would
    abort the transaction.
    """
    return _environment(backend, dbapi).get("environment")


def _environment(backend: Backend, dbapi: Any) -> dict[str, str]:
    """The rows of the environment table (the stamp, the kit's tables' version), by key."""
    if not _table_exists(backend, dbapi, ENVIRONMENT_TABLE):
        return {}
    return {str(k): str(v) for k, v in _query(dbapi, f"SELECT key, value FROM {ENVIRONMENT_TABLE}")}


def _table_exists(backend: Backend, dbapi: Any, name: str) -> bool:
    """Whether table ``name`` exists, asked of the catalog (a query of a missing table would
    abort a PostgreSQL transaction)."""
    found = _query(dbapi, backend.bare_table_exists, name)
    return bool(found) and found[0][0] is not None


def unchanged_run(settings: Settings, key: str, digest: str) -> list[tuple[str, int]] | None:
    """The seeds and row counts of the last run with these options, if it would skip them all."""
    url = database_url_text(settings)  # text: parsing it would import SQLAlchemy
    try:
        backend = backend_for(url)
        dbapi, errors = backend.bare_connection(url)  # SQLite: read-only
    except Exception:  # whatever it is, the full run reports it in its own words
        return None
    try:
        return _unchanged(backend, dbapi, key, digest)
    except errors:
        return None  # no ledger yet, a table gone, ...: the full run will tell
    finally:
        dbapi.close()


def _unchanged(backend: Backend, dbapi: Any, key: str, digest: str) -> list[tuple[str, int]] | None:
    mark = backend.bare_placeholder
    remembered = _query(
        dbapi, f"SELECT fingerprint, seeds FROM {RUNS_TABLE} WHERE run_key = {mark}", key
    )
    if not remembered:
        return None
    value, seeds_json = remembered[0]
    seeds = [(str(name), schema, str(table)) for name, schema, table in json.loads(seeds_json)]
    now, recorded = fingerprint(backend, dbapi, key, digest, [name for name, _, _ in seeds])
    if now != value:
        return None
    found = []
    for name, schema, table in seeds:
        rows = recorded[name][1]
        target = ".".join(ident(part) for part in (schema, table) if part)
        if int(_query(dbapi, f"SELECT count(*) FROM {target}")[0][0]) < rows:
            return None
        found.append((name, rows))
    return found


def _query(dbapi: Any, sql: str, *params: object) -> list[tuple[Any, ...]]:
    cursor = dbapi.cursor()
    try:
        cursor.execute(sql, params)
        return list(cursor.fetchall())
    finally:
        cursor.close()


def remember(connection: Connection, key: str, digest: str, seeds: SeedTables) -> None:
    """Record the run that just loaded (or skipped) ``seeds``, in its own transaction."""
    from . import ledger

    backend = backend_named(connection.dialect.name)
    dbapi = connection.connection.driver_connection
    value, _ = fingerprint(backend, dbapi, key, digest, [name for name, _, _ in seeds])
    ledger.record_run(connection, key, value, json.dumps(list(seeds)))
