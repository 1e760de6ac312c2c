"""Shape the baked project to the chosen options, write its roles.sql, say what to do next.

Whole files are pruned or picked here, so that no module carries Jinja blocks for an option.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys
from pathlib import Path

# The examples (countries and users): the files the option examples=no leaves out, relative to
# the project root. The revision is named, not found: whatever else lies in versions/ stays.
EXAMPLES = [
    "src/{package}/models/country.py",
    "src/{package}/models/user.py",
    "src/{package}/migrations/versions/2026_11_22_0413-0d848db94cb2_countries_and_users.py",
    "src/{package}/seeds/countries.py",
    "src/{package}/seeds/demo_users.py",
    "src/{package}/seeds/data/countries.csv",
]
# The web layer (web=fastapi): left out whole with web=none; its example resource with
# examples=no.
WEB = ["src/{package}/web", "tests/test_web.py", "tests/test_web_users.py"]
WEB_EXAMPLES = [
    "src/{package}/web/users.py",
    "src/{package}/web/schemas.py",
    "tests/test_web_users.py",
]

# Files shaped by an option have twins next to them, named <stem>.<tags><suffix>, the tags of
# the answers they are for joined by "+" (``base.sqlmodel.py``, ``conftest.async.py``,
# ``__init__.sqlmodel+no-examples.py``). The twin whose tags the answers all have, the most
# specific, takes the file's place (a twin of no file adds one); the other twins go. Between
# two as specific, the one with the tag that comes first in TAGS wins: without the examples
# there is no model whose flavour matters (``x.async+no-examples.py`` serves sqlmodel+async
# too), and async code differs more from sync than SQLModel from SQLAlchemy.
TWINS_UNDER = ("src", "tests")


def tags_of(answers: dict[str, str]) -> frozenset[str]:
    """The twin tags the answers have."""
    tags = {
        "no-examples": answers.get("examples") == "no",
        "sqlmodel": answers.get("models") == "sqlmodel",
        "async": answers.get("engine") == "async",
    }
    return frozenset(tag for tag, chosen in tags.items() if chosen)


TAGS = ("no-examples", "async", "sqlmodel")


def _twin_of(path: Path) -> tuple[Path, frozenset[str]] | None:
    """The file ``path`` is a twin of and its tags, or None when it is no twin."""
    parts = path.name.split(".")
    tags = frozenset(parts[-2].split("+")) if len(parts) >= 3 else frozenset()
    if not tags or not tags <= set(TAGS):
        return None
    return path.with_name(".".join([*parts[:-2], parts[-1]])), tags


def _precedence(twin: tuple[frozenset[str], Path]) -> tuple[int, list[int]]:
    """Sort key: the most tags first, then the twin whose tags come first in TAGS."""
    return -len(twin[0]), sorted(TAGS.index(tag) for tag in twin[0])


def pick_twins(project: Path, tags: frozenset[str]) -> None:
    """Put in each file's place the twin for ``tags``; remove every other twin."""
    groups: dict[Path, list[tuple[frozenset[str], Path]]] = {}
    for folder in TWINS_UNDER:
        for path in sorted((project / folder).rglob("*.*.*")):
            twin = _twin_of(path)
            if twin is not None and path.is_file():
                groups.setdefault(twin[0], []).append((twin[1], path))
    for target, twins in groups.items():
        fitting = sorted((twin for twin in twins if twin[0] <= tags), key=_precedence)
        for _, path in twins:
            if not fitting or path != fitting[0][1]:
                path.unlink()
        if fitting:
            fitting[0][1].replace(target)


def shape(project: Path, package: str, answers: dict[str, str]) -> None:
    """Leave out what the answers do not ask for, then pick the twins for them."""
    removed = (WEB if answers.get("web") == "none" else []) + (
        EXAMPLES + WEB_EXAMPLES if answers.get("examples") == "no" else []
    )
    for relative in removed:
        path = project / relative.format(package=package)
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)
            # Its twins go with it: a twin of a missing file would add it back.
            for sibling in path.parent.glob(f"{path.stem}.*{path.suffix}"):
                if (_twin_of(sibling) or (None,))[0] == path:
                    sibling.unlink()
    pick_twins(project, tags_of(answers))


# The SQL a DBA reviews, in the repository: what `invoke db.grant --print` prints.
ROLES_SQL = "src/{package}/sql/roles.sql"


def write_roles_sql(project: Path, package: str, role_prefix: str) -> Path:
    """Render ``sql/roles.sql`` with the baked kit's renderer, the one source of the script.

    The kit's ``groundwork.roles.render`` and what it imports use the standard library alone,
    so cookiecutter's Python runs it before the project's dependencies are installed. The
    exceptions are the baked ``grant_exceptions.py``'s, read as ``db.grant`` reads them.
    """
    src = str(project / "src")
    sys.path.insert(0, src)
    # No bytecode: the project's first __pycache__ is its own Python's, not cookiecutter's.
    writing, sys.dont_write_bytecode = sys.dont_write_bytecode, True
    try:
        from groundwork.roles.exceptions import read
        from groundwork.roles.names import RoleNames
        from groundwork.roles.render import render_sql

        where = f"{package}/grant_exceptions.py"
        spec = importlib.util.spec_from_file_location(
            "baked_grant_exceptions", project / "src" / where
        )
        if spec is None or spec.loader is None:  # pragma: no cover - the template ships it
            raise FileNotFoundError(where)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        script = render_sql(RoleNames.from_prefix(role_prefix), read(module, where))
    finally:
        sys.path.remove(src)
        sys.dont_write_bytecode = writing
    target = project / ROLES_SQL.format(package=package)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(script.encode("utf-8"))  # "\n" line ends on every platform
    return target


def next_steps(slug: str) -> str:
    return (
        f"\nBaked {slug}. Next:\n"
        f"  cd {slug}\n"
        "  python -m venv .venv && . .venv/bin/activate && pip install -e '.[dev]'\n"
        "  invoke db.init      # create the database and migrate it to head\n"
        "  invoke db.status    # every migration, [X] applied\n"
        "Then read docs/database.md.\n"
    )


def main(answers: dict[str, str]) -> None:
    shape(Path.cwd(), answers["package_name"], answers)
    write_roles_sql(Path.cwd(), answers["package_name"], answers["role_prefix"])
    print(next_steps(answers["project_slug"]))


if __name__ == "__main__":
    # Raw, as in pre_gen_project.py: a quote or backslash in an answer reaches json.loads as
    # JSON's own escape (\", \\), which a plain string literal would undo first.
    main(json.loads(r"""{{ cookiecutter | tojson }}"""))
