"""``invoke db.seed`` in a baked project, on SQLite and on a real PostgreSQL server.

Each test works on a private copy of a bake and a fresh database; extra seeds and data files
are written into the copy, the way a user adds them.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from textwrap import dedent
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from tests.support import Project, flavour_of, sqlite_url

COUNTRIES = 249
DEMO_USERS = 2


def query(url: str, sql: str) -> list[tuple[Any, ...]]:
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.connect() as connection:
            return [tuple(row) for row in connection.execute(text(sql))]
    finally:
        engine.dispose()


def execute(url: str, sql: str) -> None:
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.begin() as connection:
            connection.execute(text(sql))
    finally:
        engine.dispose()


def count(url: str, table: str) -> int:
    return int(query(url, f"SELECT count(*) FROM {table}")[0][0])


def ledger_rows(url: str) -> list[tuple[Any, ...]]:
    try:
        return query(url, "SELECT name FROM seed_ledger")
    except DBAPIError:  # the table does not exist: nothing was ever recorded
        return []


def snapshot(url: str) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    return (
        query(url, "SELECT id, code, alpha3, name FROM countries ORDER BY id"),
        query(url, "SELECT id, email, display_name, is_admin, country_id FROM users ORDER BY id"),
    )


def seeds_dir(project: Project) -> Path:
    return project.path / "src" / project.package / "seeds"


def add_seed(project: Project, name: str, module: str, data: dict[str, str] | None = None) -> None:
    (seeds_dir(project) / f"{name}.py").write_text(dedent(module))
    for file_name, content in (data or {}).items():
        (seeds_dir(project) / "data" / file_name).write_text(content)


USERS_FROM_CSV = """
    from ..db.seeding import Ref, Seed
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


@pytest.fixture
def project(project_copy: Callable[..., Project], database: str) -> Project:
    return project_copy(flavour_of(database), database)


def test_init_seeds_and_a_second_run_changes_nothing(project: Project, database: str) -> None:
    first = project.invoke("db.init")
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

    full = project.invoke("db.seed", "--full")
    assert "0 inserted, 0 updated, 251 unchanged" in full.stdout
    assert "Nothing to change" in full.stdout
    skipped = project.invoke("db.seed")
    assert skipped.stdout.count("skipped, unchanged since the last run") == 2
    assert snapshot(database) == before
    # The ledger table is the seeding engine's: the drift check does not report it.
    project.invoke("db.check")


def test_update_versus_keep_existing(project: Project, database: str) -> None:
    project.invoke("db.init")
    execute(database, "UPDATE countries SET name = 'Gaul' WHERE code = 'FR'")
    kept = project.invoke("db.seed", "--keep-existing")
    assert "0 updated" in kept.stdout
    assert query(database, "SELECT name FROM countries WHERE code = 'FR'") == [("Gaul",)]

    plan = project.invoke("db.seed", "--plan")
    assert "would insert 0, update 1; 248 unchanged" in plan.stdout
    assert query(database, "SELECT name FROM countries WHERE code = 'FR'") == [("Gaul",)]

    updated = project.invoke("db.seed")
    assert "0 inserted, 1 updated, 248 unchanged" in updated.stdout
    assert query(database, "SELECT name FROM countries WHERE code = 'FR'") == [("France",)]


def test_plan_writes_nothing(project: Project, database: str) -> None:
    project.invoke("db.migrate")
    plan = project.invoke("db.seed", "--plan")
    assert "would insert 249, update 0; 0 unchanged" in plan.stdout
    assert "nothing written" in plan.stdout
    assert count(database, "countries") == 0
    assert count(database, "users") == 0
    assert ledger_rows(database) == []


def test_only_runs_the_seed_and_its_dependencies(project: Project, database: str) -> None:
    project.invoke("db.migrate")
    result = project.invoke("db.seed", "--only", "demo_users")
    lines = [line.split()[0] for line in result.stdout.splitlines() if "rows:" in line]
    assert lines == ["countries", "demo_users"]
    assert count(database, "users") == DEMO_USERS
    unknown = project.invoke("db.seed", "--only", "nope", check=False)
    assert unknown.returncode == 1
    assert "no seed is named 'nope'" in unknown.stderr


