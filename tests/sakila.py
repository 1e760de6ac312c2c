"""Sakila, MySQL's sample database, ported to PostgreSQL in a baked project as a team would.

The material: Sakila 0.8 (BSD licence, "Copyright (c) 2006, MySQL AB"), as Debian's source
tarball of percona-toolkit 3.2.1 ships it (``sandbox/sakila-db/``): ``sakila-schema.sql`` (16
tables, 7 views, 3 procedures, 3 functions, 3 triggers) and ``sakila-data.sql`` (MySQL INSERT
statements, 46,273 rows in 15 tables; ``film_text`` is filled by the triggers on ``film``).
Fetched at test time (tests/material.py), only those two members read from the tar stream;
nothing of it is committed.

``install(project)`` writes into a project baked with ``examples=no``:

- ``models/sakila.py``: the 16 tables as typed SQLAlchemy models, ported as a team moving off
  MySQL would: ``rating`` a PostgreSQL enum, ``special_features`` (a MySQL SET) a text array,
  ``YEAR`` a smallint with a CHECK, BLOB bytea, TIMESTAMP timestamptz (``DATETIME``
  timestamp), AUTO_INCREMENT an identity column, Sakila's constraint and index names and its
  FK actions (ON DELETE RESTRICT/SET NULL, ON UPDATE CASCADE), ``film_text``'s FULLTEXT key a
  GIN index on a generated tsvector, and ``payment`` partitioned by month of ``payment_date``
  (its key becomes ``(payment_id, payment_date)``, its id a serial: identity columns on
  partitioned tables need PostgreSQL 17).
- ``seeds/sakila.py`` and one CSV file per table under ``seeds/data/sakila/``, parsed from the
  INSERT statements.

``objects_revision(...)`` is the hand-written revision: partitions attached, the ``last_update``
triggers (MySQL's ON UPDATE CURRENT_TIMESTAMP), the ``film_text`` sync triggers, the views and
the functions (MySQL procedures with result sets become set-returning functions).

Sakila's store and staff point at each other (``store.manager_staff_id``, ``staff.store_id``):
the second key is DEFERRABLE INITIALLY DEFERRED, which lets the seeding load staff before
stores (the key is checked at the commit of the seeding's one transaction). Not ported: the
data file's three BEFORE INSERT triggers that overwrite ``create_date``/``rental_date``/
``payment_date`` with NOW() (they would rewrite the seeded history), and ``rewards_report``
(a procedure of temporary tables and a month before today).
"""

from __future__ import annotations

import datetime as dt
import io
import re
import tarfile
import textwrap
from decimal import Decimal
from functools import cache
from pathlib import Path

from tests.chinook import tidy
from tests.material import Package, fetch
from tests.support import Project

TARBALL = Package(
    "http://deb.debian.org/debian/pool/main/p/percona-toolkit/percona-toolkit_3.2.1.orig.tar.gz",
    "92da0d3712533205f283515ff47ce68521fc2de20989c45b4c65a9743d0f7487",
)
MEMBERS = {
    "schema": "percona-toolkit-3.2.1/sandbox/sakila-db/sakila-schema.sql",
    "data": "percona-toolkit-3.2.1/sandbox/sakila-db/sakila-data.sql",
}

# Sakila's rows by table, as the data file holds them (checked by data()).
ROWS = {
    "actor": 200,
    "address": 603,
    "category": 16,
    "city": 600,
    "country": 109,
    "customer": 599,
    "film": 1000,
    "film_actor": 5462,
    "film_category": 1000,
    "inventory": 4581,
    "language": 6,
    "payment": 16049,
    "rental": 16044,
    "staff": 2,
    "store": 2,
}
TABLES = sorted([*ROWS, "film_text"])
# payment's partitions: the months of Sakila's payments, and a default one for the rest.
MONTHS = ["2005_05", "2005_06", "2005_07", "2005_08", "2006_02"]
PARTITIONS = [*(f"payment_p{month}" for month in MONTHS), "payment_default"]


@cache
def members() -> dict[str, bytes]:
    """The two files, read from the tarball's stream (the rest of it is never unpacked)."""
    wanted = {path: kind for kind, path in MEMBERS.items()}
    found: dict[str, bytes] = {}
    with tarfile.open(fetch(TARBALL), mode="r|gz") as stream:
        for member in stream:
            if member.name in wanted:
                extracted = stream.extractfile(member)
                assert extracted is not None, member.name
                found[wanted[member.name]] = extracted.read()
                if len(found) == len(wanted):
                    break
    assert set(found) == set(MEMBERS), f"missing from the tarball: {set(MEMBERS) - set(found)}"
    return found


# -- the schema's column order and the data's INSERT statements ----------------------------------

_CREATE = re.compile(rb"CREATE TABLE (\w+) \((.*?)\n\)", re.DOTALL)
_NOT_A_COLUMN = (b"PRIMARY", b"KEY", b"UNIQUE", b"CONSTRAINT", b"FULLTEXT")


