"""The generated README.md and docs/database.md against the tasks they document.

- Every task ``invoke --list`` shows is mentioned in both files, and every ``db.X`` they
  mention exists.
- Every ``invoke`` (and ``alembic``) command shown in them runs, with its placeholders filled
  in, on a database initialized the way the docs say: one test per command and flavour, each on
  its own copy of an initialized database (a file copy on SQLite, ``CREATE DATABASE ...
  TEMPLATE`` on PostgreSQL), so that a destructive command cannot disturb another.
"""

from __future__ import annotations

import re
import shlex
import shutil
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cookiecutter.environment import StrictEnvironment
from cookiecutter.generate import generate_context
from cookiecutter.prompt import prompt_for_config

from tests.grants_support import Roles, teardown
from tests.lifecycle_support import INITIAL, add_revision
from tests.support import (
    FLAVOURS,
    REPO,
    Project,
    admin_sql,
    create_pg_database,
    drop_pg_database,
    sqlite_url,
    with_database,
)

DOCUMENTS = ("README.md", "docs/database.md")
TEMPLATE = REPO / "{{cookiecutter.project_slug}}"


def rendered(document: str, flavour: str) -> str:
    """``document`` as a bake with the default answers renders it, without baking."""
    context = generate_context(
        context_file=str(REPO / "cookiecutter.json"), extra_context=FLAVOURS[flavour]
    )
    context["cookiecutter"] = prompt_for_config(context, no_input=True)
    environment = StrictEnvironment(context=context, keep_trailing_newline=True)
    rendered: str = environment.from_string((TEMPLATE / document).read_text()).render(**context)
    return rendered


# -- every task documented, every documented task real -------------------------------------


@pytest.mark.parametrize("flavour", list(FLAVOURS))
@pytest.mark.parametrize("document", DOCUMENTS)
def test_tasks_and_docs_mention_each_other(
    baked: dict[str, Path], flavour: str, document: str, tmp_path: Path
) -> None:
    project = Project.copy_of(baked[flavour], tmp_path / "p")
    listed = set(re.findall(r"^\s+(db\.[a-z_]+)", project.invoke("--list").stdout, re.MULTILINE))
    assert len(listed) >= 20, listed
    text = (project.path / document).read_text()
    # db.X, but not in a host name (db.example.com) or a module path (..db.seeding).
    mentioned = set(re.findall(r"(?<![\w.@])db\.([a-z_]+)\b(?!\.)", text))
    mentioned = {f"db.{name}" for name in mentioned}
    assert listed - mentioned == set(), f"{document} does not mention these tasks"
    assert mentioned - listed == set(), f"{document} mentions tasks that do not exist"


# -- every documented command runs ---------------------------------------------------------

# What the docs write for a value the reader supplies, and what the test supplies.
PLACEHOLDERS = {
    "PREV:NEW": f"base:{INITIAL}",
    "A:B": f"base:{INITIAL}",
    "REV": INITIAL,
    "MSG": '"docs example"',
    '"..."': '"docs example"',
    "NAME": "countries",
    "db.TASK": "db.status",
    "=...": "=Docs-example-1",
}
# Tasks that only exist on PostgreSQL: on SQLite they must refuse in one clear line (except
# --print, which shows the SQL without a database).
POSTGRESQL_ONLY = {"db.grant"}


def documented_commands(flavour: str) -> list[str]:
    """The ``invoke``/``alembic`` commands of both documents: ``[optional]`` parts expanded,
    placeholders filled in, each once."""
    found: list[str] = []
    for document in DOCUMENTS:
        text = rendered(document, flavour)
        candidates = re.findall(r"`((?:[A-Z_]+=\S+ )*(?:invoke|alembic) [^`\n]+)`", text)
        for block in re.findall(r"```(?:bash|sh)\n(.*?)```", text, re.DOTALL):
            for line in block.splitlines():
                command = line.split(" #", 1)[0].strip()
                if re.match(r"^(?:[A-Z_]+=\S+ )*(?:invoke|alembic) ", command):
                    candidates.append(command)
        for candidate in candidates:
            for command in _expanded(candidate):
                for placeholder, value in PLACEHOLDERS.items():
                    command = command.replace(placeholder, value)
                if command not in found:
                    found.append(command)
    return found


def _expanded(command: str) -> list[str]:
    """``invoke db.x [--a A] [--b]`` -> the bare command and one per optional part."""
    optional = re.findall(r" \[([^\]]+)\]", command)
    bare = re.sub(r" \[[^\]]+\]", "", command)
    return [bare, *(f"{bare} {part}" for part in optional)]


@dataclass
class Initialized:
    """A baked project whose database db.init brought to head and seeded; a template."""

    project: Project
    url: str
    admin: str | None


@pytest.fixture(scope="module")
def initialized(
    request: pytest.FixtureRequest, baked: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Initialized]]:
    made: dict[str, Initialized] = {}

    class Made(dict[str, Initialized]):
        def __missing__(self, flavour: str) -> Initialized:
            folder = tmp_path_factory.mktemp(f"docs-{flavour}")
            if flavour == "sqlite":
                url, admin = sqlite_url(folder / "template.sqlite3"), None
            else:
                admin = request.getfixturevalue("admin_url")
                url = create_pg_database(admin)
            project = Project.copy_of(
                baked[flavour], folder / "project", database_url=url, in_process=True
            )
            project.invoke("db.init")
            made[flavour] = self[flavour] = Initialized(project, url, admin)
            return self[flavour]

    yield Made()
    for state in made.values():
        if state.admin:
            drop_pg_database(state.admin, state.url)


