"""What the API reads and writes: SQLModel classes without ``table=True``.

A table model (``models.User``) is the row; these are what a client sends and sees. Keeping
them apart means a client never sets ``id`` or ``is_admin``, and the response never carries a
column the API should not show.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from ..models import User


class UserIn(SQLModel):
    """A new user, as a client sends it."""

    # A pattern goes in schema_extra: SQLModel's own ``regex=`` is not checked under Pydantic 2.
    email: str = Field(max_length=320, schema_extra={"pattern": r"^[^@\s]+@[^@\s]+$"})
    display_name: str = Field(min_length=1, max_length=100)
    country_code: str | None = Field(default=None, schema_extra={"pattern": r"^[A-Za-z]{2}$"})


class UserOut(SQLModel):
    """A user, as the API shows it: the country by its natural key, not its id."""

    id: int
    email: str
    display_name: str
    is_admin: bool
    country_code: str | None
    created_at: datetime


def user_out(user: User) -> UserOut:
    """``user`` as the API shows it, once flushed and read back (id and created_at set)."""
    if user.id is None or user.created_at is None:
        raise ValueError(f"{user!r} is not flushed and read back yet")
    return UserOut(
        id=user.id,
        email=user.email,
        display_name=user.display_name,
        is_admin=user.is_admin,
        country_code=user.country.code if user.country is not None else None,
        created_at=user.created_at,
    )