@cache
def columns() -> dict[str, list[str]]:
    """Each table's columns in the schema's order: ``INSERT INTO t VALUES`` gives no names."""
    found = {}
    for name, body in _CREATE.findall(members()["schema"]):
        names = []
        for line in body.splitlines():
            words = line.strip().split()
            if words and not words[0].startswith(_NOT_A_COLUMN):
                names.append(words[0].strip(b"`").decode())
        found[name.decode()] = names
    return found


_INSERT = re.compile(rb"INSERT INTO (\w+) VALUES ")
_TOKEN = re.compile(
    rb"\s*(?:(\()|(\))|(,)|(;)|'((?:[^'\\]|\\.|'')*)'|(NULL)|([-+0-9.eE]+))", re.DOTALL
)
_ESCAPES = {
    b"0": b"\0",
    b"b": b"\b",
    b"n": b"\n",
    b"r": b"\r",
    b"t": b"\t",
    b"Z": b"\x1a",
}
_ESCAPE = re.compile(rb"\\(.)|''", re.DOTALL)


def _unescape(raw: bytes) -> bytes:
    """A MySQL string literal's bytes: backslash escapes and doubled quotes undone."""

    def one(match: re.Match[bytes]) -> bytes:
        if match.group(0) == b"''":
            return b"'"
        char = match.group(1)
        return _ESCAPES.get(char, char)  # \\ \' \" and any other: the character itself

    return _ESCAPE.sub(one, raw)


Value = str | int | bytes | None


def _statements(sql: bytes) -> list[tuple[str, list[list[Value]]]]:
    """Every ``INSERT INTO t VALUES (...),(...);``: its table and its rows of values.

    A string is decoded as UTF-8 (the schema's charset); one that is not (the PNG of
    ``staff.picture``) stays bytes. A number stays its text (the column's type says what it is).
    """
    found = []
    for insert in _INSERT.finditer(sql):
        rows: list[list[Value]] = []
        row: list[Value] = []
        position = insert.end()
        while True:
            token = _TOKEN.match(sql, position)
            assert token is not None, sql[position : position + 80]
            position = token.end()
            opened, closed, comma, end, string, null, number = token.groups()
            if opened:
                row = []
            elif closed:
                rows.append(row)
            elif end:
                break
            elif comma:
                continue
            elif string is not None:
                raw = _unescape(string)
                try:
                    row.append(raw.decode("utf-8"))
                except UnicodeDecodeError:
                    row.append(raw)
            elif null:
                row.append(None)
            else:
                row.append(number.decode())
        found.append((insert.group(1).decode(), rows))
    return found


@cache
def data() -> dict[str, list[dict[str, Value]]]:
    """Sakila's rows by table, each a dict of the schema's column names."""
    names = columns()
    tables: dict[str, list[dict[str, Value]]] = {}
    for table, rows in _statements(members()["data"]):
        for row in rows:
            assert len(row) == len(names[table]), (table, row)
            tables.setdefault(table, []).append(dict(zip(names[table], row, strict=True)))
    assert {name: len(rows) for name, rows in tables.items()} == ROWS
    return tables


# -- the seeds' CSV files -----------------------------------------------------------------------

# MySQL TIMESTAMP columns (stored in UTC) become timestamptz; DATETIME stays a timestamp.
_TIMESTAMPTZ = {"last_update"}
_BOOLEAN = {"active"}
_SET = {"special_features"}


def _field(column: str, value: Value) -> str | None:
    """The value as PostgreSQL's COPY reads it: None is NULL."""
    if value is None:
        return None
    if isinstance(value, bytes):
        return "\\x" + value.hex()
    text = str(value)  # the dump's values are read as text; a number would be written as one
    if column in _TIMESTAMPTZ:
        return f"{text}+00"
    if column in _BOOLEAN:
        return {"1": "t", "0": "f"}[text]
    if column in _SET:
        items = [item for item in text.split(",") if item]
        return "{" + ",".join(f'"{item}"' for item in items) + "}"
    return text


def _csv(rows: list[dict[str, Value]]) -> str:
    """COPY's CSV: every value quoted (so '' stays an empty string), None an empty field."""
    out = io.StringIO()
    names = list(rows[0])
    out.write(",".join(names) + "\n")
    for row in rows:
        fields = (_field(name, row[name]) for name in names)
        out.write(
            ",".join("" if f is None else '"' + f.replace('"', '""') + '"' for f in fields) + "\n"
        )
    return out.getvalue()