@pytest.fixture
def fresh(
    initialized: dict[str, Initialized], tmp_path: Path
) -> Iterator[Callable[[str], Project]]:
    """``fresh(flavour)``: a project copy on its own copy of the initialized database."""
    dropped: list[tuple[str, str]] = []

    def make(flavour: str) -> Project:
        state = initialized[flavour]
        if state.admin is None:
            database = tmp_path / "db.sqlite3"
            shutil.copyfile(state.url.removeprefix("sqlite:///"), database)
            url = sqlite_url(database)
        else:
            name = f"gw_test_{uuid.uuid4().hex[:12]}"
            template = state.url.rsplit("/", 1)[1].split("?", 1)[0]
            admin_sql(state.admin, f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
            url = with_database(state.admin, name)
            dropped.append((state.admin, url))
        return Project.copy_of(
            state.project.path, tmp_path / "project", database_url=url, in_process=True
        )

    yield make
    for admin, url in dropped:
        drop_pg_database(admin, url)


COMMANDS = [
    pytest.param(
        flavour,
        command,
        id=f"{flavour}: {command}",
        marks=[getattr(pytest.mark, flavour)],
    )
    for flavour in FLAVOURS
    for command in documented_commands(flavour)
]


@pytest.mark.parametrize(("flavour", "command"), COMMANDS)
def test_documented_command_runs(
    fresh: Callable[[str], Project], flavour: str, command: str, request: pytest.FixtureRequest
) -> None:
    project = fresh(flavour)
    args = shlex.split(command)
    env: dict[str, str] = {}
    while re.match(r"^[A-Z_]+=", args[0]):  # VAR=value before the command
        name, value = args.pop(0).split("=", 1)
        env[name] = value
    task = next((a for a in args[1:] if a.startswith("db.")), None)
    roles: list[tuple[Roles, str]] = []
    try:
        _prepare(project, task, args, env, roles, request)
        if args[0] == "invoke":
            result = project.invoke(*args[1:], env=env, check=False)
        else:
            result = project.run(sys.executable, "-m", *args, env=env, check=False)
    finally:
        if task == "db.up":
            project.invoke("db.down")
        for made, admin in roles:
            url = project.env["DATABASE_URL"]
            teardown(admin, url, url.rsplit("/", 1)[1].split("?", 1)[0], made, None)
    output = result.stdout + result.stderr
    if flavour == "sqlite" and task in POSTGRESQL_ONLY and "--print" not in args:
        assert result.returncode == 1, output
        assert "PostgreSQL" in output, output
        assert "Traceback" not in output, output
        return
    assert result.returncode == 0, f"`{command}` exited {result.returncode}:\n{output}"


EMPTY_PUBLIC = """
DO $$
DECLARE
  statement text;
BEGIN
  FOR statement IN
    SELECT format('DROP TABLE IF EXISTS public.%I CASCADE', tablename) FROM pg_tables
     WHERE schemaname = 'public'
    UNION ALL
    SELECT format('DROP TYPE IF EXISTS public.%I CASCADE', typname) FROM pg_type
     WHERE typnamespace = 'public'::regnamespace AND typtype IN ('e', 'd', 'r')
  LOOP
    EXECUTE statement;
  END LOOP;
END $$
"""


def _prepare(
    project: Project,
    task: str | None,
    args: list[str],
    env: dict[str, str],
    roles: list[tuple[Roles, str]],
    request: pytest.FixtureRequest,
) -> None:
    """Bring about what the docs assume before ``task`` (two heads before a merge, ...)."""
    if task == "db.merge":
        # Two branches each added a revision.
        add_revision(project, "aaaa0000000a", INITIAL, "pass")
        add_revision(project, "bbbb0000000b", INITIAL, "pass")
    elif task == "db.restore":
        backup = project.invoke("db.backup").stdout.split("Backup written to", 1)[1].split()[0]
        name = Path(backup).name
        args[:] = [
            a.replace("backups/FILE", f"backups/{name}").replace("FILE", backup) for a in args
        ]
    elif task == "db.grant" and not project.env["DATABASE_URL"].startswith("sqlite"):
        admin = request.getfixturevalue("admin_url")
        prefix = f"gwd{uuid.uuid4().hex[:10]}"
        env.update(
            DB_ROLE_PREFIX=prefix,
            ADMIN_DATABASE_URL=project.env["DATABASE_URL"],
            DB_APP_PASSWORD=env.get("DB_APP_PASSWORD", "Docs-example-1"),
        )
        roles.append((Roles(prefix, prefix), admin))  # dropped afterwards, whatever happens
        if "--rotate" in args:  # rotating a password needs the roles to exist
            project.invoke("db.grant", env=env)
        if "--check" in args:  # verifying comes after applying
            # ... on the empty database the docs start from: `db.init` migrated as the superuser
            # into `public`, which --check reports (the model puts nothing there).
            admin_sql(project.env["DATABASE_URL"], EMPTY_PUBLIC)
            project.invoke("db.grant", env=env)
