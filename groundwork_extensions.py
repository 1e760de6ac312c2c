"""The template's Jinja extension: the answers are checked before cookiecutter creates a folder.

Cookiecutter renders the project folder's name and creates that folder, parents included,
*before* the pre-generation hook runs, and when the hook fails it removes only the folder it
created: ``project_slug=bad/slug`` was refused but left ``bad/`` behind. This extension checks
every answer, with the hook's own rules (hooks/pre_gen_project.py), while that name is rendered:
a refused bake prints the hook's lines and writes nothing at all. The hook stays, for bakes that
do not load this extension (a replay file of an older project names the extensions of its day).

cookiecutter.json lists it in ``_extensions``; cookiecutter puts the template's folder on
``sys.path`` while it bakes, which is how ``groundwork_extensions`` is found.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

from cookiecutter.exceptions import FailedHookException
from jinja2 import Environment
from jinja2.ext import Extension

HOOK = Path(__file__).resolve().parent / "hooks" / "pre_gen_project.py"

# The name of the template's top folder, as cookiecutter renders it (from_string, no name),
# and the same with the check in front.
PROJECT_DIR = "{{cookiecutter.project_slug}}"
CHECKED_PROJECT_DIR = "{{ cookiecutter.project_slug | groundwork_checked(cookiecutter) }}"


class AnswersRefused(FailedHookException):  # type: ignore[misc]  # cookiecutter is untyped
    """Bad answers: one line each went to stderr. cookiecutter's CLI prints this, exits 1."""


def _load_hook() -> ModuleType:
    spec = importlib.util.spec_from_file_location("groundwork_pre_gen_checks", HOOK)
    if spec is None or spec.loader is None:  # pragma: no cover - the file ships with the template
        raise FailedHookException(f"cannot load {HOOK}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def checked(slug: str, answers: Mapping[str, Any]) -> str:
    """``slug`` itself once every answer passes the pre-generation hook's rules."""
    errors: list[str] = _load_hook().validate(
        {key: value for key, value in answers.items() if isinstance(value, str)}
    )
    if errors:
        for line in errors:
            print(line, file=sys.stderr)
        raise AnswersRefused("the answers above were refused: nothing was written")
    return slug


class CheckedAnswers(Extension):
    """Puts the check in front of the project folder's name; touches no other template."""

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        environment.filters["groundwork_checked"] = checked

    def preprocess(self, source: str, name: str | None, filename: str | None = None) -> str:
        return CHECKED_PROJECT_DIR if name is None and source == PROJECT_DIR else source
