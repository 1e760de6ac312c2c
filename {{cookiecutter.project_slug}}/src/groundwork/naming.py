"""The naming convention of constraints and indexes: one place, for the models and Alembic.

``models/base.py`` gives it to the models' ``MetaData``; ``migrations/env.py`` gives it to every
run, models loaded or not (``invoke db.migrate`` does not load them), so that a revision's
unnamed constraint (``sa.UniqueConstraint("email")`` in ``op.create_table``) gets the same name
under ``invoke db.*`` and the plain ``alembic`` command, and its downgrade finds it by that name.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy import MetaData

# Deterministic constraint names, so that migrations can drop and alter them by name on every
# database (SQLite batch mode needs names; PostgreSQL's own defaults differ between versions).
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def empty_metadata() -> MetaData:
    """A ``MetaData`` with no tables and the project's convention: what a revision's ``op``
    names by."""
    from sqlalchemy import MetaData

    from .project import current as current_project

    return MetaData(naming_convention=dict(current_project().naming_convention))
