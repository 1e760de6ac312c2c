"""Bakes of the template: each option set renders fully and lints clean (ruff, mypy --strict)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.support import bake, bake_with

OPTION_SETS = {
    "defaults": {},
    "sqlite": {"database": "sqlite"},
    "unusual-names": {"project_name": "Acme Billing API 2", "python_version": "3.12"},
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
        if "{{" in path.read_text() or "{%" in path.read_text() or "cookiecutter" in path.name
    ]
    assert leftovers == []


def test_flavour_modules_are_picked(project: Path) -> None:
    package = next((project / "src").iterdir())
    assert (package / "db" / "local.py").is_file()
    assert list((package / "db").glob("local_*.py")) == []


def test_unusual_names_are_derived(tmp_path: Path) -> None:
    project = bake(tmp_path, project_name="Acme Billing API 2")
    assert project.name == "acme-billing-api-2"
    assert (project / "src" / "acme_billing_api_2" / "models" / "__init__.py").is_file()
    assert 'name = "acme-billing-api-2"' in (project / "pyproject.toml").read_text()


@pytest.mark.parametrize(
    "tool",
    [
        ["ruff", "check", "."],
        ["ruff", "format", "--check", "."],
        ["mypy"],
    ],
    ids=["ruff-check", "ruff-format", "mypy-strict"],
)
def test_lint_clean(project: Path, tool: list[str]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", *tool], cwd=project, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
