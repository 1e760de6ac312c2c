"""Grow a baked project to N revisions and N/2 tables, as real files a user would have.

Revision 2k-1 creates table ``bench_t{k}``; revision 2k adds a column and an index to it. A model
module with the same tables goes next to the project's models, so that ``db.check`` finds the
models and the migrations in agreement (and has 150 tables to compare at 300 revisions).
"""

from __future__ import annotations

from pathlib import Path

FIRST_DOWN = "0d848db94cb2"  # the template's initial revision (countries and users)


def revision_id(n: int) -> str:
    return f"be{n:010x}"


_CREATE = '''"""bench: create bench_t{k}

Revision ID: {rev}
Revises: {down}
Create Date: 2026-11-22 05:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "{rev}"
down_revision: str | None = "{down}"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "bench_t{k}",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bench_t{k}")),
    )


def downgrade() -> None:
    op.drop_table("bench_t{k}")
'''

_ALTER = '''"""bench: index bench_t{k}

Revision ID: {rev}
Revises: {down}
Create Date: 2026-11-22 05:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "{rev}"
down_revision: str | None = "{down}"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("bench_t{k}", sa.Column("extra", sa.Integer(), nullable=True))
    op.create_index(op.f("ix_bench_t{k}_extra"), "bench_t{k}", ["extra"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_bench_t{k}_extra"), table_name="bench_t{k}")
    op.drop_column("bench_t{k}", "extra")
'''


def generate(project: Path, package: str, revisions: int) -> str:
    """Write ``revisions`` revision files and the matching models; return the head revision."""
    package_dir = project / "src" / package
    versions = package_dir / "migrations" / "versions"
    down = FIRST_DOWN
    for n in range(1, revisions + 1):
        rev = revision_id(n)
        k = (n + 1) // 2
        template = _CREATE if n % 2 else _ALTER
        name = f"2026_11_22_0500-{rev}_bench_{n:04d}.py"
        (versions / name).write_text(template.format(k=k, rev=rev, down=down))
        down = rev
    lines = [
        '"""Tables of the benchmark (bench/generate.py)."""',
        "",
        "from sqlalchemy import Column, DateTime, Index, Integer, String, Table",
        "",
        "from .base import Base",
        "",
    ]
    for k in range(1, (revisions + 1) // 2 + 1):
        extra = 2 * k <= revisions
        lines.append(f'Table("bench_t{k}", Base.metadata,')
        lines.append('    Column("id", Integer, primary_key=True),')
        lines.append('    Column("name", String(100), nullable=False),')
        lines.append('    Column("created_at", DateTime, nullable=True),')
        if extra:
            lines.append('    Column("extra", Integer, nullable=True),')
            lines.append(f'    Index("ix_bench_t{k}_extra", "extra"),')
        lines.append(")")
    (package_dir / "models" / "bench_tables.py").write_text("\n".join(lines) + "\n")
    return down
