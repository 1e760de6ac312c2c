"""The template repository's own code meets the bar it sets its bakes (tests/test_bake.py,
``test_lint_clean``): ruff with the same rules, and ``mypy --strict`` (pyproject.toml).

ruff is given the folders by name: left to discover them, it would also read the generated
project's pyproject.toml, which is a Jinja template, not TOML. mypy takes its files, and the
kit it checks them against (``{{cookiecutter.project_slug}}/src``), from ``[tool.mypy]``.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.support import REPO

CODE = ["hooks", "bench", "tests", "dev.py", "groundwork_extensions.py"]


@pytest.mark.parametrize(
    "tool",
    [
        ["ruff", "check", *CODE],
        ["ruff", "format", "--check", *CODE],
        # Its own incremental cache: the kit's and the libraries' analysis is reused between
        # runs, and mypy rechecks every module whose file changed.
        ["mypy", "--cache-dir", str(REPO / ".cache" / "mypy-template")],
    ],
    ids=["ruff-check", "ruff-format", "mypy-strict"],
)
def test_template_code_is_lint_clean(tool: list[str]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", *tool], cwd=REPO, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
