"""``db.seed`` in-process (``groundwork.commands.seed``), on SQLite and on real PostgreSQL.

Each test works on a private copy of a bake, imported in this process, and a fresh database;
extra seeds and data files are written into the copy, the way a user adds them. What only a
process of its own shows (a SIGKILL, peak memory, what a run imports) stays in
tests/test_seeds.py.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from textwrap import dedent
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from tests.kit.harness import KitProject
from tests.kit.sql import count, execute, ledger_rows, query
from tests.support import Project

COUNTRIES = 249
DEMO_USERS = 2

sqlite_only = pytest.mark.parametrize("database", ["sqlite"], indirect=True)
postgresql_only = pytest.mark.parametrize("database", ["postgresql"], indirect=True)


def snapshot(url: str) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    return (
        query(url, "SELECT id, code, alpha3, name FROM countries ORDER BY id"),
        query(url, "SELECT id, email, display_name, is_admin, country_id FROM users ORDER BY id"),
    )


def seeds_dir(project: KitProject | Project) -> Path:
    return project.path / "src" / project.package / "seeds"


def add_seed(
    project: KitProject | Project, name: str, module: str, data: dict[str, str] | None = None
) -> None:
    (seeds_dir(project) / f"{name}.py").write_text(dedent(module))
    for file_name, content in (data or {}).items():
        (seeds_dir(project) / "data" / file_name).write_text(content)


USERS_FROM_CSV = """
    from groundwork.seeding import Ref, Seed

    from ..models import Country, User

    extra_users = Seed(
        model=User,
        key="email",
        data="{file}",
        depends_on=("countries",),
        environments=("development", "test"),
        references={{"country": Ref("country_id", Country.code)}},
    )
