"""Project tasks: `invoke --list` shows them; docs/database.md explains the db.* ones.

The db.* tasks come from the groundwork kit (src/groundwork/tasks.py, upgraded with the kit);
add this project's own tasks here, as functions with @task and a collection of their own.
"""

from __future__ import annotations

from groundwork.tasks import database_tasks
from invoke.collection import Collection

from {{ cookiecutter.package_name }}.settings import PROJECT

ns = Collection(database_tasks(PROJECT))
