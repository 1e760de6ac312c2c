"""Countries: reference data that every environment has (seeded from ISO 3166)."""

from __future__ import annotations

from sqlalchemy import Identity
from sqlmodel import Field

from .base import SQLModel


class Country(SQLModel, table=True):
    """A country as ISO 3166-1 names it; ``code`` (alpha-2) is its natural key."""

    __tablename__ = "countries"

    # None until the database gives it (an identity column), as for every SQLModel table.
    id: int | None = Field(default=None, primary_key=True, sa_column_args=[Identity()])
    code: str = Field(max_length=2, unique=True)
    alpha3: str = Field(max_length=3, unique=True)
    name: str = Field(max_length=100)

    def __repr__(self) -> str:
        return f"Country({self.code!r}, {self.name!r})"
