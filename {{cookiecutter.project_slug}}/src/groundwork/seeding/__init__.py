"""Seeds: content for tables (reference data, development data), loaded by ``invoke db.seed``.

A seed module in the ``seeds`` package declares a :class:`Seed`; :mod:`.runner` orders the
seeds, loads them in one transaction and records what it loaded in the ledger (:mod:`.ledger`).

The declaration types are imported on first use (PEP 562): a run in which nothing changed
finishes before SQLAlchemy is imported (:mod:`.unchanged`), and importing any module of this
package runs this file first.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .declare import EVERY_ENVIRONMENT, Ref, Seed

__all__ = ["EVERY_ENVIRONMENT", "Ref", "Seed"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from . import declare

        return getattr(declare, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