def test_an_environment_no_seed_names_is_a_typo(project: Project, database: str) -> None:
    project.invoke("db.migrate")
    typo = project.invoke("db.seed", "--env", "prodution", check=False)
    assert typo.returncode == 1
    assert "no seed names the environment 'prodution'" in typo.stderr
    assert count(database, "countries") == 0
    assert "Seeded" in project.invoke("db.seed", "--env", "staging").stdout  # a usual name


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
    project: Project, database: str
) -> None:
    project.invoke("db.migrate")
    add_seed(project, "extra_users", USERS_FROM_CSV.format(file="extra.csv"))
    for kind, (content, line, message) in BAD_INPUTS.items():
        (seeds_dir(project) / "data" / "extra.csv").write_text(content)
        result = project.invoke("db.seed", check=False)
        assert result.returncode == 1, kind
        error = result.stderr.strip().splitlines()[-1]
        assert error.startswith("db.seed: seed extra_users ("), error
        assert f"seeds/data/extra.csv {line})" in error, error
        assert message in error, error
        # countries and demo_users ran before the bad seed, in the same transaction: gone too.
        assert count(database, "countries") == 0, kind
        assert count(database, "users") == 0, kind
        assert ledger_rows(database) == [], kind


def test_bad_python_row_names_the_module_line(project: Project, database: str) -> None:
    project.invoke("db.migrate")
    add_seed(
        project,
        "extra_users",
        """
        from ..db.seeding import Ref, Seed
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
    result = project.invoke("db.seed", check=False)
    assert result.returncode == 1
    assert "seeds/extra_users.py line 11)" in result.stderr, result.stderr
    assert "country 'XX'" in result.stderr
    assert count(database, "countries") == 0


def test_cycles_and_missing_dependencies_fail_before_writing(
    project_copy: Callable[..., Project], tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'cycle.sqlite3'}"
    project = project_copy("sqlite", url)
    project.invoke("db.migrate")
    template = """
        from ..db.seeding import Seed
        from ..models import Country

        {name} = Seed(model=Country, key="code", rows=[], depends_on=({deps},))
    """
    add_seed(project, "aa", template.format(name="aa", deps='"bb"'))
    add_seed(project, "bb", template.format(name="bb", deps='"aa"'))
    result = project.invoke("db.seed", check=False)
    assert result.returncode == 1
    assert "in a cycle: aa (countries) -> bb (countries) -> aa (countries)" in result.stderr
    assert count(url, "countries") == 0

    add_seed(project, "bb", template.format(name="bb", deps='"zz"'))
    result = project.invoke("db.seed", check=False)
    assert "seed bb depends on 'zz', which no seed declares" in result.stderr
    assert count(url, "countries") == 0


def test_refuses_when_the_database_is_not_at_head(project: Project, database: str) -> None:
    result = project.invoke("db.seed", check=False)
    assert result.returncode == 1
    assert "not at head" in result.stderr
    assert "invoke db.migrate" in result.stderr


def test_production_gets_no_development_data(project: Project, database: str) -> None:
    production = {"APP_ENV": "production"}
    project.invoke("db.migrate", env=production)
    result = project.invoke("db.seed", env=production)
    assert "demo_users" not in result.stdout
    assert count(database, "countries") == COUNTRIES
    assert count(database, "users") == 0

    refused = project.invoke("db.seed", "--only", "demo_users", env=production, check=False)
    assert refused.returncode == 1
    assert "seed demo_users is not for production" in refused.stderr
    assert "--force" in refused.stderr
    refused = project.invoke("db.seed", "--env", "development", env=production, check=False)
    assert refused.returncode == 1
    assert count(database, "users") == 0

    project.invoke("db.seed", "--only", "demo_users", "--force", env=production)
    assert count(database, "users") == DEMO_USERS


def test_a_database_initialized_for_production_gets_no_development_data(
    project: Project, database: str
) -> None:
    """The database's stamp counts as much as APP_ENV: a shell without APP_ENV (development's
    seeds) must not load demo data into a database initialized for production."""
    project.invoke("db.init", env={"APP_ENV": "production"})
    ledger_before = query(database, "SELECT name, content_hash FROM seed_ledger ORDER BY name")
    refused = project.invoke("db.seed", check=False)
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
    assert project.invoke("db.seed", "--plan", check=False).returncode == 1

    project.invoke("db.seed", "--force")
    assert count(database, "users") == DEMO_USERS


def test_the_unchanged_run_shortcut_reads_the_stamp(project: Project, database: str) -> None:
    """A run remembered on a development database does not stand for one on a database
    stamped production since: the whole-run shortcut must not skip the refusal."""
    project.invoke("db.init")
    stamp = "UPDATE lifecycle_environment SET value = 'production' WHERE key = 'environment'"
    execute(database, stamp)
    refused = project.invoke("db.seed", check=False)
    assert refused.returncode == 1, refused.stdout
    assert "the database was initialized for production" in refused.stderr


def test_a_ledger_skip_says_the_rows_were_not_compared(project: Project, database: str) -> None:
    """A skipped seed's rows were not looked at: a row edited by hand stays until the seed
    changes or --full compares it, and the output says so instead of "Nothing to change"."""
    project.invoke("db.init")
    execute(database, "UPDATE countries SET name = 'Gaul' WHERE code = 'FR'")
    for options in [(), ("--plan",), ("--only", "countries", "--plan"), ("--only", "countries")]:
        # The first two take the whole-run shortcut; --only is a run not remembered yet.
        out = project.invoke("db.seed", *options).stdout
        countries = next(line for line in out.splitlines() if line.startswith("countries"))
        assert "skipped, unchanged since the last run (249 rows; --full compares them)" in (
            countries
        ), (options, out)
        assert "Nothing to change" not in out, (options, out)
        summary = out.strip().splitlines()[-1]
        assert "0 inserted, 0 updated" in summary, (options, out)
        rows = "251 rows" if "countries" not in options else "249 rows"
        assert f"{rows} not compared" in summary, (options, out)
        assert "--full" in summary, (options, out)
        assert query(database, "SELECT name FROM countries WHERE code = 'FR'") == [("Gaul",)]

    full = project.invoke("db.seed", "--full")
    assert "0 inserted, 1 updated, 250 unchanged" in full.stdout
    assert "not compared" not in full.stdout
    assert query(database, "SELECT name FROM countries WHERE code = 'FR'") == [("France",)]


BLANK_USERS = """
    from ..db.seeding import Seed
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


