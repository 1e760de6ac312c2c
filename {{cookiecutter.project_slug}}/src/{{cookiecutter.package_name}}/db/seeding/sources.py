"""Reading a seed's rows: from a CSV file, a JSON file or Python, streamed in batches.

Every record comes out as a list ``[line, value, value, ...]`` in the order of ``columns``,
so that a loader can report the line of a bad row without keeping the file in memory. CSV
values stay text (an empty field is NULL); the database, or the SQLite loader, types them.
"""

from __future__ import annotations

import ast
import csv
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from ...errors import TaskError
from .declare import Row, Seed

BATCH_ROWS = 10_000


class Source:
    """The rows of one seed, checked as they stream: same fields on every row, a key on each."""

    def __init__(self, seed: Seed, data_dir: Path, project_root: Path) -> None:
        self.seed = seed
        self.path = data_dir / seed.data if seed.data else seed.module_file
        self._root = project_root
        self.columns: list[str] = []
        self.textual = seed.data is not None and seed.data.endswith(".csv")
        self.bytes_read = 0
        self.size = self.path.stat().st_size if self.path and self.path.is_file() else 0
        if seed.data is not None:
            if not self.path or not self.path.is_file():
                raise TaskError(f"seed {seed.name}: data file {self.shown_path} does not exist")
            if not seed.data.endswith((".csv", ".json")):
                raise TaskError(f"seed {seed.name}: {seed.data} is neither .csv nor .json")

    @property
    def shown_path(self) -> str:
        if self.path is None:
            return "(rows)"
        try:
            return self.path.relative_to(self._root).as_posix()
        except ValueError:
            return self.path.as_posix()

    def where(self, line: int | None) -> str:
        """``seed NAME (FILE line N)``: the start of every message about a row."""
        if line is None:
            return f"seed {self.seed.name} ({self.shown_path})"
        unit = "item" if self.seed.data and self.seed.data.endswith(".json") else "line"
        if self.seed.rows is not None and self._python_lines() is None:
            unit = "row"
        return f"seed {self.seed.name} ({self.shown_path} {unit} {line})"

    def fail(self, line: int | None, message: str) -> TaskError:
        return TaskError(f"{self.where(line)}: {message}")

    # -- reading ---------------------------------------------------------------------------

    def batches(self, size: int = BATCH_ROWS) -> Iterator[list[list[Any]]]:
        """Records in batches; ``columns`` is known once the first batch (or header) is read."""
        if self.textual:
            yield from self._csv_batches(size)
        else:
            yield from self._batch(self._mapping_records(), size)

    def _open(self) -> IO[str]:
        assert self.path is not None
        return self.path.open(encoding="utf-8-sig", newline="")

    def _csv_batches(self, size: int) -> Iterator[list[list[Any]]]:
        with self._open() as handle:
            reader = csv.reader(handle, strict=True)
            try:
                header = next(reader, None)
            except csv.Error as exc:
                raise self.fail(1, f"malformed CSV header: {exc}") from None
            if not header:
                raise self.fail(1, "the file is empty: the first line names the columns")
            self.columns = [name.strip() for name in header]
            self.check_columns(1)
            width = len(header)
            keys = [self.columns.index(name) for name in self.seed.key_columns]
            batch: list[list[Any]] = []
            line = reader.line_num + 1
            while True:
                try:
                    record: list[Any] | None = next(reader, None)
                except csv.Error as exc:
                    raise self.fail(line, f"malformed CSV: {exc}") from None
                if record is None:
                    break
                if len(record) != width:
                    if record == [] or record == [""]:  # a blank line, e.g. at the very end
                        line = reader.line_num + 1
                        continue
                    raise self.fail(
                        line, f"malformed CSV: {len(record)} fields where the header has {width}"
                    )
                for index in keys:
                    if not record[index]:
                        raise self.fail(line, f"row missing its key {self.columns[index]!r}")
                record.insert(0, line)
                batch.append(record)
                line = reader.line_num + 1
                if len(batch) >= size:
                    self.bytes_read = handle.buffer.tell() if hasattr(handle, "buffer") else 0
                    yield batch
                    batch = []
            self.bytes_read = self.size
            if batch:
                yield batch

    def _rows(self) -> Iterable[Row]:
        if self.seed.data is not None:
            with self._open() as handle:
                try:
                    loaded = json.load(handle)
                except json.JSONDecodeError as exc:
                    raise self.fail(
                        None, f"malformed JSON at line {exc.lineno}: {exc.msg}"
                    ) from None
            if not isinstance(loaded, list):
                raise self.fail(None, "a JSON seed file holds a list of objects")
            return loaded
        rows = self.seed.rows
        return rows() if callable(rows) else (rows or [])

    def _python_lines(self) -> list[int] | None:
        """The line of each element of a literal ``rows=[...]`` in the seed module, if any."""
        if self.seed.rows is None or callable(self.seed.rows) or self.path is None:
            return None
        if not hasattr(self, "_lines_cache"):
            self._lines_cache = _literal_row_lines(self.path)
            if self._lines_cache is not None and len(self._lines_cache) != len(self.seed.rows):
                self._lines_cache = None
        return self._lines_cache

    def _mapping_records(self) -> Iterator[list[Any]]:
        lines = self._python_lines()
        for number, row in enumerate(self._rows(), start=1):
            line = lines[number - 1] if lines else number
            if not isinstance(row, dict | type(None)) and not hasattr(row, "keys"):
                raise self.fail(line, f"a row is a mapping of column to value, not {row!r}")
            if number == 1:
                self.columns = list(row.keys())
                self.check_columns(line)
            for name in self.seed.key_columns:
                if row.get(name) in (None, ""):
                    raise self.fail(line, f"row missing its key {name!r}")
            if row.keys() != set(self.columns):
                unknown = sorted(set(row.keys()) - set(self.columns))
                missing = sorted(set(self.columns) - set(row.keys()))
                raise self.fail(
                    line,
                    "every row of a seed has the same fields; this one "
                    + "; ".join(
                        part
                        for part in (
                            f"adds {', '.join(unknown)}" if unknown else "",
                            f"lacks {', '.join(missing)}" if missing else "",
                        )
                        if part
                    ),
                )
            yield [line, *(row[name] for name in self.columns)]

    @staticmethod
    def _batch(records: Iterable[list[Any]], size: int) -> Iterator[list[list[Any]]]:
        batch: list[list[Any]] = []
        for record in records:
            batch.append(record)
            if len(batch) >= size:
                yield batch
                batch = []
        if batch:
            yield batch

    def check_columns(self, line: int) -> None:
        """Every field names a column of the table or a reference; the key is present."""
        table = self.seed.table
        allowed = set(table.c.keys()) | set(self.seed.references)
        for name in self.columns:
            if name not in allowed:
                raise self.fail(
                    line,
                    f"unknown column {name!r}: {table.name} has {', '.join(table.c.keys())}"
                    + (
                        f"; references: {', '.join(self.seed.references)}"
                        if self.seed.references
                        else ""
                    ),
                )
        if len(set(self.columns)) != len(self.columns):
            raise self.fail(line, "a column is named twice")
        for name in self.seed.key_columns:
            if name not in self.columns:
                raise self.fail(line, f"the key column {name!r} is missing")

    def line_of_record(self, number: int) -> int | None:
        """The line of the ``number``-th record (1-based): used on the error path only."""
        seen = 0
        for batch in self.batches():
            if seen + len(batch) >= number:
                line = batch[number - seen - 1][0]
                return int(line)
            seen += len(batch)
        return None


def _literal_row_lines(module_file: Path) -> list[int] | None:
    try:
        tree = ast.parse(module_file.read_text(encoding="utf-8"))
    except (OSError, SyntaxError):
        return None
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            for keyword in node.keywords:
                if keyword.arg == "rows" and isinstance(keyword.value, ast.List | ast.Tuple):
                    return [element.lineno for element in keyword.value.elts]
    return None