"""


def test_init_seeds_and_a_second_run_changes_nothing(kit: KitProject, database: str) -> None:
    first = kit.invoke("init")
    assert "249 inserted" in first.stdout
    assert count(database, "countries") == COUNTRIES
    assert count(database, "users") == DEMO_USERS
    fr = query(
        database,
        "SELECT c.code FROM users u JOIN countries c ON c.id = u.country_id "
        "WHERE u.email = 'admin@example.com'",
    )
    assert fr == [("FR",)]
    before = snapshot(database)

    full = kit.invoke("seed", full=True)
    assert "0 inserted, 0 updated, 251 unchanged" in full.stdout
    assert "Nothing to change" in full.stdout
    skipped = kit.invoke("seed")
    assert skipped.stdout.count("skipped, unchanged since the last run") == 2
    assert snapshot(database) == before
    # The ledger table is the seeding engine's: the drift check does not report it.
    kit.invoke("check")


def test_update_versus_keep_existing(kit: KitProject, database: str) -> None:
    kit.invoke("init")
    execute(database, "UPDATE countries SET name = 'Gaul' WHERE code = 'FR'")
    kept = kit.invoke("seed", keep_existing=True)
    assert "0 updated" in kept.stdout
    assert query(database, "SELECT name FROM countries WHERE code = 'FR'") == [("Gaul",)]

    plan = kit.invoke("seed", plan=True)
    assert "would insert 0, update 1; 248 unchanged" in plan.stdout
    assert query(database, "SELECT name FROM countries WHERE code = 'FR'") == [("Gaul",)]

    updated = kit.invoke("seed")
    assert "0 inserted, 1 updated, 248 unchanged" in updated.stdout
    assert query(database, "SELECT name FROM countries WHERE code = 'FR'") == [("France",)]


def test_plan_writes_nothing(kit: KitProject, database: str) -> None:
    kit.invoke("migrate")
    plan = kit.invoke("seed", plan=True)
    assert "would insert 249, update 0; 0 unchanged" in plan.stdout
    assert "nothing written" in plan.stdout
    assert count(database, "countries") == 0
    assert count(database, "users") == 0
    assert ledger_rows(database) == []


def test_only_runs_the_seed_and_its_dependencies(kit: KitProject, database: str) -> None:
    kit.invoke("migrate")
    result = kit.invoke("seed", only=["demo_users"])
    lines = [line.split()[0] for line in result.stdout.splitlines() if "rows:" in line]
    assert lines == ["countries", "demo_users"]
    assert count(database, "users") == DEMO_USERS
    unknown = kit.invoke("seed", only=["nope"], check=False)
    assert unknown.returncode == 1
    assert "no seed is named 'nope'" in unknown.stderr


def test_an_environment_no_seed_names_is_a_typo(kit: KitProject, database: str) -> None:
    kit.invoke("migrate")
    typo = kit.invoke("seed", env="prodution", check=False)
    assert typo.returncode == 1
    assert "no seed names the environment 'prodution'" in typo.stderr
    assert count(database, "countries") == 0
    assert "Seeded" in kit.invoke("seed", env="staging").stdout  # a usual name


BAD_INPUTS = {
    "unknown-column": (
        "email,display_name,colour\na@x.io,A,red\n",
        "line 1",
        "unknown column 'colour'",
    ),
    "row-missing-key": (
        "email,display_name\na@x.io,A\n,Nobody\n",
        "line 3",
        "row missing its key 'email'",
    ),
    "malformed-line": (
        "email,display_name\na@x.io,A\nb@x.io,B,extra\n",
        "line 3",
        "3 fields where the header has 2",
    ),
    "missing-reference": (
        "email,display_name,country\na@x.io,A,FR\nb@x.io,B,ZZ\n",
        "line 3",
        "country 'ZZ' is not in countries.code",
    ),
    "bad-value": ("email,display_name,is_admin\na@x.io,A,maybe\n", "line 2", "is_admin"),
    "duplicate-key": ("email,display_name\na@x.io,A\na@x.io,B\n", "line 3", "appears twice"),
}


def test_bad_input_names_seed_file_line_and_rolls_back_everything(
    kit: KitProject, database: str
) -> None:
    kit.invoke("migrate")
    add_seed(kit, "extra_users", USERS_FROM_CSV.format(file="extra.csv"))
    for kind, (content, line, message) in BAD_INPUTS.items():
        (seeds_dir(kit) / "data" / "extra.csv").write_text(content)
        result = kit.invoke("seed", check=False)
        assert result.returncode == 1, kind
        error = result.stderr.strip().splitlines()[-1]
        assert error.startswith("db.seed: seed extra_users ("), error
        assert f"seeds/data/extra.csv {line})" in error, error
        assert message in error, error
        # countries and demo_users ran before the bad seed, in the same transaction: gone too.
        assert count(database, "countries") == 0, kind
        assert count(database, "users") == 0, kind
        assert ledger_rows(database) == [], kind


def test_bad_python_row_names_the_module_line(kit: KitProject, database: str) -> None:
    kit.invoke("migrate")
    add_seed(
        kit,
        "extra_users",
        """
        from groundwork.seeding import Ref, Seed
        from ..models import Country, User

        extra_users = Seed(
            model=User,
            key="email",
            references={"country": Ref("country_id", Country.code)},
            rows=[
                {"email": "a@x.io", "display_name": "A", "country": "FR"},
                {"email": "b@x.io", "display_name": "B", "country": "XX"},
            ],
        )
        """,
    )
    result = kit.invoke("seed", check=False)
    assert result.returncode == 1
    assert "seeds/extra_users.py line 11)" in result.stderr, result.stderr
    assert "country 'XX'" in result.stderr
    assert count(database, "countries") == 0


@sqlite_only
def test_cycles_and_missing_dependencies_fail_before_writing(
    kit: KitProject, database: str
) -> None:
    kit.invoke("migrate")
    template = """
        from groundwork.seeding import Seed
        from ..models import Country

        {name} = Seed(model=Country, key="code", rows=[], depends_on=({deps},))
    """
    add_seed(kit, "aa", template.format(name="aa", deps='"bb"'))
    add_seed(kit, "bb", template.format(name="bb", deps='"aa"'))
    result = kit.invoke("seed", check=False)
    assert result.returncode == 1
    assert "in a cycle: aa (countries) -> bb (countries) -> aa (countries)" in result.stderr
    assert count(database, "countries") == 0

    add_seed(kit, "bb", template.format(name="bb", deps='"zz"'))
    result = kit.invoke("seed", check=False)
    assert "seed bb depends on 'zz', which no seed declares" in result.stderr
    assert count(database, "countries") == 0


def test_refuses_when_the_database_is_not_at_head(kit: KitProject, database: str) -> None:
    result = kit.invoke("seed", check=False)
    assert result.returncode == 1
    assert "not at head" in result.stderr
    assert "invoke db.migrate" in result.stderr


def test_production_gets_no_development_data(kit: KitProject, database: str) -> None:
    production = {"APP_ENV": "production"}
    kit.invoke("migrate", environ=production)
    result = kit.invoke("seed", environ=production)
    assert "demo_users" not in result.stdout
    assert count(database, "countries") == COUNTRIES
    assert count(database, "users") == 0

    refused = kit.invoke("seed", only=["demo_users"], environ=production, check=False)
    assert refused.returncode == 1
    assert "seed demo_users is not for production" in refused.stderr
    assert "--force" in refused.stderr
    refused = kit.invoke("seed", env="development", environ=production, check=False)
    assert refused.returncode == 1
    assert count(database, "users") == 0

    kit.invoke("seed", only=["demo_users"], force=True, environ=production)
    assert count(database, "users") == DEMO_USERS


def test_a_database_initialized_for_production_gets_no_development_data(
    kit: KitProject, database: str
) -> None:
    """The database's stamp counts as much as APP_ENV: a shell without APP_ENV (development's
    seeds) must not load demo data into a database initialized for production."""
    kit.invoke("init", environ={"APP_ENV": "production"})
    ledger_before = query(database, "SELECT name, content_hash FROM seed_ledger ORDER BY name")
    refused = kit.invoke("seed", check=False)
    assert refused.returncode == 1
    assert "Traceback" not in refused.stderr
    error = refused.stderr.strip().splitlines()[-1]
    assert "seed demo_users is not for production" in error, error
    assert "the database was initialized for production" in error, error
    assert "--force" in error, error
    assert count(database, "users") == 0
    assert query(database, "SELECT name, content_hash FROM seed_ledger ORDER BY name") == (
        ledger_before
    )
    assert kit.invoke("seed", plan=True, check=False).returncode == 1

    kit.invoke("seed", force=True)
    assert count(database, "users") == DEMO_USERS


def test_the_unchanged_run_shortcut_reads_the_stamp(kit: KitProject, database: str) -> None:
    """A run remembered on a development database does not stand for one on a database
    stamped production since: the whole-run shortcut must not skip the refusal."""
    kit.invoke("init")
    stamp = "UPDATE lifecycle_environment SET value = 'production' WHERE key = 'environment'"
    execute(database, stamp)
    refused = kit.invoke("seed", check=False)
    assert refused.returncode == 1, refused.stdout
    assert "the database was initialized for production" in refused.stderr


def test_a_ledger_skip_says_the_rows_were_not_compared(kit: KitProject, database: str) -> None:
    """A skipped seed's rows were not looked at: a row edited by hand stays until the seed
    changes or --full compares it, and the output says so instead of "Nothing to change"."""
    kit.invoke("init")
    execute(database, "UPDATE countries SET name = 'Gaul' WHERE code = 'FR'")
    runs: list[dict[str, Any]] = [
        {},
        {"plan": True},
        {"only": ["countries"], "plan": True},
        {"only": ["countries"]},
    ]
    for options in runs:
        # The first two take the whole-run shortcut; --only is a run not remembered yet.
        out = kit.invoke("seed", **options).stdout
        countries = next(line for line in out.splitlines() if line.startswith("countries"))
        assert "skipped, unchanged since the last run (249 rows; --full compares them)" in (
            countries
        ), (options, out)
        assert "Nothing to change" not in out, (options, out)
        summary = out.strip().splitlines()[-1]
        assert "0 inserted, 0 updated" in summary, (options, out)
        rows = "251 rows" if "only" not in options else "249 rows"
        assert f"{rows} not compared" in summary, (options, out)
        assert "--full" in summary, (options, out)
        assert query(database, "SELECT name FROM countries WHERE code = 'FR'") == [("Gaul",)]

    full = kit.invoke("seed", full=True)
    assert "0 inserted, 1 updated, 250 unchanged" in full.stdout
    assert "not compared" not in full.stdout
    assert query(database, "SELECT name FROM countries WHERE code = 'FR'") == [("France",)]


BLANK_USERS = """
    from groundwork.seeding import Seed

    from ..models import User

    blank_users = Seed(
        model=User,
        key="email",
        environments=("development", "test"),
        rows=[
            {"email": "a@x.io", "display_name": "", "country_id": None},
            {"email": "b@x.io", "display_name": 'Say "hi",\\nbye', "country_id": None},
        ],
    )
