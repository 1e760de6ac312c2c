"""Settings from layered environment files, the way dotenv-flow and Rails users expect them.

Files are read from the project root, later ones winning:

1. ``.env``                  committed defaults for everyone
2. ``.env.{APP_ENV}``         committed defaults for one environment (``.env.test``)
3. ``.env.local``             this machine only, git-ignored; skipped when APP_ENV=test so that
                              test runs are the same on every machine
4. ``.env.{APP_ENV}.local``   this machine, one environment, git-ignored

Real environment variables win over every file. ``APP_ENV`` defaults to ``development``.

A line of a file that does not parse (an unclosed quote) is an error naming the file and the
line, where python-dotenv would skip it and let a setting silently fall back to its default.
"""

from __future__ import annotations

import dataclasses
import io
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from dotenv import dotenv_values
from dotenv.parser import parse_stream

from .errors import TaskError
from .project import current as current_project

DEFAULT_APP_ENV = "development"


def find_project_root() -> Path:
    """The folder that holds ``pyproject.toml`` and the ``.env`` files.

    In a checkout (editable install) that is two levels above this package; an installed wheel
    has no project folder, so the working directory is taken.
    """
    package_dir = current_project().package_dir
    checkout = package_dir.parents[1]
    if (checkout / "pyproject.toml").is_file() and package_dir.parent.name == "src":
        return checkout
    return Path.cwd()


@dataclass(frozen=True)
class Settings:
    """The merged view of the environment files and the process environment."""

    project_root: Path
    app_env: str
    values: Mapping[str, str] = field(repr=False)
    # Where ``app_env`` came from, in words: "from APP_ENV", "from APP_ENV in .env", ... .
    app_env_origin: str = field(default="from APP_ENV", compare=False)
    # Where each setting read from a file was set: ``.env.local line 3``.
    origins: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)
    # Numbers of seconds a task's options gave (--lock-timeout, --wait), by the setting they
    # stand for; parsed once, by the task layer, they win over ``values`` (with_seconds).
    seconds: Mapping[str, float] = field(default_factory=dict)

    def with_seconds(self, **given: float | None) -> Settings:
        """These settings with ``given`` numbers of seconds on top (None: not given)."""
        chosen = {name: value for name, value in given.items() if value is not None}
        return dataclasses.replace(self, seconds={**self.seconds, **chosen}) if chosen else self

    def origin(self, name: str) -> str:
        """Where setting ``name`` came from, in words: a file and line, or the environment."""
        return self.origins.get(name, "the environment")

    def get(self, name: str, default: str | None = None) -> str | None:
        """A setting, or ``default`` when it is unset or empty."""
        value = self.values.get(name)
        return value if value else default

    @property
    def database_url(self) -> str | None:
        """``DATABASE_URL`` as given; None means the project's local default database."""
        return self.get("DATABASE_URL")

    @property
    def database_name(self) -> str:
        """The name of the local default database: one per environment, as Rails does."""
        return f"{current_project().package}_{self.app_env}"

    @property
    def var_dir(self) -> Path:
        """Git-ignored folder for local data: the SQLite files and the local server's data."""
        return self.project_root / "var"


def env_files(project_root: Path, app_env: str) -> list[Path]:
    """The environment files read for ``app_env``, lowest precedence first."""
    names = [".env", f".env.{app_env}"]
    if app_env != "test":
        names.append(".env.local")
    names.append(f".env.{app_env}.local")
    return [project_root / name for name in names]


def load_settings(
    project_root: Path | None = None, environ: Mapping[str, str] | None = None
) -> Settings:
    """Read the environment files of the current ``APP_ENV`` under ``project_root``."""
    root = project_root or find_project_root()
    process_env = os.environ if environ is None else environ
    if process_env.get("APP_ENV"):
        app_env, origin = process_env["APP_ENV"], "from APP_ENV"
    elif (from_files := _app_env_from_files(root)) is not None:
        app_env, origin = from_files[0], f"from APP_ENV in {from_files[1]}"
    else:
        app_env, origin = DEFAULT_APP_ENV, "APP_ENV unset: the default"
    merged: dict[str, str] = {}
    origins: dict[str, str] = {}
    for path in env_files(root, app_env):
        if path.is_file():
            values, lines = read_env_file(path)
            merged.update(values)
            origins.update({key: f"{path.name} line {lines[key]}" for key in values})
    merged.update(process_env)
    merged["APP_ENV"] = app_env
    origins = {key: where for key, where in origins.items() if key not in process_env}
    return Settings(
        project_root=root, app_env=app_env, values=merged, app_env_origin=origin, origins=origins
    )


def read_env_file(path: Path) -> tuple[dict[str, str], dict[str, int]]:
    """The settings of one file, and the line each is set on; a line that does not parse raises.

    python-dotenv skips such a line with a warning that a task's output easily buries; the
    setting then falls back to its default (for DATABASE_URL: the project-local database).
    """
    text = path.read_text(encoding="utf-8")
    lines: dict[str, int] = {}
    for binding in parse_stream(io.StringIO(text)):
        if binding.error:
            start = binding.original.string.split("=", 1)[0].strip()
            what = f" ({start}=...)" if "=" in binding.original.string else ""
            raise TaskError(
                f"{path} line {binding.original.line}{what} does not parse: check its quotes "
                "(a value opened with \" or ' must be closed), or remove the line"
            )
        if binding.key is not None and binding.value is not None:
            lines[binding.key] = binding.original.line
    # dotenv_values for the values themselves: it expands ${VARIABLES} as it always did.
    values = {k: v for k, v in dotenv_values(stream=io.StringIO(text)).items() if v is not None}
    return values, {key: lines.get(key, 0) for key in values}


def _app_env_from_files(root: Path) -> tuple[str, str] | None:
    """APP_ENV and the file it is set in; it may only come from the files that do not use it."""
    for name in (".env.local", ".env"):
        path = root / name
        if path.is_file():
            value = read_env_file(path)[0].get("APP_ENV")
            if value:
                return value, name
    return None
