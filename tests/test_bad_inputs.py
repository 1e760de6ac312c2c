"""A catalogue of bad inputs across the tasks (issue 5): each gives one clear line on stderr
naming the bad value, a non-zero exit, no traceback, never a password, and loses nothing."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from tests.lifecycle_support import INITIAL, query, versions_dir
from tests.support import Project, create_pg_database, drop_pg_database, sqlite_url

SECRET = "pw_S3CRET_x"


@dataclass(frozen=True)
class Case:
    id: str
    args: tuple[str, ...]
    expect: str  # the bad value (or what is wrong) the one line must name
    env: dict[str, str] = field(default_factory=dict)
    setup: str | None = None  # name of a file-system change made before, undone after


CASES = [
    Case("not-a-url", ("db.status",), "is not a database URL", {"DATABASE_URL": f"user:{SECRET}"}),
    Case("unknown-scheme", ("db.migrate",), "'mysql'", {"DATABASE_URL": f"mysql://u:{SECRET}@h/d"}),
    Case(
        "port-not-number",
        ("db.init",),
        "port that is not a number",
        {"DATABASE_URL": f"postgresql://u:{SECRET}@localhost:abc/d"},
    ),
    Case(
        "unreachable-server",
        ("db.migrate",),
        "127.0.0.1",
        {"DATABASE_URL": f"postgresql://u:{SECRET}@127.0.0.1:1/d"},
    ),
    Case(
        "unreachable-with-wait",
        ("db.init", "--wait", "1"),
        "did not accept connections in 1 s",
        {"DATABASE_URL": f"postgresql://u:{SECRET}@127.0.0.1:1/d"},
    ),
    Case("unknown-upgrade-target", ("db.upgrade", "--to", "feedface0000"), "'feedface0000'"),
    Case("unknown-downgrade-target", ("db.downgrade", "--to", "feedface0000"), "'feedface0000'"),
    Case(
        "unknown-stamp-target", ("db.stamp", "feedface0000", "--force", "--yes"), "'feedface0000'"
    ),
    Case("unknown-sql-revision", ("db.sql", "--revisions", "feedface0000"), "'feedface0000'"),
    Case("empty-revision-message", ("db.revision", "-m", " "), "needs a message"),
    Case("missing-backup", ("db.restore", "backups/nope.dump"), "'backups/nope.dump' not found"),
    Case("not-a-backup", ("db.restore", "pyproject.toml"), "pyproject.toml"),
    Case(
        "backup-dir-is-a-file",
        ("db.backup",),
        "pyproject.toml/backups",
        {"BACKUP_DIR": "pyproject.toml/backups"},
    ),
    Case("lock-timeout-not-number", ("db.migrate", "--lock-timeout", "soon"), "'soon'"),
    Case("wait-negative", ("db.init", "--wait", "-5"), "'-5'"),
    Case(
        "pg-lock-wait-setting-bad",
        ("db.upgrade",),
        "MIGRATION_LOCK_WAIT='forever'",
        {"MIGRATION_LOCK_WAIT": "forever"},
    ),
    Case("production-drop", ("db.drop",), "APP_ENV=production", {"APP_ENV": "production"}),
    Case(
        "production-reset-no-yes",
        ("db.reset", "--force"),
        "--force --yes",
        {"APP_ENV": "production"},
    ),
    Case("staging-on-development-db", ("db.downgrade",), "'development'", {"APP_ENV": "staging"}),
    Case(
        "remote-host-restore",
        ("db.restore", "x.dump"),
        "'db.example.invalid'",
        {"DATABASE_URL": f"postgresql://u:{SECRET}@db.example.invalid/d"},
    ),
    Case("corrupt-revision-file", ("db.migrate",), "broken_rev.py", setup="corrupt"),
    Case("edited-applied-revision", ("db.check",), "was edited", setup="edit"),
    Case("deleted-applied-revision", ("db.status",), INITIAL, setup="delete"),
    Case("failing-revision", ("db.migrate",), "eeee00000001", setup="failing"),
    Case("pg-wrong-role", ("db.status",), "nobody_x", {"DATABASE_URL": "ROLE_URL"}),
    Case("pg-missing-database", ("db.status",), "gw_missing_db", {"DATABASE_URL": "MISSING_URL"}),
    Case(
        "pg-dump-not-in-bin-dir",
        ("db.backup",),
        "POSTGRES_BIN_DIR=/nonexistent",
        {"POSTGRES_BIN_DIR": "/nonexistent"},
    ),
    Case(
        "pg-no-pg-dump-on-path",
        ("db.backup",),
        "pg_dump not found",
        {"PATH": "/nonexistent", "FLAVOUR": "sqlite"},
    ),
    Case(
        "pg-bad-migration-lock-timeout",
        ("db.migrate",),
        "'banana'",
        {"MIGRATION_LOCK_TIMEOUT": "banana"},
    ),
    Case("pg-restore-sqlite-file", ("db.restore", "pyproject.toml"), "pyproject.toml"),
]


@dataclass
class Target:
    project: Project
    url: str
    other: Project  # the other flavour's bake, same database (no embedded binaries for sqlite)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    # Every case on both backends, except the PostgreSQL-only ones (named pg-...).
    combos = [
        (flavour, case)
        for flavour in ("sqlite", "postgresql")
        for case in CASES
        if flavour == "postgresql" or not case.id.startswith("pg-")
    ]
    metafunc.parametrize(
        ("target", "case"),
        combos,
        indirect=["target"],
        ids=[f"{flavour}-{case.id}" for flavour, case in combos],
        scope="module",
    )


@pytest.fixture(scope="module")
def target(
    request: pytest.FixtureRequest,
    baked: dict[str, Path],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Target]:
    root = tmp_path_factory.mktemp(f"bad-{request.param}")
    if request.param == "sqlite":
        url = sqlite_url(root / "db.sqlite3")
    else:
        admin = request.getfixturevalue("admin_url")
        url = create_pg_database(admin)
    # invoke in this process (tests/kit/cli.py): one start-up saved per case.
    project = Project.copy_of(
        baked[request.param], root / "project", database_url=url, in_process=True
    )
    other = "postgresql" if request.param == "sqlite" else "sqlite"
    other_project = Project.copy_of(baked[other], root / "other", database_url=url, in_process=True)
    project.invoke("db.init")
    yield Target(project, url, other_project)
    if request.param == "postgresql":
        drop_pg_database(request.getfixturevalue("admin_url"), url)


def test_bad_input(target: Target, case: Case) -> None:
    project = target.other if case.env.get("FLAVOUR") == "sqlite" else target.project
    env = {k: v for k, v in case.env.items() if k != "FLAVOUR"}
    if env.get("DATABASE_URL") == "ROLE_URL":
        url = make_url(target.url).set(username="nobody_x", password=SECRET)
        env["DATABASE_URL"] = url.render_as_string(hide_password=False)
    if env.get("DATABASE_URL") == "MISSING_URL":
        env["DATABASE_URL"] = (
            target.url.rsplit("/", 1)[0]
            + "/gw_missing_db"
            + ("?" + target.url.split("?", 1)[1] if "?" in target.url else "")
        )
    if "PATH" in env:
        env["PATH"] = str(Path(sys.executable).parent / "nonexistent")
    before = _rows(target.url)
    with _BrokenRevisions(project, case.setup):
        result = project.invoke(*case.args, env=env, check=False)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    shown = result.stdout + result.stderr
    assert result.returncode != 0, shown
    assert "Traceback" not in shown
    assert SECRET not in shown
    assert len(lines) == 1 or (case.setup == "failing" and "Running upgrade" in lines[0]), lines
    assert lines[-1].startswith("db."), lines
    assert case.expect in lines[-1], lines[-1]
    assert _rows(target.url) == before  # nothing lost


def _rows(url: str) -> object:
    return (
        query(url, "SELECT version_num FROM alembic_version"),
        query(url, "SELECT count(*) FROM countries"),
        query(url, "SELECT count(*) FROM users"),
    )


class _BrokenRevisions:
    """Break the project's revision files for one case; put them back afterwards."""

    def __init__(self, project: Project, kind: str | None) -> None:
        self.project, self.kind = project, kind
        self.saved = versions_dir(project).parent / "versions.saved"

    def __enter__(self) -> None:
        if self.kind is None:
            return
        versions = versions_dir(self.project)
        shutil.copytree(versions, self.saved)
        (initial,) = versions.glob(f"*{INITIAL}*.py")
        if self.kind == "corrupt":
            (versions / "broken_rev.py").write_text("revision = 'x'\ndef upgrade(:\n")
        elif self.kind == "edit":
            initial.write_text(initial.read_text() + "\n# edited\n")
        elif self.kind == "delete":
            initial.unlink()
        elif self.kind == "failing":
            (versions / "eeee00000001_fail.py").write_text(
                "from alembic import op\n"
                f"revision = 'eeee00000001'\ndown_revision = '{INITIAL}'\n"
                "branch_labels = None\ndepends_on = None\n"
                "def upgrade() -> None:\n"
                "    op.execute('DELETE FROM countries')\n"
                "    op.execute('SELECT * FROM no_such_table')\n"
                "def downgrade() -> None:\n    pass\n"
            )

    def __exit__(self, *_: object) -> None:
        if self.kind is None:
            return
        versions = versions_dir(self.project)
        shutil.rmtree(versions)
        self.saved.rename(versions)