"""


def test_python_rows_keep_empty_strings_on_every_database(kit: KitProject, database: str) -> None:
    """From Python (or JSON), "" is an empty string and None is NULL, on both databases and on
    both PostgreSQL paths (COPY into the empty table; the stage and the upsert)."""
    kit.invoke("migrate")
    add_seed(kit, "blank_users", BLANK_USERS)
    expected = [("a@x.io", "", None), ("b@x.io", 'Say "hi",\nbye', None)]
    users = "SELECT email, display_name, country_id FROM users ORDER BY email"
    assert "2 inserted" in kit.invoke("seed", only=["blank_users"]).stdout
    assert query(database, users) == expected
    again = kit.invoke("seed", only=["blank_users"], full=True)
    assert "0 inserted, 0 updated, 2 unchanged" in again.stdout
    assert query(database, users) == expected


def test_ledger_notices_a_changed_file(kit: KitProject, database: str) -> None:
    kit.invoke("init")
    data = seeds_dir(kit) / "data" / "countries.csv"
    data.write_text(data.read_text().replace("FR,FRA,France", "FR,FRA,French Republic"))
    result = kit.invoke("seed")
    countries_line = next(
        line for line in result.stdout.splitlines() if line.startswith("countries")
    )
    assert "0 inserted, 1 updated, 248 unchanged" in countries_line
    assert query(database, "SELECT name FROM countries WHERE code = 'FR'") == [("French Republic",)]
    # demo_users depends on countries: its hash changed with them, so it was compared again.
    assert "skipped" not in result.stdout
    assert kit.invoke("seed").stdout.count("skipped") == 2


# -- straight into an empty table (PostgreSQL: COPY into the table itself) ------------------

PLAIN_USERS = """
    from groundwork.seeding import Seed

    from ..models import User

    plain_users = Seed(
        model=User, key="email", data="{file}", environments=("development", "test")
    )
