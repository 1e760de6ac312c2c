"""Fixtures of the in-process kit tests (tests/kit/harness.py).

``kit`` is a private copy of the bake that goes with the test's database (``database``: once
on SQLite, once on PostgreSQL), its package imported in this process and the kit configured
for it, the working directory in it as for ``invoke``. Nothing is baked per test and no task
starts a process: a test calls ``kit.invoke("seed", plan=True)``. ``kit_project(flavour,
url)`` makes one of another flavour's bake, or on another URL.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.kit.harness import KitProject, imported
from tests.support import flavour_of


@pytest.fixture
def kit_project(
    baked: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[[str, str], KitProject]]:
    """``kit_project("postgresql", url)``: the one project of this test, imported."""
    with contextlib.ExitStack() as stack:

        def make(flavour: str, database_url: str) -> KitProject:
            project = stack.enter_context(
                imported(baked[flavour], tmp_path / "project", database_url)
            )
            monkeypatch.chdir(project.path)  # messages name files relative to it, as invoke's
            return project

        yield make


@pytest.fixture
def kit(kit_project: Callable[[str, str], KitProject], database: str) -> KitProject:
    return kit_project(flavour_of(database), database)
