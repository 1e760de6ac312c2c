"""Lint what will run: each revision's offline SQL, checked by squawk for operations that lock.

squawk (https://squawkhq.com, ``pip install squawk-cli``) knows which PostgreSQL statements
block reads or writes on a busy table, and their safe forms; its rules are used as they are,
none re-implemented here. Each revision's SQL is what ``invoke db.sql`` writes for it, without
the version table's statements (the kit's bookkeeping), wrapped in the transaction the kit runs
it in (so an ``autocommit_block`` shows as the COMMIT ... BEGIN it is). The SQL of every
revision goes to a file named after the revision file, all of them to one squawk run, and each
finding comes back naming the revision file, the statement, squawk's reason and its safe form.

A revision accepts a finding with a module-level dict, read from its source (never imported),
one reason per squawk rule, reviewed in the revision's diff::

    squawk_acknowledged = {"require-concurrent-index-creation": "countries holds 250 rows"}

Configuration: ``[tool.groundwork.lint]`` of pyproject.toml (``exclude``, ``include``,
``pg_version``). docs/database.md, "Linting migrations for locks".
"""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alembic.script import Script, ScriptDirectory

from .errors import TaskError
from .offline import quiet
from .revision_files import shown
from .settings import Settings

# The kit sets lock_timeout and statement_timeout on every migration transaction itself
# (locking.apply_timeouts, MIGRATION_LOCK_TIMEOUT / MIGRATION_STATEMENT_TIMEOUT): a revision
# that set them too would only repeat it.
KIT_EXCLUDED = ("require-lock-timeout", "require-statement-timeout")
ACKNOWLEDGED = "squawk_acknowledged"
INSTALL = "pip install squawk-cli"
SQLITE_LINE = (
    "Nothing to lint on SQLite: squawk's rules are PostgreSQL's lock rules "
    "(SQLite locks the whole database for any write)"
)
_CONFIG_KEYS = ("exclude", "include", "pg_version")
_PG_VERSION = re.compile(r"^\d+(\.\d+)?$")
# Alembic's comment before each revision's SQL: "-- Running upgrade a, b -> c".
_STEP = re.compile(r"^-- Running upgrade .*-> (\S+)\s*$", re.MULTILINE)
# The version table's statements: the kit's bookkeeping, not the revision's operations.
_VERSION_ROW = re.compile(
    r"^\s*(INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+alembic_version\b", re.IGNORECASE
)
# clap's exit status for a bad option value (an unknown rule name).
_USAGE_ERROR = 2


@dataclass(frozen=True)
class LintConfig:
    """``[tool.groundwork.lint]``: squawk rules left out or added, the server's version."""

    exclude: tuple[str, ...] = ()
    include: tuple[str, ...] = ()
    pg_version: str | None = None

    def options(self) -> list[str]:
        options = [f"--exclude={','.join((*KIT_EXCLUDED, *self.exclude))}"]
        if self.include:
            options.append(f"--include={','.join(self.include)}")
        if self.pg_version:
            options.append(f"--pg-version={self.pg_version}")
        return options


def read_config(project_root: Path) -> LintConfig:
    """The lint configuration of the project's pyproject.toml; one line naming what is wrong."""
    pyproject = project_root / "pyproject.toml"
    if not pyproject.is_file():  # an installed wheel: squawk's defaults
        return LintConfig()
    try:
        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise TaskError(f"pyproject.toml is not valid TOML: {exc}") from exc
    table = data.get("tool", {}).get("groundwork", {}).get("lint", {})
    where = "pyproject.toml [tool.groundwork.lint]"
    if not isinstance(table, dict):
        raise TaskError(f"{where} must be a table")
    for key in table:
        if key not in _CONFIG_KEYS:
            raise TaskError(f"{where}: unknown key {key!r} (known: {', '.join(_CONFIG_KEYS)})")
    rules: dict[str, tuple[str, ...]] = {}
    for key in ("exclude", "include"):
        value = table.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise TaskError(
                f'{where}: {key} must be a list of squawk rule names, e.g. ["ban-drop-column"]'
            )
        rules[key] = tuple(value)
    version = table.get("pg_version")
    if version is not None and (not isinstance(version, str) or not _PG_VERSION.match(version)):
        raise TaskError(
            f'{where}: pg_version must be a version string such as "15" or "16.4", not {version!r}'
        )
    return LintConfig(rules["exclude"], rules["include"], version)


