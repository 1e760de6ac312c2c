"""The safe forms of migrations on big, busy tables (groundwork/safe.py, safe_rewrite.py).

On a real PostgreSQL: each helper gives the schema the naive operation gives; autogenerate on an
existing table writes them and they apply; a failed concurrent build leaves no INVALID index;
the version table and the ledger after a failure that follows an autocommit block; an ordinary
failing revision is still all-or-nothing. On SQLite, the helpers' plain fallbacks. In-process
(tests/kit/harness.py); the backfill killed half-way runs in processes of its own.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.kit.harness import KitProject
from tests.lifecycle_support import INITIAL, NEW_MODEL, add_revision, query
from tests.support import create_pg_database, drop_pg_database, psql

# One revision of every helper, and the same change written the naive way.
SAFE = """
from groundwork import safe
safe.create_index_concurrently("ix_users_display_name", "users", ["display_name"])
safe.add_unique_using_index("uq_users_display_name", "users", ["display_name"])
op.add_column("users", sa.Column("nickname", sa.Text()))
op.add_column("users", sa.Column("home_id", sa.BigInteger()))
safe.backfill(
    "users",
    set_="nickname = display_name, home_id = country_id",
    where="nickname IS NULL",
    batch_size=2,
)
safe.set_not_null_safely("users", "nickname", existing_type=sa.Text())
safe.add_foreign_key_not_valid(
    "fk_users_home_id_countries", "users", "countries", ["home_id"], ["id"], ondelete="RESTRICT"
)
safe.validate_constraint("fk_users_home_id_countries", "users")
safe.add_check_not_valid("ck_users_nickname_length", "users", "length(nickname) > 0")
safe.validate_constraint("ck_users_nickname_length", "users")
safe.drop_index_concurrently("ix_users_country_id", "users")
"""
NAIVE = """
op.create_index("ix_users_display_name", "users", ["display_name"])
op.create_unique_constraint(op.f("uq_users_display_name"), "users", ["display_name"])
op.add_column("users", sa.Column("nickname", sa.Text()))
op.add_column("users", sa.Column("home_id", sa.BigInteger()))
op.execute("UPDATE users SET nickname = display_name, home_id = country_id WHERE nickname IS NULL")
op.alter_column("users", "nickname", nullable=False, existing_type=sa.Text())
op.create_foreign_key(
    op.f("fk_users_home_id_countries"),
    "users",
    "countries",
    ["home_id"],
    ["id"],
    ondelete="RESTRICT",
)
op.create_check_constraint(op.f("ck_users_nickname_length"), "users", "length(nickname) > 0")
op.drop_index("ix_users_country_id", table_name="users")
"""

SCHEMA = """
SELECT 'index', indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'
UNION ALL
SELECT 'constraint', conname, pg_get_constraintdef(oid) || ' valid=' || convalidated
FROM pg_constraint WHERE connamespace = 'public'::regnamespace
UNION ALL
SELECT 'column', table_name || '.' || column_name, is_nullable || ' ' || data_type
FROM information_schema.columns WHERE table_schema = 'public'
ORDER BY 1, 2
"""

INVALID = "SELECT indexrelid::regclass::text FROM pg_index WHERE NOT indisvalid"


@pytest.fixture
def other_pg(admin_url: str) -> Iterator[str]:
    url = create_pg_database(admin_url)
    yield url
    drop_pg_database(admin_url, url)


@pytest.fixture
def pg(kit_project: Callable[[str, str], KitProject], pg_url: str) -> KitProject:
    return kit_project("postgresql", pg_url)


def _users(url: str, count: int = 5) -> None:
    query(url, "INSERT INTO countries (code, alpha3, name) VALUES ('FR', 'FRA', 'France')")
    query(
        url,
        "INSERT INTO users (email, display_name, country_id) SELECT 'u' || n || '@x.org', "
        f"'user ' || n, (SELECT min(id) FROM countries) FROM generate_series(1, {count}) n",
    )


def _ledger(url: str) -> list[str]:
    return [row[0] for row in query(url, "SELECT revision FROM migration_ledger ORDER BY 1")]


def _version(url: str) -> list[str]:
    return [row[0] for row in query(url, "SELECT version_num FROM alembic_version")]


def test_each_helper_gives_the_naive_schema(pg: KitProject, pg_url: str, other_pg: str) -> None:
    for url, body in ((other_pg, NAIVE), (pg_url, SAFE)):
        environ = {"DATABASE_URL": url}
        pg.invoke("upgrade", INITIAL, environ=environ)
        _users(url)
        add_revision(pg, "5afe00000001", INITIAL, body)
        pg.invoke("migrate", environ=environ)
    assert query(pg_url, SCHEMA) == query(other_pg, SCHEMA)
    assert (
        "constraint",
        "ck_users_nickname_length",
        "CHECK ((length(nickname) > 0)) valid=true",
    ) in query(pg_url, SCHEMA)
    assert query(pg_url, INVALID) == []
    assert query(pg_url, "SELECT count(*) FROM users WHERE nickname = display_name") == [(5,)]
    assert _ledger(pg_url) == sorted([INITIAL, "5afe00000001"])
    # The same revision again from its start (as after an interrupted run): each step skipped.
    query(pg_url, "UPDATE alembic_version SET version_num = '0d848db94cb2'")
    query(pg_url, "ALTER TABLE users DROP COLUMN nickname, DROP COLUMN home_id")
    pg.invoke("migrate")
    assert query(pg_url, SCHEMA) == query(other_pg, SCHEMA)


def test_a_failed_concurrent_build_leaves_no_invalid_index(pg: KitProject, pg_url: str) -> None:
    pg.invoke("upgrade", INITIAL)
    _users(pg_url)
    query(pg_url, "UPDATE users SET display_name = 'same'")
    add_revision(pg, "5afe00000001", INITIAL, "op.execute('CREATE TABLE before_block (id int)')")
    add_revision(
        pg,
        "5afe00000002",
        "5afe00000001",
        """
