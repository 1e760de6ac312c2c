"""The models. Import them from here::

    from {{ cookiecutter.package_name }}.models import Order

A new model goes in a module of its own in this package (``order.py``, its class inheriting
``SQLModel`` from ``.base`` with ``table=True``). Migrations see it without anyone adding an
import (``load_all_models`` imports every module here); list it in ``__all__`` too, which a test
checks, so that the rest of the code can import it from this one place. Classes without
``table=True`` (API schemas) have no table and are not migrated. docs/database.md ("Starting
clean", "SQLModel") has the first steps.
"""

from __future__ import annotations

import importlib
import pkgutil

from sqlalchemy import MetaData

from .base import SQLModel

__all__ = ["SQLModel"]


def load_all_models() -> MetaData:
    """Import every module of this package: every table model is then in ``SQLModel.metadata``."""
    for module in pkgutil.walk_packages(__path__, prefix=f"{__name__}."):
        importlib.import_module(module.name)
    return SQLModel.metadata
