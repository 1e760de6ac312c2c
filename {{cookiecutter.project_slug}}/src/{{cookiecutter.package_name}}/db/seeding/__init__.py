"""Seeds: content for tables (reference data, development data), loaded by ``invoke db.seed``.

A seed module in the ``seeds`` package declares a :class:`Seed`; :mod:`.runner` orders the
seeds, loads them in one transaction and records what it loaded in the ledger (:mod:`.ledger`).
Only the declaration types are imported here, so that seed modules stay cheap to import.
"""

from __future__ import annotations

from .declare import EVERY_ENVIRONMENT, Ref, Seed

__all__ = ["EVERY_ENVIRONMENT", "Ref", "Seed"]
