"""How a seed is declared: the table it fills, the natural key, its rows and where it runs."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Column, ForeignKey, Table, UniqueConstraint, inspect

from ..errors import TaskError

if TYPE_CHECKING:
    # The seed modules import the ORM anyway (their models); the runner itself must not, so
    # that an unchanged run finishes without it (unchanged.py).
    from sqlalchemy.orm import Mapped, QueryableAttribute

# The environments value of reference data: every APP_ENV, production included.
EVERY_ENVIRONMENT = ("*",)

Row = Mapping[str, Any]


@dataclass(frozen=True)
class Ref:
    """A field holding another table's natural key; the row stores that row's id instead.

    ``references={"country": Ref("country_id", Country.code)}`` lets a row say
    ``"country": "FR"`` and fills ``country_id`` with the id of the country whose code is FR.
    With SQLModel, whose fields type-check as their values, ``Ref("country_id",
    col(Country.code))``: ``sqlmodel.col`` gives the same attribute, typed ``Mapped``.
    """

    column: str
    to: QueryableAttribute[Any] | Mapped[Any]

    @property
    def target_column(self) -> Column[Any]:
        """The natural-key column looked up (``countries.code``)."""
        from sqlalchemy.orm import QueryableAttribute  # the ORM: the seed modules imported it

        to = self.to
        if not isinstance(to, QueryableAttribute):
            raise TaskError(
                f"Ref({self.column!r}, {to!r}): name a model's attribute (Country.code), "
                "not a value or a table's column"
            )
        column = inspect(to.class_).columns[to.key]
        assert isinstance(column, Column)
        return column

    @property
    def target_table(self) -> Table:
        table = self.target_column.table
        assert isinstance(table, Table)
        return table


@dataclass(frozen=True)
class Seed:
    """The declaration of one seed: put one in a module of the ``seeds`` package.

    - ``model``: the mapped class whose table the seed fills.
    - ``key``: the natural key, the columns that identify a row (never the surrogate id); they
      need a unique constraint, which ``INSERT ... ON CONFLICT`` relies on.
    - ``rows`` (dicts, or a function returning them) or ``data`` (a CSV or JSON file under
      ``seeds/data/``): the content. Fields not given are left to the column defaults.
    - ``depends_on``: seeds that must run first beyond what the foreign keys say: the seeds
      of every table the model's foreign keys (and ``references``) point to run first anyway.
    - ``environments``: the ``APP_ENV`` values it runs in; ``EVERY_ENVIRONMENT`` for reference
      data. A seed that does not list ``production`` never runs there unless forced.
    - ``references``: fields that name another table's row by its natural key (:class:`Ref`).
    - ``name``: defaults to the module's name.
    """

    model: type[Any]
    key: str | tuple[str, ...]
    rows: Sequence[Row] | Callable[[], Iterable[Row]] | None = None
    data: str | None = None
    depends_on: tuple[str, ...] = ()
    environments: tuple[str, ...] = EVERY_ENVIRONMENT
    references: Mapping[str, Ref] = field(default_factory=dict)
    name: str = ""
    # Set by discovery: the module that declared the seed (for messages and the ledger hash).
    module_file: Path | None = None

    @property
    def key_columns(self) -> tuple[str, ...]:
        return (self.key,) if isinstance(self.key, str) else tuple(self.key)

    @property
    def table(self) -> Table:
        table = getattr(self.model, "__table__", None)
        if not isinstance(table, Table):
            raise TaskError(f"seed {self.name}: model {self.model!r} is not a mapped class")
        return table

    def runs_in(self, environment: str) -> bool:
        return "*" in self.environments or environment in self.environments

    def dependencies(self, declared: Mapping[str, Seed]) -> tuple[str, ...]:
        """``depends_on``, plus the seeds that fill the tables this one's foreign keys point to.

        The foreign keys of the model say most of the order: a seed runs after the seeds of
        the tables it references, whether or not it names them. ``depends_on`` is for what keys
        cannot tell (a trigger that reads another table, say).
        """
        names = list(self.depends_on)
        parents = {id(table) for table in self.parent_tables}
        for other in sorted(declared.values(), key=lambda seed: seed.name):
            if other.name != self.name and id(other.table) in parents:
                names.append(other.name)
        return tuple(dict.fromkeys(names))

    @property
    def parent_tables(self) -> list[Table]:
        """The other tables this seed's table (or a reference) points to.

        A key declared deferrable=True, initially="DEFERRED" does not order the seeds: it
        is checked when the seeding's one transaction commits. That is how a cycle of keys
        (a store's manager is a staff member, who works in a store) is seeded.
        """
        table = self.table
        found = [key.column.table for key in table.foreign_keys if not deferred(key)]
        found += [ref.target_table for ref in self.references.values()]
        return [parent for parent in found if parent is not table and isinstance(parent, Table)]

    def check(self) -> None:
        """Errors in the declaration itself, found before any row is read."""
        table = self.table
        if (self.rows is None) == (self.data is None):
            raise TaskError(f"seed {self.name}: give either rows=... or data='file.csv'")
        unknown = [name for name in self.key_columns if name not in table.c]
        if not self.key_columns or unknown:
            raise TaskError(
                f"seed {self.name}: key {', '.join(unknown) or '()'} is not a column of "
                f"{table.name} (columns: {', '.join(table.c.keys())})"
            )
        if not _is_unique(table, set(self.key_columns)):
            raise TaskError(
                f"seed {self.name}: the key ({', '.join(self.key_columns)}) of {table.name} has "
                "no unique constraint: add one in a migration (upserts need it)"
            )
        for field_name, ref in self.references.items():
            if ref.column not in table.c:
                raise TaskError(
                    f"seed {self.name}: reference {field_name!r} fills {ref.column!r}, "
                    f"which is not a column of {table.name}"
                )
            if not _is_unique(ref.target_table, {ref.target_column.name}):
                raise TaskError(
                    f"seed {self.name}: reference {field_name!r} looks rows up by "
                    f"{ref.target_table.name}.{ref.target_column.name}, which is not unique"
                )

    def id_column_of(self, ref: Ref) -> Column[Any]:
        """The column of the referenced table that ``ref.column`` stores (its primary key)."""
        local = self.table.c[ref.column]
        for foreign_key in local.foreign_keys:
            if foreign_key.column.table is ref.target_table:
                return foreign_key.column
        primary = list(ref.target_table.primary_key.columns)
        if len(primary) != 1:
            raise TaskError(
                f"seed {self.name}: cannot tell which column of {ref.target_table.name} "
                f"{ref.column!r} stores: declare a foreign key"
            )
        return primary[0]


def deferred(key: ForeignKey) -> bool:
    """Whether the key is checked at commit (initially="DEFERRED"), not at each row."""
    constraint = key.constraint
    initially = constraint.initially if constraint is not None else key.initially
    return bool((initially or "").upper() == "DEFERRED")


def _is_unique(table: Table, columns: set[str]) -> bool:
    if {column.name for column in table.primary_key.columns} == columns:
        return True
    for constraint in table.constraints:
        if isinstance(constraint, UniqueConstraint) and set(constraint.columns.keys()) == columns:
            return True
    for index in table.indexes:
        if index.unique and {c.name for c in index.columns} == columns:
            return True
    return len(columns) == 1 and any(table.c[name].unique for name in columns)