"""

EMPTY_TABLE_BAD_INPUTS: dict[str, tuple[bytes, str, str]] = {
    "row-missing-key": (b"email,display_name\na@x.io,A\n,Nobody\n", "line 3", "missing its key"),
    "quoted-empty-key": (b'email,display_name\na@x.io,A\n"",Nobody\n', "line 3", "missing its key"),
    "malformed-line": (b"email,display_name\na@x.io,A\nb@x.io,B,x\n", "line 3", "3 fields where"),
    "bad-value": (b"email,display_name,is_admin\na@x.io,A,maybe\n", "line 2", "is_admin"),
    "duplicate-key": (
        b"email,display_name\na@x.io,A\nb@x.io,B\na@x.io,C\n",
        "line 4",
        "appears twice (first at line 2)",
    ),
    # Records are not lines: a quoted field may hold a newline, a blank line is no record.
    "after-a-multi-line-field": (
        b'email,display_name\na@x.io,"Two\nlines"\nb@x.io,B,x\n',
        "line 4",
        "3 fields where",
    ),
    "bad-value-after-blank-lines": (
        b"email,display_name,is_admin\n\na@x.io,A,true\n\r\nb@x.io,B,maybe\n",
        "line 5",
        "is_admin",
    ),
    "not-utf-8": (b"email,display_name\na@x.io,A\nb@x.io,Bj\xf6rn\n", "line 3", "not UTF-8"),
}


@pytest.mark.parametrize("kind", list(EMPTY_TABLE_BAD_INPUTS))
def test_bad_input_into_an_empty_table_names_the_line(
    kit: KitProject, database: str, kind: str
) -> None:
    kit.invoke("migrate")
    add_seed(kit, "plain_users", PLAIN_USERS.format(file="plain.csv"))
    content, line, message = EMPTY_TABLE_BAD_INPUTS[kind]
    (seeds_dir(kit) / "data" / "plain.csv").write_bytes(content)
    result = kit.invoke("seed", only=["plain_users"], check=False)
    assert result.returncode == 1, result.stdout
    error = result.stderr.strip().splitlines()[-1]
    assert error.startswith("db.seed: seed plain_users ("), error
    assert f"seeds/data/plain.csv {line})" in error, error
    assert message in error, error
    assert count(database, "users") == 0
    assert ledger_rows(database) == []


def test_a_key_given_twice_batches_apart_names_both_lines(kit: KitProject, database: str) -> None:
    """The repeat comes 10,000 rows (a batch) after the first: not only a batch is checked."""
    kit.invoke("migrate")
    add_seed(kit, "plain_users", PLAIN_USERS.format(file="plain.csv"))
    rows = "".join(f"user{n}@x.io,User {n}\n" for n in range(10_005))
    (seeds_dir(kit) / "data" / "plain.csv").write_text(
        f"email,display_name\n{rows}user0@x.io,Again\n"
    )
    result = kit.invoke("seed", only=["plain_users"], check=False)
    assert result.returncode == 1, result.stdout
    error = result.stderr.strip().splitlines()[-1]
    assert error == (
        f"db.seed: seed plain_users (src/{kit.package}/seeds/data/plain.csv line 10007): "
        "key ('user0@x.io',) appears twice (first at line 2)"
    ), error
    assert count(database, "users") == 0


def test_csv_edge_cases_load_alike_on_every_path(kit: KitProject, database: str) -> None:
    """A BOM, CRLF line ends, blank lines, a quoted newline; empty and new table alike."""
    kit.invoke("migrate")
    add_seed(kit, "plain_users", PLAIN_USERS.format(file="plain.csv"))
    data = seeds_dir(kit) / "data" / "plain.csv"
    data.write_bytes(
        b'\xef\xbb\xbfemail,display_name,is_admin\r\na@x.io,"Two\r\nlines",true\r\n\r\n'
        b'b@x.io,"Say ""hi""",false\r\n\r\n\r\n'
    )
    expected = [("a@x.io", "Two\r\nlines", True), ("b@x.io", 'Say "hi"', False)]
    first = kit.invoke("seed", only=["plain_users"])
    assert "2 inserted" in first.stdout
    users = "SELECT email, display_name, is_admin FROM users ORDER BY email"
    assert [(e, d, bool(a)) for e, d, a in query(database, users)] == expected
    data.write_bytes(data.read_bytes() + b"c@x.io,C,false\n")
    second = kit.invoke("seed", only=["plain_users"])
    assert "1 inserted, 0 updated, 2 unchanged" in second.stdout