from groundwork import safe
op.execute("CREATE TABLE in_revision (id int)")
safe.create_index_concurrently("ix_users_display_name", "users", ["display_name"], unique=True)
""",
    )
    result = pg.invoke("migrate", check=False)
    assert result.returncode == 1
    line = result.stderr.strip().splitlines()[-1]
    assert "revision 5afe00000002 (5afe00000002_test.py) failed" in line, line
    assert 'could not create unique index "ix_users_display_name"' in line, line
    assert "the database is at 5afe00000001" in line, line
    assert query(pg_url, INVALID) == []
    # Committed at the block: the revision before it, recorded in the version table and the
    # ledger, and the revision's own statement before its block; not the failed revision.
    assert _version(pg_url) == ["5afe00000001"]
    assert _ledger(pg_url) == sorted([INITIAL, "5afe00000001"])
    assert query(pg_url, "SELECT to_regclass('in_revision') IS NOT NULL") == [(True,)]
    assert pg.invoke("check", check=False).returncode == 1  # not at head


def test_a_failure_after_a_safe_revision_leaves_it_applied(pg: KitProject, pg_url: str) -> None:
    """The safe revision is committed when done; the next one fails alone, and one that uses
    the helpers but fails before its first block leaves nothing of itself."""
    add_revision(pg, "5afe00000001", INITIAL, SAFE)
    add_revision(pg, "5afe00000002", "5afe00000001", "op.execute('SELECT 1/0')")
    pg.invoke("upgrade", INITIAL)
    _users(pg_url)
    result = pg.invoke("migrate", check=False)
    line = result.stderr.strip().splitlines()[-1]
    assert "revision 5afe00000002 (5afe00000002_test.py) failed, nothing of it was applied" in line
    assert "the revisions before it were committed, the database is at 5afe00000001" in line
    assert _version(pg_url) == ["5afe00000001"]
    assert _ledger(pg_url) == sorted([INITIAL, "5afe00000001"])
    add_revision(
        pg,
        "5afe00000002",
        "5afe00000001",
        """
