"""Plain ``alembic`` and ``invoke db.*`` name a revision's unnamed constraints alike.

A revision with an unnamed constraint (``sa.Column(..., unique=True)`` in ``op.create_table``)
gets its name from the naming convention of the metadata env.py hands Alembic. ``invoke
db.migrate`` does not load the models (too slow for every deploy), so env.py must give the
convention without them (db/naming.py); else the constraint is ``uq_things_code`` under
``alembic`` and the database's own name under ``invoke``, and a downgrade that drops it by name
fails under one of them only.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.lifecycle_support import INITIAL, query, versions_dir
from tests.support import Project

REVISION = '''"""Things, with an unnamed unique constraint (as imported histories have)."""

import sqlalchemy as sa
from alembic import op

revision = "c0ffee000001"
down_revision = "{down}"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "things",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("code", sa.String(10), nullable=False, unique=True),
    )


def downgrade() -> None:
    # Dropped by the name the convention gives (batch mode: SQLite cannot drop a constraint).
    with op.batch_alter_table("things") as batch:
        batch.drop_constraint("uq_things_code", type_="unique")
    op.drop_table("things")
'''


def unique_constraints(url: str) -> list[str]:
    if url.startswith("sqlite"):
        rows = query(url, "SELECT sql FROM sqlite_master WHERE name = 'things'")
        sql = rows[0][0] if rows else ""
        return [word for word in sql.replace("(", " ").split() if word.startswith("uq_")]
    rows = query(
        url,
        "SELECT conname FROM pg_constraint WHERE contype = 'u' "
        "AND conrelid = 'things'::regclass ORDER BY conname",
    )
    return [row[0] for row in rows]


RUNNERS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "invoke": (("db.upgrade",), ("db.downgrade",)),
    "alembic": (("upgrade", "head"), ("downgrade", "-1")),
}


def _run(project: Project, runner: str, args: tuple[str, ...]) -> subprocess.CompletedProcess[str]:
    """``invoke ARGS`` (in this process: tests/kit/cli.py) or ``alembic ARGS`` (a process)."""
    if runner == "invoke":
        return project.invoke(*args, check=False)
    return project.run(sys.executable, "-m", "alembic", *args, check=False)


@pytest.mark.parametrize("runner", sorted(RUNNERS))
def test_unnamed_constraint_gets_the_conventions_name(
    project_copy: Callable[..., Project], database: str, runner: str
) -> None:
    flavour = "sqlite" if database.startswith("sqlite") else "postgresql"
    if flavour == "sqlite":
        Path(database.removeprefix("sqlite:///")).touch()  # plain alembic creates no database
    project = project_copy(flavour, database, in_process=True)
    (versions_dir(project) / "c0ffee000001_things.py").write_text(REVISION.format(down=INITIAL))
    up, down = RUNNERS[runner]

    upgraded = _run(project, runner, up)
    assert upgraded.returncode == 0, upgraded.stdout + upgraded.stderr
    assert unique_constraints(database) == ["uq_things_code"]
    downgraded = _run(project, runner, down)
    assert downgraded.returncode == 0, downgraded.stderr
    assert query(database, "SELECT version_num FROM alembic_version") == [(INITIAL,)]
