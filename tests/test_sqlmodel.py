"""models=sqlmodel: SQLModel tables go through the same lifecycle as declarative models.

The issue this option answers: SQLModel tables were silently ignored by autogenerate and
``db.check`` (they live in ``SQLModel.metadata``, not in the ``Base.metadata`` the models loader
returned). Here a SQLModel bake initializes and checks clean; a new table model is reported as
drift until ``db.migrate -m`` writes its revision, which never imports sqlmodel; seeds with
natural keys fill SQLModel tables from CSV and JSON, a second run changing nothing; and on
PostgreSQL the app's login of the role model writes through the ORM.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.grants_support import Fresh, fresh_database, login_url
from tests.lifecycle_support import query
from tests.support import FLAVOURS, Project, bake_with, flavour_of
from tests.test_no_examples import _without_examples

# A table model of the kinds of field SQLModel maps to its own types: ``str`` (AutoString, with
# and without max_length) and ``datetime`` (UTCDateTime); plus a relationship.
PLAN_MODEL = '''"""Plans: a table model added after the bake."""

from datetime import datetime

from sqlmodel import Field, Relationship

from .base import SQLModel
from .country import Country


class Plan(SQLModel, table=True):
    __tablename__ = "plans"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=40, unique=True)
    note: str | None = None
    starts_at: datetime | None = None
    country_id: int = Field(foreign_key="countries.id", index=True)

    country: Country = Relationship()
'''

PLAN_SEED = """from groundwork.seeding import Ref, Seed
from sqlmodel import col

from ..models import Country
from ..models.plan import Plan

plans = Seed(
    model=Plan,
    key="code",
    data="plans.json",
    references={"country": Ref("country_id", col(Country.code))},
)
"""

PLANS = [
    {"code": "basic", "note": "the cheap one", "starts_at": None, "country": "FR"},
    {"code": "pro", "note": None, "starts_at": "2026-01-01T00:00:00+00:00", "country": "DE"},
]


@pytest.fixture(scope="module")
def sqlmodel_bakes(cookies_session: Any) -> dict[str, Path]:
    """models=sqlmodel bakes by flavour, each baked once on first use; read-only."""

    class Bakes(dict[str, Path]):
        def __missing__(self, flavour: str) -> Path:
            self[flavour] = bake_with(cookies_session, models="sqlmodel", **FLAVOURS[flavour])
            return self[flavour]

    return Bakes()


@pytest.fixture
def sqlmodel_project(sqlmodel_bakes: dict[str, Path], tmp_path: Path) -> Callable[..., Project]:
    def make(flavour: str, database_url: str | None = None) -> Project:
        baked = sqlmodel_bakes[flavour]
        return Project.copy_of(baked, tmp_path / "project", database_url, in_process=True)

    return make


def test_sqlmodel_tables_are_migrated_checked_and_seeded(
    sqlmodel_project: Callable[..., Project], database: str
) -> None:
    project = sqlmodel_project(flavour_of(database), database)
    package = project.path / "src" / project.package
    project.invoke("db.init")
    assert "the models match the migrations" in project.invoke("db.check").stdout
    # CSV (countries) and rows (demo users, a Ref by natural key) into SQLModel tables.
    assert query(database, "SELECT count(*) FROM countries") == [(249,)]
    assert query(
        database,
        "SELECT c.code FROM users u JOIN countries c ON c.id = u.country_id ORDER BY u.email",
    ) == [("FR",), ("DE",)]

    (package / "models" / "plan.py").write_text(PLAN_MODEL)
    checked = project.invoke("db.check", check=False)
    assert checked.returncode != 0
    assert "table plans missing in the database" in checked.stdout + checked.stderr

    project.invoke("db.migrate", "-m", "plans")
    (revision,) = (package / "migrations" / "versions").glob("*_plans.py")
    text = revision.read_text()
    assert "sqlmodel" not in text
    assert 'sa.Column("code", sa.String(length=40), nullable=False)' in text
    assert 'sa.Column("note", sa.String(), nullable=True)' in text
    assert 'sa.Column("starts_at", sa.DateTime(timezone=True), nullable=True)' in text
    assert "the models match the migrations" in project.invoke("db.check").stdout

    (package / "seeds" / "plans.py").write_text(PLAN_SEED)
    (package / "seeds" / "data" / "plans.json").write_text(json.dumps(PLANS))
    first = project.invoke("db.seed").stdout
    assert re.search(r"plans\s+2 rows: 2 inserted", first), first
    second = project.invoke("db.seed", "--full").stdout
    assert " 0 inserted, 0 updated" in second, second
    assert query(
        database,
        "SELECT p.code, p.note, c.code FROM plans p JOIN countries c ON c.id = p.country_id"
        " ORDER BY p.code",
    ) == [("basic", "the cheap one", "FR"), ("pro", None, "DE")]


def test_sqlmodel_tables_outside_the_models_metadata_are_refused(
    project_copy: Callable[..., Project], tmp_path: Path
) -> None:
    """A SQLModel table in a declarative project: db.check says so instead of seeing nothing."""
    project = project_copy("sqlite", f"sqlite:///{tmp_path / 'dev.sqlite3'}", in_process=True)
    package = project.path / "src" / project.package
    project.invoke("db.init")
    (package / "models" / "plan.py").write_text(
        "from sqlmodel import Field, SQLModel\n\n\n"
        "class Plan(SQLModel, table=True):\n"
        "    id: int | None = Field(default=None, primary_key=True)\n"
    )
    checked = project.invoke("db.check", check=False)
    assert checked.returncode != 0
    said = checked.stdout + checked.stderr
    assert "the SQLModel tables plan are not in the MetaData" in said, said
    migrated = project.invoke("db.migrate", "-m", "plan", check=False)
    assert migrated.returncode != 0
    assert not list((package / "migrations" / "versions").glob("*_plan.py"))


APP_WRITES = """
from groundwork.engine import database_url, make_engine
from sqlmodel import Session, col, select