@postgresql_only
def test_an_empty_table_is_copied_into_directly(kit: KitProject, database: str) -> None:
    """COPY goes into the table itself when it is empty and the seed has no references;
    otherwise through the stage and the upsert. A statement trigger records which ran."""
    kit.invoke("migrate")
    execute(
        database,
        """
        CREATE TABLE load_log (n serial, tbl text, statement text);
        CREATE FUNCTION log_load() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            INSERT INTO load_log (tbl, statement) VALUES (TG_TABLE_NAME, current_query());
            RETURN NULL;
        END $$;
        CREATE TRIGGER log_countries AFTER INSERT ON countries
            FOR EACH STATEMENT EXECUTE FUNCTION log_load();
        CREATE TRIGGER log_users AFTER INSERT ON users
            FOR EACH STATEMENT EXECUTE FUNCTION log_load();
        """,
    )

    def loads() -> list[tuple[str, str]]:
        rows = query(database, "SELECT tbl, statement FROM load_log ORDER BY n")
        return [(table, statement.split()[0]) for table, statement in rows]

    kit.invoke("seed")
    # countries: empty, no references -> COPY; demo_users: a reference -> stage + upsert.
    assert loads() == [("countries", "COPY"), ("users", "WITH")]
    assert count(database, "countries") == COUNTRIES

    data = seeds_dir(kit) / "data" / "countries.csv"
    data.write_text(data.read_text().replace("FR,FRA,France", "FR,FRA,French Republic"))
    kit.invoke("seed", only=["countries"])
    assert loads()[2:] == [("countries", "WITH")]  # not empty any more: the upsert

    execute(database, "TRUNCATE load_log; DELETE FROM users")
    add_seed(kit, "plain_users", PLAIN_USERS.format(file="plain.csv"))
    (seeds_dir(kit) / "data" / "plain.csv").write_text("email,display_name\na@x.io,A\n")
    kit.invoke("seed", only=["plain_users"])
    assert loads() == [("users", "COPY")]


@postgresql_only
def test_a_role_that_may_only_insert_still_seeds_with_keep_existing(
    kit: KitProject, database: str
) -> None:
    """Locking the empty table needs more than INSERT: without it, the stage and upsert run."""
    kit.invoke("init")
    execute(database, "TRUNCATE countries, users")  # the ledger's tables exist now
    role = f"gw_inserter_{uuid.uuid4().hex[:8]}"
    execute(
        database,
        f"CREATE ROLE {role} LOGIN; "
        f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role}; "
        f"GRANT INSERT ON countries, users TO {role}; "
        f"GRANT INSERT, UPDATE, DELETE ON seed_ledger, seed_runs TO {role}",
    )
    try:
        as_role = make_url(database).set(username=role).render_as_string(hide_password=False)
        result = kit.invoke(
            "seed", keep_existing=True, only=["countries"], environ={"DATABASE_URL": as_role}
        )
        assert "249 inserted" in result.stdout
        assert count(database, "countries") == COUNTRIES
    finally:
        execute(database, f"DROP OWNED BY {role}; DROP ROLE {role}")


