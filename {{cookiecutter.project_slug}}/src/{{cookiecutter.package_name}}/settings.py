"""This project's settings, and how the groundwork kit (src/groundwork/) sees the project.

Settings come from layered environment files and the process environment: ``.env``,
``.env.{APP_ENV}``, ``.env.local``, ``.env.{APP_ENV}.local``, real environment variables last
(docs/database.md, "Settings"). ``PROJECT`` is the one place the kit learns about this project;
name a module otherwise there (``models=``, ``seeds=``, ``migrations=``) if you move it.
"""

from __future__ import annotations

from groundwork import Project, configure
from groundwork.settings import Settings, load_settings

PROJECT = configure(
    Project(
        package="{{ cookiecutter.package_name }}",
        database="{{ cookiecutter.database }}",
        role_prefix="{{ cookiecutter.role_prefix }}",
    )
)

__all__ = ["PROJECT", "Settings", "load_settings"]
