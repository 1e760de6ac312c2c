"""The lifecycle's tables as db.grant creates them: their names and their columns.

The script creates them before any migration, so that the app can read them but never rewrite
them (the version table, the migrations' checksums, the environment stamp), or write their
rows though it may not create tables (the seeds' ledger and runs). Written here as SQL text,
not compiled from ``ledger.py``'s SQLAlchemy tables: the bake renders ``sql/roles.sql`` with
the standard library alone. A test compiles those tables and compares them with these.
"""

from __future__ import annotations

from ..seeding.names import ENVIRONMENT_TABLE
from ..seeding.names import LEDGER_TABLE as SEED_LEDGER_TABLE
from ..seeding.names import RUNS_TABLE as SEED_RUNS_TABLE

# Alembic's; the advisory lock of a migration is named after it too (locking.py).
VERSION_TABLE = "alembic_version"
MIGRATION_LEDGER_TABLE = "migration_ledger"

# Written by migrations only; the app (and the reader) may read them.
READ_ONLY_TABLES = (VERSION_TABLE, MIGRATION_LEDGER_TABLE, ENVIRONMENT_TABLE)
# Written by db.seed, which runs with the app's login: ordinary tables of the owner, so the app
# writes their rows like any other; created here because the app may not CREATE TABLE.
SEED_TABLES = (SEED_LEDGER_TABLE, SEED_RUNS_TABLE)
LIFECYCLE_TABLES = (*READ_ONLY_TABLES, *SEED_TABLES)
# The kit's own, beside Alembic's version table: autogenerate and the drift check ignore them
# (ledger.py), and their layout is versioned (kit_tables.py).
KIT_TABLES = tuple(name for name in LIFECYCLE_TABLES if name != VERSION_TABLE)

# What PostgreSQL's dialect of SQLAlchemy compiles ledger.py's and seeding/ledger.py's tables to.
COLUMNS: dict[str, tuple[str, ...]] = {
    VERSION_TABLE: (
        "version_num VARCHAR(32) NOT NULL",
        "CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num)",
    ),
    MIGRATION_LEDGER_TABLE: (
        "revision VARCHAR(64) NOT NULL",
        "file VARCHAR(255) NOT NULL",
        "checksum VARCHAR(64) NOT NULL",
        "applied_at TIMESTAMP WITH TIME ZONE NOT NULL",
        "PRIMARY KEY (revision)",
    ),
    ENVIRONMENT_TABLE: (
        "key VARCHAR(64) NOT NULL",
        "value VARCHAR(255) NOT NULL",
        "updated_at TIMESTAMP WITH TIME ZONE NOT NULL",
        "PRIMARY KEY (key)",
    ),
    SEED_LEDGER_TABLE: (
        "name VARCHAR(200) NOT NULL",
        "content_hash VARCHAR(64) NOT NULL",
        "row_count BIGINT NOT NULL",
        "seeded_at TIMESTAMP WITH TIME ZONE NOT NULL",
        "PRIMARY KEY (name)",
    ),
    SEED_RUNS_TABLE: (
        "run_key VARCHAR(64) NOT NULL",
        "fingerprint VARCHAR(64) NOT NULL",
        "seeds TEXT NOT NULL",
        "recorded_at TIMESTAMP WITH TIME ZONE NOT NULL",
        "PRIMARY KEY (run_key)",
    ),
}


def create_table(qualified: str, name: str) -> list[str]:
    """CREATE TABLE IF NOT EXISTS ``qualified`` with the columns of the lifecycle table ``name``."""
    columns = [f"    {column}" for column in COLUMNS[name]]
    return [
        f"CREATE TABLE IF NOT EXISTS {qualified} (",
        *[f"{column}," for column in columns[:-1]],
        *columns[-1:],
        ");",
    ]
