"""The models. Import them from here::

    from {{ cookiecutter.package_name }}.models import Order

A new model goes in a module of its own in this package (``order.py``, its class inheriting
``Base``). Migrations see it without anyone adding an import (``load_all_models`` imports every
module here); list it in ``__all__`` too, which a test checks, so that the rest of the code can
import it from this one place. docs/database.md ("Starting clean") has the first steps.
"""

from __future__ import annotations

import importlib
import pkgutil

from sqlalchemy import MetaData

from .base import Base

__all__ = ["Base"]


def load_all_models() -> MetaData:
    """Import every module of this package, so that every model is in ``Base.metadata``."""
    for module in pkgutil.walk_packages(__path__, prefix=f"{__name__}."):
        importlib.import_module(module.name)
    return Base.metadata
