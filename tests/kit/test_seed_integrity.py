"""Seeds against the schema's own rules (issue 11, items 7 to 10), on SQLite and PostgreSQL.

In-process (tests/kit/harness.py): ``groundwork.commands.seed`` in a copy of the bake.

- the order of the seeds comes from the models' foreign keys;
- seeds that give ids leave every sequence past them, moved by a role that may;
- a row that breaks a constraint (foreign key, unique, CHECK, NOT NULL) or holds a value the
  column cannot (enum, length, number) is named by seed, file and line, in the same words on
  both databases, and nothing is loaded;
- in a CSV file, an empty field is NULL and a quoted empty field ("") an empty string.
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from tests.kit.harness import KitProject
from tests.kit.sql import count, execute, query
from tests.kit.test_seeds import add_seed, postgresql_only, seeds_dir
from tests.support import flavour_of

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
    from groundwork.seeding import Seed
    from ..models.zones import Zone

    zones = Seed(model=Zone, key="code", data="zones.csv")
"""

# Named to sort first, with no depends_on: only the foreign key says it runs after zones.
PLOTS_SEED = """
    from groundwork.seeding import Seed
    from ..models.zones import Plot

    a_plots = Seed(model=Plot, key="name", data="plots.csv")
"""

ZONES_CSV = "id,code,label,kind,area,note\n1,north,North,land,10.50,\n2,south,South,sea,,x\n"
PLOTS_CSV = "id,name,zone_id\n1,p1,1\n2,p2,2\n"


@pytest.fixture
def project(kit: KitProject) -> KitProject:
    project = kit
    (project.path / "src" / project.package / "models" / "zones.py").write_text(ZONES_MODEL)
    project.invoke("migrate")
    project.invoke("migrate", "zones and plots")
    add_seed(project, "zones", ZONES_SEED, {"zones.csv": ZONES_CSV})
    add_seed(project, "a_plots", PLOTS_SEED, {"plots.csv": PLOTS_CSV})
    return project


# -- item 8: the order from the foreign keys ----------------------------------------------------


def test_foreign_keys_order_the_seeds(project: KitProject, database: str) -> None:
    result = project.invoke("seed")
    order = [line.split()[0] for line in result.stdout.splitlines() if "rows:" in line]
    assert order.index("zones") < order.index("a_plots"), order
    assert count(database, "plots") == 2
    # --only the child brings its parent along.
    execute(database, "DELETE FROM plots")
    execute(database, "DELETE FROM zones")
    only = project.invoke("seed", only=["a_plots"], full=True)
    order = [line.split()[0] for line in only.stdout.splitlines() if "rows:" in line]
    assert order == ["zones", "a_plots"], only.stdout
    assert count(database, "plots") == 2


def test_a_foreign_key_cycle_is_one_line_naming_the_tables(
    project: KitProject, database: str
) -> None:
    add_seed(
        project,
        "zones",
        ZONES_SEED.replace('data="zones.csv"', 'data="zones.csv", depends_on=("a_plots",)'),
    )
    result = project.invoke("seed", check=False)
    assert result.returncode == 1
    error = result.stderr.strip().splitlines()
    assert len(error) == 1, result.stderr
    assert "in a cycle: a_plots (plots) -> zones (zones) -> a_plots (plots)" in error[0]
    assert count(database, "zones") == 0


# -- item 7: sequences after seeding ------------------------------------------------------------


def test_the_first_insert_after_seeded_ids_succeeds(project: KitProject, database: str) -> None:
    project.invoke("seed")
    execute(database, "INSERT INTO zones (code, label, kind) VALUES ('east', 'East', 'land')")
    execute(database, "INSERT INTO plots (name, zone_id) VALUES ('p3', 1)")
    assert query(database, "SELECT id FROM zones WHERE code = 'east'") == [(3,)]
    assert query(database, "SELECT id FROM plots WHERE name = 'p3'") == [(3,)]
    # Seeding again (the ledger skips, --full compares) leaves the sequences alone.
    project.invoke("seed", full=True)
    execute(database, "INSERT INTO zones (code, label, kind) VALUES ('west', 'West', 'sea')")
    assert query(database, "SELECT id FROM zones WHERE code = 'west'") == [(4,)]


