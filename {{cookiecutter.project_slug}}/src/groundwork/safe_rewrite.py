"""Autogenerate writes the safe forms (safe.py) for changes to existing PostgreSQL tables.

Called from ``process_revision_directives`` (environment.py). The operations on a table the
same revision creates or drops stay plain: nobody waits on a table that did not exist. The
rewritten revision calls the helpers by name (``safe.create_index_concurrently(...)``), so it
reads as what runs. Alembic's ``Rewriter`` hands each operation over alone; whether its table
is new needs the whole list, hence this walk of its own. Off with ``Project(...,
safe_migrations=False)``.

Left plain (a reviewer's call): indexes on expressions or with dialect options (partial,
``USING``), and what autogenerate does not detect (CHECK constraints).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from alembic.autogenerate import renderers
from alembic.autogenerate.api import AutogenContext
from alembic.operations import ops

# The import the rewritten revision needs; rendered once per file.
IMPORT = "from groundwork import safe"


class SafeCall(ops.MigrateOperation):
    """``safe.<helper>(*args, **kwargs)`` in a revision file."""

    def __init__(self, helper: str, *args: Any, **kwargs: Any) -> None:
        self.helper = helper
        # Names as plain strings: autogenerate's are final already (``op.f``), as the helpers
        # take them.
        self.args = tuple(str(arg) if isinstance(arg, str) else arg for arg in args)
        self.kwargs = {key: value for key, value in kwargs.items() if value is not None}


@renderers.dispatch_for(SafeCall)
def _render(autogen_context: AutogenContext, call: SafeCall) -> str:
    autogen_context.imports.add(IMPORT)
    words = [repr(arg) for arg in call.args]
    words += [f"{key}={value!r}" for key, value in call.kwargs.items()]
    return f"safe.{call.helper}({', '.join(words)})"


def rewrite(script: ops.MigrationScript) -> None:
    """Replace, in place, the operations of ``script`` that lock an existing table."""
    for container in [*script.upgrade_ops_list, *script.downgrade_ops_list]:
        fresh = {
            (op.schema, op.table_name)
            for op in container.ops
            if isinstance(op, ops.CreateTableOp | ops.DropTableOp)
        }
        rewritten = _rewritten(container.ops, fresh)
        if any(isinstance(op, SafeCall) for op in _flat(rewritten)):
            # Committed in pieces (safe.py): the plain operations before a block would run again
            # when the revision is rerun after a failure; these then skip what is done.
            for op in _flat(rewritten):
                if isinstance(op, ops.CreateTableOp | ops.CreateIndexOp | ops.AddColumnOp):
                    op.if_not_exists = True
                elif isinstance(op, _DROPS):
                    op.if_exists = True
        container.ops = rewritten


_DROPS = (ops.DropTableOp, ops.DropIndexOp, ops.DropColumnOp, ops.DropConstraintOp)


def _flat(operations: list[Any]) -> Iterator[Any]:
    for op in operations:
        if isinstance(op, ops.ModifyTableOps):
            yield from _flat(op.ops)
        else:
            yield op


def _rewritten(operations: list[ops.MigrateOperation], fresh: set[Any]) -> list[Any]:
    out: list[Any] = []
    for op in operations:
        if isinstance(op, ops.ModifyTableOps):
            if (op.schema, op.table_name) not in fresh:
                op.ops = _rewritten(op.ops, fresh)
            out.append(op)
            continue
        table = (getattr(op, "schema", None), getattr(op, "table_name", None))
        safe = None if table in fresh else _safe_form(op)
        out.extend([op] if safe is None else safe)
    return out


def _options(kw: dict[str, Any]) -> dict[str, Any]:
    """The dialect options given a value (an index compared with the models lists them all)."""
    return {key: value for key, value in kw.items() if value not in (None, [], {}, ())}


def _safe_form(op: ops.MigrateOperation) -> list[Any] | None:
    """The safe calls for ``op``, or None to keep it as it is."""
    if isinstance(op, ops.CreateIndexOp):
        columns = [getattr(column, "name", column) for column in op.columns]
        if _options(op.kw) or not all(isinstance(column, str) for column in columns):
            return None
        return [
            SafeCall(
                "create_index_concurrently",
                op.index_name,
                op.table_name,
                columns,
                schema=op.schema,
                unique=op.unique or None,
            )
        ]
    if isinstance(op, ops.DropIndexOp):  # its options (USING, WHERE) do not matter to a drop
        return [SafeCall("drop_index_concurrently", op.index_name, op.table_name, schema=op.schema)]
    if isinstance(op, ops.CreateForeignKeyOp):
        options = {key: op.kw.get(key) for key in ("ondelete", "onupdate", "deferrable")}
        if set(op.kw) - set(options) - {"source_schema", "referent_schema"}:
            return None
        return [
            SafeCall(
                "add_foreign_key_not_valid",
                op.constraint_name,
                op.source_table,
                op.referent_table,
                list(op.local_cols),
                list(op.remote_cols),
                source_schema=op.kw.get("source_schema"),
                referent_schema=op.kw.get("referent_schema"),
                **options,
            ),
            SafeCall(
                "validate_constraint",
                op.constraint_name,
                op.source_table,
                schema=op.kw.get("source_schema"),
            ),
        ]
    if isinstance(op, ops.CreateUniqueConstraintOp) and not op.kw:
        return [
            SafeCall(
                "add_unique_using_index",
                op.constraint_name,
                op.table_name,
                list(op.columns),
                schema=op.schema,
            )
        ]
    if isinstance(op, ops.CreateCheckConstraintOp) and not op.kw:
        condition = op.condition if isinstance(op.condition, str) else None
        if condition is None:
            return None
        return [
            SafeCall(
                "add_check_not_valid",
                op.constraint_name,
                op.table_name,
                condition,
                schema=op.schema,
            ),
            SafeCall("validate_constraint", op.constraint_name, op.table_name, schema=op.schema),
        ]
    if isinstance(op, ops.AlterColumnOp) and op.modify_nullable is False:
        safe = SafeCall("set_not_null_safely", op.table_name, op.column_name, schema=op.schema)
        op.modify_nullable = None
        other = (op.modify_type, op.modify_server_default, op.modify_comment, op.modify_name)
        return [op, safe] if any(value not in (None, False) for value in other) else [safe]
    return None
