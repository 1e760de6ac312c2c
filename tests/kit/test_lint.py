"""`invoke db.lint`: each revision's SQL linted by squawk for operations that lock a busy table.

Hand-written revisions in their naive form (flagged: file, operation, why, safe form) and in
the safe form squawk recommends (not flagged); acknowledgements per revision; db.check on a
pending revision; the warning on a revision just written; configuration errors; SQLite; squawk
missing. In-process on a real PostgreSQL (tests/kit/harness.py).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.kit.harness import KitProject
from tests.lifecycle_support import INITIAL, add_revision

NAIVE = {
    "require-concurrent-index-creation": (
        'op.create_index("ix_users_display_name", "users", ["display_name"])',
        "CREATE INDEX ix_users_display_name ON users (display_name)",
    ),
    "adding-foreign-key-constraint": (
        'op.create_foreign_key("fk_users_owner", "users", "countries", ["country_id"], ["id"])',
        "ALTER TABLE users ADD CONSTRAINT fk_users_owner FOREIGN KEY",
    ),
    "adding-field-with-default": (
        'op.add_column("users", sa.Column("token", sa.Uuid(), '
        'server_default=sa.text("gen_random_uuid()"), nullable=False))',
        "ALTER TABLE users ADD COLUMN token UUID DEFAULT gen_random_uuid() NOT NULL",
    ),
    "disallowed-unique-constraint": (
        'op.create_unique_constraint("uq_users_display_name", "users", ["display_name"])',
        "ALTER TABLE users ADD CONSTRAINT uq_users_display_name UNIQUE (display_name)",
    ),
    "constraint-missing-not-valid": (
        'op.create_check_constraint("email_set", "users", "email <> \'\'")',
        "ALTER TABLE users ADD CONSTRAINT ck_users_email_set CHECK (email <> '')",
    ),
}

# The safe forms, as squawk recommends them: indexes built CONCURRENTLY (IF NOT EXISTS: a
# rerun after a failure) outside the transaction; constraints added NOT VALID, validated in a
# transaction of their own (the next revision); UNIQUE from a concurrent index; NOT NULL from a
# validated CHECK.
SAFE_ADD = """
with op.get_context().autocommit_block():
    op.create_index("ix_users_display_name", "users", ["display_name"],
                    postgresql_concurrently=True, if_not_exists=True)
op.execute("ALTER TABLE users ADD CONSTRAINT fk_users_owner FOREIGN KEY (country_id) "
           "REFERENCES countries (id) NOT VALID")
op.execute("ALTER TABLE users ADD CONSTRAINT ck_users_email_set CHECK (email <> '') NOT VALID")
op.add_column("users", sa.Column("token", sa.Uuid(), nullable=True))
op.execute("ALTER TABLE users ADD CONSTRAINT ck_users_token_set CHECK (token IS NOT NULL) "
           "NOT VALID")
with op.get_context().autocommit_block():
    op.create_index("uq_users_display_name", "users", ["display_name"], unique=True,
                    postgresql_concurrently=True, if_not_exists=True)
op.execute("ALTER TABLE users ADD CONSTRAINT uq_users_display_name "
           "UNIQUE USING INDEX uq_users_display_name")
