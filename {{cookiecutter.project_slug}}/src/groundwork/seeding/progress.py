"""A one-line progress bar on stderr for big seeds; silent when stderr is not a terminal."""

from __future__ import annotations

import sys
import time
from typing import TextIO

# Seeds smaller than this finish before a bar would be worth drawing.
SHOW_AFTER_ROWS = 10_000


class Progress:
    def __init__(self, label: str, total_bytes: int, stream: TextIO | None = None) -> None:
        self.label = label
        self.total_bytes = total_bytes
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty()
        self.drawn = False
        self._last = 0.0

    def update(self, rows: int, bytes_read: int) -> None:
        if not self.enabled or rows < SHOW_AFTER_ROWS:
            return
        now = time.monotonic()
        if now - self._last < 0.1:
            return
        self._last = now
        if self.total_bytes and bytes_read:
            share = min(bytes_read / self.total_bytes, 1.0)
            bar = "#" * int(share * 30)
            text = f"{self.label} [{bar:<30}] {share:4.0%} {rows:,} rows"
        else:
            text = f"{self.label} {rows:,} rows"
        self.stream.write(f"\r{text}\x1b[K")
        self.stream.flush()
        self.drawn = True

    def done(self) -> None:
        if self.drawn:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