# -- JSON seeds -------------------------------------------------------------------------------


def test_json_seed_loads_and_names_the_line_of_a_bad_item(kit: KitProject, database: str) -> None:
    kit.invoke("migrate")
    add_seed(kit, "extra_users", USERS_FROM_CSV.format(file="users.json"))
    data = seeds_dir(kit) / "data" / "users.json"
    data.write_text(
        '[\n  {"email": "a@x.io", "display_name": "A", "country": "FR"},\n'
        '  {\n    "email": "b@x.io",\n    "display_name": "B \\u00e9",\n'
        '    "country": null\n  }\n]\n'
    )
    loaded = kit.invoke("seed", only=["extra_users"])
    assert "2 inserted" in loaded.stdout
    assert query(database, "SELECT display_name FROM users WHERE email = 'b@x.io'") == [("B é",)]

    bad_items = {
        "unknown-reference": (
            (
                '[\n {"email": "c@x.io", "display_name": "C", "country": "FR"},\n\n'
                ' {"email": "d@x.io",\n  "display_name": "D", "country": "ZZ"}\n]'
            ),
            "line 4",
            "country 'ZZ' is not in countries.code",
        ),
        "other-fields": (
            (
                '[{"email": "c@x.io", "display_name": "C", "country": "FR"},\n'
                ' {"email": "d@x.io", "display_name": "D"}]'
            ),
            "line 2",
            "lacks country",
        ),
        "malformed": ('[\n {"email": "c@x.io"},\n {"email": }\n]', "line 3", "malformed JSON"),
        "not-a-list": ('{"email": "c@x.io"}', "line 1", "holds a list of objects"),
    }
    for kind, (content, line, message) in bad_items.items():
        data.write_text(content)
        result = kit.invoke("seed", only=["extra_users"], check=False)
        assert result.returncode == 1, kind
        error = result.stderr.strip().splitlines()[-1]
        assert f"seeds/data/users.json {line})" in error, (kind, error)
        assert message in error, (kind, error)
        assert count(database, "users") == 2, kind


# -- a nullable natural key -------------------------------------------------------------------

TAG_MODEL = '''"""Tags: a model whose natural key is (unwisely) nullable."""

from __future__ import annotations

from sqlalchemy import Identity, String
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base


class Tag(Base):
    __tablename__ = "tags"

    id: Mapped[int] = mapped_column(Identity(), primary_key=True)
    slug: Mapped[str | None] = mapped_column(String(50), unique=True)
    label: Mapped[str]
'''

TAG_SEED = """
    from groundwork.seeding import Seed

    from ..models.tag import Tag

    tags = Seed(model=Tag, key="slug", data="tags.csv")
"""


def test_a_nullable_key_still_needs_a_value(kit: KitProject, database: str) -> None:
    """A row without its key would be inserted again on every run: refused like elsewhere."""
    (kit.path / "src" / kit.package / "models" / "tag.py").write_text(TAG_MODEL)
    kit.invoke("migrate")
    kit.invoke("migrate", "tags")
    add_seed(kit, "tags", TAG_SEED)
    data = seeds_dir(kit) / "data" / "tags.csv"
    data.write_text("slug,label\na,A\n,B\n")
    result = kit.invoke("seed", only=["tags"], check=False)
    assert result.returncode == 1
    assert "seeds/data/tags.csv line 3): row missing its key 'slug'" in result.stderr
    assert count(database, "tags") == 0
    data.write_text("slug,label\na,A\nb,B\n")
    assert "2 inserted" in kit.invoke("seed", only=["tags"]).stdout
    data.write_text("slug,label\na,A\nb,B\n,C\n")
    result = kit.invoke("seed", only=["tags"], check=False)
    assert "line 4): row missing its key 'slug'" in result.stderr
    assert count(database, "tags") == 2


def test_each_set_of_options_is_remembered_apart(kit: KitProject, database: str) -> None:
    kit.invoke("init")
    # Another option changes the seeds' hashes: the ledger now holds the --keep-existing run's.
    kept = kit.invoke("seed", keep_existing=True)
    assert "skipped" not in kept.stdout
    assert kit.invoke("seed", keep_existing=True).stdout.count("skipped") == 2
    again = kit.invoke("seed")
    assert "skipped" not in again.stdout
    assert "0 inserted, 0 updated, 249 unchanged" in again.stdout
    assert kit.invoke("seed").stdout.count("skipped") == 2
    # --full never takes the shortcut.
    assert "skipped" not in kit.invoke("seed", full=True).stdout
