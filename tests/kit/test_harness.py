"""The premises of the in-process tests (tests/kit/harness.py)."""

from __future__ import annotations

from pathlib import Path

import groundwork
import pytest

from tests.kit.harness import KIT_SRC, KitProject
from tests.support import FLAVOURS, kit_dir


def _tree(folder: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(folder)): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts
    }


@pytest.mark.parametrize("flavour", list(FLAVOURS))
def test_the_kit_tested_in_process_is_the_one_every_bake_ships(
    baked: dict[str, Path], flavour: str
) -> None:
    """The tests import the template's src/groundwork; a bake holds it byte for byte."""
    assert Path(groundwork.__file__).parent == KIT_SRC / "groundwork"
    assert _tree(kit_dir(baked[flavour])) == _tree(KIT_SRC / "groundwork")


def test_each_task_sees_the_project_as_it_is_now(kit: KitProject) -> None:
    """As every `invoke` is a new process, each call imports the project's package afresh."""
    kit.invoke("migrate")
    seeds = kit.path / "src" / kit.package / "seeds"
    (seeds / "late.py").write_text(
        "from groundwork.seeding import Seed\n\n"
        "from ..models import Country\n\n"
        'late = Seed(model=Country, key="code", rows=[{"code": "ZZ", "alpha3": "ZZZ", '
        '"name": "Late"}])\n'
    )
    assert "late" in kit.invoke("seed", only=["late"]).stdout
    assert groundwork.current().package == kit.package
