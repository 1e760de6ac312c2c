"""A CSV field of a JSON column is JSON on both flavours: PostgreSQL's COPY parses it, and so
does the SQLite loader (it stored the text as a JSON string, '"[\\"a\\"]"', before). Seeding
again compares the values: on PostgreSQL a ``json`` column (not ``jsonb``) failed with
"operator does not exist: json = json"."""

from __future__ import annotations

from collections.abc import Callable

from tests.lifecycle_support import query
from tests.support import Project

MODEL = '''"""Settings with a JSON value."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Identity, String
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base


class Setting(Base):
    __tablename__ = "settings"

    id: Mapped[int] = mapped_column(Identity(), primary_key=True)
    name: Mapped[str] = mapped_column(String(40), unique=True)
    value: Mapped[Any] = mapped_column(JSON)
'''

SEED = """from groundwork.seeding import Seed
from ..models.setting import Setting

settings = Seed(model=Setting, key="name", data="settings.csv")
"""


def test_csv_json_fields_are_json_on_both_flavours(
    project_copy: Callable[..., Project], database: str
) -> None:
    flavour = "sqlite" if database.startswith("sqlite") else "postgresql"
    project = project_copy(flavour, database, in_process=True)
    package = project.path / "src" / project.package
    (package / "models" / "setting.py").write_text(MODEL)
    (package / "seeds" / "settings.py").write_text(SEED)
    (package / "seeds" / "data" / "settings.csv").write_text(
        'name,value\nlist,"[""a"", 1]"\nobject,"{""k"": ""v""}"\ntext,"""plain"""\n'
    )
    project.invoke("db.migrate")
    project.invoke("db.migrate", "-m", "settings")
    project.invoke("db.seed", "--only", "settings")
    kind, string = (
        ("json_type(value)", "text")
        if flavour == "sqlite"
        else ("jsonb_typeof(value::jsonb)", "string")
    )
    assert query(database, f"SELECT name, {kind} FROM settings ORDER BY name") == [
        ("list", "array"),
        ("object", "object"),
        ("text", string),
    ]
    # Seeding again compares every row (on PostgreSQL, json values as jsonb: json has no "=").
    assert (
        "0 inserted, 0 updated" in project.invoke("db.seed", "--only", "settings", "--full").stdout
    )