def balances(at: str) -> dict[int, Decimal]:
    """Each customer's balance on ``at``, as Sakila's get_customer_balance defines it, computed
    here from the data: rental fees, a dollar per day overdue, minus the payments made."""
    tables = data()
    film_of = {row["inventory_id"]: row["film_id"] for row in tables["inventory"]}
    film = {row["film_id"]: row for row in tables["film"]}
    balance: dict[int, Decimal] = {
        int(str(row["customer_id"])): Decimal(0) for row in tables["customer"]
    }
    for rental in tables["rental"]:
        if str(rental["rental_date"]) > at:
            continue
        rented = film[film_of[rental["inventory_id"]]]
        customer = int(str(rental["customer_id"]))
        balance[customer] += Decimal(str(rented["rental_rate"]))
        if rental["return_date"] is not None:
            days = (
                dt.date.fromisoformat(str(rental["return_date"])[:10])
                - dt.date.fromisoformat(str(rental["rental_date"])[:10])
            ).days
            balance[customer] += max(0, days - int(str(rented["rental_duration"])))
    for payment in tables["payment"]:
        if str(payment["payment_date"]) <= at:
            balance[int(str(payment["customer_id"]))] -= Decimal(str(payment["amount"]))
    return balance


def rows_in_total() -> int:
    return sum(len(rows) for rows in data().values())


# -- what is written into the project ------------------------------------------------------------

MODELS = {
    # table: (model, key)
    "actor": ("Actor", "actor_id"),
    "address": ("Address", "address_id"),
    "category": ("Category", "category_id"),
    "city": ("City", "city_id"),
    "country": ("Country", "country_id"),
    "customer": ("Customer", "customer_id"),
    "film": ("Film", "film_id"),
    "film_actor": ("FilmActor", ("actor_id", "film_id")),
    "film_category": ("FilmCategory", ("film_id", "category_id")),
    "film_text": ("FilmText", "film_id"),
    "inventory": ("Inventory", "inventory_id"),
    "language": ("Language", "language_id"),
    "payment": ("Payment", ("payment_id", "payment_date")),
    "rental": ("Rental", "rental_id"),
    "staff": ("Staff", "staff_id"),
    "store": ("Store", "store_id"),
}


def install(project: Project) -> None:
    """Write the Sakila models, seeds and seed data into ``project`` (baked examples=no)."""
    package = project.path / "src" / project.package
    (package / "models" / "sakila.py").write_text(MODELS_MODULE)
    init = package / "models" / "__init__.py"
    names = sorted(model for model, _ in MODELS.values())
    source = init.read_text()
    assert '__all__ = ["Base"]' in source, "install into a project baked with examples=no"
    init.write_text(
        source.replace(
            "from .base import Base\n",
            f"from .base import Base\nfrom .sakila import {', '.join(names)}\n",
        ).replace(
            '__all__ = ["Base"]',
            "__all__ = [" + ", ".join(f'"{n}"' for n in ["Base", *names]) + "]",
        )
    )
    folder = package / "seeds" / "data" / "sakila"
    folder.mkdir(parents=True, exist_ok=True)
    for table, rows in data().items():
        (folder / f"{table}.csv").write_text(_csv(rows), encoding="utf-8")
    (package / "seeds" / "sakila.py").write_text(seeds_module())
    tidy(project, "models", "seeds")


def seeds_module() -> str:
    seeded = {table: MODELS[table] for table in ROWS}
    lines = [
        '"""Sakila\'s sample data (MySQL AB, BSD licence), for development and tests.',
        "",
        "film_text is not seeded: the triggers on film fill it.",
        '"""',
        "",
        "from __future__ import annotations",
        "",
        "from groundwork.seeding import Seed",
        f"from ..models import {', '.join(sorted(m for m, _ in seeded.values()))}",
        "",
        'ENVIRONMENTS = ("development", "test")',
    ]
    for table, (model, key) in seeded.items():
        lines += [
            "",
            f"sakila_{table} = Seed(",
            f'    name="sakila_{table}",',
            f"    model={model},",
            f"    key={key!r},",
            f'    data="sakila/{table}.csv",',
            "    environments=ENVIRONMENTS,",
            ")",
        ]
    return "\n".join(lines) + "\n"