def test_python_rows_keep_empty_strings_on_every_database(project: Project, database: str) -> None:
    """From Python (or JSON), "" is an empty string and None is NULL, on both databases and on
    both PostgreSQL paths (COPY into the empty table; the stage and the upsert)."""
    project.invoke("db.migrate")
    add_seed(project, "blank_users", BLANK_USERS)
    expected = [("a@x.io", "", None), ("b@x.io", 'Say "hi",\nbye', None)]
    users = "SELECT email, display_name, country_id FROM users ORDER BY email"
    assert "2 inserted" in project.invoke("db.seed", "--only", "blank_users").stdout
    assert query(database, users) == expected
    again = project.invoke("db.seed", "--only", "blank_users", "--full")
    assert "0 inserted, 0 updated, 2 unchanged" in again.stdout
    assert query(database, users) == expected


def test_ledger_notices_a_changed_file(project: Project, database: str) -> None:
    project.invoke("db.init")
    data = seeds_dir(project) / "data" / "countries.csv"
    data.write_text(data.read_text().replace("FR,FRA,France", "FR,FRA,French Republic"))
    result = project.invoke("db.seed")
    countries_line = next(
        line for line in result.stdout.splitlines() if line.startswith("countries")
    )
    assert "0 inserted, 1 updated, 248 unchanged" in countries_line
    assert query(database, "SELECT name FROM countries WHERE code = 'FR'") == [("French Republic",)]
    # demo_users depends on countries: its hash changed with them, so it was compared again.
    assert "skipped" not in result.stdout
    assert project.invoke("db.seed").stdout.count("skipped") == 2


BIG_ROWS = 150_000


def _database_is_busy(url: str, path: Path) -> bool:
    if url.startswith("sqlite"):
        return Path(f"{path}-journal").exists()
    rows = query(
        url,
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
        "AND pid <> pg_backend_pid() AND state = 'active' AND query LIKE 'COPY%'",
    )
    return rows[0][0] > 0


