"""Shape the baked project to the chosen options, write its roles.sql, say what to do next.

Whole files are pruned or picked here, so that no module carries Jinja blocks for an option.
"""

from __future__ import annotations

import importlib.util
import json
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
# A file that names the examples has a twin without them, <stem>.no-examples<suffix>, next to it:
# examples=no puts the twin in its place, examples=yes removes the twins.
NO_EXAMPLES = ".no-examples"
TWINS_UNDER = ("src", "tests")


def without_examples(project: Path, package: str, examples: str) -> None:
    """With ``examples`` "no", remove the example files and pick the files that do without."""
    twins = sorted(
        twin for folder in TWINS_UNDER for twin in (project / folder).rglob(f"*{NO_EXAMPLES}.*")
    )
    if examples != "no":
        for twin in twins:
            twin.unlink()
        return
    for relative in EXAMPLES:
        (project / relative.format(package=package)).unlink()
    for twin in twins:
        twin.replace(twin.with_name(twin.name.replace(NO_EXAMPLES, "", 1)))


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
    without_examples(Path.cwd(), answers["package_name"], answers["examples"])
    write_roles_sql(Path.cwd(), answers["package_name"], answers["role_prefix"])
    print(next_steps(answers["project_slug"]))


if __name__ == "__main__":
    # Raw, as in pre_gen_project.py: a quote or backslash in an answer reaches json.loads as
    # JSON's own escape (\", \\), which a plain string literal would undo first.
    main(json.loads(r"""{{ cookiecutter | tojson }}"""))
