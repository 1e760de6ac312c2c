"""Users of the service, each living in a country."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Identity, String, false, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base
from .country import Country


class User(Base):
    """An account; ``email`` is its natural key."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Identity(), primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    display_name: Mapped[str] = mapped_column(String(100))
    is_admin: Mapped[bool] = mapped_column(default=False, server_default=false())
    country_id: Mapped[int | None] = mapped_column(
        ForeignKey("countries.id", ondelete="RESTRICT"), index=True
    )
    # CURRENT_TIMESTAMP rather than now(): SQLite has no now() function.
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.current_timestamp()
    )

    country: Mapped[Country | None] = relationship()

    def __repr__(self) -> str:
        return f"User({self.email!r})"
