"""The one seam between the kit and a project: what the kit needs to know about it.

A project declares itself once (``src/<package>/settings.py``)::

    PROJECT = groundwork.configure(Project(package="my_service", database="postgresql",
                                           role_prefix="my_service"))

as Flask-Migrate is given its app with ``Migrate(app, db)``. Everything else follows from the
package by convention (``<package>.models``, ``<package>.seeds``, ``<package>:migrations``,
``<package>.migrations.filters``, ``<package>.grant_exceptions``) and can be named otherwise
here. The kit asks :func:`current` whenever it needs the project; nothing in the kit names one.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Literal

from .errors import TaskError
from .naming import NAMING_CONVENTION

if TYPE_CHECKING:
    from sqlalchemy import MetaData

    from .seeding import Seed

Database = Literal["postgresql", "sqlite"]


@dataclass(frozen=True)
class Project:
    """A project as the kit sees it. Only ``package`` is required."""

    package: str
    # The flavour it was baked for: which server ``DATABASE_URL`` unset means (the embedded
    # PostgreSQL, or a SQLite file under var/).
    database: Database = "postgresql"
    # Prefix of the role names (<prefix>_owner, _app, ...); DB_ROLE_PREFIX overrides it.
    role_prefix: str = ""
    naming_convention: Mapping[str, str] = field(default_factory=lambda: dict(NAMING_CONVENTION))
    models: str = ""  # "module:function" returning the models' MetaData
    seeds: str = ""  # module with load_all_seeds() and DATA_DIR
    migrations: str = ""  # Alembic's script_location: "package:folder"
    filters: str = ""  # module with include_name / include_object
    grant_exceptions: str = ""  # module with APPEND_ONLY / HIDDEN_COLUMNS
    # Kit files edited on purpose ("groundwork/urls.py"): db.check lists them without failing
    # (docs/database.md, "The kit"); an upgrade of the kit still merges into them.
    kept_kit_edits: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        defaults = {
            "role_prefix": self.package,
            "models": f"{self.package}.models:load_all_models",
            "seeds": f"{self.package}.seeds",
            "migrations": f"{self.package}:migrations",
            "filters": f"{self.package}.migrations.filters",
            "grant_exceptions": f"{self.package}.grant_exceptions",
        }
        for name, value in defaults.items():
            if not getattr(self, name):
                object.__setattr__(self, name, value)

    @property
    def package_dir(self) -> Path:
        """The folder of the project's package (models, seeds, migrations)."""
        return _folder_of(self.package)

    @property
    def migrations_dir(self) -> Path:
        """The folder ``migrations`` ("package:folder", Alembic's script_location) names."""
        package, _, folder = self.migrations.rpartition(":")
        return _folder_of(package) / folder if package else Path(folder)

    def load_models(self) -> MetaData:
        module, _, function = self.models.partition(":")
        loader = getattr(importlib.import_module(module), function or "load_all_models")
        metadata: MetaData = loader()
        self._refuse_tables_elsewhere(metadata)
        return metadata

    def _refuse_tables_elsewhere(self, metadata: MetaData) -> None:
        """Fail when SQLModel tables were defined but are not in the models' ``MetaData``.

        SQLModel puts every ``table=True`` class in ``SQLModel.metadata``; a loader that
        returns another ``MetaData`` (a declarative ``Base``'s) hides them from autogenerate
        and the drift check, which would then see nothing to create (or, once a revision made
        them by hand, tables to drop). Only an imported ``sqlmodel`` can hold such tables.
        """
        sqlmodel = sys.modules.get("sqlmodel")
        elsewhere: MetaData | None = getattr(getattr(sqlmodel, "SQLModel", None), "metadata", None)
        if elsewhere is None or elsewhere is metadata:
            return
        missing = sorted(name for name in elsewhere.tables if name not in metadata.tables)
        if missing:
            raise TaskError(
                f"the SQLModel tables {', '.join(missing)} are not in the MetaData that "
                f"{self.models} returns, so migrations would not see them: return "
                "SQLModel.metadata there and define every table on it (docs/database.md, "
                '"SQLModel")'
            )

    def seeds_module(self) -> ModuleType:
        return importlib.import_module(self.seeds)

    def load_seeds(self) -> dict[str, Seed]:
        seeds: dict[str, Seed] = self.seeds_module().load_all_seeds()
        return seeds

    @property
    def data_dir(self) -> Path:
        return Path(self.seeds_module().DATA_DIR)

    def filters_module(self) -> ModuleType:
        return importlib.import_module(self.filters)

    def grant_exceptions_module(self) -> ModuleType:
        return importlib.import_module(self.grant_exceptions)

    @property
    def grant_exceptions_file(self) -> str:
        """How messages name the exceptions module: its path under src/."""
        return self.grant_exceptions.replace(".", "/") + ".py"


def _folder_of(package: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise TaskError(
            f"the project's package {package!r} cannot be imported: install the project "
            "(pip install -e .) or run from its folder"
        )
    return Path(next(iter(spec.submodule_search_locations))).resolve()


_current: Project | None = None


def configure(project: Project) -> Project:
    """Make ``project`` the one the kit works for (the last call wins); returns it."""
    global _current  # the process's project, as Flask's current_app
    _current = project
    return project


def current() -> Project:
    """The configured project; importing the project's settings module configures it."""
    if _current is None:
        raise TaskError(
            "no project is configured for the groundwork kit: import the project's settings "
            "module (it calls groundwork.configure) before running a task"
        )
    return _current
