"""Reading a seed's rows: from a CSV file, a JSON file or Python, streamed.

Two ways out of a source:

- ``batches()``: every record as a list ``[line, value, value, ...]`` in the order of
  ``columns``, checked as it streams (well-formed CSV, the same fields on every row, a key on
  each), so that a loader can name the line of a bad row without keeping the file in memory.
  CSV values stay text (an empty field is NULL, a quoted empty field ``""`` an empty string);
  the database, or the SQLite loader, types them.
- ``csv_blocks()``: a CSV file's data lines as large blocks of raw bytes, for PostgreSQL's COPY,
  which parses and types them itself: no Python work per row. Only the header is read here.
  COPY names a bad row by its position; ``line_of_record`` maps that back to a line by
  re-reading the file with the strict reader of ``batches()`` (on the error path only), which
  reports any problem it finds on the way in its own words.

Both count records alike: a blank line is skipped, not a record.
"""

from __future__ import annotations

import ast
import csv
import io
import json
import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from ..errors import TaskError
from .declare import Seed

BATCH_ROWS = 10_000
BLOCK_BYTES = 1 << 20
_BOM = b"\xef\xbb\xbf"


class Source:
    """The rows of one seed, checked as they stream: same fields on every row, a key on each."""

    def __init__(self, seed: Seed, data_dir: Path, project_root: Path) -> None:
        self.seed = seed
        self.path = data_dir / seed.data if seed.data else seed.module_file
        self._root = project_root
        self.columns: list[str] = []
        self.kind = "rows" if seed.data is None else "csv" if seed.data.endswith(".csv") else "json"
        self.bytes_read = 0
        self.size = self.path.stat().st_size if self.path and self.path.is_file() else 0
        if seed.data is not None:
            if not self.path or not self.path.is_file():
                raise TaskError(f"seed {seed.name}: data file {self.shown_path} does not exist")
            if not seed.data.endswith((".csv", ".json")):
                raise TaskError(f"seed {seed.name}: {seed.data} is neither .csv nor .json")

    @property
    def textual(self) -> bool:
        """Values are text to be typed (CSV), not Python values."""
        return self.kind == "csv"

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
        unit = "row" if self.kind == "rows" and self._python_lines() is None else "line"
        return f"seed {self.seed.name} ({self.shown_path} {unit} {line})"

    def fail(self, line: int | None, message: str) -> TaskError:
        return TaskError(f"{self.where(line)}: {message}")

    # -- reading record by record ------------------------------------------------------------

    def batches(self, size: int = BATCH_ROWS) -> Iterator[list[list[Any]]]:
        """Records in batches; ``columns`` is known once the first batch (or header) is read."""
        if self.textual:
            yield from self._csv_batches(size)
        else:
            yield from _batched(self._mapping_records(), size)

    def _open(self, errors: str = "strict") -> IO[str]:
        assert self.path is not None
        return self.path.open(encoding="utf-8-sig", errors=errors, newline="")

    def _csv_batches(self, size: int) -> Iterator[list[list[Any]]]:
        # Bytes that are not UTF-8 become lone surrogates, found below with the line they are on
        # (a strict decoder would fail on the whole block it decodes, without a line).
        with self._open(errors="surrogateescape") as handle:
            raw: list[str] = []  # the lines of the record being read, to tell "" from nothing
            reader = csv.reader(_kept(handle, raw), strict=True)
            try:
                header = next(reader, None)
            except csv.Error as exc:
                raise self.fail(1, f"malformed CSV header: {exc}") from None
            raw.clear()
            self._check_text(1, list(header or []))
            self._set_header(header)
            width = len(self.columns)
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
                if "" in record:
                    record = _nulls(record, raw)
                raw.clear()
                if len(record) != width:
                    if record == []:  # a blank line, e.g. at the very end
                        line = reader.line_num + 1
                        continue
                    raise self.fail(
                        line, f"malformed CSV: {len(record)} fields where the header has {width}"
                    )
                for index in keys:
                    if not record[index]:  # NULL or "": no key
                        raise self.fail(line, f"row missing its key {self.columns[index]!r}")
                self._check_text(line, record)
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

    def _check_text(self, line: int, fields: list[str | None]) -> None:
        text = "".join(field for field in fields if field is not None)
        if not text.isascii():
            try:
                text.encode()
            except UnicodeEncodeError as exc:
                byte = ord(text[exc.start]) - 0xDC00
                raise self.fail(
                    line, f"not UTF-8 text (byte 0x{byte:02x}): save the file as UTF-8"
                ) from None

    def _set_header(self, header: list[str] | None) -> None:
        if not header:
            raise self.fail(1, "the file is empty: the first line names the columns")
        self.columns = [name.strip() for name in header]
        self.check_columns(1)

    def _items(self) -> Iterator[tuple[int, Any]]:
        """Each row of a JSON file or of ``rows=``, with its line (or position)."""
        if self.kind == "json":
            with self._open() as handle:
                yield from _JsonItems(handle, self.fail)
            return
        rows = self.seed.rows
        lines = self._python_lines()
        for number, row in enumerate(rows() if callable(rows) else (rows or []), start=1):
            yield (lines[number - 1] if lines else number), row

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
        first = True
        for line, row in self._items():
            if not isinstance(row, dict | type(None)) and not hasattr(row, "keys"):
                raise self.fail(line, f"a row is a mapping of column to value, not {row!r}")
            if first:
                self.columns = list(row.keys())
                self.check_columns(line)
                first = False
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

    # -- the error path: from a record's position back to its line ----------------------------

    def line_of_record(self, number: int) -> int | None:
        """The line of the ``number``-th record (1-based), read again with the strict reader.

        A problem that reader finds on the way (a malformed line, a row without its key) is
        raised instead: it is the first thing wrong with the file, said in our words.
        """
        return self.lines_of_records(number).get(number)

    def lines_of_records(self, *numbers: int) -> dict[int, int]:
        wanted = set(numbers)
        found: dict[int, int] = {}
        for seen, record in enumerate(self._records(), start=1):
            if seen in wanted:
                found[seen] = int(record[0])
                if len(found) == len(wanted):
                    break
        return found

    def record_at(self, number: int) -> tuple[int | None, dict[str, Any]]:
        """The line and values (as the seed gives them) of the ``number``-th record (1-based)."""
        for seen, record in enumerate(self._records(), start=1):
            if seen == number:
                return int(record[0]), dict(zip(self.columns, record[1:], strict=True))
        return None, {}

    def record_on_line(self, line: int) -> dict[str, Any]:
        """The values (as the seed gives them) of the record on ``line``."""
        for record in self._records():
            if record[0] == line:
                return dict(zip(self.columns, record[1:], strict=True))
        return {}

    def first_duplicate(self, through: int) -> tuple[tuple[Any, ...], int, int] | None:
        """A key given twice among the first ``through`` records: (key, first line, line)."""
        positions = [self.columns.index(name) + 1 for name in self.seed.key_columns]
        seen: dict[tuple[Any, ...], int] = {}
        for number, record in enumerate(self._records(), start=1):
            key = tuple(record[position] for position in positions)
            if key in seen:
                return key, seen[key], int(record[0])
            seen[key] = int(record[0])
            if number >= through:
                break
        return None

    def _records(self) -> Iterator[list[Any]]:
        for batch in self.batches():
            yield from batch

    # -- raw blocks for COPY ------------------------------------------------------------------

    def csv_blocks(self, size: int = BLOCK_BYTES) -> Iterator[bytes]:
        """The data lines of the CSV file, as blocks of raw UTF-8 bytes ending at a newline.

        The header is read and checked first (``columns``). Blank lines are dropped, as the
        strict reader skips them, so that COPY's record numbers are ``batches()``'s; line
        endings are made alike (``_as_copy_reads_it``).
        """
        assert self.path is not None
        with self.path.open("rb") as handle:
            pending, newline = self._read_header(handle, size)
            quoted = False  # whether the next block starts inside a quoted field
            while True:
                block = handle.read(size)
                data = pending + block
                end = data.rfind(b"\n") + 1 if block else len(data)
                chunk, pending = data[:end], data[end:]
                self.bytes_read = handle.tell() - len(pending)
                if chunk:
                    chunk, quoted = _as_copy_reads_it(chunk, quoted, newline)
                    yield chunk
                if not block:
                    return

    def _read_header(self, handle: IO[bytes], size: int) -> tuple[bytes, bytes]:
        """Read and check the header line; return the bytes read past it and its line ending."""
        data = b""
        while True:
            block = handle.read(size)
            data += block
            end = _end_of_first_line(data)
            if end or not block:
                break
        end = end or len(data)
        head = data[:end].removeprefix(_BOM)
        text = head.decode("utf-8", errors="surrogateescape")
        try:
            header = next(csv.reader(io.StringIO(text, newline=""), strict=True), None)
        except csv.Error as exc:
            raise self.fail(1, f"malformed CSV header: {exc}") from None
        self._check_text(1, list(header or []))
        self._set_header(header)
        return data[end:], b"\r\n" if head.endswith(b"\r\n") else b"\n"


