"""In-process driving of the kit (``groundwork``), for fast tests on real databases.

The kit is imported once, from the template itself (``{{cookiecutter.project_slug}}/src``: it
is copied into every bake without rendering, byte for byte), so that coverage measures the
files the template ships. The project around it (``my_service``: settings, models, seeds,
migrations) comes from a private copy of a bake, imported afresh for each test: its package has
the same name in every flavour's bake, and a test may add a model or a seed to it.

:meth:`KitProject.invoke` runs one function of ``groundwork.commands`` the way the ``db.*``
task does (``groundwork.tasks``: ``guarded``): what it prints, and on failure the one line
``db.TASK: ...`` and a non-zero code, in a result shaped like ``subprocess.CompletedProcess``.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import logging
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support import REPO, Project, package_dir

KIT_SRC = REPO / "{{cookiecutter.project_slug}}" / "src"
if str(KIT_SRC) not in sys.path:
    # First on the path: the bakes' src folders, added later per test, hold copies of the kit.
    sys.path.insert(0, str(KIT_SRC))

import groundwork  # the template's own files, see above
from groundwork import commands
from groundwork.errors import describe
from groundwork.settings import Settings, load_settings

assert Path(groundwork.__file__).parent == KIT_SRC / "groundwork", groundwork.__file__


@dataclass
class Result:
    """What a task printed and how it ended, as ``subprocess.CompletedProcess`` has it."""

    returncode: int
    stdout: str
    stderr: str
    value: Any = None
    error: BaseException | None = None


@dataclass
class KitProject:
    """A copy of a bake whose package is imported in this process, with the kit configured."""

    path: Path
    env: dict[str, str] = field(default_factory=dict)

    @property
    def package(self) -> str:
        return package_dir(self.path).name

    def environ(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        """The environment ``invoke`` would run in (tests/support.py's Project.environ)."""
        return self.process().environ(extra)

    def process(self) -> Project:
        """The same copy, to run a command in a process of its own (``alembic``, ``ruff``)."""
        return Project(self.path, dict(self.env))

    def reload(self) -> None:
        """Import the project's package afresh, as a new ``invoke`` process would.

        A test edits the project between tasks (a seed, a model, a revision): the next task
        must see the files as they are now, not the modules an earlier one imported.
        """
        forget_modules(self.package)
        importlib.invalidate_caches()
        importlib.import_module(f"{self.package}.settings")  # configure(Project(...))
        assert groundwork.current().package == self.package

    def settings(self, env: dict[str, str] | None = None) -> Settings:
        """The settings a task run in the project folder with ``env`` would read."""
        return load_settings(project_root=self.path, environ=self.environ(env))

    def invoke(
        self,
        task: str,
        *args: Any,
        environ: dict[str, str] | None = None,
        check: bool = True,
        **options: Any,
    ) -> Result:
        """``invoke db.TASK`` in-process: ``commands.TASK(*args, **options)``.

        Options are the function's keywords (``plan=True``, ``only=["countries"]``; ``env=`` is
        db.seed's --env), ``environ`` the process environment's additions; a failure
        is the task's one line on stderr and code 1, as ``guarded`` (groundwork/cli.py) has it.
        """
        function = getattr(commands, task)
        self.reload()
        out, err = io.StringIO(), io.StringIO()
        value: Any = None
        error: BaseException | None = None
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            fresh_alembic_log_handler()
            try:
                value = function(*args, settings=self.settings(environ), **options)
            except Exception as exc:  # guarded catches every one, too
                error = exc
                print(f"db.{task}: {describe(exc)}", file=sys.stderr)
        result = Result(1 if error else 0, out.getvalue(), err.getvalue(), value, error)
        if check and error is not None:
            raise AssertionError(
                f"db.{task} failed\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
            ) from error
        return result


def fresh_alembic_log_handler() -> None:
    """Drop the handler environment.py added in an earlier call, bound to that call's stderr.

    ``_configure_logging`` adds one (a StreamHandler on the stderr of the moment) when the
    logger has none: the next migration run then writes "Running upgrade" to this call's.
    """
    logger = logging.getLogger("alembic.runtime.migration")
    for handler in list(logger.handlers):
        logger.removeHandler(handler)


def forget_modules(package: str) -> None:
    for name in [m for m in sys.modules if m == package or m.startswith(f"{package}.")]:
        del sys.modules[name]


@contextlib.contextmanager
def imported(baked: Path, target: Path, database_url: str) -> Iterator[KitProject]:
    """A copy of ``baked`` at ``target``, its package imported and configured, for one test."""
    shutil.copytree(baked, target, ignore=shutil.ignore_patterns("var", "__pycache__"))
    project = KitProject(target, {"DATABASE_URL": database_url})
    src = str(target / "src")
    package = project.package
    sys.path.insert(1, src)  # after KIT_SRC: the copy's kit is never the one imported
    # As PYTHONDONTWRITEBYTECODE=1 in Project.run: a file rewritten within the second, at the
    # same size (a revision's parent id), would otherwise be read back from a stale .pyc.
    dont_write_bytecode, sys.dont_write_bytecode = sys.dont_write_bytecode, True
    try:
        project.reload()
        yield project
    finally:
        sys.dont_write_bytecode = dont_write_bytecode
        forget_modules(package)
        sys.path.remove(src)
        fresh_alembic_log_handler()
