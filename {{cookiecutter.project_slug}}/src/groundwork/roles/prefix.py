"""The rule for the names the role model is built from: the role prefix and the schema.

One rule, two callers: :meth:`.names.RoleNames.from_prefix` (DB_ROLE_PREFIX, DB_SCHEMA, the
project's prefix) and the template's pre-generation hook (the ``role_prefix`` answer), which
loads this file by its path before anything is baked. Hence the standard library only and no
import from the rest of the kit.
"""

from __future__ import annotations

import re

# Unquoted, PostgreSQL folds identifiers to lower case: an upper-case prefix would name another
# role than the one the settings refer to; any other character would need quoting everywhere.
IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]*")

# NAMEDATALEN - 1: PostgreSQL silently truncates a longer name, so two long role names could
# collapse into one and the settings would name a role that does not exist.
MAX_IDENTIFIER_BYTES = 63

# What the model appends to the prefix (names.RoleNames); the longest decides the prefix's limit.
ROLE_SUFFIXES: tuple[str, ...] = ("_owner", "_migrator", "_rw", "_ro", "_app", "_reader")
LONGEST_SUFFIX = max(ROLE_SUFFIXES, key=len)
PREFIX_MAX_BYTES = MAX_IDENTIFIER_BYTES - len(LONGEST_SUFFIX.encode())

# PostgreSQL reserves names beginning with pg_ for its predefined roles and system schemas.
RESERVED_PREFIX = "pg_"

# Key words marked "reserved" for PostgreSQL in the PostgreSQL 18 documentation, Appendix C
# "SQL Key Words" (the RESERVED_KEYWORD entries of kwlist.h): never an unquoted identifier.
# `public` and `none` are reserved role names (`public` means every role in GRANT, and the
# schema of that name is the one the model locks down; CREATE ROLE none fails).
RESERVED_WORDS: frozenset[str] = frozenset(
    {
        "all",
        "analyse",
        "analyze",
        "and",
        "any",
        "array",
        "as",
        "asc",
        "asymmetric",
        "both",
        "case",
        "cast",
        "check",
        "collate",
        "column",
        "constraint",
        "create",
        "current_catalog",
        "current_date",
        "current_role",
        "current_time",
        "current_timestamp",
        "current_user",
        "default",
        "deferrable",
        "desc",
        "distinct",
        "do",
        "else",
        "end",
        "except",
        "false",
        "fetch",
        "for",
        "foreign",
        "from",
        "grant",
        "group",
        "having",
        "in",
        "initially",
        "intersect",
        "into",
        "lateral",
        "leading",
        "limit",
        "localtime",
        "localtimestamp",
        "not",
        "null",
        "offset",
        "on",
        "only",
        "or",
        "order",
        "placing",
        "primary",
        "references",
        "returning",
        "select",
        "session_user",
        "some",
        "symmetric",
        "system_user",
        "table",
        "then",
        "to",
        "trailing",
        "true",
        "union",
        "unique",
        "user",
        "using",
        "variadic",
        "when",
        "where",
        "window",
        "with",
        # Reserved role names rather than key words.
        "public",
        "none",
    }
)


def problem(value: str) -> str | None:
    """Why ``value`` cannot prefix the role names (or name the schema), or None.

    The reason reads after the value: "the role prefix 'X' <reason>".
    """
    if IDENTIFIER.fullmatch(value) is None:
        return (
            "is not an unquoted PostgreSQL identifier: lower-case letters, digits and "
            "underscores, not starting with a digit"
        )
    if value.startswith(RESERVED_PREFIX):
        return "starts with 'pg_', which PostgreSQL reserves for its own roles and schemas"
    if value in RESERVED_WORDS:
        return "is a reserved word or role name in PostgreSQL"
    size = len(value.encode())
    if size > PREFIX_MAX_BYTES:
        return (
            f"is {size} bytes; at most {PREFIX_MAX_BYTES} fit, so that '<prefix>{LONGEST_SUFFIX}'"
            f" stays within PostgreSQL's {MAX_IDENTIFIER_BYTES}-byte identifier limit"
        )
    return None
