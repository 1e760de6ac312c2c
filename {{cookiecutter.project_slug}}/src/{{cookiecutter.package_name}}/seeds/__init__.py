"""The seeds: content for the tables, loaded by ``invoke db.seed`` (and ``db.init``).

One module per entity, each declaring a ``Seed`` (docs/database.md, "Seeds", shows two);
data files live in ``seeds/data/``. ``load_all_seeds`` finds every module here, so a new seed
needs no registration.
"""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil
from pathlib import Path

from groundwork.errors import TaskError
from groundwork.seeding import Seed

DATA_DIR = Path(__file__).resolve().parent / "data"


def load_all_seeds() -> dict[str, Seed]:
    """Every ``Seed`` declared by a module of this package, by name."""
    found: dict[str, Seed] = {}
    for module_info in pkgutil.iter_modules(__path__, prefix=f"{__name__}."):
        module = importlib.import_module(module_info.name)
        short_name = module_info.name.rsplit(".", 1)[1]
        for value in vars(module).values():
            if not isinstance(value, Seed):
                continue
            seed = dataclasses.replace(
                value,
                name=value.name or short_name,
                module_file=Path(module.__file__ or "").resolve(),
            )
            if seed.name in found:
                raise TaskError(
                    f"two seeds are named {seed.name!r} ({found[seed.name].module_file} and "
                    f"{seed.module_file}): give one of them name=..."
                )
            found[seed.name] = seed
    return found