def _kept(handle: IO[str], raw: list[str]) -> Iterator[str]:
    """The lines of ``handle``, each also appended to ``raw`` (emptied by the reader's user)."""
    for line in handle:
        raw.append(line)
        yield line


def _nulls(record: list[str], raw: list[str]) -> list[Any]:
    """``record`` with its unquoted empty fields None (NULL); quoted ones ("") stay "".

    The csv module reads both as "" (before Python 3.12's QUOTE_NOTNULL): the record's own
    text tells them apart. Only a record with an empty field gets here; without a pair of
    quotes in its text, every empty field is NULL.
    """
    text = "".join(raw)
    if '""' not in text:
        return [None if value == "" else value for value in record]
    quoted = _quoted_fields(text.rstrip("\r\n"))
    return [
        None if value == "" and not (index < len(quoted) and quoted[index]) else value
        for index, value in enumerate(record)
    ]


def _quoted_fields(text: str) -> list[bool]:
    """Whether each field of one CSV record (already read by the strict reader) is quoted."""
    flags: list[bool] = []
    position, end = 0, len(text)
    while True:
        if position < end and text[position] == '"':
            flags.append(True)
            position += 1
            while True:  # to the closing quote; "" inside is an escaped quote
                position = text.index('"', position)
                if text.startswith('""', position):
                    position += 2
                    continue
                position += 1
                break
            comma = text.find(",", position)
        else:
            flags.append(False)
            comma = text.find(",", position)
        if comma < 0:
            return flags
        position = comma + 1


