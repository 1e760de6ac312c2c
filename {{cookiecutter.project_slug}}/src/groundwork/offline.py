"""Offline SQL on SQLite: the migrations replayed on an in-memory database, their SQL captured.

Alembic's offline mode cannot write SQLite's batch operations (``op.batch_alter_table``, which
autogenerate writes for every column change on SQLite): rebuilding a table needs its current
definition, read from a live database. So on SQLite ``invoke db.sql`` runs the revisions on a
private in-memory database brought to the start of the range, and prints every statement that
changed it, as SQLite ran it (values bound in, by SQLite's own ``sqlite3_expanded_sql``):
applied with ``sqlite3`` to a database at the start of the range, it gives what ``db.migrate``
gives. The reads Alembic makes of SQLite's catalog are left out; a revision that reads rows
(``op.get_bind().execute(...)``) is refused, as offline mode refuses it on PostgreSQL: its
SQL would depend on rows the in-memory database does not have.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import event

from .engine import make_engine
from .errors import TaskError

_WRITE = re.compile(r"^\s*(CREATE|ALTER|DROP|INSERT|UPDATE|DELETE|REPLACE)\b", re.IGNORECASE)
_PRAGMA_SET = re.compile(r"^\s*PRAGMA\s+[\w.]+\s*=", re.IGNORECASE)
_RETURNING = re.compile(r"\s+RETURNING\s+[\w\s,.\"]+$", re.IGNORECASE)
_TRANSACTION = re.compile(r"^\s*(BEGIN|COMMIT|END|ROLLBACK|SAVEPOINT|RELEASE)\b", re.IGNORECASE)
_READ = re.compile(r"^\s*(SELECT|WITH|VALUES)\b", re.IGNORECASE)
# What Alembic and SQLAlchemy read to reflect a table (batch mode) or find the applied revision.
_CATALOG = re.compile(
    r"\b(sqlite_master|sqlite_schema|sqlite_temp_master|sqlite_temp_schema|alembic_version"
    r"|pragma_\w+)\b",
    re.IGNORECASE,
)


@dataclass
class _Capture:
    """The statements of a replay, with Alembic's ``-- Running ...`` line before each step.

    SQLite's trace reports each statement as it starts, with its values bound in, once per row
    of an ``executemany``, and again (the same text) at the start of each trigger program it
    fires. So the traces are grouped by the driver call that caused them (SQLAlchemy's
    ``before_cursor_execute``), which says how many statements that call ran.
    """

    versions: Path
    lines: list[str] = field(default_factory=list)
    reads: list[tuple[str, str]] = field(default_factory=list)  # (revision file, statement)
    _traced: list[str] = field(default_factory=list)
    _expected: int = 0
    _revision: str | None = None

    def before_cursor_execute(
        self,
        conn: Any,
        cursor: Any,
        statement: str,
        parameters: Any,
        context: Any,
        executemany: bool,
    ) -> None:
        self._flush()
        self._expected = len(parameters) if executemany else 1
        self._revision = self._revision_file()

    def traced(self, sql: str) -> None:
        if not _TRANSACTION.match(sql):  # the driver's own COMMIT, the engine's BEGIN
            self._traced.append(sql)

    def step(self, short_log: str) -> None:
        self._flush()
        self.lines.append(f"-- Running {short_log}\n")

    def finish(self) -> None:
        self._flush()

    def _flush(self) -> None:
        traced, self._traced = self._traced, []
        if len(traced) > self._expected:  # trigger programs: the same text again
            traced = [sql for i, sql in enumerate(traced) if i == 0 or sql != traced[i - 1]]
            if self._expected == 1:
                traced = traced[:1]
        if len(traced) != self._expected and traced:
            raise TaskError(
                f"revision {self._revision or '?'}: cannot tell the rows of a statement from "
                f"the triggers it fired ({' '.join(traced[0].split())[:60]}); apply it with "
                "`invoke db.migrate`"
            )
        for sql in traced:
            self._statement(sql)

    def _statement(self, sql: str) -> None:
        if _WRITE.match(sql) or _PRAGMA_SET.match(sql):
            # SQLAlchemy's RETURNING (of the version row) only fetches rows: the change is the
            # same without it, and sqlite3 would print them.
            sql = _RETURNING.sub("", sql.strip().rstrip(";"))
            self.lines.append(f"{sql};\n")
        elif _READ.match(sql) and not _CATALOG.search(sql):
            self.reads.append((self._revision or "?", " ".join(sql.split())))

    def _revision_file(self) -> str | None:
        """The revision file whose code runs this statement: the deepest one on the stack."""
        frame: FrameType | None = sys._getframe()
        while frame is not None:
            path = Path(frame.f_code.co_filename)
            if path.parent.resolve() == self.versions:
                return path.name
            frame = frame.f_back
        return None


class _StepLog(logging.Handler):
    """Alembic's "Running upgrade a -> b" log record, turned into the SQL comment offline
    mode writes."""

    def __init__(self, capture: _Capture) -> None:
        super().__init__(logging.INFO)
        self.capture = capture

    def emit(self, record: logging.LogRecord) -> None:
        step = record.args[0] if isinstance(record.args, tuple) and record.args else None
        short_log = getattr(step, "short_log", None)
        if record.msg == "Running %s" and short_log is not None:
            self.capture.step(short_log)


@contextmanager
def _steps_logged(capture: _Capture) -> Iterator[None]:
    logger = logging.getLogger("alembic.runtime.migration")
    handler, level = _StepLog(capture), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


@contextmanager
def quiet() -> Iterator[None]:
    """No "Running upgrade" lines for the steps that only bring the replay to its start."""
    logger = logging.getLogger("alembic.runtime.migration")
    disabled, logger.disabled = logger.disabled, True
    try:
        yield
    finally:
        logger.disabled = disabled


def replay_sql(
    config: Config, scripts: ScriptDirectory, start: str, end: str, *, downgrade: bool
) -> str:
    """The SQL that takes a SQLite database from revision ``start`` to ``end`` (either way)."""
    capture = _Capture(Path(scripts.versions).resolve())
    engine = make_engine("sqlite://", enforce_foreign_keys=False)
    try:
        with engine.connect() as connection:
            config.attributes["connection"] = connection
            if start != "base":
                with quiet():
                    command.upgrade(config, start)  # the database the SQL is meant for
            connection.commit()
            driver: Any = connection.connection.driver_connection
            event.listen(connection, "before_cursor_execute", capture.before_cursor_execute)
            driver.set_trace_callback(capture.traced)
            try:
                with _steps_logged(capture):
                    (command.downgrade if downgrade else command.upgrade)(config, end)
                capture.finish()
            finally:
                driver.set_trace_callback(None)
                event.remove(connection, "before_cursor_execute", capture.before_cursor_execute)
    finally:
        engine.dispose()
    if capture.reads:
        revision_file, statement = capture.reads[0]
        for script in scripts.walk_revisions():
            if Path(script.path).name == revision_file:
                revision_file = f"{script.revision} ({revision_file})"
        shown = statement if len(statement) <= 60 else f"{statement[:57]}..."
        raise TaskError(
            f"revision {revision_file} reads the database ({shown}): its SQL depends on rows "
            "that offline SQL does not have; apply it with `invoke db.migrate`, or give a "
            "range without it"
        )
    # No BEGIN/COMMIT, as Alembic writes none for SQLite: whoever applies it chooses.
    return "\n".join(capture.lines)
