"""An async database session per request: ``SessionDep`` in an endpoint's parameters.

The session comes from the application's async engine (``Database``, made when the app
starts) and is closed when the response is sent; an endpoint commits what it changed. Load
what a response needs in the query (``selectinload``) or with ``await session.refresh(obj,
["relation"])``: a lazy load outside ``await`` raises MissingGreenlet (docs/database.md, "Async
engines"). Tests swap ``get_session`` for their rolled-back session.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request

from ..database import AsyncSession, create_engine, session_factory
from ..settings import Settings


class Database:
    """The application's async engine and session factory, from its start to its stop."""

    def __init__(self, settings: Settings) -> None:
        self.engine = create_engine(settings)
        self.sessions = session_factory(self.engine)

    async def close(self) -> None:
        await self.engine.dispose()


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    database: Database = request.app.state.database
    async with database.sessions() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session)]
