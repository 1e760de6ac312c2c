"""What loading a seed did (or, with --plan, would do) to its table."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Counts:
    rows: int = 0
    inserted: int = 0
    updated: int = 0
    # Rows already there: identical, or (with --keep-existing) left as they were.
    unchanged: int = 0
    # Rows of a seed the ledger skipped: not read, so not compared with the table's.
    not_compared: int = 0
