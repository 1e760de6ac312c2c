"""Revisions as a team writes them: by hand, on branches that are merged, and as offline SQL.

Each test works in a baked project of the flavour of its database (SQLite or PostgreSQL),
through `invoke`, as a user would: invoke's own program in this process (tests/kit/cli.py), the
project's own suite and ruff in processes of their own.
"""

from __future__ import annotations

import re
import sqlite3
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from tests.support import Project, admin_sql, with_database


@pytest.fixture
def project(project_copy: Callable[..., Project], database: str) -> Project:
    """A copy of the bake of the database's flavour, pointed at that (empty) database."""
    flavour = "sqlite" if database.startswith("sqlite:///") else "postgresql"
    if flavour == "sqlite":
        Path(database.removeprefix("sqlite:///")).touch()  # only db.init creates a missing one
    return project_copy(flavour, database, in_process=True)


def versions(project: Project) -> Path:
    return project.path / "src" / project.package / "migrations" / "versions"


def written_revision(result_stdout: str) -> tuple[str, Path]:
    """The id and file of the revision a `db.revision`/`db.merge` run wrote."""
    found = re.search(r"^Wrote (.+/[0-9_]+-([0-9a-f]+)_\w*\.py)$", result_stdout, re.MULTILINE)
    assert found is not None, result_stdout
    return found[2], Path(found[1])


def empty_revision(
    project: Project, message: str, *, parent: str | None = None
) -> tuple[str, Path]:
    """`invoke db.revision --empty`; with ``parent``, made a child of that revision instead."""
    rev, path = written_revision(project.invoke("db.revision", "--empty", "-m", message).stdout)
    if parent is not None:
        source = path.read_text()
        source, count = re.subn(
            r'^(down_revision: .* = )"[0-9a-f]+"$', rf'\1"{parent}"', source, flags=re.MULTILINE
        )
        assert count == 1
        path.write_text(source)
    return rev, path


def fill_in(path: Path, upgrade: str, downgrade: str = "pass") -> None:
    """Replace the bodies of an empty revision's upgrade() and downgrade()."""
    source = path.read_text()
    body = "def upgrade() -> None:\n    pass\n"
    assert body in source, source
    source = source.replace(body, f"def upgrade() -> None:\n    {upgrade}\n")
    source = source.replace(
        "def downgrade() -> None:\n    pass\n", f"def downgrade() -> None:\n    {downgrade}\n"
    )
    path.write_text(source)


# -- 11: a hand-written revision works as written -----------------------------------------------


def test_an_empty_revision_keeps_its_imports_for_the_hand_written_part(
    project: Project, database: str
) -> None:
    """The ruff hook run on a new revision used to remove the unused `op` and `sa` imports of an
    empty one, so that the first `op.execute(...)` written into it failed with a NameError."""
    project.invoke("db.init")
    rev, path = empty_revision(project, "backfill names")
    source = path.read_text()
    assert "from alembic import op" in source
    assert "import sqlalchemy as sa" in source
    fill_in(
        path,
        "op.execute(sa.text(\"UPDATE users SET display_name = 'x' WHERE display_name = ''\"))",
    )
    migrated = project.invoke("db.migrate")
    assert f"-> {rev}, backfill names" in migrated.stderr
    # The project stays lint-clean, the revision's imports used or not.
    project.run(sys.executable, "-m", "ruff", "check", ".")
    empty_revision(project, "left empty")
    project.run(sys.executable, "-m", "ruff", "check", ".")
    project.run(sys.executable, "-m", "ruff", "format", "--check", ".")


# -- 1: merges -----------------------------------------------------------------------------------

MODEL = '''
"""{doc}"""

from __future__ import annotations

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base


class {cls}(Base):
    __tablename__ = "{table}"

    id: Mapped[int] = mapped_column(primary_key=True)
    body: Mapped[str] = mapped_column(String(200))
'''