from groundwork import safe
op.execute("CREATE TABLE never_kept (id int)")
op.execute("SELECT 1/0")
safe.create_index_concurrently("ix_never", "never_kept", ["id"])
""",
    )
    result = pg.invoke("migrate", check=False)
    assert "5afe00000002 (5afe00000002_test.py) failed, nothing of it was applied" in result.stderr
    assert query(pg_url, "SELECT to_regclass('never_kept') IS NULL") == [(True,)]
    assert _version(pg_url) == ["5afe00000001"]


def test_db_check_reports_an_invalid_index(pg: KitProject, pg_url: str) -> None:
    pg.invoke("migrate")
    _users(pg_url)
    query(pg_url, "UPDATE users SET display_name = 'same'")
    with pytest.raises(Exception, match="could not create unique index"):
        query(pg_url, "CREATE UNIQUE INDEX CONCURRENTLY ix_dupe ON users (display_name)")
    result = pg.invoke("check", check=False)
    assert result.returncode == 1
    lines = [
        line
        for line in result.stdout.splitlines() + result.stderr.splitlines()
        if "INVALID" in line
    ]
    assert len(lines) == 1, result.stdout + result.stderr
    assert "DROP INDEX CONCURRENTLY public.ix_dupe;" in lines[0], lines[0]


def test_an_ordinary_failing_revision_is_still_all_or_nothing(pg: KitProject, pg_url: str) -> None:
    add_revision(pg, "5afe00000001", INITIAL, "op.execute('CREATE TABLE first_one (id int)')")
    add_revision(pg, "5afe00000002", "5afe00000001", "op.execute('SELECT 1/0')")
    result = pg.invoke("migrate", check=False)
    assert result.returncode == 1
    assert "nothing was applied, the database is still at base" in result.stderr, result.stderr
    assert query(
        pg_url, "SELECT to_regclass('first_one') IS NULL, to_regclass('users') IS NULL"
    ) == [(True, True)]


def _model_changes(project: KitProject) -> None:
    """Models changed on the existing table users: an index, a UNIQUE, a FK, a NOT NULL."""
    user = project.path / "src" / project.package / "models" / "user.py"
    source = user.read_text()
    for old, new in (
        (
            "display_name: Mapped[str] = mapped_column(String(100))",
            "display_name: Mapped[str] = mapped_column(String(100), index=True)\n"
            "    code: Mapped[str | None] = mapped_column(String(10), unique=True)\n"
            '    home_id: Mapped[int | None] = mapped_column(ForeignKey("countries.id"))',
        ),
        (
            "country_id: Mapped[int | None] = mapped_column(",
            "country_id: Mapped[int] = mapped_column(",
        ),
    ):
        assert old in source
        source = source.replace(old, new)
    user.write_text(source.replace("country: Mapped[Country | None]", "country: Mapped[Country]"))


def test_autogenerate_writes_the_safe_forms(pg: KitProject, pg_url: str) -> None:
    pg.invoke("migrate")
    _users(pg_url)
    _model_changes(pg)
    # A new table (orders: a UNIQUE, a foreign key to users): its operations stay plain.
    models = pg.path / "src" / pg.package / "models"
    indexed = 'mapped_column(ForeignKey("users.id"), index=True)'
    (models / "order.py").write_text(
        NEW_MODEL.replace('mapped_column(ForeignKey("users.id"))', indexed)
    )
    written = pg.invoke("revision", "users changed").value
    source = Path(written).read_text()
    for call in (
        "from groundwork import safe",
        'safe.create_index_concurrently("ix_users_display_name", "users", ["display_name"])',
        'safe.add_unique_using_index("uq_users_code", "users", ["code"])',
        "safe.add_foreign_key_not_valid(\n"
        '        "fk_users_home_id_countries", "users", "countries", ["home_id"], ["id"]\n    )',
        'safe.validate_constraint("fk_users_home_id_countries", "users")',
        'safe.set_not_null_safely("users", "country_id")',
        'safe.drop_index_concurrently("ix_users_display_name", "users")',
    ):
        assert call in source, source
    assert 'op.create_table(\n        "orders"' in source, source
    assert 'op.f("ix_orders_user_id"), "orders", ["user_id"], unique=False' in source, source
    pg.invoke("migrate")
    assert pg.invoke("check").returncode == 0
    pg.invoke("downgrade")
    assert query(pg_url, INVALID) == []


def test_autogenerate_keeps_plain_forms_when_turned_off(pg: KitProject, pg_url: str) -> None:
    pg.invoke("migrate")
    settings = pg.path / "src" / pg.package / "settings.py"
    text = settings.read_text()
    settings.write_text(text.replace("Project(\n", "Project(\n        safe_migrations=False,\n", 1))
    assert "safe_migrations=False" in settings.read_text()
    _model_changes(pg)
    source = Path(pg.invoke("revision", "users changed").value).read_text()
    assert "safe." not in source, source
    assert "op.create_index(" in source, source


def test_offline_sql_of_a_safe_revision_runs_in_psql(
    pg: KitProject, pg_url: str, other_pg: str
) -> None:
    add_revision(pg, "5afe00000001", INITIAL, SAFE)
    sql = pg.invoke("sql").stdout
    assert "CREATE INDEX CONCURRENTLY IF NOT EXISTS ix_users_display_name" in sql, sql
    # squawk, as the kit's lint reads a revision (its statements, not the version table's, the
    # kit's timeouts left to the kit): the safe forms pass.
    squawk = Path(sys.executable).with_name("squawk")
    lint_view = pg.path / "lint.sql"
    revision = pg.invoke("sql", f"{INITIAL}:5afe00000001").stdout
    lint_view.write_text(
        "\n".join(ln for ln in revision.splitlines() if "alembic_version" not in ln)
    )
    found = subprocess.run(
        [
            str(squawk),
            "--reporter",
            "json",
            "--exclude=require-lock-timeout,require-statement-timeout",
            str(lint_view),
        ],
        capture_output=True,
        text=True,
    )
    assert json.loads(found.stdout) == [], found.stdout
    script = pg.path / "all.sql"
    script.write_text(sql)
    done = subprocess.run(
        [
            psql(),
            "-v",
            "ON_ERROR_STOP=1",
            "-q",
            "-f",
            str(script),
            other_pg.replace("+psycopg", ""),
        ],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert _version(other_pg) == ["5afe00000001"]
    assert query(other_pg, INVALID) == []


# The schema change in one revision, the data migration in the next (docs/database.md): the
# backfill's revision starts on the committed column, and a rerun runs the backfill alone.
NICKNAME = """
op.add_column("users", sa.Column("nickname", sa.String(120)))
op.execute(
    "CREATE FUNCTION slow_copy(v text) RETURNS text LANGUAGE sql "
    "AS $$ SELECT v FROM pg_sleep(0.002) $$"
)
"""
KILLED_BACKFILL = """
from groundwork import safe
safe.backfill(
    "users", set_="nickname = slow_copy(display_name)", where="nickname IS NULL", batch_size=50
)
"""


def test_a_killed_backfill_resumes(pg: KitProject, pg_url: str) -> None:
    pg.invoke("migrate")
    _users(pg_url, count=2000)
    add_revision(pg, "5afe00000001", INITIAL, NICKNAME)
    add_revision(pg, "5afe00000002", "5afe00000001", KILLED_BACKFILL)
    process = pg.process()
    command = [sys.executable, "-m", "invoke", "db.migrate"]
    running = subprocess.Popen(
        command, cwd=pg.path, env=process.environ(), stdout=subprocess.PIPE, text=True
    )
    assert running.stdout is not None
    for line in running.stdout:
        if "backfill users: 500 rows" in line:
            break
    os.kill(running.pid, signal.SIGKILL)
    running.wait()
    # The killed process's sessions end when the server notices (a batch in flight may still
    # commit): count once they are gone, which also frees the migration lock.
    others = "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
    others += "AND pid <> pg_backend_pid()"
    deadline = time.monotonic() + 10
    while query(pg_url, others) != [(0,)] and time.monotonic() < deadline:
        time.sleep(0.05)
    done = query(pg_url, "SELECT count(*) FROM users WHERE nickname IS NOT NULL")[0][0]
    assert 500 <= done < 2000, done
    assert _version(pg_url) == ["5afe00000001"]  # committed before the backfill's revision
    rerun = subprocess.run(
        command, cwd=pg.path, env=process.environ(), capture_output=True, text=True
    )
    assert rerun.returncode == 0, rerun.stderr
    assert f"backfill users: done, {2000 - done} rows updated" in rerun.stdout, rerun.stdout
    assert query(pg_url, "SELECT count(*) FROM users WHERE nickname = display_name") == [(2000,)]
    assert _version(pg_url) == ["5afe00000002"]
    assert _ledger(pg_url) == sorted([INITIAL, "5afe00000001", "5afe00000002"])


def test_sqlite_helpers_are_the_plain_operations(
    kit_project: Callable[[str, str], KitProject], tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'safe.sqlite3'}"
    project = kit_project("sqlite", url)
    project.invoke("migrate")
    _sqlite_users(url)
    add_revision(project, "5afe00000001", INITIAL, SAFE)
    project.invoke("migrate")
    indexes = {row[0] for row in query(url, "SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert "ix_users_display_name" in indexes
    assert "ix_users_country_id" not in indexes
    table = query(url, "SELECT sql FROM sqlite_master WHERE name = 'users'")[0][0]
    assert "ck_users_nickname_length" in table, table
    assert "uq_users_display_name" in table, table
    assert "nickname TEXT NOT NULL" in table, table
    assert query(url, "SELECT count(*) FROM users WHERE nickname = display_name") == [(3,)]


def _sqlite_users(url: str) -> None:
    query(url, "INSERT INTO countries (code, alpha3, name) VALUES ('FR', 'FRA', 'France')")
    for n in range(3):
        query(
            url, f"INSERT INTO users (email, display_name, country_id) VALUES ('u{n}@x', 'u{n}', 1)"
        )


SLOW_INDEX = """
from groundwork import safe
op.execute(
    "CREATE FUNCTION slow_key(v text) RETURNS text LANGUAGE plpgsql IMMUTABLE "
    "AS $$ BEGIN PERFORM pg_sleep(0.05); RETURN v; END $$"
)
safe.create_index_concurrently("ix_users_slow", "users", [sa.text("slow_key(display_name)")])
"""


def test_statement_timeout_spares_the_concurrent_build_only(pg: KitProject, pg_url: str) -> None:
    """A build of 10 x 50 ms under a 100 ms statement_timeout: done; a plain 300 ms statement
    after it, in the same run: cancelled (57014), the timeout back in force."""
    pg.invoke("upgrade", INITIAL)
    _users(pg_url, count=10)
    add_revision(pg, "5afe00000001", INITIAL, SLOW_INDEX)
    slow = {"MIGRATION_STATEMENT_TIMEOUT": "100ms"}
    pg.invoke("migrate", environ=slow)
    assert query(
        pg_url, "SELECT indisvalid FROM pg_index WHERE indexrelid = 'ix_users_slow'::regclass"
    ) == [(True,)]
    add_revision(pg, "5afe00000002", "5afe00000001", "op.execute('SELECT pg_sleep(0.3)')")
    result = pg.invoke("migrate", environ=slow, check=False)
    assert result.returncode == 1
    assert "statement_timeout is MIGRATION_STATEMENT_TIMEOUT=100ms" in result.stderr, result.stderr
    assert _version(pg_url) == ["5afe00000001"]


def test_plain_alembic_runs_a_safe_revision(pg: KitProject, pg_url: str) -> None:
    """The plain ``alembic`` command (environment.py's own connection) runs the blocks too."""
    add_revision(pg, "5afe00000001", INITIAL, SAFE)
    project = pg.process()
    project.run(sys.executable, "-m", "alembic", "upgrade", INITIAL)
    _users(pg_url)
    project.run(sys.executable, "-m", "alembic", "upgrade", "head")
    assert _version(pg_url) == ["5afe00000001"]
    assert query(pg_url, INVALID) == []
    assert ("column", "users.nickname", "NO text") in query(pg_url, SCHEMA)


def test_autogenerate_on_sqlite_writes_the_plain_forms(
    kit_project: Callable[[str, str], KitProject], tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'plain.sqlite3'}"
    project = kit_project("sqlite", url)
    project.invoke("migrate")
    _model_changes(project)
    source = Path(project.invoke("revision", "users changed").value).read_text()
    assert "safe." not in source, source
    assert "batch_op.create_index(" in source, source
    project.invoke("migrate")
    assert project.invoke("check").returncode == 0


def test_lock_timeout_bounds_the_concurrent_build(pg: KitProject, pg_url: str) -> None:
    """Inside the autocommit block the migration's lock_timeout still holds: a build queued
    behind a session that holds the table gives up after it, leaving no INVALID index."""
    import psycopg

    pg.invoke("upgrade", INITIAL)
    _users(pg_url)
    add_revision(
        pg,
        "5afe00000001",
        INITIAL,
        'from groundwork import safe\nsafe.create_index_concurrently("ix_users_dn", "users", '
        '["display_name"])',
    )
    with psycopg.connect(pg_url.replace("+psycopg", "")) as holder:
        holder.execute("LOCK TABLE users IN SHARE UPDATE EXCLUSIVE MODE")
        started = time.monotonic()
        result = pg.invoke(
            "migrate",
            environ={"MIGRATION_LOCK_TIMEOUT": "300ms", "MIGRATION_LOCK_RETRIES": "0"},
            check=False,
        )
        waited = time.monotonic() - started
    assert result.returncode == 1
    assert "lock_timeout is MIGRATION_LOCK_TIMEOUT=300ms" in result.stderr, result.stderr
    assert waited < 5, waited
    assert query(pg_url, INVALID) == []
    assert _version(pg_url) == [INITIAL]