@postgresql_only
def test_the_migrator_moves_sequences_the_app_may_not(kit: KitProject, database: str) -> None:
    """Under the role model the app's login seeds but may not setval: the migrator's does."""
    project, pg_url = kit, database
    (project.path / "src" / project.package / "models" / "zones.py").write_text(ZONES_MODEL)
    project.invoke("migrate")
    project.invoke("migrate", "zones and plots")
    project.invoke("seed")  # as the admin: creates the ledger, which the app may not
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
        refused = project.invoke("seed", environ={"DATABASE_URL": as_app}, check=False)
        assert refused.returncode == 1
        error = refused.stderr.strip().splitlines()[-1]
        assert "may not move the sequences" in error, error
        assert "MIGRATOR_DATABASE_URL" in error, error
        assert "public.zones_id_seq" in error, error
        assert count(pg_url, "zones") == 0  # nothing half-applied

        env = {"DATABASE_URL": as_app, "MIGRATOR_DATABASE_URL": pg_url}
        project.invoke("seed", environ=env)
        assert count(pg_url, "zones") == 2
        execute(as_app, "INSERT INTO zones (code, label, kind) VALUES ('east', 'East', 'land')")
        assert query(pg_url, "SELECT id FROM zones WHERE code = 'east'") == [(3,)]
        app_may_setval = query(
            pg_url, f"SELECT has_sequence_privilege('{role}', 'zones_id_seq', 'UPDATE')"
        )
        assert app_may_setval == [(False,)]
    finally:
        execute(pg_url, f"DROP OWNED BY {role}; DROP ROLE {role}")


# -- item 9: every constraint and value error names seed, file, line and kind ----------------------

GOOD_ZONES = "id,code,label,kind,area,note\n1,north,North,land,10.50,\n"
# file, content (after the good first row), line, message: the same on both databases.
BAD_ROWS = {
    "foreign-key": (
        "plots.csv",
        "id,name,zone_id\n1,p1,1\n2,p2,9\n",
        3,
        "foreign key fk_plots_zone_id_zones violated: zone_id=9 is not in zones.id",
    ),
    "secondary-unique": (
        "zones.csv",
        GOOD_ZONES + "2,south,North,sea,,\n",
        3,
        "unique constraint uq_zones_label violated: label='North' is already taken in zones",
    ),
    "primary-key": (
        "zones.csv",
        GOOD_ZONES + "1,south,South,sea,,\n",
        3,
        "unique constraint pk_zones violated: id=1 is already taken in zones",
    ),
    "check": (
        "zones.csv",
        GOOD_ZONES + "2,south,South,sea,-1,\n",
        3,
        (
            "CHECK constraint ck_zones_area_not_negative violated by id=2, code='south', "
            "label='South', kind='sea', area=-1"
        ),
    ),
    "not-null": (
        "zones.csv",
        GOOD_ZONES + "2,south,,sea,,\n",
        3,
        "NOT NULL constraint violated: column label has no value",
    ),
    "enum": (
        "zones.csv",
        GOOD_ZONES + "2,south,South,lake,,\n",
        3,
        "column kind: 'lake' is not one of the values of enum zone_kind (land, sea)",
    ),
    "length": (
        "zones.csv",
        GOOD_ZONES + "2,southern,South,sea,,\n",
        3,
        "column code: 'southern' is longer than the 5 characters of String(5)",
    ),
    "not-a-number": (
        "zones.csv",
        GOOD_ZONES + "2,south,South,sea,1.2.3,\n",
        3,
        "column area: '1.2.3' is not a valid Numeric(6, 2)",
    ),
    "number-too-big": (
        "zones.csv",
        GOOD_ZONES + "2,south,South,sea,12345.6,\n",
        3,
        "column area: '12345.6' is out of range for Numeric(6, 2)",
    ),
    "not-an-integer": (
        "plots.csv",
        "id,name,zone_id\n1,p1,1\n2,p2,one\n",
        3,
        "column zone_id: 'one' is not a valid Integer",
    ),
}