MODELS_MODULE = '''"""Sakila (MySQL's sample database, version 0.8), ported to PostgreSQL.

Written by the template's tests (tests/sakila.py). MySQL's types as PostgreSQL's: ENUM a
PostgreSQL enum, SET a text array, YEAR a smallint with a CHECK, BLOB bytea, TIMESTAMP
timestamptz, DATETIME timestamp, AUTO_INCREMENT an identity. payment is partitioned by month
of payment_date (partitions below, attached by the hand-written revision).
"""

from __future__ import annotations

import datetime as dt
import enum
from decimal import Decimal

from sqlalchemy import (
    CHAR,
    ARRAY,
    Boolean,
    CheckConstraint,
    Column,
    Computed,
    DateTime,
    Enum,
    ForeignKey,
    ForeignKeyConstraint,
    Identity,
    Index,
    Integer,
    LargeBinary,
    Numeric,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import TSVECTOR
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base

# MySQL's ON UPDATE CURRENT_TIMESTAMP is a trigger of the hand-written revision.
NOW = func.now()


class MpaaRating(enum.Enum):
    G = "G"
    PG = "PG"
    PG_13 = "PG-13"
    R = "R"
    NC_17 = "NC-17"


def _updated() -> Mapped[dt.datetime]:
    return mapped_column(DateTime(timezone=True), server_default=NOW)


class Actor(Base):
    __tablename__ = "actor"
    __table_args__ = (Index("idx_actor_last_name", "last_name"),)

    actor_id: Mapped[int] = mapped_column(Identity(), primary_key=True)
    first_name: Mapped[str] = mapped_column(String(45))
    last_name: Mapped[str] = mapped_column(String(45))
    last_update: Mapped[dt.datetime] = _updated()


class Country(Base):
    __tablename__ = "country"

    country_id: Mapped[int] = mapped_column(Identity(), primary_key=True)
    country: Mapped[str] = mapped_column(String(50))
    last_update: Mapped[dt.datetime] = _updated()


class City(Base):
    __tablename__ = "city"

    city_id: Mapped[int] = mapped_column(Identity(), primary_key=True)
    city: Mapped[str] = mapped_column(String(50))
    country_id: Mapped[int] = mapped_column(
        ForeignKey(
            "country.country_id", name="fk_city_country", ondelete="RESTRICT", onupdate="CASCADE"
        ),
        index=True,
    )
    last_update: Mapped[dt.datetime] = _updated()


class Address(Base):
    __tablename__ = "address"

    address_id: Mapped[int] = mapped_column(Identity(), primary_key=True)
    address: Mapped[str] = mapped_column(String(50))
    address2: Mapped[str | None] = mapped_column(String(50))
    district: Mapped[str] = mapped_column(String(20))
    city_id: Mapped[int] = mapped_column(
        ForeignKey("city.city_id", name="fk_address_city", ondelete="RESTRICT", onupdate="CASCADE"),
        index=True,
    )
    postal_code: Mapped[str | None] = mapped_column(String(10))
    phone: Mapped[str] = mapped_column(String(20))
    last_update: Mapped[dt.datetime] = _updated()


class Category(Base):
    __tablename__ = "category"

    category_id: Mapped[int] = mapped_column(SmallInteger, Identity(), primary_key=True)
    name: Mapped[str] = mapped_column(String(25))
    last_update: Mapped[dt.datetime] = _updated()


class Language(Base):
    __tablename__ = "language"

    language_id: Mapped[int] = mapped_column(SmallInteger, Identity(), primary_key=True)
    name: Mapped[str] = mapped_column(CHAR(20))
    last_update: Mapped[dt.datetime] = _updated()


class Staff(Base):
    __tablename__ = "staff"

    staff_id: Mapped[int] = mapped_column(SmallInteger, Identity(), primary_key=True)
    first_name: Mapped[str] = mapped_column(String(45))
    last_name: Mapped[str] = mapped_column(String(45))
    address_id: Mapped[int] = mapped_column(
        ForeignKey(
            "address.address_id", name="fk_staff_address", ondelete="RESTRICT", onupdate="CASCADE"
        ),
        index=True,
    )
    picture: Mapped[bytes | None] = mapped_column(LargeBinary)
    email: Mapped[str | None] = mapped_column(String(50))
    # store and staff point at each other: this key is checked at commit, so that a
    # transaction (the seeding's) can write a store's manager before the store.
    store_id: Mapped[int] = mapped_column(
        SmallInteger,
        ForeignKey(
            "store.store_id",
            name="fk_staff_store",
            deferrable=True,
            initially="DEFERRED",
            use_alter=True,
            ondelete="RESTRICT",
            onupdate="CASCADE",
        ),
        index=True,
    )
    active: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    username: Mapped[str] = mapped_column(String(16))
    password: Mapped[str | None] = mapped_column(String(40))
    last_update: Mapped[dt.datetime] = _updated()


class Store(Base):
    __tablename__ = "store"

    store_id: Mapped[int] = mapped_column(SmallInteger, Identity(), primary_key=True)
    manager_staff_id: Mapped[int] = mapped_column(
        SmallInteger,
        ForeignKey(
            "staff.staff_id", name="fk_store_staff", ondelete="RESTRICT", onupdate="CASCADE"
        ),
        unique=True,
    )
    address_id: Mapped[int] = mapped_column(
        ForeignKey(
            "address.address_id", name="fk_store_address", ondelete="RESTRICT", onupdate="CASCADE"
        ),
        index=True,
    )
    last_update: Mapped[dt.datetime] = _updated()


class Customer(Base):
    __tablename__ = "customer"
    __table_args__ = (Index("idx_last_name", "last_name"),)

    customer_id: Mapped[int] = mapped_column(Identity(), primary_key=True)
    store_id: Mapped[int] = mapped_column(
        SmallInteger,
        ForeignKey(
            "store.store_id", name="fk_customer_store", ondelete="RESTRICT", onupdate="CASCADE"
        ),
        index=True,
    )
    first_name: Mapped[str] = mapped_column(String(45))
    last_name: Mapped[str] = mapped_column(String(45))
    email: Mapped[str | None] = mapped_column(String(50))
    address_id: Mapped[int] = mapped_column(
        ForeignKey(
            "address.address_id",
            name="fk_customer_address",
            ondelete="RESTRICT",
            onupdate="CASCADE",
        ),
        index=True,
    )
    active: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    create_date: Mapped[dt.datetime] = mapped_column(DateTime, server_default=NOW)
    last_update: Mapped[dt.datetime | None] = mapped_column(
        DateTime(timezone=True), server_default=NOW
    )


class Film(Base):
    __tablename__ = "film"
    __table_args__ = (
        Index("idx_title", "title"),
        CheckConstraint("release_year BETWEEN 1901 AND 2155", name="release_year"),
    )

    film_id: Mapped[int] = mapped_column(Identity(), primary_key=True)
    title: Mapped[str] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text)
    release_year: Mapped[int | None] = mapped_column(SmallInteger)
    language_id: Mapped[int] = mapped_column(
        SmallInteger,
        ForeignKey(
            "language.language_id", name="fk_film_language", ondelete="RESTRICT", onupdate="CASCADE"
        ),
        index=True,
    )
    original_language_id: Mapped[int | None] = mapped_column(
        SmallInteger,
        ForeignKey(
            "language.language_id",
            name="fk_film_language_original",
            ondelete="RESTRICT",
            onupdate="CASCADE",
        ),
        index=True,
    )
    rental_duration: Mapped[int] = mapped_column(SmallInteger, server_default=text("3"))
    rental_rate: Mapped[Decimal] = mapped_column(Numeric(4, 2), server_default=text("4.99"))
    length: Mapped[int | None] = mapped_column(SmallInteger)
    replacement_cost: Mapped[Decimal] = mapped_column(Numeric(5, 2), server_default=text("19.99"))
    rating: Mapped[MpaaRating | None] = mapped_column(
        Enum(
            MpaaRating,
            name="mpaa_rating",
            values_callable=lambda members: [member.value for member in members],
        ),
        server_default=text("'G'"),
    )
    special_features: Mapped[list[str] | None] = mapped_column(ARRAY(Text))
    last_update: Mapped[dt.datetime] = _updated()


class FilmActor(Base):
    __tablename__ = "film_actor"

    actor_id: Mapped[int] = mapped_column(
        ForeignKey(
            "actor.actor_id", name="fk_film_actor_actor", ondelete="RESTRICT", onupdate="CASCADE"
        ),
        primary_key=True,
    )
    film_id: Mapped[int] = mapped_column(
        ForeignKey(
            "film.film_id", name="fk_film_actor_film", ondelete="RESTRICT", onupdate="CASCADE"
        ),
        primary_key=True,
        index=True,
    )
    last_update: Mapped[dt.datetime] = _updated()


class FilmCategory(Base):
    __tablename__ = "film_category"

    film_id: Mapped[int] = mapped_column(
        ForeignKey(
            "film.film_id", name="fk_film_category_film", ondelete="RESTRICT", onupdate="CASCADE"
        ),
        primary_key=True,
    )
    category_id: Mapped[int] = mapped_column(
        SmallInteger,
        ForeignKey(
            "category.category_id",
            name="fk_film_category_category",
            ondelete="RESTRICT",
            onupdate="CASCADE",
        ),
        primary_key=True,
    )
    last_update: Mapped[dt.datetime] = _updated()


class FilmText(Base):
    """A copy of each film's title and description, kept by the triggers on film; searched
    by its full text (MySQL's FULLTEXT key: a GIN index on a generated tsvector)."""

    __tablename__ = "film_text"
    __table_args__ = (Index("idx_title_description", "fulltext", postgresql_using="gin"),)

    film_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    title: Mapped[str] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text)
    fulltext: Mapped[str] = mapped_column(
        TSVECTOR,
        Computed(
            "to_tsvector('english'::regconfig, "
            "(title::text || ' '::text) || COALESCE(description, ''::text))",
            persisted=True,
        ),
    )


class Inventory(Base):
    __tablename__ = "inventory"
    __table_args__ = (Index("idx_store_id_film_id", "store_id", "film_id"),)

    inventory_id: Mapped[int] = mapped_column(Identity(), primary_key=True)
    film_id: Mapped[int] = mapped_column(
        ForeignKey(
            "film.film_id", name="fk_inventory_film", ondelete="RESTRICT", onupdate="CASCADE"
        ),
        index=True,
    )
    store_id: Mapped[int] = mapped_column(
        SmallInteger,
        ForeignKey(
            "store.store_id", name="fk_inventory_store", ondelete="RESTRICT", onupdate="CASCADE"
        ),
    )
    last_update: Mapped[dt.datetime] = _updated()


class Rental(Base):
    __tablename__ = "rental"
    __table_args__ = (UniqueConstraint("rental_date", "inventory_id", "customer_id"),)

    rental_id: Mapped[int] = mapped_column(Identity(), primary_key=True)
    rental_date: Mapped[dt.datetime] = mapped_column(DateTime)
    inventory_id: Mapped[int] = mapped_column(
        ForeignKey(
            "inventory.inventory_id",
            name="fk_rental_inventory",
            ondelete="RESTRICT",
            onupdate="CASCADE",
        ),
        index=True,
    )
    customer_id: Mapped[int] = mapped_column(
        ForeignKey(
            "customer.customer_id",
            name="fk_rental_customer",
            ondelete="RESTRICT",
            onupdate="CASCADE",
        ),
        index=True,
    )
    return_date: Mapped[dt.datetime | None] = mapped_column(DateTime)
    staff_id: Mapped[int] = mapped_column(
        SmallInteger,
        ForeignKey(
            "staff.staff_id", name="fk_rental_staff", ondelete="RESTRICT", onupdate="CASCADE"
        ),
        index=True,
    )
    last_update: Mapped[dt.datetime] = _updated()


class Payment(Base):
    """Partitioned by month of payment_date: the partitioning column joins the key."""

    __tablename__ = "payment"
    __table_args__ = ({"postgresql_partition_by": "RANGE (payment_date)"},)

    # A serial: identity columns on partitioned tables need PostgreSQL 17.
    payment_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    customer_id: Mapped[int] = mapped_column(
        ForeignKey(
            "customer.customer_id",
            name="fk_payment_customer",
            ondelete="RESTRICT",
            onupdate="CASCADE",
        ),
        index=True,
    )
    staff_id: Mapped[int] = mapped_column(
        SmallInteger,
        ForeignKey(
            "staff.staff_id", name="fk_payment_staff", ondelete="RESTRICT", onupdate="CASCADE"
        ),
        index=True,
    )
    rental_id: Mapped[int | None] = mapped_column(
        ForeignKey(
            "rental.rental_id", name="fk_payment_rental", ondelete="SET NULL", onupdate="CASCADE"
        )
    )
    amount: Mapped[Decimal] = mapped_column(Numeric(5, 2))
    payment_date: Mapped[dt.datetime] = mapped_column(DateTime, primary_key=True)
    last_update: Mapped[dt.datetime | None] = mapped_column(
        DateTime(timezone=True), server_default=NOW
    )


def _partition_column(column: object) -> Column[object]:
    assert isinstance(column, Column)
    copied: Column[object] = column._copy()
    copied.autoincrement = False  # the parent's serial numbers the rows; no sequence of its own
    return copied


def _partition_keys(table: object) -> list[ForeignKeyConstraint]:
    """The parent's foreign keys, as PostgreSQL gives them to a partition it attaches."""
    assert isinstance(table, Table)
    return [
        ForeignKeyConstraint(
            key.column_keys,
            [element.target_fullname for element in key.elements],
            name=key.name,
            ondelete=key.ondelete,
            onupdate=key.onupdate,
        )
        for key in table.foreign_key_constraints
    ]


# The partitions, as tables here (so that autogenerate and db.check know them), attached by
# the hand-written revision: a month each, and a default one for any other date.
for _name in ("2005_05", "2005_06", "2005_07", "2005_08", "2006_02", "default"):
    Table(
        f"payment_p{_name}" if _name != "default" else "payment_default",
        Base.metadata,
        *(_partition_column(column) for column in Payment.__table__.columns),
        *_partition_keys(Payment.__table__),
    )
'''


