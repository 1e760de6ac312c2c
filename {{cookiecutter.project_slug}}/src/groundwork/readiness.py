"""Is the database ready for the application: reachable, and at the head revision?

What a web service's readiness probe (``/ready``) asks, with no web framework in it: the
FastAPI layer of a bake calls it, and a Flask or Litestar one would call it the same way. The
answer is db.status's (``migrations.Status.problem``), so a probe and a developer read the same
reason.

The revision files do not change under a running process: their heads are read once, on the
first check. Each check after that asks the database for its revisions, one query on a pooled
connection of its own (the application's login may read the version table), and the answer is
kept for ``max_age`` seconds, so that a burst of probes costs one query (bench/web_figures.py
measures both).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .engine import database_url, make_engine
from .errors import describe
from .settings import Settings

if TYPE_CHECKING:
    from alembic.script import ScriptDirectory
    from sqlalchemy import Engine


@dataclass(frozen=True)
class Readiness:
    """The answer: ready, or the one-line reason why not (db.status's words)."""

    ready: bool
    reason: str | None = None


class ReadinessCheck:
    """``check()``: whether the database of ``settings`` is reachable and at head.

    Thread-safe (a sync web endpoint runs in a thread pool); :meth:`close` releases its
    connection when the application stops.
    """

    def __init__(self, settings: Settings, *, max_age: float = 1.0) -> None:
        self._settings = settings
        self._max_age = max_age
        self._lock = threading.Lock()
        self._scripts: ScriptDirectory | None = None
        self._heads: frozenset[str] | None = None
        self._engine: Engine | None = None
        self._answer = Readiness(False, "not checked yet")
        self._answered_at = float("-inf")

    def __call__(self) -> Readiness:
        with self._lock:
            if time.monotonic() - self._answered_at >= self._max_age:
                self._answer = self._ask()
                self._answered_at = time.monotonic()
            return self._answer

    def _ask(self) -> Readiness:
        from . import migrations

        try:
            if self._scripts is None:
                self._scripts = migrations.script_directory(self._settings)
            if self._engine is None:
                # The application's login, in an engine of its own: the probe never waits
                # behind the requests for a connection, nor holds one of theirs.
                self._engine = make_engine(
                    database_url(self._settings), existing_only=True, pool_pre_ping=True
                )
            with self._engine.connect() as connection:
                heads = migrations.applied_heads(connection)
            if self._heads is None:
                self._heads = frozenset(self._scripts.get_heads())
            # At the one head: ready, without walking the history. Otherwise db.status's reason,
            # which walks it once to count what is pending.
            at_head = len(self._heads) <= 1 and frozenset(heads) == self._heads
            problem = None if at_head else migrations.status_of(self._scripts, heads).problem()
        except Exception as exc:  # any failure is an answer: not ready, and why
            return Readiness(False, describe(exc))
        return Readiness(problem is None, problem)

    def close(self) -> None:
        with self._lock:
            if self._engine is not None:
                self._engine.dispose()
                self._engine = None
