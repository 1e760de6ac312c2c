"""What every task shares: one line and a non-zero exit on failure, the traceback on demand.

Imported when ``invoke --list`` loads ``tasks.py``: standard library and invoke only.
"""

from __future__ import annotations

import functools
import logging
import sys
from collections.abc import Callable
from typing import Concatenate, ParamSpec, TypeVar

from invoke.context import Context
from invoke.exceptions import Exit

from .errors import TaskError, describe

P = ParamSpec("P")
R = TypeVar("R")


def prepare_task_process() -> None:
    """Two settings of the task process, made when the ``db`` tasks are collected (tasks.py).

    Here, not at import: importing the kit (the application, the plain ``alembic`` command,
    a test) changes nothing of the process. Both are measured on every ``invoke db.*``:

    - invoke turns bytecode caching off for the whole process (sys.dont_write_bytecode, unless
      ``invoke --write-pyc``), to keep tasks.pyc out of the project. Every task would then
      compile the package and every revision file again, each time: ~0.3 ms a file, a tenth of
      a second at 300 revisions. Back to Python's default here, which ``-B`` and
      PYTHONDONTWRITEBYTECODE still turn off; tasks.py itself, loaded before this runs, stays
      uncached as invoke intends.
    - Alembic imports Mako, whose ``mako.exceptions`` loads its Pygments plugin whenever
      Pygments is installed (pytest brings it): 50-80 ms of start-up, for highlighting HTML
      error pages that a task never renders (Alembic only uses Mako's plain-text ones). None
      in sys.modules is Python's documented way to make an import fail; Mako then falls back
      to no highlighting.
    """
    sys.dont_write_bytecode = bool(sys.flags.dont_write_bytecode)
    sys.modules.setdefault("mako.ext.pygmentplugin", None)  # type: ignore[arg-type]


def seconds_option(option: str, value: str | None) -> float | None:
    """A task option's number of seconds (``--wait 30``), parsed once, at the edge.

    None when the option was not given; a one-line TaskError naming the option and the value
    when it is not a finite number of seconds, zero or more.
    """
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds < float("inf"):  # negative, NaN, infinite
        raise TaskError(f"{option} {value!r} is not a number of seconds (e.g. 30)")
    return seconds


def debug_requested() -> bool:
    """True under ``invoke -d``/``--debug`` (or INVOKE_DEBUG=1), which turn on debug logging."""
    return logging.getLogger().isEnabledFor(logging.DEBUG)


def guarded(
    task: Callable[Concatenate[Context, P], R],
) -> Callable[Concatenate[Context, P], R]:
    """Turn any exception of ``task`` into one line on stderr and exit status 1."""

    @functools.wraps(task)
    def run(c: Context, /, *args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return task(c, *args, **kwargs)
        except (Exit, KeyboardInterrupt):
            raise
        except Exception as exc:
            if debug_requested():
                raise
            name = task.__name__.replace("_", "-")
            raise Exit(f"db.{name}: {describe(exc)}", code=1) from None

    return run
