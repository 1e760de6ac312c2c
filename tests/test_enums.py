"""Enums in migrations, through `invoke` in a baked project (in this process: tests/kit/cli.py).

On PostgreSQL an ``Enum`` is a type of its own: autogenerate creates it, adds and removes its
values and drops it again (alembic-postgresql-enum, see db/enums.py), and ``db.check`` sees its
values. On SQLite it is a ``VARCHAR``: adding or removing values must not break anything.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.lifecycle_support import query
from tests.support import REPO, Project, create_pg_database, drop_pg_database, sqlite_url

MYPY_CACHE = REPO / ".cache" / "mypy-enum-revisions"

ORDER_MODEL = '''
"""Orders, whose status is an enum."""

from __future__ import annotations

import enum

from sqlalchemy import Enum, Identity
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base


class OrderStatus(enum.Enum):
{members}


class Order(Base):
    __tablename__ = "orders"

    id: Mapped[int] = mapped_column(Identity(), primary_key=True)
    status: Mapped[OrderStatus] = mapped_column(Enum(OrderStatus, name="order_status"))
'''


def write_model(project: Project, *values: str) -> None:
    members = "\n".join(f'    {value} = "{value}"' for value in values)
    path = project.path / "src" / project.package / "models" / "order.py"
    path.write_text(ORDER_MODEL.format(members=members))


def migrate(project: Project, message: str) -> Path:
    """``db.migrate -m message``; the revision file it wrote."""
    return written(project.invoke("db.migrate", "-m", message).stdout)


def written(output: str) -> Path:
    """The revision file that ``db.migrate -m``/``db.revision`` says it wrote."""
    found = re.search(r"^Wrote (.+\.py)$", output, re.MULTILINE)
    assert found is not None, output
    return Path(found[1])


def rev_of(path: Path) -> str:
    return path.name.split("-", 1)[1].split("_", 1)[0]


def enum_values(url: str) -> list[str] | None:
    """The values of the type ``order_status`` in order, or None when there is no such type."""
    rows = query(
        url,
        "SELECT e.enumlabel FROM pg_type t LEFT JOIN pg_enum e ON e.enumtypid = t.oid "
        "WHERE t.typname = 'order_status' ORDER BY e.enumsortorder",
    )
    return [row[0] for row in rows] if rows else None


def drift(project: Project) -> str:
    """The one line of a failing ``db.check``."""
    result = project.invoke("db.check", check=False)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    return result.stderr


def own_migration_tests(project: Project, url: str, *select: str) -> str:
    """The baked project's tests/test_migrations.py (the stairway, offline SQL, no drift)."""
    result = project.run(
        sys.executable,
        *("-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist"),
        "tests/test_migrations.py",
        *select,
        env={"TEST_DATABASE_URL": url},
        check=False,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    return result.stdout


@pytest.fixture
def second_pg_database(admin_url: str) -> Iterator[str]:
    """A database for the baked project's own tests (which drop and create it again)."""
    url = create_pg_database(admin_url)
    yield url
    drop_pg_database(admin_url, url)


@pytest.mark.postgresql
def test_enum_type_created_altered_and_dropped_on_postgresql(
    project_copy: Callable[..., Project], pg_url: str, second_pg_database: str
) -> None:
    project = project_copy("postgresql", pg_url, in_process=True)
    project.invoke("db.init")

    # A new table with an enum column: CREATE TYPE before it, DROP TYPE after its drop_table.
    write_model(project, "pending", "paid")
    assert "new enum order_status (pending, paid)" in drift(project)
    created = migrate(project, "add orders")
    assert enum_values(pg_url) == ["pending", "paid"]
    project.invoke("db.check")
    offline = project.invoke("db.sql", "--revisions", rev_of(created)).stdout
    assert "CREATE TYPE order_status AS ENUM ('pending', 'paid')" in offline
    assert "status order_status NOT NULL" in offline
    project.invoke("db.downgrade")
    assert enum_values(pg_url) is None, "the downgrade left the type behind"
    project.invoke("db.upgrade")  # CREATE TYPE again: no leftover to collide with
    assert enum_values(pg_url) == ["pending", "paid"]
    query(pg_url, "INSERT INTO orders (status) VALUES ('pending'), ('paid')")

    # A value added: db.check names the enum, the column and the value; ALTER TYPE ADD VALUE.
    write_model(project, "pending", "paid", "refunded")
    assert "enum order_status of orders.status: add 'refunded'" in drift(project)
    added = migrate(project, "order refunded")
    assert "op.add_enum_value(" in added.read_text()
    assert enum_values(pg_url) == ["pending", "paid", "refunded"]
    project.invoke("db.check")
    offline = project.invoke("db.sql", "--revisions", rev_of(added)).stdout
    assert 'ALTER TYPE "public"."order_status" ADD VALUE \'refunded\'' in offline
    query(pg_url, "INSERT INTO orders (status) VALUES ('refunded')")

    # A value removed: a new type is swapped in under the column. While a row holds the value,
    # the revision fails in one line naming it, and nothing is applied.
    write_model(project, "pending", "refunded")
    assert "enum order_status of orders.status: remove 'paid'" in drift(project)
    refused = project.invoke("db.migrate", "-m", "no paid orders", check=False)
    assert refused.returncode == 1
    last_line = refused.stderr.strip().splitlines()[-1]
    assert last_line.endswith('invalid input value for enum order_status: "paid"'), last_line
    assert "nothing was applied" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert enum_values(pg_url) == ["pending", "paid", "refunded"]
    removed = written(refused.stdout)
    assert "op.sync_enum_values(" in removed.read_text()
    query(pg_url, "UPDATE orders SET status = 'refunded' WHERE status = 'paid'")
    project.invoke("db.migrate")
    assert enum_values(pg_url) == ["pending", "refunded"]
    project.invoke("db.check")
    project.invoke("db.downgrade")
    assert enum_values(pg_url) == ["pending", "paid", "refunded"]
    project.invoke("db.upgrade")
    assert enum_values(pg_url) == ["pending", "refunded"]
    assert sorted(row[0] for row in query(pg_url, "SELECT status FROM orders")) == [
        "pending",
        "refunded",
        "refunded",
    ]

    # The revisions as written are lint and type clean, as the rest of the project.
    revisions = [str(path) for path in (created, added, removed)]
    project.run(sys.executable, "-m", "ruff", "check", *revisions)
    # (mypy's cache outlives the project copy: the stubs of Alembic and SQLAlchemy take it long.)
    project.run(sys.executable, "-m", "mypy", "--cache-dir", str(MYPY_CACHE), *revisions)
    # Every step down and up again (the stairway), offline SQL of all, no drift.
    assert "4 passed" in own_migration_tests(project, second_pg_database)


@pytest.mark.sqlite
@pytest.mark.parametrize("flavour", ["sqlite", "postgresql"])
def test_enum_values_change_on_sqlite(
    project_copy: Callable[..., Project], tmp_path: Path, flavour: str
) -> None:
    """A VARCHAR as long as the longest value, no CHECK: only a longer value is a change.

    The postgresql flavour runs on SQLite too, its enum library standing aside there.
    """
    url = sqlite_url(tmp_path / "app.sqlite3")
    # The sqlite flavour in a process of its own: once imported, the enum library's comparator
    # stays registered in this one (groundwork/enums_postgresql.py), and a sqlite bake runs
    # without it.
    project = project_copy(flavour, url, in_process=flavour == "postgresql")
    project.invoke("db.init")
    write_model(project, "pending", "paid")
    migrate(project, "add orders")
    project.invoke("db.downgrade")
    project.invoke("db.upgrade")
    query(url, "INSERT INTO orders (status) VALUES ('pending'), ('paid')")
    ddl = query(url, "SELECT sql FROM sqlite_master WHERE name = 'orders'")[0][0]
    assert "status VARCHAR(7) NOT NULL" in ddl
    assert "CHECK" not in ddl

    write_model(project, "pending", "paid", "shipped")  # no longer than 'pending'
    project.invoke("db.check")
    assert "no revision written" in project.invoke("db.migrate", "-m", "shipped").stdout

    write_model(project, "pending", "paid", "shipped", "refunded")  # longer: VARCHAR(8)
    assert "orders.status: type VARCHAR(7) → VARCHAR(8)" in drift(project)
    longer = migrate(project, "order refunded")
    assert "batch_alter_table" in longer.read_text()
    project.invoke("db.check")
    query(url, "INSERT INTO orders (status) VALUES ('refunded')")

    write_model(project, "pending", "shipped", "refunded")  # 'paid' removed: rows keep it
    project.invoke("db.check")
    project.invoke("db.downgrade")
    project.invoke("db.upgrade")
    assert len(query(url, "SELECT status FROM orders")) == 3
    # The stairway and no drift. (Offline SQL of a batch revision, a table rebuild, needs the
    # live table on SQLite whatever the column's type: not a matter of enums.)
    own_test = sqlite_url(tmp_path / "own_test.sqlite3")
    assert "3 passed" in own_migration_tests(project, own_test, "-k", "not offline")
