"""The naming convention on ``SQLModel.metadata``, where every ``table=True`` model lands.

SQLModel keeps one ``MetaData`` for all its tables: the convention is set on it here, before
any table class exists, because a constraint is named when it joins its table. The model
modules import ``SQLModel`` from this module, never from ``sqlmodel``, so that this runs first.
"""

from __future__ import annotations

from sqlmodel import SQLModel

from ..settings import PROJECT

SQLModel.metadata.naming_convention = dict(PROJECT.naming_convention)

__all__ = ["SQLModel"]
