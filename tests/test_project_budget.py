"""What a team owns stays small: the project's own infrastructure, outside the kit.

Issue 14's budget: everything outside the models, the seeds, the revisions and the kit (the
project's settings, env.py, filters, grant exceptions, database.py, tasks.py and its test
fixtures) is at most 400 lines, and ``tasks.py`` fits on one screen. The kit (src/groundwork/)
is the rest. With every option: web=fastapi's ``web/`` package is the service's application
(its endpoints), which a team writes and owns as it does its models, so it is not counted.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.support import bake_with, kit_dir, package_dir

BUDGET = 400
ONE_SCREEN = 50


def _lines(path: Path) -> int:
    return len(path.read_text(encoding="utf-8").splitlines())


def own_infrastructure(project: Path) -> dict[str, int]:
    """Lines of each Python file the team owns that is neither domain code nor the kit."""
    package = package_dir(project)
    domain = [
        package / "models",
        package / "seeds",
        package / "migrations" / "versions",
        package / "web",
    ]
    files = [project / "tasks.py", project / "tests" / "conftest.py"]
    files += [
        path
        for path in package.rglob("*.py")
        if not any(path.is_relative_to(folder) for folder in domain)
    ]
    return {str(path.relative_to(project)): _lines(path) for path in sorted(files)}


OPTION_SETS = {
    "postgresql": {},
    "sqlite": {"database": "sqlite"},
    "every-option": {"models": "sqlmodel", "engine": "async", "web": "fastapi"},
    "every-option-sqlite": {
        "database": "sqlite",
        "models": "sqlmodel",
        "engine": "async",
        "web": "fastapi",
    },
}


@pytest.mark.parametrize("options", list(OPTION_SETS))
def test_the_projects_own_infrastructure_is_within_budget(
    cookies_session: Any, options: str
) -> None:
    project = bake_with(cookies_session, **OPTION_SETS[options])
    lines = own_infrastructure(project)
    assert "src/my_service/settings.py" in lines
    assert "tasks.py" in lines
    assert sum(lines.values()) <= BUDGET, lines
    assert lines["tasks.py"] <= ONE_SCREEN
    # ...and the machinery is in the kit, not in the project's package.
    assert sum(_lines(p) for p in kit_dir(project).rglob("*.py")) > 10 * BUDGET
