"""What every task shares: one line and a non-zero exit on failure, the traceback on demand.

Imported when ``invoke --list`` loads ``tasks.py``: standard library and invoke only.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Concatenate, ParamSpec, TypeVar

from invoke.context import Context
from invoke.exceptions import Exit

from .errors import describe

P = ParamSpec("P")
R = TypeVar("R")


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