def test_sigkill_in_the_middle_then_rerun(project: Project, database: str, tmp_path: Path) -> None:
    project.invoke("db.migrate")
    csv_path = seeds_dir(project) / "data" / "many.csv"
    with csv_path.open("w") as handle:
        handle.write("email,display_name,country\n")
        for n in range(BIG_ROWS):
            handle.write(f"user{n}@example.com,User {n},{'FR' if n % 2 else 'DE'}\n")
    add_seed(project, "extra_users", USERS_FROM_CSV.format(file="many.csv"))
    sqlite_file = (
        Path(database.removeprefix("sqlite:///")) if database.startswith("sqlite") else tmp_path
    )

    process = subprocess.Popen(
        [sys.executable, "-m", "invoke", "db.seed"],
        cwd=project.path,
        env=project.environ(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while not _database_is_busy(database, sqlite_file):
        assert process.poll() is None, "the seed finished before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.02)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL
    if database.startswith("postgresql"):
        time.sleep(0.5)  # let the server notice the dead connection and roll back

    assert count(database, "users") == 0
    project.invoke("db.seed")
    assert count(database, "users") == BIG_ROWS + DEMO_USERS
    assert count(database, "countries") == COUNTRIES
    assert query(database, "SELECT count(DISTINCT email) FROM users") == [(BIG_ROWS + DEMO_USERS,)]


# -- straight into an empty table (PostgreSQL: COPY into the table itself) ------------------

PLAIN_USERS = """
    from ..db.seeding import Seed
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
    project: Project, database: str, kind: str
) -> None:
    project.invoke("db.migrate")
    add_seed(project, "plain_users", PLAIN_USERS.format(file="plain.csv"))
    content, line, message = EMPTY_TABLE_BAD_INPUTS[kind]
    (seeds_dir(project) / "data" / "plain.csv").write_bytes(content)
    result = project.invoke("db.seed", "--only", "plain_users", check=False)
    assert result.returncode == 1, result.stdout
    error = result.stderr.strip().splitlines()[-1]
    assert error.startswith("db.seed: seed plain_users ("), error
    assert f"seeds/data/plain.csv {line})" in error, error
    assert message in error, error
    assert count(database, "users") == 0
    assert ledger_rows(database) == []


def test_a_key_given_twice_batches_apart_names_both_lines(project: Project, database: str) -> None:
    """The repeat comes 10,000 rows (a batch) after the first: not only a batch is checked."""
    project.invoke("db.migrate")
    add_seed(project, "plain_users", PLAIN_USERS.format(file="plain.csv"))
    rows = "".join(f"user{n}@x.io,User {n}\n" for n in range(10_005))
    (seeds_dir(project) / "data" / "plain.csv").write_text(
        f"email,display_name\n{rows}user0@x.io,Again\n"
    )
    result = project.invoke("db.seed", "--only", "plain_users", check=False)
    assert result.returncode == 1, result.stdout
    error = result.stderr.strip().splitlines()[-1]
    assert error == (
        f"db.seed: seed plain_users (src/{project.package}/seeds/data/plain.csv line 10007): "
        "key ('user0@x.io',) appears twice (first at line 2)"
    ), error
    assert count(database, "users") == 0


# Runs invoke and writes its peak resident memory (VmHWM) to the file argv[1] at exit. Not the
# rusage a parent gets from wait4: that also counts the memory of the process it was forked
# from (this test's) until the exec.
PEAK_RSS = """
import atexit, runpy, sys
from pathlib import Path

out = Path(sys.argv.pop(1))
def report():
    status = Path("/proc/self/status").read_text().splitlines()
    out.write_text(next(line.split()[1] for line in status if line.startswith("VmHWM:")))
atexit.register(report)
sys.argv[0] = "invoke"
runpy.run_module("invoke", run_name="__main__")
"""


def peak_rss_mib(project: Project, *args: str) -> float:
    """The peak resident memory of ``invoke ARGS`` in the project."""
    out = project.path / "peak-rss"
    project.run(sys.executable, "-c", PEAK_RSS, str(out), *args)
    return int(out.read_text()) / 1024


@pytest.mark.sqlite
@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc/self/status")
def test_sqlite_seeding_memory_does_not_grow_with_the_file(
    project_copy: Callable[..., Project], tmp_path: Path
) -> None:
    """Four times the rows, the same peak memory: keys given twice are found on disk, not in
    a dictionary of every key (~180 bytes a row: 26 MiB more here)."""
    project = project_copy("sqlite", sqlite_url(tmp_path / "memory.sqlite3"))
    project.invoke("db.migrate")
    add_seed(project, "plain_users", PLAIN_USERS.format(file="plain.csv"))
    data = seeds_dir(project) / "data" / "plain.csv"
    peaks = []
    for rows in (50_000, 200_000):
        data.write_text(
            "email,display_name\n" + "".join(f"u{n}@x.io,User {n}\n" for n in range(rows))
        )
        peaks.append(peak_rss_mib(project, "db.seed", "--only", "plain_users"))
    assert count(project.env["DATABASE_URL"], "users") == 200_000
    small, big = peaks
    assert big < small + 12, f"peak RSS {small:.0f} MiB at 50,000 rows, {big:.0f} MiB at 200,000"


def test_csv_edge_cases_load_alike_on_every_path(project: Project, database: str) -> None:
    """A BOM, CRLF line ends, blank lines, a quoted newline; empty and new table alike."""
    project.invoke("db.migrate")
    add_seed(project, "plain_users", PLAIN_USERS.format(file="plain.csv"))
    data = seeds_dir(project) / "data" / "plain.csv"
    data.write_bytes(
        b'\xef\xbb\xbfemail,display_name,is_admin\r\na@x.io,"Two\r\nlines",true\r\n\r\n'
        b'b@x.io,"Say ""hi""",false\r\n\r\n\r\n'
    )
    expected = [("a@x.io", "Two\r\nlines", True), ("b@x.io", 'Say "hi"', False)]
    first = project.invoke("db.seed", "--only", "plain_users")
    assert "2 inserted" in first.stdout
    users = "SELECT email, display_name, is_admin FROM users ORDER BY email"
    assert [(e, d, bool(a)) for e, d, a in query(database, users)] == expected
    data.write_bytes(data.read_bytes() + b"c@x.io,C,false\n")
    second = project.invoke("db.seed", "--only", "plain_users")
    assert "1 inserted, 0 updated, 2 unchanged" in second.stdout


@pytest.mark.postgresql
def test_an_empty_table_is_copied_into_directly(
    project_copy: Callable[..., Project], pg_url: str
) -> None:
    """COPY goes into the table itself when it is empty and the seed has no references;
    otherwise through the stage and the upsert. A statement trigger records which ran."""
    project = project_copy("postgresql", pg_url)
    project.invoke("db.migrate")
    execute(
        pg_url,
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
        rows = query(pg_url, "SELECT tbl, statement FROM load_log ORDER BY n")
        return [(table, statement.split()[0]) for table, statement in rows]

    project.invoke("db.seed")
    # countries: empty, no references -> COPY; demo_users: a reference -> stage + upsert.
    assert loads() == [("countries", "COPY"), ("users", "WITH")]
    assert count(pg_url, "countries") == COUNTRIES

    data = seeds_dir(project) / "data" / "countries.csv"
    data.write_text(data.read_text().replace("FR,FRA,France", "FR,FRA,French Republic"))
    project.invoke("db.seed", "--only", "countries")
    assert loads()[2:] == [("countries", "WITH")]  # not empty any more: the upsert

    execute(pg_url, "TRUNCATE load_log; DELETE FROM users")
    add_seed(project, "plain_users", PLAIN_USERS.format(file="plain.csv"))
    (seeds_dir(project) / "data" / "plain.csv").write_text("email,display_name\na@x.io,A\n")
    project.invoke("db.seed", "--only", "plain_users")
    assert loads() == [("users", "COPY")]


@pytest.mark.postgresql
def test_a_role_that_may_only_insert_still_seeds_with_keep_existing(
    project_copy: Callable[..., Project], pg_url: str
) -> None:
    """Locking the empty table needs more than INSERT: without it, the stage and upsert run."""
    project = project_copy("postgresql", pg_url)
    project.invoke("db.init")
    execute(pg_url, "TRUNCATE countries, users")  # the ledger's tables exist now
    role = f"gw_inserter_{uuid.uuid4().hex[:8]}"
    execute(
        pg_url,
        f"CREATE ROLE {role} LOGIN; "
        f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role}; "
        f"GRANT INSERT ON countries, users TO {role}; "
        f"GRANT INSERT, UPDATE, DELETE ON seed_ledger, seed_runs TO {role}",
    )
    try:
        as_role = make_url(pg_url).set(username=role).render_as_string(hide_password=False)
        result = project.invoke(
            "db.seed", "--keep-existing", "--only", "countries", env={"DATABASE_URL": as_role}
        )
        assert "249 inserted" in result.stdout
        assert count(pg_url, "countries") == COUNTRIES
    finally:
        execute(pg_url, f"DROP OWNED BY {role}; DROP ROLE {role}")


# -- JSON seeds -------------------------------------------------------------------------------


def test_json_seed_loads_and_names_the_line_of_a_bad_item(project: Project, database: str) -> None:
    project.invoke("db.migrate")
    add_seed(project, "extra_users", USERS_FROM_CSV.format(file="users.json"))
    data = seeds_dir(project) / "data" / "users.json"
    data.write_text(
        '[\n  {"email": "a@x.io", "display_name": "A", "country": "FR"},\n'
        '  {\n    "email": "b@x.io",\n    "display_name": "B \\u00e9",\n'
        '    "country": null\n  }\n]\n'
    )
    loaded = project.invoke("db.seed", "--only", "extra_users")
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
        result = project.invoke("db.seed", "--only", "extra_users", check=False)
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
    from ..db.seeding import Seed
    from ..models.tag import Tag

    tags = Seed(model=Tag, key="slug", data="tags.csv")
"""


def test_a_nullable_key_still_needs_a_value(project: Project, database: str) -> None:
    """A row without its key would be inserted again on every run: refused like elsewhere."""
    (project.path / "src" / project.package / "models" / "tag.py").write_text(TAG_MODEL)
    project.invoke("db.migrate")
    project.invoke("db.migrate", "-m", "tags")
    add_seed(project, "tags", TAG_SEED)
    data = seeds_dir(project) / "data" / "tags.csv"
    data.write_text("slug,label\na,A\n,B\n")
    result = project.invoke("db.seed", "--only", "tags", check=False)
    assert result.returncode == 1
    assert "seeds/data/tags.csv line 3): row missing its key 'slug'" in result.stderr
    assert count(database, "tags") == 0
    data.write_text("slug,label\na,A\nb,B\n")
    assert "2 inserted" in project.invoke("db.seed", "--only", "tags").stdout
    data.write_text("slug,label\na,A\nb,B\n,C\n")
    result = project.invoke("db.seed", "--only", "tags", check=False)
    assert "line 4): row missing its key 'slug'" in result.stderr
    assert count(database, "tags") == 2


# -- a run in which nothing changed -----------------------------------------------------------

IMPORTED = """
import sys
from {package}.db import commands
commands.seed({options})
heavy = ("sqlalchemy", "alembic", "{package}.models", "{package}.seeds")
print("imported:", sorted({{m.split(".")[0] if m.startswith(heavy[:2]) else m
                           for m in sys.modules if m.startswith(heavy)}}))
"""


def test_an_unchanged_run_ends_before_importing_the_seeds(project: Project, database: str) -> None:
    project.invoke("db.init")
    code = IMPORTED.format(package=project.package, options="")
    skipped = project.python(code)
    assert skipped.stdout.count("skipped, unchanged since the last run") == 2, skipped.stdout
    assert "imported: []" in skipped.stdout

    # A table emptied behind the ledger's back (here by a downgrade and an upgrade: same
    # revisions, no rows) is noticed, and the full run loads it again.
    project.invoke("db.downgrade", "--to", "base")
    refused = project.invoke("db.seed", check=False)
    assert refused.returncode == 1
    assert "not at head" in refused.stderr
    project.invoke("db.migrate")
    reloaded = project.python(code)
    assert "249 inserted" in reloaded.stdout
    assert "'sqlalchemy'" in reloaded.stdout
    assert count(database, "countries") == COUNTRIES


def test_each_set_of_options_is_remembered_apart(project: Project, database: str) -> None:
    project.invoke("db.init")
    # Another option changes the seeds' hashes: the ledger now holds the --keep-existing run's.
    kept = project.invoke("db.seed", "--keep-existing")
    assert "skipped" not in kept.stdout
    assert project.invoke("db.seed", "--keep-existing").stdout.count("skipped") == 2
    again = project.invoke("db.seed")
    assert "skipped" not in again.stdout
    assert "0 inserted, 0 updated, 249 unchanged" in again.stdout
    assert project.invoke("db.seed").stdout.count("skipped") == 2
    # --full never takes the shortcut.
    assert "skipped" not in project.invoke("db.seed", "--full").stdout


# -- flavours ---------------------------------------------------------------------------------


def test_a_sqlite_bake_has_no_postgresql_loader(baked: dict[str, Path]) -> None:
    """The sqlite flavour does not install psycopg, so no module of it may import it."""

    def loader(flavour: str) -> Path:
        package = next((baked[flavour] / "src").iterdir())
        return package / "db" / "seeding" / "postgresql.py"

    assert loader("postgresql").is_file()
    assert not loader("sqlite").exists()
