"""Helpers of the lifecycle tests: reading rows straight from a database, adding revisions."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from tests.support import Project

INITIAL = "0d848db94cb2"


def query(url: str, sql: str) -> list[tuple[Any, ...]]:
    """Rows of ``sql`` on ``url`` (sqlite:///path or a PostgreSQL URL), read without the project."""
    if url.startswith("sqlite"):
        connection = sqlite3.connect(url.split(":///", 1)[1])
        try:
            rows = [tuple(row) for row in connection.execute(sql).fetchall()]
            connection.commit()
            return rows
        finally:
            connection.close()
    import psycopg

    plain = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain, autocommit=True) as connection:
        cursor = connection.execute(sql)  # type: ignore[arg-type]
        return [tuple(row) for row in cursor.fetchall()] if cursor.description else []


def snapshot(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the application's tables, in a stable order."""
    return {
        table: sorted(query(url, f"SELECT * FROM {table}"), key=repr)
        for table in ("countries", "users", "alembic_version")
    }


def versions_dir(project: Project) -> Path:
    return project.path / "src" / project.package / "migrations" / "versions"


def add_revision(project: Project, rev: str, down: str, upgrade_body: str) -> Path:
    """Write revision ``rev`` after ``down`` whose upgrade() runs ``upgrade_body`` (indented)."""
    body = "\n".join(f"    {line}" for line in upgrade_body.strip().splitlines())
    path = versions_dir(project) / f"{rev}_test.py"
    path.write_text(
        f'"""test revision {rev}"""\n\n'
        "import sqlalchemy as sa\n"
        "from alembic import op\n\n"
        f'revision = "{rev}"\n'
        f'down_revision = "{down}"\n'
        "branch_labels = None\n"
        "depends_on = None\n\n\n"
        f"def upgrade() -> None:\n{body}\n\n\n"
        "def downgrade() -> None:\n    pass\n"
    )
    return path
