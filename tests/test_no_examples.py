"""Starting clean: a bake with ``examples=no``, and a project that removes its examples the way
docs/database.md ("Starting clean") says. Either way no example is left, the project has no
revision at all, and every task works from there (issue 11, items 12 and 16).

The baked project's own checks run elsewhere: ruff and mypy in test_bake.py, its test suite in
test_generated_suite.py.
"""

from __future__ import annotations

import ast
import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cookiecutter.main import cookiecutter

from tests.support import FLAVOURS, REPO, Project, bake_with, post_gen_hook

post_gen = post_gen_hook()
PACKAGE = "my_service"
EXAMPLES = [relative.format(package=PACKAGE) for relative in post_gen.EXAMPLES]
# Files that name the examples, with a twin for examples=no.
TWINNED = ["src/my_service/models/__init__.py", "tests/test_models.py", "tests/test_seeds.py"]


@pytest.fixture(scope="module")
def clean_bakes(cookies_session: Any) -> dict[str, Path]:
    """Bakes with examples=no by flavour, baked on first use; read-only."""

    class Bakes(dict[str, Path]):
        def __missing__(self, flavour: str) -> Path:
            self[flavour] = bake_with(cookies_session, examples="no", **FLAVOURS[flavour])
            return self[flavour]

    return Bakes()


def _tree(root: Path) -> dict[str, bytes]:
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file() and not {"__pycache__", "var"} & set(path.relative_to(root).parts)
    }


@pytest.mark.parametrize("flavour", list(FLAVOURS))
def test_examples_no_leaves_every_example_out(
    clean_bakes: dict[str, Path], baked: dict[str, Path], flavour: str
) -> None:
    project = clean_bakes[flavour]
    package = project / "src" / PACKAGE
    assert [relative for relative in EXAMPLES if (project / relative).exists()] == []
    assert list((package / "migrations" / "versions").glob("*.py")) == []
    assert sorted(p.name for p in (package / "models").glob("*.py")) == ["__init__.py", "base.py"]
    assert [p.name for p in (package / "seeds").rglob("*") if p.is_file()] == ["__init__.py"]
    assert list(project.rglob("*.no-examples.*")) == []
    # The twins took the place of the files that named the examples.
    with_examples = baked[flavour]
    for relative in TWINNED:
        assert (project / relative).read_text() != (with_examples / relative).read_text()
    assert '__all__ = ["Base"]' in (package / "models" / "__init__.py").read_text()
    named = [
        str(path.relative_to(project))
        for folder in (
            package / "models",
            package / "seeds",
            package / "migrations",
            project / "tests",
        )
        for path in folder.rglob("*.py")
        if re.search(r"\b(Country|User|countries|demo_users)\b", path.read_text())
    ]
    assert named == []
    assert (
        json.loads((project / ".cookiecutter.json").read_text())["cookiecutter"]["examples"] == "no"
    )


def _without_examples(source: str) -> list[str]:
    """The statements of a module, less its docstring, example imports and ``__all__``."""
    kept = []
    for node in ast.parse(source).body[1:]:
        if isinstance(node, ast.ImportFrom) and node.module in ("country", "user"):
            continue
        if isinstance(node, ast.Assign) and ast.unparse(node.targets[0]) == "__all__":
            continue
        kept.append(ast.dump(node))
    return kept


def test_the_models_twin_differs_only_by_the_examples(
    baked: dict[str, Path], clean_bakes: dict[str, Path]
) -> None:
    """A change to models/__init__.py must reach its examples=no twin too."""
    relative = f"src/{PACKAGE}/models/__init__.py"
    with_examples = (baked["postgresql"] / relative).read_text()
    without = (clean_bakes["postgresql"] / relative).read_text()
    shared = _without_examples(with_examples)
    assert any("load_all_models" in statement for statement in shared)
    assert _without_examples(without) == shared


def test_examples_yes_keeps_them_and_no_twin(baked: dict[str, Path]) -> None:
    project = baked["postgresql"]
    assert [relative for relative in EXAMPLES if not (project / relative).is_file()] == []
    assert list(project.rglob("*.no-examples.*")) == []