CREATE_TABLE = (
    'op.create_table("{table}", sa.Column("id", sa.Integer(), nullable=False), '
    'sa.Column("body", sa.String(length=200), nullable=False), '
    'sa.PrimaryKeyConstraint("id", name=op.f("pk_{table}")))'
)


def two_branches_merged(project: Project) -> tuple[str, str, str]:
    """Two revisions written on two branches from the example revision (each adding a table
    and its model), joined by `invoke db.merge`: (branch a, branch b, merge)."""
    models = project.path / "src" / project.package / "models"
    revisions = []
    for cls, table in (("Note", "notes"), ("Tag", "tags")):
        (models / f"{table}.py").write_text(MODEL.format(doc=f"{cls}s.", cls=cls, table=table))
        rev, path = empty_revision(project, f"add {table}", parent="0d848db94cb2")
        fill_in(path, CREATE_TABLE.format(table=table), f'op.drop_table("{table}")')
        revisions.append(rev)
    init = models / "__init__.py"
    init.write_text(
        init.read_text()
        .replace(
            "from .user import User\n",
            "from .notes import Note\nfrom .tags import Tag\nfrom .user import User\n",
        )
        .replace(
            '__all__ = ["Base", "Country", "User"]',
            '__all__ = ["Base", "Country", "Note", "Tag", "User"]',
        )
    )
    heads = project.invoke("db.heads").stdout
    assert all(rev in heads for rev in revisions), heads
    merge, _ = written_revision(project.invoke("db.merge", "-m", "join branches").stdout)
    return revisions[0], revisions[1], merge


def current(project: Project) -> set[str]:
    return set(re.findall(r"^([0-9a-f]{12}) ", project.invoke("db.current").stdout, re.MULTILINE))


