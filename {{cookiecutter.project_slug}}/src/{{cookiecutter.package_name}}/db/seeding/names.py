"""The names of the seeding engine's own tables.

Here, with no imports, because an unchanged run reads these tables before anything else is
loaded (``unchanged.py``); ``db.ledger.LIFECYCLE_TABLES`` lists them among the tables that
migrations leave alone.
"""

# One row per seed: a hash of what was loaded last, and how many rows.
LEDGER_TABLE = "seed_ledger"
# One row per set of options: the fingerprint of the last run (``unchanged.py``).
RUNS_TABLE = "seed_runs"