def squawk_binary() -> str:
    """squawk's executable: beside this Python's (its virtualenv), else on PATH."""
    name = "squawk.exe" if os.name == "nt" else "squawk"
    beside = Path(sys.executable).parent / name
    if beside.is_file():
        return str(beside)
    found = shutil.which("squawk")
    if found is None:
        raise TaskError(
            f"squawk is not installed, and it lints the migrations: {INSTALL} (it is in the "
            "project's dev dependencies: pip install -e '.[dev]')"
        )
    return found


def _run_squawk(
    squawk: str, arguments: Sequence[str], stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 (squawk, found above, with file names the kit wrote)
        [squawk, *arguments], input=stdin, capture_output=True, text=True, check=False
    )


def unknown_rules(squawk: str, names: Iterable[str]) -> list[str]:
    """Those of ``names`` squawk does not know, asked to squawk itself (its list, not ours)."""
    wanted = sorted(set(names))
    if (
        not wanted
        or _run_squawk(squawk, [f"--exclude={','.join(wanted)}"]).returncode != _USAGE_ERROR
    ):
        return []
    return [
        name
        for name in wanted
        if _run_squawk(squawk, [f"--exclude={name}"]).returncode == _USAGE_ERROR
    ]


def acknowledgements(path: Path) -> dict[str, str]:
    """``squawk_acknowledged`` of a revision file, read from its syntax tree (not imported)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    # Concatenated, not an f-string: doubled braces would read as Jinja to the template's checks.
    example = ACKNOWLEDGED + ' = {"require-concurrent-index-creation": "countries holds 250 rows"}'
    found: dict[str, str] = {}
    for node in tree.body:
        target, value = _assignment(node)
        if target != ACKNOWLEDGED:
            continue
        if not isinstance(value, ast.Dict):
            raise TaskError(f"{shown(path)}: {ACKNOWLEDGED} must be a dict literal, e.g. {example}")
        for key, reason in zip(value.keys, value.values, strict=True):
            rule = key.value if isinstance(key, ast.Constant) else None
            if not isinstance(rule, str):
                raise TaskError(
                    f"{shown(path)}: {ACKNOWLEDGED} keys are squawk rule names, e.g. {example}"
                )
            text = reason.value if isinstance(reason, ast.Constant) else None
            if not isinstance(text, str) or not text.strip():
                raise TaskError(
                    f"{shown(path)}: {ACKNOWLEDGED}[{rule!r}] needs a reason as a string: why "
                    "that operation is safe here (e.g. 'countries holds 250 rows')"
                )
            found[rule] = text.strip()
    return found


def without_acknowledgement(source: bytes) -> bytes:
    """``source`` without its ``squawk_acknowledged`` statement and the blank lines before it.

    What the file was before the acknowledgement was added (after the revision identifiers, or
    at the end): the ledger's checksum (ledger.checksum) stays the one taken when it was applied.
    A comment about it goes inside its braces, where it is left out with it.
    """
    if ACKNOWLEDGED.encode() not in source:  # every other file: no parsing
        return source
    try:
        tree = ast.parse(source)
    except SyntaxError:  # Alembic says what is wrong with it
        return source
    lines = source.splitlines(keepends=True)
    dropped: set[int] = set()
    for node in tree.body:
        if _assignment(node)[0] != ACKNOWLEDGED or node.end_lineno is None:
            continue
        first = node.lineno - 1
        while first > 0 and not lines[first - 1].strip():
            first -= 1
        dropped.update(range(first, node.end_lineno))
    return b"".join(line for number, line in enumerate(lines) if number not in dropped)


def _assignment(node: ast.stmt) -> tuple[str | None, ast.expr | None]:
    if isinstance(node, ast.Assign) and len(node.targets) == 1:
        target = node.targets[0]
        return (target.id if isinstance(target, ast.Name) else None), node.value
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
        return node.target.id, node.value
    return None, None


@dataclass(frozen=True)
class Finding:
    """One squawk finding in one revision: where, what, why it locks, the safe form."""

    file: str  # the revision file, as shown (relative to the working directory)
    rule: str
    operation: str  # the statement, on one line
    why: str  # squawk's message
    safe_form: str  # squawk's help
    acknowledged: str | None = None  # the revision's reason, when it accepts the finding

    def line(self) -> str:
        return (
            f"{self.file}: {self.operation}: {self.why} ({self.rule}); safe form: {self.safe_form}"
        )


@dataclass
class Report:
    """Every finding of a lint, acknowledged or not, and what could not be linted."""

    linted: int = 0
    findings: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def failing(self) -> list[Finding]:
        return [finding for finding in self.findings if finding.acknowledged is None]

    def acknowledged_lines(self) -> list[str]:
        """One line per revision file and acknowledged rule: how often, and the reason."""
        counts: dict[tuple[str, str, str], int] = {}
        for finding in self.findings:
            if finding.acknowledged is not None:
                key = (finding.file, finding.rule, finding.acknowledged)
                counts[key] = counts.get(key, 0) + 1
        return [
            f"acknowledged {file}: {rule} ({count} time{'' if count == 1 else 's'}): {reason}"
            for (file, rule, reason), count in counts.items()
        ]


@dataclass(frozen=True)
class _Revision:
    """A revision's SQL as squawk reads it: its statements, in the kit's transaction."""

    script: Script
    text: str
    statements: list[tuple[int, str]]  # (the line of text it starts on, from 0; the statement)

    @classmethod
    def of(cls, script: Script, sql: str) -> _Revision:
        """``sql`` without the version table's rows, between the BEGIN and COMMIT it runs in.

        An ``autocommit_block`` is Alembic's COMMIT ... BEGIN: it stays, so squawk sees which
        statements run outside the transaction.
        """
        lines, statements = ["BEGIN;"], []
        body = [s for s in _statements(sql) if not _VERSION_ROW.match(s)]
        for statement in body:
            statements.append((len(lines), statement))
            lines.extend(f"{statement};".splitlines())
        if not body or not re.match(r"^\s*COMMIT\b", body[-1], re.IGNORECASE):
            lines.append("COMMIT;")
        return cls(script, "\n".join(lines) + "\n", statements)

    @property
    def path(self) -> Path:
        return Path(self.script.path)

    def operation(self, result: dict[str, Any]) -> str:
        """The statement squawk flags (on one line), and the part it points at.

        squawk's JSON counts lines and columns from 0, the end column excluded.
        """
        line, end_line = int(result["line"]), int(result.get("line_end", result["line"]))
        current = ""
        for start, statement in self.statements:
            if start > line:
                break
            current = statement
        words = _short(current, 80)
        lines = self.text.splitlines()
        if end_line >= len(lines):
            return words
        if end_line == line:
            part = lines[line][int(result["column"]) : int(result.get("column_end", 0)) or None]
        else:
            part = "\n".join(lines[line : end_line + 1])[int(result["column"]) :]
        # The part squawk points at, when the statement shown does not hold it already.
        flagged = " ".join(part.split()).rstrip(";")
        if not flagged or flagged in words or ("\n" not in current and len(words) < 80):
            return words
        return f"{words} at `{_short(flagged, 60)}`"


def _short(text: str, width: int) -> str:
    words = " ".join(text.split())
    return words if len(words) <= width else f"{words[: width - 3]}..."


def _statements(sql: str) -> list[str]:
    """The statements of Alembic's offline SQL, each without its ``;`` (one blank line apart)."""
    return [
        part.strip() for part in re.split(r";\s*\n\s*\n", sql) if part.strip().rstrip(";").strip()
    ]