@pytest.mark.parametrize("table_state", ["empty", "seeded"])
def test_each_bad_row_is_named_alike_on_both_databases(
    project: KitProject, database: str, table_state: str
) -> None:
    """Into empty tables (PostgreSQL: COPY straight in) and into seeded ones (the stage and
    the upsert): every kind of bad row is one line naming seed, file:line and what broke."""
    data = seeds_dir(project) / "data"
    if table_state == "seeded":
        project.invoke("seed")  # then each bad row updates a seeded one (south, p2)
    before = {table: count(database, table) for table in ("zones", "plots", "countries")}
    for kind, (file_name, content, line, message) in BAD_ROWS.items():
        for name, good in (("zones.csv", ZONES_CSV), ("plots.csv", PLOTS_CSV)):
            (data / name).write_text(good)
        (data / file_name).write_text(content)
        result = project.invoke("seed", check=False)
        assert result.returncode == 1, (kind, result.stdout)
        assert "Traceback" not in result.stderr, (kind, result.stderr)
        error = result.stderr.strip().splitlines()
        assert len(error) == 1, (kind, result.stderr)
        seed = "zones" if file_name == "zones.csv" else "a_plots"
        prefix = (
            f"db.seed: seed {seed} (src/{project.package}/seeds/data/{file_name} line {line}): "
        )
        assert error[0] == prefix + message, (kind, error[0])
        after = {table: count(database, table) for table in before}
        assert after == before, kind  # nothing half-applied


def test_bad_python_values_are_refused_alike(project: KitProject, database: str) -> None:
    """Not only CSV text: a Python row's value that PostgreSQL refuses, SQLite refuses too."""
    add_seed(
        project,
        "zones",
        """
        from decimal import Decimal

        from groundwork.seeding import Seed
        from ..models.zones import Zone

        zones = Seed(
            model=Zone,
            key="code",
            rows=[
                {"code": "north", "label": "North", "kind": "land", "area": Decimal("1")},
                {"code": "south", "label": "South", "kind": "sea", "area": Decimal("1e9")},
            ],
        )
        """,
    )
    (seeds_dir(project) / "data" / "plots.csv").write_text("name,zone_id\n")
    result = project.invoke("seed", check=False)
    assert result.returncode == 1
    error = result.stderr.strip().splitlines()[-1]
    assert error.endswith(
        "seeds/zones.py line 12): column area: Decimal('1E+9') is out of range for Numeric(6, 2)"
    ), error
    assert count(database, "zones") == 0


# -- item 10: an empty field is NULL, a quoted empty field an empty string ------------------------


@pytest.mark.parametrize("table_state", ["empty", "seeded"])
def test_csv_empty_is_null_and_quoted_empty_is_an_empty_string(
    project: KitProject, database: str, table_state: str
) -> None:
    data = seeds_dir(project) / "data"
    (data / "plots.csv").write_text("name,zone_id\n")
    if table_state == "seeded":
        (data / "zones.csv").write_text("code,label,kind,area,note\nother,Other,land,,\n")
        project.invoke("seed")
    (data / "zones.csv").write_text(
        "code,label,kind,area,note\n"
        "a,A,land,,\n"  # NULL
        'b,B,land,,""\n'  # an empty string
        'c,"",sea,"",""\n'  # label "" is a value, area "" is not
    )
    result = project.invoke("seed", check=False)
    # area "" is not a number, on both databases alike.
    assert result.returncode == 1
    assert result.stderr.strip().endswith("line 4): column area: '' is not a valid Numeric(6, 2)")
    (data / "zones.csv").write_text(
        "code,label,kind,area,note\n"
        "a,A,land,,\n"
        'b,B,land,,""\n'
        '"c","",sea,,"say ""hi"""\n'
        'd,D,sea,1,"two\n""lines"",\n"\n'
    )
    project.invoke("seed")
    notes = query(
        database, "SELECT code, label, note FROM zones WHERE code <> 'other' ORDER BY code"
    )
    assert notes == [
        ("a", "A", None),
        ("b", "B", ""),
        ("c", "", 'say "hi"'),
        ("d", "D", 'two\n"lines",\n'),
    ]
    again = project.invoke("seed", full=True)
    assert "0 inserted, 0 updated, 4 unchanged" in again.stdout, again.stdout


# -- item 8: a cycle of keys, broken by a deferred one (Sakila's store and staff) ---------------