"""
SAFE_VALIDATE = """
op.execute("ALTER TABLE users VALIDATE CONSTRAINT fk_users_owner")
op.execute("ALTER TABLE users VALIDATE CONSTRAINT ck_users_email_set")
op.execute("UPDATE users SET token = gen_random_uuid() WHERE token IS NULL")
op.execute("ALTER TABLE users VALIDATE CONSTRAINT ck_users_token_set")
op.alter_column("users", "token", nullable=False)
op.drop_constraint("ck_users_token_set", "users")
"""


@pytest.fixture
def project(kit_project: Callable[[str, str], KitProject], pg_url: str) -> KitProject:
    return kit_project("postgresql", pg_url)


def acknowledge(path: Path, acknowledged: dict[str, str]) -> None:
    path.write_text(f"{path.read_text()}\nsquawk_acknowledged = {acknowledged!r}\n")


def test_each_naive_operation_is_flagged_with_file_operation_reason_and_safe_form(
    project: KitProject,
) -> None:
    revision = INITIAL
    files = {}
    for number, (rule, (body, _)) in enumerate(NAIVE.items(), 1):
        rev = f"aaaa0000000{number}"
        files[rule] = add_revision(project, rev, revision, body).name
        revision = rev
    result = project.invoke("lint", everything=True, check=False)
    assert result.returncode == 1, result.stdout + result.stderr
    fails = [line for line in result.stdout.splitlines() if line.startswith("FAIL ")]
    for rule, (_, operation) in NAIVE.items():
        # The revision file, and squawk's rule.
        line = next((f for f in fails if f"({rule})" in f and files[rule] in f), None)
        assert line is not None, (rule, result.stdout)
        assert operation in line, line  # the statement
        assert "lock" in line.lower() or "block" in line.lower(), line  # why, in squawk's words
        assert "; safe form: " in line, line
    index = next(f for f in fails if "(require-concurrent-index-creation)" in f)
    assert "concurrently" in index.lower(), index
    # The example revision lints clean: its findings are acknowledged there, with reasons;
    # the index on a table it creates is no finding at all (squawk: same transaction).
    assert "0d848db94cb2_countries_and_users.py" not in "".join(fails)
    assert "require-concurrent-index-creation" not in result.stdout.split("FAIL")[0]
    assert "acknowledged " in result.stdout
    assert "countries holds about 250 rows" in result.stdout
    assert "5 unacknowledged findings" not in result.stderr
    assert "unacknowledged finding" in result.stderr
    assert "squawk_acknowledged" in result.stderr


def test_the_safe_forms_are_not_flagged(project: KitProject) -> None:
    add_revision(project, "bbbb00000001", INITIAL, SAFE_ADD)
    validate = add_revision(project, "bbbb00000002", "bbbb00000001", SAFE_VALIDATE)
    # The helper CHECK of NOT NULL goes once NOT NULL holds: a drop squawk always names.
    acknowledge(validate, {"ban-drop-constraint": "ck_users_token_set: NOT NULL replaces it"})
    result = project.invoke("lint", everything=True)
    assert "FAIL" not in result.stdout, result.stdout
    assert "OK: 3 revisions linted, no unacknowledged finding" in result.stdout, result.stdout
    assert "ban-drop-constraint (1 time): ck_users_token_set" in result.stdout, result.stdout


def test_an_acknowledgement_silences_its_rule_in_its_revision_only(project: KitProject) -> None:
    index, fk = (
        NAIVE["require-concurrent-index-creation"][0],
        NAIVE["adding-foreign-key-constraint"][0],
    )
    first = add_revision(project, "cccc00000001", INITIAL, f"{index}\n{fk}")
    second = add_revision(
        project,
        "cccc00000002",
        "cccc00000001",
        'op.create_index("ix_users_email_name", "users", ["email", "display_name"])',
    )
    acknowledge(first, {"require-concurrent-index-creation": "users holds 40 rows here"})
    result = project.invoke("lint", everything=True, check=False)
    fails = [line for line in result.stdout.splitlines() if line.startswith("FAIL ")]
    assert not [f for f in fails if first.name in f and "(require-concurrent-index" in f], fails
    assert [f for f in fails if first.name in f and "(adding-foreign-key-constraint)" in f], fails
    assert [f for f in fails if second.name in f and "(require-concurrent-index" in f], fails
    assert f"acknowledged src/my_service/migrations/versions/{first.name}: " in result.stdout


def test_a_revision_that_reads_the_database_is_named_the_others_linted(
    project: KitProject,
) -> None:
    add_revision(project, "hhhh00000001", INITIAL, NAIVE["require-concurrent-index-creation"][0])
    reads = add_revision(
        project,
        "hhhh00000002",
        "hhhh00000001",
        'op.get_bind().execute(sa.text("SELECT count(*) FROM users")).scalar()',
    )
    add_revision(project, "hhhh00000003", "hhhh00000002", NAIVE["disallowed-unique-constraint"][0])
    result = project.invoke("lint", everything=True, check=False)
    assert f"note: {reads.relative_to(project.path)} not linted: revision hhhh00000002" in (
        result.stdout
    ), result.stdout
    assert "hhhh00000001_test.py: CREATE INDEX" in result.stdout
    assert "hhhh00000003_test.py: ALTER TABLE users ADD CONSTRAINT" in result.stdout


def test_both_branches_of_two_heads_are_linted(project: KitProject) -> None:
    index = NAIVE["require-concurrent-index-creation"][0]
    left = add_revision(project, "iiii00000001", INITIAL, index)
    right = add_revision(project, "jjjj00000001", INITIAL, index.replace("display_name", "email"))
    project.invoke("upgrade", INITIAL)
    for everything in (True, False):
        result = project.invoke("lint", everything=everything, check=False)
        assert f"{left.name}: CREATE INDEX ix_users_display_name" in result.stdout, result.stdout
        assert f"{right.name}: CREATE INDEX ix_users_email" in result.stdout, result.stdout


def test_db_lint_lints_only_pending_revisions(project: KitProject) -> None:
    project.invoke("upgrade", INITIAL)
    assert "OK: no pending revision to lint" in project.invoke("lint").stdout
    add_revision(project, "dddd00000001", INITIAL, NAIVE["require-concurrent-index-creation"][0])
    result = project.invoke("lint", check=False)
    assert result.returncode == 1
    assert "dddd00000001_test.py" in result.stdout
    assert "countries_and_users" not in result.stdout  # applied: not linted again


def test_db_check_fails_on_a_pending_unacknowledged_finding(project: KitProject) -> None:
    project.invoke("init")
    # A CHECK constraint: a finding that leaves no drift once applied (autogenerate compares none).
    check = (
        "op.execute(\"ALTER TABLE users ADD CONSTRAINT ck_users_email_set CHECK (email <> '')\")"
    )
    path = add_revision(project, "eeee00000001", INITIAL, check)
    result = project.invoke("check", check=False)
    assert result.returncode == 1
    lint_lines = [line for line in (result.stdout + result.stderr).splitlines() if "lint: " in line]
    assert any(
        "(constraint-missing-not-valid)" in line and path.name in line for line in lint_lines
    )
    acknowledge(
        path, {"constraint-missing-not-valid": "users holds 12 rows: scanned in a millisecond"}
    )
    result = project.invoke("check", check=False)
    assert "lint: " not in result.stdout + result.stderr, result.stdout + result.stderr
    assert "not at head" in result.stderr  # pending still: db.check's own failure
    project.invoke("migrate")
    assert "OK: " in project.invoke("check").stdout


def test_acknowledging_an_applied_revision_is_no_edit_of_it(project: KitProject) -> None:
    """The ledger's checksum leaves the acknowledgement out: CI's `db.lint --all` may ask for one
    in a revision every database applied long ago."""
    check = (
        "op.execute(\"ALTER TABLE users ADD CONSTRAINT ck_users_email_set CHECK (email <> '')\")"
    )
    path = add_revision(project, "gggg00000001", INITIAL, check)
    project.invoke("migrate")
    original = path.read_text()
    after_identifiers = original.replace(
        "depends_on = None\n",
        'depends_on = None\n\nsquawk_acknowledged = {\n    # reviewed\n    "constraint-missing-not-'
        'valid": "users holds 12 rows",\n}\n',
    )
    for acknowledged in (after_identifiers, f"{original}\n\nsquawk_acknowledged = {{}}\n"):
        path.write_text(acknowledged)
        result = project.invoke("check", check=False)
        assert result.returncode == 0, result.stdout + result.stderr
    path.write_text(after_identifiers.replace("<> ''", "<> 'x'"))  # what runs: an edit
    result = project.invoke("check", check=False)
    assert "applied revision gggg00000001" in result.stderr, result.stderr


def test_a_revision_just_written_is_linted_with_a_warning(project: KitProject) -> None:
    # A team's revision template that starts every revision with a naive index.
    mako = project.path / "src" / project.package / "migrations" / "script.py.mako"
    mako.write_text(
        mako.read_text().replace(
            '${upgrades if upgrades else "pass"}',
            'op.create_index("ix_users_display_name", "users", ["display_name"])',
        )
    )
    result = project.invoke("revision", "add an index", empty=True)
    assert result.returncode == 0  # a draft: warned about, not refused
    warnings = [line for line in result.stderr.splitlines() if line.startswith("WARNING")]
    assert any("(require-concurrent-index-creation)" in w and "add_an_index" in w for w in warnings)
    assert any("squawk_acknowledged" in w for w in warnings), result.stderr


@pytest.mark.parametrize(
    ("pyproject", "expected"),
    [
        ("[tool.groundwork.lint]\nexclud = []\n", "unknown key 'exclud'"),
        (
            '[tool.groundwork.lint]\nexclude = ["no-such-rule"]\n',
            "squawk has no rule 'no-such-rule'",
        ),
        ('[tool.groundwork.lint]\nexclude = "ban-drop-column"\n', "exclude must be a list"),
        ('[tool.groundwork.lint]\npg_version = "fifteen"\n', "pg_version must be a version"),
    ],
)
def test_configuration_errors_name_what_is_wrong(
    project: KitProject, pyproject: str, expected: str
) -> None:
    path = project.path / "pyproject.toml"
    text = path.read_text()
    start = text.index("[tool.groundwork.lint]")
    end = text.index("\n[", start + 1)
    path.write_text(text[:start] + pyproject + text[end:])
    result = project.invoke("lint", everything=True, check=False)
    assert result.returncode == 1
    assert expected in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_acknowledgement_errors_name_the_revision(project: KitProject) -> None:
    path = add_revision(project, "ffff00000001", INITIAL, "pass")
    acknowledge(path, {"no-such-rule": "because"})
    line = project.invoke("lint", everything=True, check=False).stderr
    assert "ffff00000001_test.py" in line
    assert "'no-such-rule', which is no squawk rule" in line
    path.write_text(path.read_text().replace("'because'", "'  '"))
    line = project.invoke("lint", everything=True, check=False).stderr
    assert "squawk_acknowledged['no-such-rule'] needs a reason" in line, line


def test_an_unused_acknowledgement_is_noted(project: KitProject) -> None:
    path = add_revision(project, "ffff00000002", INITIAL, "pass")
    acknowledge(path, {"ban-drop-column": "no column dropped here after all"})
    result = project.invoke("lint", everything=True)
    assert f"{path.name} acknowledges ban-drop-column, which squawk does not find" in result.stdout


def test_sqlite_says_in_one_line_that_the_rules_do_not_apply(
    kit_project: Callable[[str, str], KitProject], tmp_path: Path
) -> None:
    project = kit_project("sqlite", f"sqlite:///{tmp_path / 'lint.sqlite3'}")
    result = project.invoke("lint", everything=True)
    assert result.stdout.strip().splitlines() == [
        "Nothing to lint on SQLite: squawk's rules are PostgreSQL's lock rules (SQLite locks the "
        "whole database for any write)"
    ]


def test_squawk_missing_is_one_line_naming_the_package(
    project: KitProject, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))
    monkeypatch.setenv("PATH", str(tmp_path))
    result = project.invoke("lint", everything=True, check=False)
    assert result.returncode == 1
    assert "squawk is not installed" in result.stderr
    assert "pip install squawk-cli" in result.stderr