# -- the hand-written revision -------------------------------------------------------------------

_BOUNDS = {
    "2005_05": ("2005-05-01", "2005-06-01"),
    "2005_06": ("2005-06-01", "2005-07-01"),
    "2005_07": ("2005-07-01", "2005-08-01"),
    "2005_08": ("2005-08-01", "2005-09-01"),
    "2006_02": ("2006-02-01", "2006-03-01"),
}
UPDATED_TABLES = [t for t in TABLES if t != "film_text"]

OBJECTS_UP = [
    # The key of Sakila's one cycle (store <-> staff): op.create_table leaves out a key marked
    # use_alter (which lets autogenerate order the two tables), so it is added here.
    """ALTER TABLE staff ADD CONSTRAINT fk_staff_store FOREIGN KEY (store_id)
    REFERENCES store (store_id) ON DELETE RESTRICT ON UPDATE CASCADE
    DEFERRABLE INITIALLY DEFERRED""",
    *(
        f"ALTER TABLE payment ATTACH PARTITION payment_p{month} "
        f"FOR VALUES FROM ('{start}') TO ('{end}')"
        for month, (start, end) in _BOUNDS.items()
    ),
    "ALTER TABLE payment ATTACH PARTITION payment_default DEFAULT",
    # MySQL's ON UPDATE CURRENT_TIMESTAMP, unless the update sets last_update itself.
    """CREATE FUNCTION last_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.last_update IS NOT DISTINCT FROM OLD.last_update THEN
        NEW.last_update := CURRENT_TIMESTAMP;
    END IF;
    RETURN NEW;
END $$""",
    *(
        f"CREATE TRIGGER last_updated BEFORE UPDATE ON {table} "
        "FOR EACH ROW EXECUTE FUNCTION last_updated()"
        for table in UPDATED_TABLES
    ),
    # Sakila's three triggers that keep film_text in step with film.
    """CREATE FUNCTION ins_film() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO film_text (film_id, title, description)
        VALUES (NEW.film_id, NEW.title, NEW.description);
    RETURN NULL;
END $$""",
    "CREATE TRIGGER ins_film AFTER INSERT ON film FOR EACH ROW EXECUTE FUNCTION ins_film()",
    """CREATE FUNCTION upd_film() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (OLD.title IS DISTINCT FROM NEW.title)
        OR (OLD.description IS DISTINCT FROM NEW.description)
        OR (OLD.film_id <> NEW.film_id)
    THEN
        UPDATE film_text
            SET title = NEW.title, description = NEW.description, film_id = NEW.film_id
        WHERE film_id = OLD.film_id;
    END IF;
    RETURN NULL;
END $$""",
    "CREATE TRIGGER upd_film AFTER UPDATE ON film FOR EACH ROW EXECUTE FUNCTION upd_film()",
    """CREATE FUNCTION del_film() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM film_text WHERE film_id = OLD.film_id;
    RETURN NULL;
END $$""",
    "CREATE TRIGGER del_film AFTER DELETE ON film FOR EACH ROW EXECUTE FUNCTION del_film()",
    # The views.
    """CREATE VIEW customer_list AS
SELECT cu.customer_id AS id, cu.first_name || ' ' || cu.last_name AS name,
       a.address, a.postal_code AS "zip code", a.phone, city.city, country.country,
       CASE WHEN cu.active THEN 'active' ELSE '' END AS notes, cu.store_id AS sid
  FROM customer cu
  JOIN address a ON cu.address_id = a.address_id
  JOIN city ON a.city_id = city.city_id
  JOIN country ON city.country_id = country.country_id""",
    """CREATE VIEW film_list AS
SELECT film.film_id AS fid, film.title, film.description, category.name AS category,
       film.rental_rate AS price, film.length, film.rating,
       string_agg(actor.first_name || ' ' || actor.last_name, ', ') AS actors
  FROM category
  LEFT JOIN film_category ON category.category_id = film_category.category_id
  LEFT JOIN film ON film_category.film_id = film.film_id
  JOIN film_actor ON film.film_id = film_actor.film_id
  JOIN actor ON film_actor.actor_id = actor.actor_id
 GROUP BY film.film_id, category.name""",
    """CREATE VIEW staff_list AS
SELECT s.staff_id AS id, s.first_name || ' ' || s.last_name AS name, a.address,
       a.postal_code AS "zip code", a.phone, city.city, country.country, s.store_id AS sid
  FROM staff s
  JOIN address a ON s.address_id = a.address_id
  JOIN city ON a.city_id = city.city_id
  JOIN country ON city.country_id = country.country_id""",
    """CREATE VIEW sales_by_store AS
SELECT c.city || ',' || cy.country AS store, m.first_name || ' ' || m.last_name AS manager,
       sum(p.amount) AS total_sales
  FROM payment p
  JOIN rental r ON p.rental_id = r.rental_id
  JOIN inventory i ON r.inventory_id = i.inventory_id
  JOIN store s ON i.store_id = s.store_id
  JOIN address a ON s.address_id = a.address_id
  JOIN city c ON a.city_id = c.city_id
  JOIN country cy ON c.country_id = cy.country_id
  JOIN staff m ON s.manager_staff_id = m.staff_id
 GROUP BY cy.country, c.city, s.store_id, m.first_name, m.last_name
 ORDER BY cy.country, c.city""",
    """CREATE VIEW sales_by_film_category AS
SELECT c.name AS category, sum(p.amount) AS total_sales
  FROM payment p
  JOIN rental r ON p.rental_id = r.rental_id
  JOIN inventory i ON r.inventory_id = i.inventory_id
  JOIN film f ON i.film_id = f.film_id
  JOIN film_category fc ON f.film_id = fc.film_id
  JOIN category c ON fc.category_id = c.category_id
 GROUP BY c.name
 ORDER BY total_sales DESC""",
    # The functions; MySQL's film_in_stock/film_not_in_stock procedures return their rows.
    """CREATE FUNCTION get_customer_balance(p_customer_id integer, p_effective_date timestamp)
RETURNS numeric LANGUAGE plpgsql STABLE AS $$
-- The balance on p_effective_date: the rental fees of every earlier rental, one dollar per
-- day overdue, minus every payment made by then.
DECLARE
    v_rentfees numeric;
    v_overfees integer;
    v_payments numeric;
BEGIN
    SELECT coalesce(sum(film.rental_rate), 0) INTO v_rentfees
      FROM film, inventory, rental
     WHERE film.film_id = inventory.film_id
       AND inventory.inventory_id = rental.inventory_id
       AND rental.rental_date <= p_effective_date
       AND rental.customer_id = p_customer_id;

    SELECT coalesce(sum(CASE
               WHEN rental.return_date::date - rental.rental_date::date > film.rental_duration
               THEN rental.return_date::date - rental.rental_date::date - film.rental_duration
               ELSE 0 END), 0) INTO v_overfees
      FROM rental, inventory, film
     WHERE film.film_id = inventory.film_id
       AND inventory.inventory_id = rental.inventory_id
       AND rental.rental_date <= p_effective_date
       AND rental.customer_id = p_customer_id;

    SELECT coalesce(sum(payment.amount), 0) INTO v_payments
      FROM payment
     WHERE payment.payment_date <= p_effective_date
       AND payment.customer_id = p_customer_id;

    RETURN v_rentfees + v_overfees - v_payments;
END $$""",
    """CREATE FUNCTION inventory_held_by_customer(p_inventory_id integer) RETURNS integer
LANGUAGE sql STABLE AS $$
    SELECT customer_id FROM rental WHERE return_date IS NULL AND inventory_id = p_inventory_id
$$""",
    """CREATE FUNCTION inventory_in_stock(p_inventory_id integer) RETURNS boolean
LANGUAGE plpgsql STABLE AS $$
-- In stock: never rented, or every rental of it returned.
DECLARE
    v_rentals integer;
    v_out integer;
BEGIN
    SELECT count(*) INTO v_rentals FROM rental WHERE inventory_id = p_inventory_id;
    IF v_rentals = 0 THEN
        RETURN TRUE;
    END IF;
    SELECT count(rental_id) INTO v_out
      FROM inventory LEFT JOIN rental USING (inventory_id)
     WHERE inventory.inventory_id = p_inventory_id AND rental.return_date IS NULL;
    RETURN v_out = 0;
END $$""",
    """CREATE FUNCTION film_in_stock(p_film_id integer, p_store_id integer)
RETURNS SETOF integer LANGUAGE sql STABLE AS $$
    SELECT inventory_id FROM inventory
     WHERE film_id = p_film_id AND store_id = p_store_id AND inventory_in_stock(inventory_id)
     ORDER BY inventory_id
$$""",
    """CREATE FUNCTION film_not_in_stock(p_film_id integer, p_store_id integer)
RETURNS SETOF integer LANGUAGE sql STABLE AS $$
    SELECT inventory_id FROM inventory
     WHERE film_id = p_film_id AND store_id = p_store_id
       AND NOT inventory_in_stock(inventory_id)
     ORDER BY inventory_id
$$""",
]
OBJECTS_DOWN = [
    "DROP FUNCTION film_not_in_stock(integer, integer)",
    "DROP FUNCTION film_in_stock(integer, integer)",
    "DROP FUNCTION inventory_in_stock(integer)",
    "DROP FUNCTION inventory_held_by_customer(integer)",
    "DROP FUNCTION get_customer_balance(integer, timestamp)",
    "DROP VIEW sales_by_film_category",
    "DROP VIEW sales_by_store",
    "DROP VIEW staff_list",
    "DROP VIEW film_list",
    "DROP VIEW customer_list",
    *(f"DROP TRIGGER {name} ON film" for name in ("del_film", "upd_film", "ins_film")),
    *(f"DROP FUNCTION {name}()" for name in ("del_film", "upd_film", "ins_film")),
    *(f"DROP TRIGGER last_updated ON {table}" for table in reversed(UPDATED_TABLES)),
    "DROP FUNCTION last_updated()",
    "ALTER TABLE payment DETACH PARTITION payment_default",
    *(f"ALTER TABLE payment DETACH PARTITION payment_p{month}" for month in reversed(_BOUNDS)),
    "ALTER TABLE staff DROP CONSTRAINT fk_staff_store",
]
REVISION = "5a4111a0beef"


