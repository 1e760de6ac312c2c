"""The application factory: settings, the database, the probes and the resources."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from groundwork.readiness import ReadinessCheck

from .. import __doc__ as package_doc
from ..settings import Settings, load_settings
from . import health
from .routes import ROUTERS
from .sessions import Database

# The project's name, as the package's docstring gives it first.
TITLE = ((package_doc or "").strip().splitlines() or ["API"])[0].removesuffix(".")


def create_app(settings: Settings | None = None) -> FastAPI:
    """A new application on ``settings`` (default: the environment's, as the tasks read them).

    The engine is made when the application starts and disposed of when it stops (the
    lifespan), not at import: importing the package never connects.
    """
    chosen = settings if settings is not None else load_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.database = Database(chosen)
        app.state.readiness = ReadinessCheck(chosen)
        try:
            yield
        finally:
            app.state.readiness.close()
            await app.state.database.close()

    app = FastAPI(title=TITLE, lifespan=lifespan)
    app.include_router(health.router)
    for router in ROUTERS:
        app.include_router(router)
    return app
