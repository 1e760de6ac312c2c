"""``/users``: the example resource over the example models (users in countries), async.

Every attribute a response reads is loaded before it is read: the country with
``selectinload``, the server's values with ``await session.refresh``. A lazy load would need
I/O outside ``await`` and raise MissingGreenlet.
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Query, status
from groundwork.errors import violated_constraint
from sqlalchemy import inspect
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload
from sqlmodel import col, select

from ..models import Country, User
from .schemas import UserIn, UserOut, user_out
from .sessions import SessionDep

router = APIRouter(prefix="/users", tags=["users"])

# The relationship as a mapped attribute, for loader options: SQLModel types ``User.country``
# as the Country it holds, which selectinload() does not take.
USER_COUNTRY = inspect(User).relationships["country"].class_attribute


@router.get("")
async def list_users(
    session: SessionDep,
    limit: int = Query(default=50, ge=1, le=500),
    offset: int = Query(default=0, ge=0),
) -> list[UserOut]:
    """Users by id, a page at a time."""
    query = select(User).options(selectinload(USER_COUNTRY)).order_by(col(User.id))
    return [user_out(user) for user in await session.exec(query.limit(limit).offset(offset))]


@router.get("/{user_id}", responses={404: {"description": "no such user"}})
async def get_user(user_id: int, session: SessionDep) -> UserOut:
    user = await session.get(User, user_id, options=[selectinload(USER_COUNTRY)])
    if user is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no user {user_id}")
    return user_out(user)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses={409: {"description": "the e-mail is taken"}, 422: {"description": "bad input"}},
)
async def create_user(body: UserIn, session: SessionDep) -> UserOut:
    country = None
    if body.country_code is not None:
        code = body.country_code.upper()
        found = await session.exec(select(Country).where(col(Country.code) == code))
        country = found.one_or_none()
        if country is None:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"no country {code!r}")
    user = User(email=body.email, display_name=body.display_name, country=country)
    session.add(user)
    try:
        await session.commit()
    except IntegrityError as exc:
        await session.rollback()
        # By its code, not its words: the one unique column a client sets is the e-mail.
        if violated_constraint(exc) != "unique":
            raise
        raise HTTPException(
            status.HTTP_409_CONFLICT, f"a user with e-mail {body.email!r} exists already"
        ) from None
    await session.refresh(user, ["id", "created_at", "is_admin"])  # the server's values
    return user_out(user)
