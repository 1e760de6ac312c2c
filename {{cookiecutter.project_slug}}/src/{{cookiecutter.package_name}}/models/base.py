"""The declarative base every model inherits from."""

from __future__ import annotations

from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

from ..db.naming import NAMING_CONVENTION


class Base(DeclarativeBase):
    """Base class of all models; its metadata is what migrations compare against."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