def objects_revision(project: Project, down_revision: str) -> Path:
    """Write the hand-written revision after ``down_revision``; its path."""
    versions = project.path / "src" / project.package / "migrations" / "versions"
    path = versions / f"2026_12_03_0000-{REVISION}_sakila_views_functions_triggers.py"

    def body(statements: list[str]) -> str:
        # Each statement as a team writes it: a triple-quoted string, its own lines kept.
        return "\n".join(
            '    op.execute(\n        """\n'
            + textwrap.indent(statement, " " * 8)
            + '\n        """\n    )'
            for statement in statements
        )

    path.write_text(
        '"""Sakila: partitions attached, triggers, views and functions (hand-written).\n\n'
        f"Revision ID: {REVISION}\n"
        f"Revises: {down_revision}\n"
        '"""\n\n'
        "from alembic import op\n\n"
        f'revision = "{REVISION}"\n'
        f'down_revision = "{down_revision}"\n'
        "branch_labels = None\n"
        "depends_on = None\n\n\n"
        f"def upgrade() -> None:\n{body(OBJECTS_UP)}\n\n\n"
        f"def downgrade() -> None:\n{body(OBJECTS_DOWN)}\n"
    )
    tidy(project, "migrations/versions")
    return path


APP_TABLES = [*TABLES, *PARTITIONS]
