"""What the API reads and writes, apart from the tables: validated on the way in and out."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from ..models import User


class UserIn(BaseModel):
    """A new user, as a client sends it."""

    email: str = Field(max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")
    display_name: str = Field(min_length=1, max_length=100)
    country_code: str | None = Field(default=None, pattern=r"^[A-Za-z]{2}$")


class UserOut(BaseModel):
    """A user, as the API shows it: the country by its natural key, not its id."""

    id: int
    email: str
    display_name: str
    is_admin: bool
    country_code: str | None
    created_at: datetime


def user_out(user: User) -> UserOut:
    """``user`` as the API shows it; its country and server defaults must be loaded."""
    return UserOut(
        id=user.id,
        email=user.email,
        display_name=user.display_name,
        is_admin=user.is_admin,
        country_code=user.country.code if user.country is not None else None,
        created_at=user.created_at,
    )
