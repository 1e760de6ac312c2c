"""Seeds against the schema's own rules (issue 11, items 7 to 10), on SQLite and PostgreSQL.

- the order of the seeds comes from the models' foreign keys;
- seeds that give ids leave every sequence past them, moved by a role that may;
- a row that breaks a constraint (foreign key, unique, CHECK, NOT NULL) or holds a value the
  column cannot (enum, length, number) is named by seed, file and line, in the same words on
  both databases, and nothing is loaded;
- in a CSV file, an empty field is NULL and a quoted empty field ("") an empty string.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
from sqlalchemy.engine import make_url

from tests.support import Project
from tests.test_seeds import add_seed, count, execute, flavour_of, query, seeds_dir

ZONES_MODEL = '''"""Zones and the plots in them: a parent, a child, and every kind of constraint."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import CheckConstraint, Enum, ForeignKey, Identity, Numeric, String
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base


class Zone(Base):
    __tablename__ = "zones"
    __table_args__ = (CheckConstraint("area >= 0", name="area_not_negative"),)

    id: Mapped[int] = mapped_column(Identity(), primary_key=True)
    code: Mapped[str] = mapped_column(String(5), unique=True)
    label: Mapped[str] = mapped_column(String(20), unique=True)
    kind: Mapped[str] = mapped_column(Enum("land", "sea", name="zone_kind"))
    area: Mapped[Decimal | None] = mapped_column(Numeric(6, 2))
    note: Mapped[str | None] = mapped_column(String(20))


class Plot(Base):
    __tablename__ = "plots"

    id: Mapped[int] = mapped_column(Identity(), primary_key=True)
    name: Mapped[str] = mapped_column(String(20), unique=True)
    zone_id: Mapped[int] = mapped_column(ForeignKey("zones.id"))
'''

ZONES_SEED = """
    from ..db.seeding import Seed
    from ..models.zones import Zone

    zones = Seed(model=Zone, key="code", data="zones.csv")
"""

# Named to sort first, with no depends_on: only the foreign key says it runs after zones.
PLOTS_SEED = """
    from ..db.seeding import Seed
    from ..models.zones import Plot

    a_plots = Seed(model=Plot, key="name", data="plots.csv")
"""

ZONES_CSV = "id,code,label,kind,area,note\n1,north,North,land,10.50,\n2,south,South,sea,,x\n"
PLOTS_CSV = "id,name,zone_id\n1,p1,1\n2,p2,2\n"


@pytest.fixture
def project(project_copy: Callable[..., Project], database: str) -> Project:
    project = project_copy(flavour_of(database), database)
    (project.path / "src" / project.package / "models" / "zones.py").write_text(ZONES_MODEL)
    project.invoke("db.migrate")
    project.invoke("db.migrate", "-m", "zones and plots")
    add_seed(project, "zones", ZONES_SEED, {"zones.csv": ZONES_CSV})
    add_seed(project, "a_plots", PLOTS_SEED, {"plots.csv": PLOTS_CSV})
    return project


# -- item 8: the order from the foreign keys ----------------------------------------------------


def test_foreign_keys_order_the_seeds(project: Project, database: str) -> None:
    result = project.invoke("db.seed")
    order = [line.split()[0] for line in result.stdout.splitlines() if "rows:" in line]
    assert order.index("zones") < order.index("a_plots"), order
    assert count(database, "plots") == 2
    # --only the child brings its parent along.
    execute(database, "DELETE FROM plots")
    execute(database, "DELETE FROM zones")
    only = project.invoke("db.seed", "--only", "a_plots", "--full")
    order = [line.split()[0] for line in only.stdout.splitlines() if "rows:" in line]
    assert order == ["zones", "a_plots"], only.stdout
    assert count(database, "plots") == 2


def test_a_foreign_key_cycle_is_one_line_naming_the_tables(project: Project, database: str) -> None:
    add_seed(
        project,
        "zones",
        ZONES_SEED.replace('data="zones.csv"', 'data="zones.csv", depends_on=("a_plots",)'),
    )
    result = project.invoke("db.seed", check=False)
    assert result.returncode == 1
    error = result.stderr.strip().splitlines()
    assert len(error) == 1, result.stderr
    assert "in a cycle: a_plots (plots) -> zones (zones) -> a_plots (plots)" in error[0]
    assert count(database, "zones") == 0


# -- item 7: sequences after seeding ------------------------------------------------------------


def test_the_first_insert_after_seeded_ids_succeeds(project: Project, database: str) -> None:
    project.invoke("db.seed")
    execute(database, "INSERT INTO zones (code, label, kind) VALUES ('east', 'East', 'land')")
    execute(database, "INSERT INTO plots (name, zone_id) VALUES ('p3', 1)")
    assert query(database, "SELECT id FROM zones WHERE code = 'east'") == [(3,)]
    assert query(database, "SELECT id FROM plots WHERE name = 'p3'") == [(3,)]
    # Seeding again (the ledger skips, --full compares) leaves the sequences alone.
    project.invoke("db.seed", "--full")
    execute(database, "INSERT INTO zones (code, label, kind) VALUES ('west', 'West', 'sea')")
    assert query(database, "SELECT id FROM zones WHERE code = 'west'") == [(4,)]


@pytest.mark.postgresql
def test_the_migrator_moves_sequences_the_app_may_not(
    project_copy: Callable[..., Project], pg_url: str
) -> None:
    """Under the role model the app's login seeds but may not setval: the migrator's does."""
    project = project_copy("postgresql", pg_url)
    (project.path / "src" / project.package / "models" / "zones.py").write_text(ZONES_MODEL)
    project.invoke("db.migrate")
    project.invoke("db.migrate", "-m", "zones and plots")
    project.invoke("db.seed")  # as the admin: creates the ledger, which the app may not
    execute(pg_url, "DELETE FROM users; DELETE FROM countries")
    add_seed(project, "zones", ZONES_SEED, {"zones.csv": ZONES_CSV})
    role = f"gw_app_{uuid.uuid4().hex[:8]}"
    execute(
        pg_url,
        f"CREATE ROLE {role} LOGIN; "
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}; "
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role}",
    )
    try:
        as_app = make_url(pg_url).set(username=role).render_as_string(hide_password=False)
        refused = project.invoke("db.seed", env={"DATABASE_URL": as_app}, check=False)
        assert refused.returncode == 1
        error = refused.stderr.strip().splitlines()[-1]
        assert "may not move the sequences" in error and "MIGRATOR_DATABASE_URL" in error, error
        assert "public.zones_id_seq" in error, error
        assert count(pg_url, "zones") == 0  # nothing half-applied

        env = {"DATABASE_URL": as_app, "MIGRATOR_DATABASE_URL": pg_url}
        project.invoke("db.seed", env=env)
        assert count(pg_url, "zones") == 2
        execute(as_app, "INSERT INTO zones (code, label, kind) VALUES ('east', 'East', 'land')")
        assert query(pg_url, "SELECT id FROM zones WHERE code = 'east'") == [(3,)]
        app_may_setval = query(
            pg_url, f"SELECT has_sequence_privilege('{role}', 'zones_id_seq', 'UPDATE')"
        )
        assert app_may_setval == [(False,)]
    finally:
        execute(pg_url, f"DROP OWNED BY {role}; DROP ROLE {role}")
