"""The declarative base every model inherits from."""

from __future__ import annotations

from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

from ..settings import PROJECT


class Base(DeclarativeBase):
    """Base class of all models; its metadata is what migrations compare against."""

    metadata = MetaData(naming_convention=dict(PROJECT.naming_convention))
