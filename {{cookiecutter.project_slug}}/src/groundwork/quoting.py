"""SQL text: a quoted identifier and a string literal, for SQL the kit writes out as text.

Names are validated where they come in (roles/prefix.py, grant_exceptions.py); quoting keeps
the text safe regardless. Where a driver is at hand, its own quoting is used instead.
"""

from __future__ import annotations


def ident(name: str) -> str:
    """A quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def literal(text: str) -> str:
    """A quoted SQL string literal (standard_conforming_strings: backslashes are plain)."""
    return "'" + text.replace("'", "''") + "'"