from {package}.models import Country, User
from {package}.settings import load_settings

engine = make_engine(database_url(load_settings()))
with Session(engine) as session:
    france = session.exec(select(Country).where(col(Country.code) == "FR")).one()
    session.add(User(email="app@example.com", display_name="App", country=france))
    session.commit()
    user = session.exec(select(User).where(col(User.email) == "app@example.com")).one()
    print("inserted", user.id, user.country.code if user.country else None)
engine.dispose()
"""


@pytest.fixture
def granted(
    sqlmodel_project: Callable[..., Project], admin_url: str
) -> Iterator[tuple[Project, Fresh]]:
    with fresh_database(admin_url, "superuser") as fresh:
        # The project's database named: unset, db.grant would start the project's own server.
        project = sqlmodel_project("postgresql", fresh.super_db)
        result = project.invoke(
            "db.grant", "--admin-url", fresh.grant_admin, env=fresh.env, check=False
        )
        assert result.returncode == 0, result.stdout + result.stderr
        yield project, fresh


@pytest.mark.postgresql
def test_the_app_login_writes_sqlmodel_tables_under_the_role_model(
    granted: tuple[Project, Fresh],
) -> None:
    project, fresh = granted
    r = fresh.roles
    env = {
        **fresh.env,
        "DATABASE_URL": login_url(fresh.super_db, r.app),
        "MIGRATOR_DATABASE_URL": login_url(fresh.super_db, r.migrator),
    }
    project.invoke("db.migrate", env=env)
    project.invoke("db.seed", env=env)  # as the app, as in production
    assert "the models match the migrations" in project.invoke("db.check", env=env).stdout
    written = project.python(APP_WRITES.format(package=project.package), env=env)
    assert written.stdout.split()[0] == "inserted"
    assert written.stdout.split()[2] == "FR"
    ((owner, count),) = fresh.query(
        "SELECT tableowner, (SELECT count(*) FROM "
        f'"{r.schema}".users WHERE email = %s) FROM pg_tables'
        " WHERE schemaname = %s AND tablename = 'users'",
        "app@example.com",
        r.schema,
    )
    assert (owner, count) == (r.owner, 1)


def test_examples_no_leaves_the_sqlmodel_examples_out(
    cookies_session: Any, sqlmodel_bakes: dict[str, Path]
) -> None:
    """The examples' twins go with them (a twin of a removed file would bring it back), and
    the two models/__init__.py twins differ by the examples alone."""
    project = bake_with(cookies_session, models="sqlmodel", examples="no")
    package = project / "src" / "my_service"
    assert sorted(p.name for p in (package / "models").glob("*.py")) == ["__init__.py", "base.py"]
    assert [p.name for p in (package / "seeds").rglob("*") if p.is_file()] == ["__init__.py"]
    assert list(project.rglob("*.sqlmodel*")) == []
    without = (package / "models" / "__init__.py").read_text()
    assert '__all__ = ["SQLModel"]' in without
    relative = "src/my_service/models/__init__.py"
    shared = _without_examples((sqlmodel_bakes["postgresql"] / relative).read_text())
    assert any("load_all_models" in statement for statement in shared)
    assert _without_examples(without) == shared
    # The answers a replay or `cruft update` bakes again with: still SQLModel.
    answers = json.loads((project / ".cookiecutter.json").read_text())["cookiecutter"]
    assert (answers["models"], answers["examples"]) == ("sqlmodel", "no")
