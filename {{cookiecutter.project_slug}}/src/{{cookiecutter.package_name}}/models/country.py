"""Countries: reference data that every environment has (seeded from ISO 3166)."""

from __future__ import annotations

from sqlalchemy import Identity, String
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base


class Country(Base):
    """A country as ISO 3166-1 names it; ``code`` (alpha-2) is its natural key."""

    __tablename__ = "countries"

    id: Mapped[int] = mapped_column(Identity(), primary_key=True)
    code: Mapped[str] = mapped_column(String(2), unique=True)
    alpha3: Mapped[str] = mapped_column(String(3), unique=True)
    name: Mapped[str] = mapped_column(String(100))

    def __repr__(self) -> str:
        return f"Country({self.code!r}, {self.name!r})"