CYCLE_MODEL = '''"""Shops and their clerks: a shop's manager is a clerk, a clerk works in a shop."""

from __future__ import annotations

from sqlalchemy import ForeignKey, Identity, String
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base


class Shop(Base):
    __tablename__ = "shops"

    id: Mapped[int] = mapped_column(Identity(), primary_key=True)
    name: Mapped[str] = mapped_column(String(20), unique=True)
    manager_id: Mapped[int] = mapped_column(ForeignKey("clerks.id"))


class Clerk(Base):
    __tablename__ = "clerks"

    id: Mapped[int] = mapped_column(Identity(), primary_key=True)
    name: Mapped[str] = mapped_column(String(20), unique=True)
    # Checked at commit: one transaction writes a shop's manager before the shop.
    shop_id: Mapped[int] = mapped_column(
        ForeignKey(
            "shops.id",
            name="fk_clerks_shop",
            deferrable=True,
            initially="DEFERRED",
            use_alter=True,
        )
    )
'''

# Named so that the alphabet would load shops first: only the keys put clerks before them.
CYCLE_SEEDS = {
    "a_shops": """
        from groundwork.seeding import Seed
        from ..models.shops import Shop

        a_shops = Seed(model=Shop, key="name", data="shops.csv")
    """,
    "clerks": """
        from groundwork.seeding import Seed
        from ..models.shops import Clerk

        clerks = Seed(model=Clerk, key="name", data="clerks.csv")
    """,
}


def test_a_deferred_key_breaks_a_cycle_of_keys(kit: KitProject, database: str) -> None:
    """Sakila's store and staff point at each other: with one key deferred, the seeds load
    (the other key orders them); without the fix: "seeds depend on each other in a cycle"."""
    project = kit
    (project.path / "src" / project.package / "models" / "shops.py").write_text(CYCLE_MODEL)
    project.invoke("migrate")
    project.invoke("migrate", "shops and clerks")
    if flavour_of(database) == "postgresql":
        # op.create_table leaves a use_alter key out on PostgreSQL (SQLite has it inline).
        from tests.test_revisions import fill_in

        path = empty_revision(project, "the clerks' shop key")
        fill_in(
            path,
            'op.create_foreign_key("fk_clerks_shop", "clerks", "shops", ["shop_id"], ["id"], '
            'deferrable=True, initially="DEFERRED")',
            'op.drop_constraint("fk_clerks_shop", "clerks", type_="foreignkey")',
        )
        project.invoke("migrate")
    for name, module in CYCLE_SEEDS.items():
        add_seed(project, name, module)
    data = seeds_dir(project) / "data"
    (data / "shops.csv").write_text("id,name,manager_id\n1,Main,1\n")
    (data / "clerks.csv").write_text("id,name,shop_id\n1,Ann,1\n2,Bob,1\n")

    result = project.invoke("seed")
    order = [line.split()[0] for line in result.stdout.splitlines() if "rows:" in line]
    assert order.index("clerks") < order.index("a_shops"), order
    assert count(database, "clerks") == 2
    assert count(database, "shops") == 1
    # The deferred key still holds: a clerk of a shop that does not exist is refused, in one
    # line naming the key, and nothing of the run is kept.
    (data / "clerks.csv").write_text("id,name,shop_id\n1,Ann,1\n2,Bob,1\n3,Cy,9\n")
    refused = project.invoke("seed", check=False)
    assert refused.returncode == 1, refused.stdout
    error = refused.stderr.strip().splitlines()
    assert len(error) == 1, refused.stderr
    assert "seed clerks (" in error[0], error
    assert (
        "clerks.csv line 4): foreign key fk_clerks_shop violated: shop_id=9 is not in shops.id"
        in error[0]
    ), error
    assert count(database, "clerks") == 2


def empty_revision(project: KitProject, message: str) -> Path:
    """`invoke db.revision --empty -m MESSAGE`: the file it wrote."""
    wrote = project.invoke("revision", message, empty=True).stdout
    found = re.search(r"^Wrote (.+/[0-9_]+-[0-9a-f]+_\w*\.py)$", wrote, re.MULTILINE)
    assert found is not None, wrote
    return Path(found[1])