def test_every_task_works_with_zero_revisions(
    clean_bakes: dict[str, Path], database: str, tmp_path: Path
) -> None:
    """db.init crashed (``no such table: alembic_version``) on a project without revisions."""
    flavour = "sqlite" if database.startswith("sqlite") else "postgresql"
    project = Project.copy_of(
        clean_bakes[flavour], tmp_path / "project", database_url=database, in_process=True
    )
    for _ in range(2):  # the second run takes the shortcut of an unchanged seed run
        result = project.invoke("db.init", check=False)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "unexpected" not in result.stderr
    status = project.invoke("db.status")
    assert "No revision yet: write one with `invoke db.revision -m '...'`" in status.stdout
    for task in ("db.check", "db.seed", "db.migrate", "db.current", "db.sql"):
        result = project.invoke(task, check=False)
        assert result.returncode == 0, f"{task}: {result.stdout}{result.stderr}"
    assert "(no revision applied)" in project.invoke("db.current").stdout
    assert "OK: no revision yet, no model either" in project.invoke("db.check").stdout
    assert project.invoke("db.sql").stdout.startswith("-- No revision yet")


def _section(text: str, title: str) -> str:
    start = text.index(f"## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def test_docs_list_the_files_the_hook_removes(baked: dict[str, Path]) -> None:
    section = _section((baked["postgresql"] / "docs" / "database.md").read_text(), "Starting clean")
    listed = re.findall(r"^\s+- `([^`]+)`$", section, re.MULTILINE)
    assert [f"src/{PACKAGE}/{relative}" for relative in listed] == EXAMPLES


def test_the_documented_path_gives_the_clean_project(
    baked: dict[str, Path],
    clean_bakes: dict[str, Path],
    database: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """docs/database.md, "Starting clean", on a project whose database holds the examples: the
    result is the examples=no bake, file for file, and its database is usable."""
    flavour = "sqlite" if database.startswith("sqlite") else "postgresql"
    project = Project.copy_of(
        baked[flavour], tmp_path / "project", database_url=database, in_process=True
    )
    project.invoke("db.init")
    # 1. back to base, before the files go
    project.invoke("db.downgrade", "--to", "base")
    # 2. the example files
    for relative in EXAMPLES:
        (project.path / relative).unlink()
    # 3. examples=no in the answers; a bake from them; three files copied over
    answers = project.path / ".cookiecutter.json"
    answers.write_text(answers.read_text().replace('"examples": "yes"', '"examples": "no"'))
    monkeypatch.setenv("HOME", str(tmp_path))  # cookiecutter's replay copy goes there
    scratch = Path(cookiecutter(str(REPO), replay=str(answers), output_dir=str(tmp_path / "clean")))
    for relative in TWINNED:
        shutil.copyfile(scratch / relative, project.path / relative)
    # 4.
    assert _tree(project.path) == _tree(clean_bakes[flavour])
    assert "No revision yet" in project.invoke("db.status").stdout
    for task in ("db.check", "db.init", "db.seed"):
        result = project.invoke(task, check=False)
        assert result.returncode == 0, f"{task}: {result.stdout}{result.stderr}"


def test_a_first_model_migrates_from_zero_revisions(
    clean_bakes: dict[str, Path], tmp_path: Path, sqlite_project: Callable[..., Project]
) -> None:
    """From a clean start, the first model is migrated as the workflow says."""
    project = sqlite_project(clean_bakes["sqlite"], tmp_path)
    project.invoke("db.init")
    (project.path / "src" / PACKAGE / "models" / "order.py").write_text(ORDER_MODEL)
    drift = project.invoke("db.check", check=False)
    assert drift.returncode == 1
    assert "table orders missing in the database" in drift.stderr + drift.stdout
    project.invoke("db.migrate", "-m", "orders")
    assert re.search(r"^\[X\] \w+  orders$", project.invoke("db.status").stdout, re.MULTILINE)
    project.invoke("db.check")


@pytest.fixture
def sqlite_project() -> Callable[..., Project]:
    def make(baked: Path, tmp_path: Path) -> Project:
        return Project.copy_of(
            baked,
            tmp_path / "project",
            database_url=f"sqlite:///{tmp_path / 'dev.sqlite3'}",
            in_process=True,
        )

    return make


ORDER_MODEL = '''"""Orders."""

from __future__ import annotations

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base


class Order(Base):
    __tablename__ = "orders"

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(20), unique=True)
'''
