"""psycopg 3, for the few places that talk to PostgreSQL below SQLAlchemy.

Imported by name: a project baked for SQLite neither installs psycopg nor type-checks against
it, yet keeps these modules (``db.grant --print`` renders PostgreSQL's SQL on any flavour).
"""

from __future__ import annotations

import importlib
from typing import Any


def psycopg() -> Any:
    """The ``psycopg`` module; ModuleNotFoundError (reported by errors.py) when not installed."""
    module = importlib.import_module("psycopg")
    importlib.import_module("psycopg.sql")
    return module
