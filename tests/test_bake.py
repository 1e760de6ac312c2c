"""Bakes of the template: each option set renders fully and lints clean (ruff, mypy --strict)."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
from cookiecutter.main import cookiecutter

from tests.support import REPO, bake, bake_with, kit_dir

# Free text as people type it: quotes of both kinds, backslashes (``\\N`` would end a naive
# docstring with a SyntaxError), a typographic dash and apostrophe, non-ASCII and an emoji
# (which JSON writes as a surrogate pair that TOML rejects).
UNUSUAL_NAMES = {
    # ...and long: the package name fills lines that ruff would wrap or find too long.
    "project_name": 'Ann O\'Neil "Zo\u00eb" \\ Interplanetary Billing And Ledger API 2',
    "description": (
        'Bills for "Zo\u00eb\u2019s" shop \u2013 C:\\New\\Invoices, '
        "'''\u2615''' and \"\"\" too \U0001f600"
    ),
    "author_name": 'Ann O\'Neil "Zo\u00eb" \\',
    "python_version": "3.12",
}

OPTION_SETS = {
    "defaults": {},
    "sqlite": {"database": "sqlite"},
    "unusual-names": UNUSUAL_NAMES,
    # Without the example models, revision and seeds (tests/test_no_examples.py).
    "no-examples": {"examples": "no"},
    "sqlite-no-examples": {"database": "sqlite", "examples": "no"},
    # engine=async: the async database module, fixtures and example tests (docs/database.md).
    "async": {"engine": "async"},
    "sqlite-async": {"database": "sqlite", "engine": "async"},
    "async-no-examples": {"engine": "async", "examples": "no"},
    "sqlite-async-no-examples": {"database": "sqlite", "engine": "async", "examples": "no"},
}


@pytest.fixture(scope="module", params=list(OPTION_SETS))
def project(request: pytest.FixtureRequest, cookies_session: Any) -> Path:
    return bake_with(cookies_session, **OPTION_SETS[request.param])


def text_files(root: Path) -> list[Path]:
    found = []
    for path in root.rglob("*"):
        if path.is_file() and ".git" not in path.parts:
            try:
                path.read_text()
            except UnicodeDecodeError:
                continue
            found.append(path)
    return found


def test_nothing_left_unrendered(project: Path) -> None:
    leftovers = [
        str(path.relative_to(project))
        for path in text_files(project)
        if "{{" in path.read_text() or "{%" in path.read_text() or "{{" in str(path)
    ]
    assert leftovers == []


def test_kits_are_byte_identical(tmp_path: Path) -> None:
    """Two bakes with other names, flavours and options hold the very same kit, file by file."""
    first = bake(tmp_path / "a", project_name="Acme Billing", database="postgresql")
    second = bake(
        tmp_path / "b", project_name="Zeta", database="sqlite", examples="no", role_prefix="zz"
    )
    kit = _tree(kit_dir(first))
    assert kit == _tree(kit_dir(second))
    # both flavours' modules
    assert "local_postgresql.py" in kit
    assert "local_sqlite.py" in kit


def test_unusual_names_are_derived(tmp_path: Path) -> None:
    project = bake(tmp_path, project_name="Acme Billing API 2")
    assert project.name == "acme-billing-api-2"
    assert (project / "src" / "acme_billing_api_2" / "models" / "__init__.py").is_file()
    assert 'name = "acme-billing-api-2"' in (project / "pyproject.toml").read_text()


def test_free_text_answers_arrive_as_typed(cookies_session: Any) -> None:
    """Quotes and backslashes in the answers are escaped wherever the text is embedded."""
    project = bake_with(cookies_session, **UNUSUAL_NAMES)
    assert project.name == "ann-o-neil-zoe-interplanetary-billing-and-ledger-api-2"
    metadata = tomllib.loads((project / "pyproject.toml").read_text())["project"]
    assert metadata["description"] == UNUSUAL_NAMES["description"]
    assert metadata["authors"][0]["name"] == UNUSUAL_NAMES["author_name"]
    init = (
        project / "src" / "ann_o_neil_zoe_interplanetary_billing_and_ledger_api_2" / "__init__.py"
    )
    docstring = ast.get_docstring(ast.parse(init.read_text()))
    assert docstring is not None
    name, _, description = docstring.split("\n", 2)
    assert name == f"{UNUSUAL_NAMES['project_name']}."
    assert " ".join(description.split()) == UNUSUAL_NAMES["description"]  # wrapped at spaces
    assert (project / "README.md").read_text().startswith(f"# {UNUSUAL_NAMES['project_name']}\n")


def test_answers_file_rebakes_the_same_project(tmp_path: Path) -> None:
    """`.cookiecutter.json` holds the answers: a replay gives the very same files.

    (The answers `cruft link` is given for a project baked without cruft, and a scratch bake's.
    Updates in place are cruft's three-way merges: tests/test_cruft.py.)"""
    project = bake(tmp_path / "first", project_name="Acme Billing", database="sqlite")
    answers = project / ".cookiecutter.json"
    assert json.loads(answers.read_text())["cookiecutter"]["database"] == "sqlite"
    again = Path(cookiecutter(str(REPO), replay=str(answers), output_dir=str(tmp_path / "again")))
    assert _tree(again) == _tree(project)


def _tree(root: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(root)): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


@pytest.mark.parametrize(
    "tool",
    [
        ["ruff", "check", "."],
        ["ruff", "format", "--check", "."],
        ["mypy"],
    ],
    ids=["ruff-check", "ruff-format", "mypy-strict"],
)
def test_lint_clean(project: Path, tool: list[str], worker_id: str) -> None:
    if tool == ["mypy"]:
        # One incremental cache per xdist worker, shared by the bakes: the libraries'
        # (SQLAlchemy's, Alembic's) analysis is reused, 3/4 of a cold run; mypy rechecks
        # every module whose file or options differ, so no bake is judged by another's.
        tool = [*tool, "--cache-dir", str(REPO / ".cache" / "mypy" / worker_id)]
    result = subprocess.run(
        [sys.executable, "-m", *tool], cwd=project, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


# The postgresql flavour's own dependencies: import name, distribution name.
POSTGRESQL_ONLY_PACKAGES = {
    "psycopg": "psycopg",
    "alembic_postgresql_enum": "alembic-postgresql-enum",
}


def test_the_sqlite_flavour_never_imports_psycopg(cookies_session: Any) -> None:
    """The sqlite flavour does not install psycopg (nor alembic-postgresql-enum), so no module
    may import them by statement but the kit's PostgreSQL modules, which its mypy skips.

    This suite's environment has them, so mypy above would not notice: a user's would
    (``Cannot find implementation or library stub``), and so would Python at import time
    (tests/test_seeds.py runs a whole lifecycle with them unimportable).
    """
    project = bake_with(cookies_session, database="sqlite")
    pyproject = tomllib.loads((project / "pyproject.toml").read_text())
    metadata = pyproject["project"]
    requirements = [*metadata["dependencies"], *metadata["optional-dependencies"]["dev"]]
    assert not [
        name
        for name in POSTGRESQL_ONLY_PACKAGES.values()
        if any(r.startswith(name) for r in requirements)
    ]
    skipped = {
        module.replace(".", "/") + ".py"
        for override in pyproject["tool"]["mypy"]["overrides"]
        if override.get("ignore_errors")
        for module in override["module"]
    }
    importers = []
    for path in project.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            if (
                any(name.split(".")[0] in POSTGRESQL_ONLY_PACKAGES for name in names)
                and str(path.relative_to(project / "src")) not in skipped
            ):
                importers.append(f"{path.relative_to(project)}:{node.lineno}")
    assert importers == []