def split_by_revision(sql: str) -> dict[str, str]:
    """Alembic's offline SQL of a range, cut at its ``-- Running upgrade`` comments."""
    marks = list(_STEP.finditer(sql))
    chunks: dict[str, str] = {}
    for index, mark in enumerate(marks):
        end = marks[index + 1].start() if index + 1 < len(marks) else len(sql)
        chunks[mark[1]] = sql[mark.end() : end]
    # The run's own COMMIT, after the last revision: the wrapper of _Revision.text adds it.
    if marks:
        last = marks[-1][1]
        chunks[last] = re.sub(r"COMMIT;\s*$", "", chunks[last].rstrip())
    return chunks


def lint(
    settings: Settings, scripts: ScriptDirectory, revisions: Sequence[Script], *, everything: bool
) -> Report:
    """Lint ``revisions`` (oldest first): every revision with ``everything``, else pending ones.

    Their SQL is rendered in one offline run (``everything``: base to heads; else from the one
    applied head); a revision offline mode cannot render (it reads the database) is then rendered
    alone and, failing again, named as not linted.
    """
    report = Report()
    if not revisions:
        return report
    config = read_config(settings.project_root)
    squawk = squawk_binary()
    acknowledged = {script.revision: acknowledgements(Path(script.path)) for script in revisions}
    _refuse_unknown_rules(squawk, config, revisions, acknowledged)
    sqls = _render(settings, scripts, revisions, everything=everything, notes=report.notes)
    linted = [
        _Revision.of(script, sqls[script.revision])
        for script in revisions
        if script.revision in sqls
    ]
    report.linted = len(linted)
    if not linted:
        return report
    with tempfile.TemporaryDirectory(prefix="groundwork-lint-") as folder:
        by_file: dict[str, _Revision] = {}
        for revision in linted:
            # Named after the revision file: squawk's findings name the file they are in.
            target = Path(folder) / f"{revision.path.stem}.sql"
            target.write_text(revision.text, encoding="utf-8")
            by_file[str(target)] = revision
        done = _run_squawk(squawk, ["--reporter", "json", *config.options(), *by_file])
        if done.returncode not in (0, 1):
            error = (done.stderr.strip() or done.stdout.strip()).splitlines()
            raise TaskError(
                f"squawk failed (exit status {done.returncode}): {error[0] if error else ''}"
            )
        results: list[dict[str, Any]] = json.loads(done.stdout or "[]")
        seen: dict[str, set[str]] = {}
        for result in results:
            revision = by_file[str(Path(result["file"]))]
            rule = str(result["rule_name"])
            seen.setdefault(revision.script.revision, set()).add(rule)
            reason = acknowledged[revision.script.revision].get(rule)
            help_text = result.get("help") or f"see https://squawkhq.com/docs/{rule}"
            report.findings.append(
                Finding(
                    shown(revision.path),
                    rule,
                    revision.operation(result),
                    str(result["message"]),
                    str(help_text),
                    reason,
                )
            )
    for revision in linted:
        unused = set(acknowledged[revision.script.revision]) - seen.get(
            revision.script.revision, set()
        )
        for rule in sorted(unused):
            report.notes.append(
                f"{shown(revision.path)} acknowledges {rule}, which squawk does not find in it: "
                "remove the acknowledgement"
            )
    return report


