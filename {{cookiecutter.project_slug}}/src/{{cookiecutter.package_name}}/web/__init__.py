"""The web layer: a FastAPI application over the database groundwork.

``create_app()`` builds it; uvicorn serves it (``uvicorn --factory {{ cookiecutter.package_name }}.web:create_app``,
the image's command). docs/database.md ("The web application") explains the pieces.
"""

from __future__ import annotations

from .app import create_app

__all__ = ["create_app"]
