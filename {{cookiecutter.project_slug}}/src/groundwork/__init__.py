"""Groundwork: the database lifecycle kit of this project (migrations, seeds, roles, backups).

Not yours to edit: upgrade it (README.md, "Upgrading the kit"). It knows the project only
through the :class:`Project` that ``src/<package>/settings.py`` configures.
"""

from .project import Project, configure, current

__version__ = "1.0.0"

__all__ = ["Project", "__version__", "configure", "current"]