def _refuse_unknown_rules(
    squawk: str,
    config: LintConfig,
    revisions: Sequence[Script],
    acknowledged: dict[str, dict[str, str]],
) -> None:
    names = {
        *config.exclude,
        *config.include,
        *(rule for rules in acknowledged.values() for rule in rules),
    }
    unknown = unknown_rules(squawk, names)
    if not unknown:
        return
    for key, rules in (("exclude", config.exclude), ("include", config.include)):
        for rule in rules:
            if rule in unknown:
                raise TaskError(
                    f"pyproject.toml [tool.groundwork.lint] {key}: squawk has no rule {rule!r} "
                    "(https://squawkhq.com/docs/rules lists them)"
                )
    for script in revisions:
        for rule in acknowledged[script.revision]:
            if rule in unknown:
                raise TaskError(
                    f"{shown(Path(script.path))}: {ACKNOWLEDGED} names {rule!r}, which is no "
                    "squawk rule (https://squawkhq.com/docs/rules lists them)"
                )


def _render(
    settings: Settings,
    scripts: ScriptDirectory,
    revisions: Sequence[Script],
    *,
    everything: bool,
    notes: list[str],
) -> dict[str, str]:
    """The offline SQL of each of ``revisions``, by revision id."""
    from . import migrations

    wanted = {script.revision for script in revisions}
    parents_of = {
        script.revision: migrations.parents(scripts, script.revision) for script in revisions
    }
    # Pending revisions above one applied head: from there; otherwise from base.
    oldest = revisions[0].revision
    start = parents_of[oldest][0] if not everything and len(parents_of[oldest]) == 1 else None
    span = None if start is None else f"{start}:heads"
    if len(scripts.get_heads()) > 1:
        span = None
    try:
        with quiet():
            chunks = split_by_revision(migrations.offline_sql(settings, span))
        found = {rev: sql for rev, sql in chunks.items() if rev in wanted}
    except TaskError:
        found = {}  # one of them reads the database: each alone, to name it and lint the others
    for script in revisions:
        if script.revision in found:
            continue
        parents = parents_of[script.revision]
        span = f"{parents[0]}:{script.revision}" if parents else script.revision
        try:
            with quiet():
                chunks = split_by_revision(migrations.offline_sql(settings, span))
        except TaskError as exc:
            notes.append(f"{shown(Path(script.path))} not linted: {exc}")
            continue
        if script.revision in chunks:
            found[script.revision] = chunks[script.revision]
        else:  # never seen: Alembic writes a comment before every revision's SQL
            notes.append(f"{shown(Path(script.path))} not linted: its SQL was not found")
    return found


def applies(settings: Settings) -> bool:
    """Whether squawk's rules apply: the database is PostgreSQL (told without connecting)."""
    from .backends import backend_for
    from .engine import offline_url

    return backend_for(offline_url(settings)).has_server


def acknowledge_hint() -> str:
    return (
        "use the safe form, or accept the operation in its revision with a reason: "
        + ACKNOWLEDGED
        + ' = {"RULE": "why it is safe here"} '
        '(docs/database.md, "Linting migrations for locks")'
    )