def _batched(records: Iterable[list[Any]], size: int) -> Iterator[list[list[Any]]]:
    batch: list[list[Any]] = []
    for record in records:
        batch.append(record)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _end_of_first_line(data: bytes) -> int:
    """Where the first line ends (after its newline; quoted newlines belong to a field), or 0."""
    newline = data.find(b"\n")
    while newline >= 0 and data.count(b'"', 0, newline) % 2:
        newline = data.find(b"\n", newline + 1)
    return newline + 1


def _as_copy_reads_it(block: bytes, quoted: bool, newline: bytes) -> tuple[bytes, bool]:
    """``block`` (whole lines) without its empty lines, every line ending in ``newline``.

    The strict reader skips empty lines and accepts line endings of both kinds; COPY takes an
    empty line for a record and the first line's ending for every line. Line breaks inside a
    quoted field are data and stay. In CSV a field's quotes come in pairs, so the parity of the
    quotes before a line break tells whether it is inside a field. ``quoted``: whether the block
    starts inside a quoted field; returns whether the next one does.
    """
    odd = block.count(b'"') % 2 == 1
    if newline == b"\r\n":
        one_kind = block.count(b"\n") == block.count(b"\r\n")
    else:
        one_kind = b"\r" not in block
    empty = b"\n\n" in block or b"\n\r\n" in block or block.startswith((b"\n", b"\r\n"))
    if one_kind and not empty:
        return block, quoted != odd  # the usual case, decided at C speed
    kept: list[bytes] = []
    for line in block.splitlines(keepends=True):
        inside = quoted
        if line.count(b'"') % 2:
            quoted = not quoted
        if quoted:
            kept.append(line)  # its line break is part of a field
        elif inside or line.strip(b"\r\n"):
            kept.append(line.rstrip(b"\r\n") + newline)
    return b"".join(kept), quoted


class _JsonItems:
    """The items of a JSON file's top-level list with the line each starts on, read in blocks.

    ``json.load`` would hold the whole file and every row at once; this holds a block.
    """

    _DECODER = json.JSONDecoder()
    _NOT_SPACE = re.compile(r"[^ \t\r\n]")

    def __init__(self, handle: IO[str], fail: Callable[[int | None, str], TaskError]) -> None:
        self.handle = handle
        self.fail = fail
        self.text = ""
        self.pos = 0
        self.line = 1  # the line of text[pos]
        self.eof = False

    def __iter__(self) -> Iterator[tuple[int, Any]]:
        if self._next_char() != "[":
            raise self.fail(self.line, "a JSON seed file holds a list of objects: [{...}, ...]")
        self._advance(self.pos + 1)
        if self._next_char() == "]":
            self._advance(self.pos + 1)
        else:
            while True:
                self._next_char()
                line = self.line
                yield line, self._decode()
                after = self._next_char()
                self._advance(self.pos + 1)
                if after == "]":
                    break
                if after != ",":
                    expected = "',' or ']'" if after else "']' (the list is not closed)"
                    raise self.fail(self.line, f"malformed JSON: expected {expected}")
        if self._next_char():
            raise self.fail(self.line, "malformed JSON: more data after the list")

    def _more(self, size: int = BLOCK_BYTES) -> bool:
        try:
            block = self.handle.read(size)
        except UnicodeDecodeError as exc:
            raise self.fail(
                None, f"not UTF-8 text ({exc.reason}): save the file as UTF-8"
            ) from None
        if not block:
            self.eof = True
            return False
        self.text = self.text[self.pos :] + block
        self.pos = 0
        return True

    def _advance(self, to: int) -> None:
        self.line += self.text.count("\n", self.pos, to)
        self.pos = to

    def _next_char(self) -> str:
        """Skip white space; the next character, or "" at the end of the file."""
        while True:
            found = self._NOT_SPACE.search(self.text, self.pos)
            if found is not None:
                self._advance(found.start())
                return self.text[self.pos]
            self._advance(len(self.text))
            if not self._more():
                return ""

    def _decode(self) -> Any:
        while True:
            try:
                item, end = self._DECODER.raw_decode(self.text, self.pos)
            except json.JSONDecodeError as exc:
                # Maybe the item goes on in the next block: read more (doubling, so that a
                # long item costs linear time) and try again, until the end of the file.
                if self._more(max(BLOCK_BYTES, len(self.text))):
                    continue
                line = self.line + self.text.count("\n", self.pos, exc.pos)
                raise self.fail(line, f"malformed JSON: {exc.msg}") from None
            if end == len(self.text) and not self.eof and self._more():
                continue  # a number at the end of a block may have more digits
            self._advance(end)
            return item


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
