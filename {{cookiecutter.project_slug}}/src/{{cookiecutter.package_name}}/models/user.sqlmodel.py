"""Users of the service, each living in a country.

No ``from __future__ import annotations`` here: SQLModel reads a ``Relationship``'s target from
the annotation itself, and a string (``"Country | None"``) is no class SQLAlchemy can find.
"""

from datetime import datetime

from sqlalchemy import DateTime, Identity, false, func
from sqlmodel import Field, Relationship

from .base import SQLModel
from .country import Country


class User(SQLModel, table=True):
    """An account; ``email`` is its natural key."""

    __tablename__ = "users"

    id: int | None = Field(default=None, primary_key=True, sa_column_args=[Identity()])
    email: str = Field(max_length=320, unique=True)
    display_name: str = Field(max_length=100)
    is_admin: bool = Field(default=False, sa_column_kwargs={"server_default": false()})
    country_id: int | None = Field(
        default=None, foreign_key="countries.id", ondelete="RESTRICT", index=True
    )
    # TIMESTAMP WITH TIME ZONE said explicitly: SQLModel's type for a datetime changed between
    # versions. CURRENT_TIMESTAMP rather than now(): SQLite has no now() function. None until
    # the row is flushed and read back.
    created_at: datetime | None = Field(
        default=None,
        nullable=False,
        sa_type=DateTime(timezone=True),
        sa_column_kwargs={"server_default": func.current_timestamp()},
    )

    country: Country | None = Relationship()

    def __repr__(self) -> str:
        return f"User({self.email!r})"