def test_the_generated_suite_walks_a_merge(
    project: Project, database: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """After `invoke db.merge` the generated stairway test failed for good ("Ambiguous walk")."""
    project.invoke("db.init")
    *_, merge = two_branches_merged(project)
    project.invoke("db.migrate")
    assert current(project) == {merge}
    suite_database = (
        f"sqlite:///{tmp_path / 'suite_test.sqlite3'}"
        if database.startswith("sqlite")
        else with_database(database, f"{make_url(database).database}_suite")
    )
    try:
        result = project.run(
            sys.executable,
            *("-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist"),
            "tests/test_migrations.py",
            env={"TEST_DATABASE_URL": suite_database},
            check=False,
        )
    finally:
        if not database.startswith("sqlite"):
            admin = request.getfixturevalue("admin_url")
            name = make_url(suite_database).database
            admin_sql(
                admin,
                *(
                    f'DROP DATABASE IF EXISTS "{name}{suffix}" WITH (FORCE)'
                    for suffix in ("", "_scratch")
                ),
            )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "4 passed" in result.stdout, result.stdout[-2000:]


def test_downgrade_at_a_merge_undoes_it_and_names_the_choices_below(
    project: Project, database: str
) -> None:
    """`invoke db.downgrade` at a merge failed with a bare "Ambiguous walk"."""
    project.invoke("db.init")
    a, b, merge = two_branches_merged(project)
    project.invoke("db.migrate")

    # One step back from the merge: the merge alone is undone, both branches stay.
    back = project.invoke("db.downgrade")
    assert f"Running downgrade {merge} -> " in back.stderr
    assert current(project) == {a, b}

    # One step further is ambiguous: which branch? One line naming both choices.
    refused = project.invoke("db.downgrade", check=False)
    assert refused.returncode == 1
    lines = refused.stderr.strip().splitlines()
    assert len(lines) == 1, refused.stderr
    assert f"--to {a}@-1" in lines[0]
    assert f"--to {b}@-1" in lines[0]
    assert current(project) == {a, b}, "the refused downgrade changed something"

    project.invoke("db.downgrade", "--to", f"{a}@-1")
    assert current(project) == {b}
    assert "notes" not in tables(project, database)
    assert "tags" in tables(project, database)

    # From the merge, two steps down cross it: refused, naming the merge and its parents.
    project.invoke("db.upgrade")
    assert current(project) == {merge}
    crossing = project.invoke("db.downgrade", "--to", "-2", check=False)
    assert crossing.returncode == 1
    assert merge in crossing.stderr
    assert f"--to {a}@-1" in crossing.stderr
    assert len(crossing.stderr.strip().splitlines()) == 1
    crossing = project.invoke("db.downgrade", "--to", f"{merge}-2", check=False)
    assert crossing.returncode == 1
    assert f"--to {b}@-1" in crossing.stderr
    # REV@-1 of the merge itself, and --to a parent, undo the merge alone.
    project.invoke("db.downgrade", "--to", f"{merge}@-1")
    assert current(project) == {a, b}
    project.invoke("db.upgrade")
    project.invoke("db.downgrade", "--to", b)
    assert current(project) == {a, b}
    project.invoke("db.downgrade", "--to", "base")
    assert current(project) == set()


def tables(project: Project, database: str) -> set[str]:
    import sqlalchemy as sa

    engine = sa.create_engine(database.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        return set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


# -- 3 and 13: offline SQL -----------------------------------------------------------------------


def apply_sql(database: str, sql: str) -> None:
    """Run a script of `invoke db.sql` on ``database``, as sqlite3 or psql would."""
    if database.startswith("sqlite:///"):
        with sqlite3.connect(database.removeprefix("sqlite:///")) as connection:
            connection.executescript(sql)
        return
    import psycopg

    with psycopg.connect(database, autocommit=True) as connection:
        connection.execute(sql)  # several statements, no parameters


def sqlite_schema(path: Path) -> dict[str, object]:
    """The definition of every table and index of a SQLite file, and its applied revisions.

    A definition's lines are compared in any order: batch mode writes a rebuilt table's
    constraints in an order that varies from one process to the next (hash seeds).
    """
    with sqlite3.connect(path) as connection:
        schema: dict[str, object] = {
            name: sorted(line.strip().rstrip(",").strip() for line in (sql or "").splitlines())
            for name, sql in connection.execute(
                "SELECT name, sql FROM sqlite_master WHERE tbl_name NOT IN "
                "('migration_ledger', 'lifecycle_environment', 'seed_ledger', 'seed_runs')"
            )
        }
        schema["alembic_version rows"] = connection.execute(
            "SELECT version_num FROM alembic_version"
        ).fetchall()
    return schema


AUDIT_UPGRADE = """op.execute("CREATE TABLE audit (email TEXT)")
    for name, suffix in (("audit", ""), ("audit_again", " || '!'")):
        op.execute(
            f"CREATE TRIGGER users_{name} AFTER INSERT ON users "
            f"BEGIN INSERT INTO audit VALUES (new.email{suffix}); END"
        )
    users = sa.table("users", sa.column("email"), sa.column("display_name"))
    op.bulk_insert(users, [{"email": "a@audit", "display_name": "it's"}])
    op.execute("INSERT INTO users (email, display_name) VALUES ('b@audit', 'B')")"""


def audit_rows(path: Path) -> list[str]:
    with sqlite3.connect(path) as connection:
        return sorted(row[0] for row in connection.execute("SELECT email FROM audit"))


@pytest.mark.sqlite
def test_offline_sql_on_sqlite_writes_batch_operations(
    project_copy: Callable[..., Project], tmp_path: Path
) -> None:
    """After the first column change (batch mode on SQLite) `invoke db.sql` exited 1."""
    migrated = tmp_path / "migrated.sqlite3"
    migrated.touch()
    project = project_copy("sqlite", f"sqlite:///{migrated}", in_process=True)
    project.invoke("db.init")
    user = project.path / "src" / project.package / "models" / "user.py"
    source = user.read_text()
    assert "display_name: Mapped[str] = mapped_column(String(100))" in source
    user.write_text(source.replace("String(100))", "String(150))", 1))
    project.invoke("db.migrate", "-m", "longer names")
    assert "batch_alter_table" in max(versions(project).glob("*.py")).read_text()

    upgrade = project.invoke("db.sql")
    assert "ALTER TABLE _alembic_tmp_users RENAME TO users" in upgrade.stdout
    replayed = tmp_path / "from_sql.sqlite3"
    apply_sql(f"sqlite:///{replayed}", upgrade.stdout)
    assert sqlite_schema(replayed) == sqlite_schema(migrated)

    # Rows written by a revision, into a table with triggers: each statement once.
    batch = max(versions(project).glob("*.py")).name.split("-")[1].split("_")[0]
    _, audit = empty_revision(project, "audit")
    fill_in(audit, AUDIT_UPGRADE, "op.execute(\"DELETE FROM users WHERE email LIKE '%@audit'\")")
    project.invoke("db.migrate")
    apply_sql(
        f"sqlite:///{replayed}", project.invoke("db.sql", "--revisions", f"{batch}:head").stdout
    )
    assert sqlite_schema(replayed) == sqlite_schema(migrated)
    assert (
        audit_rows(replayed)
        == audit_rows(migrated)
        == ["a@audit", "a@audit!", "b@audit", "b@audit!"]
    )

    # Down again, as SQL: the same schema as `invoke db.downgrade --to base`.
    downgrade = project.invoke("db.sql", "--revisions", "head:base")
    apply_sql(f"sqlite:///{replayed}", downgrade.stdout)
    project.invoke("db.downgrade", "--to", "base")
    assert sqlite_schema(replayed) == sqlite_schema(migrated)
    assert sqlite_schema(replayed)["alembic_version rows"] == []

    # The generated project's own offline-SQL test passes again.
    suite = project.run(
        sys.executable,
        *("-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist"),
        "tests/test_migrations.py::test_offline_sql_renders_every_revision",
        env={"TEST_DATABASE_URL": f"sqlite:///{tmp_path / 'suite_test.sqlite3'}"},
        check=False,
    )
    assert suite.returncode == 0, suite.stdout[-3000:]


def test_offline_sql_of_a_downgrade_range(project: Project, database: str) -> None:
    """`db.sql --revisions head:base` printed an empty transaction and exited 0."""
    project.invoke("db.init")
    assert {"countries", "users"} <= tables(project, database)
    downgrade = project.invoke("db.sql", "--revisions", "head:base")
    assert "DROP TABLE users" in downgrade.stdout
    apply_sql(database, downgrade.stdout)
    assert not {"countries", "users"} & tables(project, database)
    one = project.invoke("db.sql", "--revisions", "0d848db94cb2:base")
    assert one.stdout == downgrade.stdout

    empty = project.invoke("db.sql", "--revisions", "0d848db94cb2:0d848db94cb2", check=False)
    assert empty.returncode == 1
    assert empty.stderr.strip().splitlines() == [
        "db.sql: 0d848db94cb2:0d848db94cb2 holds no revision: nothing to write"
    ]


def test_offline_sql_names_a_revision_that_needs_a_live_database(
    project: Project, database: str
) -> None:
    """A revision using what op.get_bind() returns failed offline as `unexpected AttributeError`,
    naming no revision."""
    rev, path = empty_revision(project, "backfill from rows")
    fill_in(
        path,
        'count = op.get_bind().execute(sa.text("SELECT count(*) FROM users")).scalar()\n'
        '    op.execute(f"UPDATE users SET is_admin = false WHERE id > {count}")',
    )
    failed = project.invoke("db.sql", check=False)
    assert failed.returncode == 1
    lines = [line for line in failed.stderr.splitlines() if line.startswith("db.sql:")]
    assert len(lines) == 1, failed.stderr
    assert rev in lines[0]
    assert path.name in lines[0]
    assert "db.migrate" in lines[0]
    assert "Traceback" not in failed.stderr
    # Without it, the range before it is written.
    assert (
        "CREATE TABLE users" in project.invoke("db.sql", "--revisions", "base:0d848db94cb2").stdout
    )


# -- private Alembic API, and the public path that replaces it (issue 14, item 4) ---------------

# Runs in the project: upgrades a fresh database to the first branch, then to head, with the
# private Alembic methods allowed or (private=0) refused, and prints what that left as JSON.
_BOTH_PATHS = """
import contextlib, io, json, os, sys
import sqlalchemy as sa
from {package}.settings import PROJECT
from groundwork import commands, migrations, revision_files
from groundwork.errors import describe
from groundwork.settings import load_settings

private = sys.argv[1] == "1"
if not private:
    revision_files.private_alembic = lambda *args: None  # the guard says: untested release
from alembic.script import ScriptDirectory
assert (revision_files.private_alembic(ScriptDirectory, "_upgrade_revs",
        ["self", "destination", "current_rev"]) is not None) == private
os.environ["DATABASE_URL"] = sys.argv[2]
log = io.StringIO()
with contextlib.redirect_stdout(log):
    commands.upgrade("{first}")
    commands.upgrade("head")
scripts = migrations.script_directory(load_settings())
engine = sa.create_engine(sys.argv[2])
inspector = sa.inspect(engine)
schema = {{
    table: [
        [[c["name"], str(c["type"]), c["nullable"]] for c in inspector.get_columns(table)],
        sorted(i["name"] or "" for i in inspector.get_indexes(table)),
        sorted(f["referred_table"] for f in inspector.get_foreign_keys(table)),
    ]
    for table in sorted(inspector.get_table_names())
}}
with engine.connect() as connection:
    applied = sorted(r[0] for r in connection.exec_driver_sql("SELECT * FROM alembic_version"))
engine.dispose()
# Broken revision files: each path must give the same one line.
versions = scripts.versions
faults = {{}}
for name, text in (
    ("dup.py", open(scripts.get_revision("{first}").path).read()),
    ("dangling.py", 'revision = "feed00000001"\\ndown_revision = "f00f00000000"\\n'),
):
    path = os.path.join(versions, name)
    with open(path, "w") as file:
        file.write(text)
    try:
        migrations.script_directory(load_settings())
        faults[name] = "no error"
    except Exception as exc:
        faults[name] = describe(exc)
    finally:
        os.remove(path)
print(json.dumps({{
    "schema": schema,
    "applied": applied,
    "revisions": [[s.revision, s.path, s.down_revision] for s in scripts.walk_revisions()],
    "heads": sorted(scripts.get_heads()),
    "said": log.getvalue(),
    "faults": faults,
}}))
"""


def test_the_private_and_public_alembic_paths_give_the_same_results(
    project: Project, database: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """``_upgrade_revs`` and ``_load_revisions`` are private: used on tested Alembic releases
    only (revision_files.private_alembic), the public path otherwise. On the installed release
    the private path is the one taken, and both leave the same database and read the same files
    (a merge of two branches, a duplicate id, a dangling down_revision)."""
    import json

    a, _, merge = two_branches_merged(project)
    if database.startswith("sqlite"):
        second = f"sqlite:///{tmp_path / 'public.sqlite3'}"
    else:
        from tests.support import create_pg_database, drop_pg_database

        admin = request.getfixturevalue("admin_url")
        second = create_pg_database(admin)
        request.addfinalizer(lambda: drop_pg_database(admin, second))
    found = {}
    for private, url in (("1", database), ("0", second)):
        code = _BOTH_PATHS.format(package=project.package, first=a)
        out = project.run(sys.executable, "-c", code, private, url).stdout
        found[private] = json.loads(out.strip().splitlines()[-1])
    fast, public = found["1"], found["0"]
    assert fast["applied"] == [merge]
    assert fast["heads"] == [merge]
    assert {"notes", "tags", "users"} <= set(fast["schema"])
    assert "two revision files have the revision id" in fast["faults"]["dup.py"]
    assert "down_revision 'f00f00000000' names no revision file" in fast["faults"]["dangling.py"]
    assert public == fast
