"""This project's exceptions to the role model (docs/database.md, "Exceptions").

The one place a project narrows the model per table: ``invoke db.grant`` applies these, prints
them in its SQL (``--print``, ``sql/roles.sql``) and ``--check`` verifies them like the rest. A
migration that narrows a privilege without a line here is undone by the next ``db.grant``;
``--check`` reports the difference either way. After an edit, run ``invoke db.grant`` and
regenerate the shipped SQL: ``invoke db.grant --print > src/<package>/sql/roles.sql``.
Table and column names are plain lower-case identifiers of the application's schema.
"""

from __future__ import annotations

# Tables the app may read and INSERT into but never UPDATE, DELETE or TRUNCATE (audit logs,
# events): ``APPEND_ONLY = frozenset({"audit_log"})``.
APPEND_ONLY: frozenset[str] = frozenset()

# Columns the reader (the ``_ro`` group) may not SELECT; it reads the table's other columns:
# ``HIDDEN_COLUMNS = {"users": frozenset({"password_hash"})}``. New columns added later by a
# migration stay hidden from the reader too until ``db.grant`` runs again (it fails closed).
HIDDEN_COLUMNS: dict[str, frozenset[str]] = {}
