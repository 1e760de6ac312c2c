"""A database session per request: ``SessionDep`` in an endpoint's parameters.

The session comes from the application's engine (``Database``, made when the app starts) and is
closed when the response is sent; an endpoint commits what it changed. Tests swap
``get_session`` for their rolled-back session (``app.dependency_overrides``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request

from ..database import Session, create_engine, session_factory
from ..settings import Settings


class Database:
    """The application's engine and session factory, from its start to its stop."""

    def __init__(self, settings: Settings) -> None:
        self.engine = create_engine(settings)
        self.sessions = session_factory(self.engine)

    async def close(self) -> None:
        self.engine.dispose()


def get_session(request: Request) -> Iterator[Session]:
    database: Database = request.app.state.database
    with database.sessions() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]
