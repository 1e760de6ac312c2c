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
from collections.abc import Callable
from pathlib import Path
from textwrap import dedent
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from tests.support import Project

COUNTRIES = 249
DEMO_USERS = 2


def flavour_of(url: str) -> str:
    return "sqlite" if url.startswith("sqlite") else "postgresql"


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
    except Exception:  # the table does not exist: nothing was ever recorded
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
    assert skipped.stdout.count("(ledger), skipped") == 2
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
    assert "in a cycle: aa -> bb -> aa" in result.stderr
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
