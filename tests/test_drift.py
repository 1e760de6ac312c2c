"""``db.check`` in words, and the one filter autogenerate, ``db.check`` and the tests share.

Every difference names its table and column (or index, constraint, table) and what changes,
database → models (db/drift.py); a table listed in ``IGNORED_TABLES`` (migrations/filters.py)
is reported by none of autogenerate, ``db.check`` and the project's own drift test.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.lifecycle_support import INITIAL, versions_dir
from tests.support import (
    Project,
    create_pg_database,
    drop_pg_database,
    flavour_of,
    sqlite_url,
)


@pytest.fixture
def project(project_copy: Callable[..., Project], database: str) -> Project:
    project = project_copy(flavour_of(database), database, in_process=True)
    project.invoke("db.init")
    return project


def models_dir(project: Project) -> Path:
    return project.path / "src" / project.package / "models"


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


ORDERS = '''"""Orders: a new table."""

from __future__ import annotations

from sqlalchemy import ForeignKey, Identity
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base


class Order(Base):
    __tablename__ = "orders"

    id: Mapped[int] = mapped_column(Identity(), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
'''


def test_every_difference_names_what_changes(project: Project) -> None:
    user = models_dir(project) / "user.py"
    edit(user, "String(320)", "String(255)")
    edit(
        user, "mapped_column(String(100))", "mapped_column(String(100), nullable=True, index=True)"
    )
    edit(user, ", index=True\n    )", "\n    )")  # country_id loses its index
    edit(
        user,
        "    # CURRENT_TIMESTAMP",
        "    nickname: Mapped[str | None] = mapped_column(String(40))\n    # CURRENT_TIMESTAMP",
    )
    (models_dir(project) / "order.py").write_text(ORDERS)

    result = project.invoke("db.check", check=False)
    assert result.returncode == 1
    output = result.stdout + result.stderr
    assert "Traceback" not in output, output
    assert "None" not in output, output
    for expected in (
        "table orders missing in the database",
        "users.nickname (VARCHAR(40) NULL) missing in the database",
        "users.email: type VARCHAR(320) → VARCHAR(255)",
        "users.display_name: NOT NULL → nullable",
        "index ix_users_display_name on users(display_name) missing in the database",
        "index ix_users_country_id on users(country_id) in the database, in no model",
    ):
        assert expected in output, output
    # Five in the last line, the sixth on a line of its own above it.
    assert result.stderr.strip().endswith("(and 1 more, above)"), result.stderr
    assert result.stdout.count("FAIL the models differ from the migrations: ") == 1


HAND_MADE = '''"""Tables and a view made by hand, which no model describes."""

from alembic import op

revision = "feed00000001"
down_revision = "{down}"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE TABLE legacy_imports (id INTEGER PRIMARY KEY, line TEXT)")
    op.execute("CREATE VIEW legacy_lines AS SELECT line FROM legacy_imports")
{partitions}


def downgrade() -> None:
    op.execute("DROP VIEW legacy_lines")
    op.execute("DROP TABLE legacy_imports")
{drop_partitions}
'''

PARTITIONS = (
    '    op.execute("CREATE TABLE measurements (at DATE NOT NULL) PARTITION BY RANGE (at)")\n'
    '    op.execute("CREATE TABLE measurements_y2026 PARTITION OF measurements '
    "FOR VALUES FROM ('2026-01-01') TO ('2027-01-01')\")"
)
DROP_PARTITIONS = '    op.execute("DROP TABLE measurements")'

IGNORED = """IGNORED_TABLES: frozenset[str] = frozenset(
    [
        "legacy_imports",
        "measurements",
        "measurements_y*",
    ]
)"""


@pytest.fixture
def own_test_database(admin_url: str, database: str, tmp_path: Path) -> Iterator[str]:
    """A database for the baked project's own tests (which drop and create it again)."""
    if database.startswith("sqlite"):
        yield sqlite_url(tmp_path / "own_test.sqlite3")
        return
    url = create_pg_database(admin_url)
    yield url
    drop_pg_database(admin_url, url)


def own_drift_test(project: Project, url: str) -> tuple[int, str]:
    """The baked project's own drift test (tests/test_migrations.py), run against ``url``."""
    result = project.run(
        sys.executable,
        *("-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist"),
        "tests/test_migrations.py::test_models_match_migrations",
        env={"TEST_DATABASE_URL": url},
        check=False,
    )
    return result.returncode, result.stdout + result.stderr


def test_ignored_tables_are_left_alone_everywhere(
    project: Project, database: str, own_test_database: str
) -> None:
    on_postgresql = flavour_of(database) == "postgresql"
    (versions_dir(project) / "feed00000001_hand_made.py").write_text(
        HAND_MADE.format(
            down=INITIAL,
            partitions=PARTITIONS if on_postgresql else "",
            drop_partitions=DROP_PARTITIONS if on_postgresql else "",
        )
    )
    project.invoke("db.migrate")
    hand_made = [
        "legacy_imports",
        *(["measurements", "measurements_y2026"] if on_postgresql else []),
    ]

    # Without a filter: db.check, the project's own test and autogenerate all see the tables.
    unfiltered = project.invoke("db.check", check=False)
    assert unfiltered.returncode == 1
    for table in hand_made:
        assert f"table {table} in the database, in no model" in unfiltered.stderr
    assert "legacy_lines" not in unfiltered.stderr  # views are never compared
    code, output = own_drift_test(project, own_test_database)
    assert code == 1, output
    assert "table legacy_imports in the database, in no model" in output, output
    written = project.invoke("db.revision", "-m", "would drop").stdout
    path = Path(written.split("Wrote ", 1)[1].strip())
    assert 'op.drop_table("legacy_imports")' in path.read_text()
    path.unlink()

    # Listed in migrations/filters.py: none of them reports the tables any more.
    filters = project.path / "src" / project.package / "migrations" / "filters.py"
    text = filters.read_text()
    start = text.index("IGNORED_TABLES: frozenset[str] = frozenset(")
    end = text.index("\n)\n", start) + 2
    filters.write_text(text[:start] + IGNORED + text[end:])
    assert "the models match the migrations" in project.invoke("db.check").stdout
    code, output = own_drift_test(project, own_test_database)
    assert code == 0, output
    nothing = project.invoke("db.revision", "-m", "nothing to drop")
    assert "No changes in the models: no revision written." in nothing.stdout
    assert "Wrote" not in nothing.stdout
