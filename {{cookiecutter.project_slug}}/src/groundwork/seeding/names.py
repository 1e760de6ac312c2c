"""The names of the tables an unchanged run reads: the seeding engine's own, and the stamp.

Here, with no imports, because an unchanged run reads these tables before anything else is
loaded (``unchanged.py``); ``ledger.KIT_TABLES`` lists them among the tables that
migrations leave alone.
"""

# One row per seed: a hash of what was loaded last, and how many rows.
LEDGER_TABLE = "seed_ledger"
# One row per set of options: the fingerprint of the last run (``unchanged.py``).
RUNS_TABLE = "seed_runs"
# The environment the database was initialized for (db/protection.py); db/ledger.py describes
# the table under this name. A database stamped production gets production's seeds only.
ENVIRONMENT_TABLE = "lifecycle_environment"
# The row of that table recording the version of the kit's own tables (kit_tables.py): part of
# an unchanged run's fingerprint, so that a run after they changed is a full one, which checks it.
KIT_VERSION_KEY = "kit_tables_version"
