"""The declarative base every model inherits from."""

from __future__ import annotations

from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

# Deterministic constraint names, so that migrations can drop and alter them by name on every
# database (SQLite batch mode needs names; PostgreSQL's own defaults differ between versions).
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Base class of all models; its metadata is what migrations compare against."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
