"""Bakes that record their template commit (cruft), and template updates as three-way merges.

The template goes into a git repository of its own in a temporary folder, the way its users
reach it (cruft clones the template): commit A is this working tree's template, commit B the
next release, A with a line of a kit file and a line of the README changed. Projects are baked
from A with ``cruft create``, committed, edited the way a team edits them, and updated to B with
``cruft update``, all through the ``cruft`` command as a user runs it.

The real previous release is tested once too: the template before the kit (commit 0f0053b, the
machinery in ``src/<pkg>/db``) updated to this one.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from cookiecutter.main import cookiecutter

from tests.support import REPO, kit_dir, package_dir

BIN = Path(sys.executable).parent  # cruft, python, ... of the test environment
# What cookiecutter reads of the template: everything else in this repository is its tooling.
TEMPLATE_PARTS = (
    "cookiecutter.json",
    "groundwork_extensions.py",
    "hooks",
    "{{cookiecutter.project_slug}}",
)
PROJECT = "{{cookiecutter.project_slug}}"
# The template before the kit: the lifecycle machinery in src/<pkg>/db, no src/groundwork.
BEFORE_THE_KIT = "0f0053b"

# Commits made here need an author whatever the machine's git configuration says.
GIT_ENV = {
    **os.environ,
    "GIT_AUTHOR_NAME": "Groundwork tests",
    "GIT_AUTHOR_EMAIL": "tests@example.com",
    "GIT_COMMITTER_NAME": "Groundwork tests",
    "GIT_COMMITTER_EMAIL": "tests@example.com",
    "GIT_TERMINAL_PROMPT": "0",
    # No hooks, signing or default branch of the machine's git configuration.
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
    "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
}

# The next release (B): a line of a kit file and a README heading change.
KIT_FILE = "src/groundwork/naming.py"
RELEASED_KIT_LINE = (
    '"""The naming convention of constraints and indexes, as the next release words it.'
)
README_BEFORE = "## Tests\n"
README_RELEASED = "## Tests (pytest)\n"
# What a team does to its project.
TEAM_KIT_LINE = '"""The naming convention of constraints and indexes, as our team words it.'
TEAM_README = "## Start\n\nStaging is at https://staging.example.com; ask #billing for access.\n"
OWN_MODEL = '"""Orders: a model of our own."""\n'


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, env=GIT_ENV, capture_output=True, text=True, check=True
    ).stdout


def cruft(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``cruft ARGS`` in ``cwd``, as a user runs it; its output is what the user reads."""
    return subprocess.run(
        [str(BIN / "cruft"), *args],
        cwd=cwd,
        env=GIT_ENV,
        capture_output=True,
        text=True,
        check=False,
    )


def commit_all(folder: Path, message: str) -> str:
    """Commit everything in ``folder`` (a repository from then on); return the commit."""
    if not (folder / ".git").exists():
        git(folder, "init", "--quiet", "--initial-branch=main")
    git(folder, "add", "--all")
    git(folder, "commit", "--quiet", "--allow-empty", "-m", message)
    return git(folder, "rev-parse", "HEAD").strip()


def copy_working_tree_template(destination: Path) -> None:
    """This working tree's template as it stands (committed or not), as git would commit it."""
    try:
        listed = git(
            REPO,
            "ls-files",
            "-z",
            "--cached",
            "--others",
            "--exclude-standard",
            "--",
            *TEMPLATE_PARTS,
        )
    except subprocess.CalledProcessError:  # not a git checkout (an unpacked archive): all of it
        for part in TEMPLATE_PARTS:
            if (REPO / part).is_dir():
                ignored = shutil.ignore_patterns("__pycache__", "*.pyc")
                shutil.copytree(REPO / part, destination / part, ignore=ignored)
            else:
                shutil.copy2(REPO / part, destination / part)
        return
    for name in filter(None, listed.split("\0")):
        source = REPO / name
        if source.is_file():  # a file deleted but not yet committed is listed, and absent
            target = destination / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)


def replace_once(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert text.count(old) == 1, f"{path}: {old!r} should be there once"
    path.write_text(text.replace(old, new))


def replace_first_line(path: Path, line: str) -> None:
    first, rest = path.read_text().split("\n", 1)
    assert first.startswith('"""'), f"{path}: a docstring's first line was expected"
    path.write_text(f"{line}\n{rest}")


@dataclass(frozen=True)
class Releases:
    """The template's repository: ``previous`` then ``current``, its HEAD."""

    repo: Path
    previous: str
    current: str


@pytest.fixture(scope="module")
def releases(tmp_path_factory: pytest.TempPathFactory) -> Releases:
    repo = tmp_path_factory.mktemp("template") / "groundwork"
    repo.mkdir()
    copy_working_tree_template(repo)
    previous = commit_all(repo, "A: this working tree's template")
    replace_first_line(repo / PROJECT / KIT_FILE, RELEASED_KIT_LINE)
    replace_once(repo / PROJECT / "README.md", README_BEFORE, README_RELEASED)
    return Releases(repo, previous, commit_all(repo, "B: the next release"))


@pytest.fixture(scope="module")
def kit_arrives(tmp_path_factory: pytest.TempPathFactory) -> Releases:
    """The real previous release (before the kit), then this working tree's template."""
    try:
        git(REPO, "cat-file", "-e", f"{BEFORE_THE_KIT}^{{commit}}")
    except subprocess.CalledProcessError:
        # A failure, not a skip: a skipped update test would pass CI having tested nothing.
        pytest.fail(
            f"this clone lacks the template's history ({BEFORE_THE_KIT}), which the update from"
            " the previous release is tested from: run `git fetch --unshallow`"
        )
    repo = tmp_path_factory.mktemp("template-before-the-kit") / "groundwork"
    repo.mkdir()
    archive = subprocess.run(
        ["git", "archive", BEFORE_THE_KIT, "--", *TEMPLATE_PARTS],
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout
    subprocess.run(["tar", "-x"], cwd=repo, input=archive, check=True)
    previous = commit_all(repo, "the release before the kit")
    git(repo, "rm", "-r", "--quiet", ".")
    copy_working_tree_template(repo)
    return Releases(repo, previous, commit_all(repo, "the kit"))


@dataclass(frozen=True)
class Bakes:
    """``cruft create`` of each release once, committed; tests work on copies (``copy``)."""

    previous: Path
    current: Path

    @staticmethod
    def copy(project: Path, destination: Path) -> Path:
        """A copy of ``project``, its repository included."""
        return Path(shutil.copytree(project, destination / project.name, symlinks=True))


@pytest.fixture(scope="module")
def bakes(releases: Releases, tmp_path_factory: pytest.TempPathFactory) -> Bakes:
    previous = create(releases.repo, tmp_path_factory.mktemp("previous"), releases.previous)
    return Bakes(previous, create(releases.repo, tmp_path_factory.mktemp("current")))


def create(template: Path, output_dir: Path, checkout: str | None = None, **answers: str) -> Path:
    """``cruft create`` (default answers but ``answers``); the project, committed in a git
    repository."""
    output_dir.mkdir(parents=True, exist_ok=True)
    args = ["create", str(template), "--no-input", "--output-dir", str(output_dir)]
    args += ["--extra-context", json.dumps(answers)] if answers else []
    result = cruft(output_dir, *args, *(["--checkout", checkout] if checkout else []))
    assert result.returncode == 0, result.stdout + result.stderr
    [project] = output_dir.iterdir()
    commit_all(project, "baked")
    return project


def update(project: Path) -> subprocess.CompletedProcess[str]:
    """``cruft update -y``: to the template's newest commit, no questions."""
    result = cruft(project, "update", "--skip-apply-ask")
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def documented(project: Path, starting: str) -> str:
    """The command line of the project's docs/database.md that starts with ``starting``."""
    [line] = [
        line.strip()
        for line in (project / "docs" / "database.md").read_text().splitlines()
        if line.strip().startswith(starting)
    ]
    return line


def run_documented(project: Path, command: str) -> subprocess.CompletedProcess[str]:
    """A command line of the docs, through bash as a reader pastes it."""
    return subprocess.run(
        ["bash", "-e", "-c", command],
        cwd=project,
        env=GIT_ENV,
        capture_output=True,
        text=True,
        check=False,
    )


def tree(root: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(root)): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file() and ".git" not in path.relative_to(root).parts
    }


def unmerged(project: Path) -> list[str]:
    """The files ``git status`` shows in conflict (``UU``, ``AA``, ...)."""
    codes = {"UU", "AA", "DD", "AU", "UA", "DU", "UD"}
    return [
        line[3:] for line in git(project, "status", "--porcelain").splitlines() if line[:2] in codes
    ]


def ci_template_check(project: Path) -> subprocess.CompletedProcess[str]:
    """The generated CI's ``cruft check`` step, its script run as the runner runs it."""
    workflow = yaml.safe_load((project / ".github" / "workflows" / "ci.yml").read_text())
    [job] = workflow["jobs"].values()
    [step] = [step for step in job["steps"] if "cruft check" in step.get("name", "")]
    assert step["if"] == "hashFiles('.cruft.json') != ''"  # no .cruft.json, no step
    return subprocess.run(
        ["bash", "-e", "-c", step["run"]],
        cwd=project,
        env={**GIT_ENV, **step.get("env", {})},
        capture_output=True,
        text=True,
        check=False,
    )


def test_an_untouched_project_updates_to_the_next_release_cleanly(
    releases: Releases, bakes: Bakes, tmp_path: Path
) -> None:
    project = bakes.copy(bakes.previous, tmp_path)
    recorded = json.loads((project / ".cruft.json").read_text())
    assert (recorded["template"], recorded["commit"]) == (str(releases.repo), releases.previous)

    behind = ci_template_check(project)
    assert behind.returncode != 0, behind.stdout + behind.stderr
    assert "cruft update" in behind.stdout + behind.stderr  # the way out, named

    result = update(project)
    assert "Good work" in result.stdout
    assert unmerged(project) == []
    assert tree(project) == tree(bakes.current)  # .cruft.json included: it records B now

    up_to_date = ci_template_check(project)
    assert up_to_date.returncode == 0, up_to_date.stdout + up_to_date.stderr
    assert "SUCCESS" in up_to_date.stdout


def test_the_teams_own_files_survive_an_update(bakes: Bakes, tmp_path: Path) -> None:
    """Three-way: the team's model stays, and the README keeps its edit and gets the release's."""
    project = bakes.copy(bakes.previous, tmp_path)
    own_model = package_dir(project) / "models" / "order.py"
    own_model.write_text(OWN_MODEL)
    replace_once(project / "README.md", "## Start\n", TEAM_README)
    commit_all(project, "our model and notes")

    update(project)

    assert unmerged(project) == []
    expected = tree(bakes.current)
    expected["README.md"] = expected["README.md"].replace(b"## Start\n", TEAM_README.encode())
    expected[str(own_model.relative_to(project))] = OWN_MODEL.encode()
    assert tree(project) == expected


def test_an_edited_kit_file_the_release_changed_too_is_a_conflict_named_in_the_report(
    releases: Releases, bakes: Bakes, tmp_path: Path
) -> None:
    project = bakes.copy(bakes.previous, tmp_path)
    replace_first_line(project / KIT_FILE, TEAM_KIT_LINE)
    own_model = package_dir(project) / "models" / "order.py"
    own_model.write_text(OWN_MODEL)
    replace_once(project / "README.md", "## Start\n", TEAM_README)
    commit_all(project, "our kit edit, model and notes")
    before = tree(project)

    result = update(project)

    report = result.stdout + result.stderr
    assert f"Applied patch to '{KIT_FILE}' with conflicts." in report, report
    assert f"U {KIT_FILE}" in report, report
    assert unmerged(project) == [KIT_FILE]
    conflicted = (project / KIT_FILE).read_text()
    assert conflicted.startswith(
        f"<<<<<<< ours\n{TEAM_KIT_LINE}\n=======\n{RELEASED_KIT_LINE}\n>>>>>>> theirs\n"
    )
    # Everything else arrived or stayed: the README merged, the model untouched.
    readme = (project / "README.md").read_text()
    assert TEAM_README in readme
    assert README_RELEASED in readme
    assert own_model.read_text() == OWN_MODEL
    # The project records B already: resolving the conflict and committing finishes the update.
    assert json.loads((project / ".cruft.json").read_text())["commit"] == releases.current
    # ... or git reset --hard abandons all of it, .cruft.json included.
    git(project, "reset", "--hard", "--quiet")
    assert tree(project) == before
    assert git(project, "status", "--porcelain") == ""


def test_a_project_baked_with_plain_cookiecutter_is_linked_then_updated(
    releases: Releases, bakes: Bakes, tmp_path: Path
) -> None:
    """docs/database.md's ``cruft link`` command, as written there: the answers from
    .cookiecutter.json, the commit baked from given, and the project updates as if ``cruft
    create`` had made it."""
    template_at_previous = tmp_path / "template"
    git(tmp_path, "clone", "--quiet", str(releases.repo), str(template_at_previous))
    git(template_at_previous, "checkout", "--quiet", releases.previous)
    project = Path(
        cookiecutter(str(template_at_previous), no_input=True, output_dir=str(tmp_path / "baked"))
    )
    assert not (project / ".cruft.json").exists()
    commit_all(project, "baked with cookiecutter")

    command = documented(project, "cruft link ")
    command = command.replace("<template URL>", str(releases.repo))
    command = command.replace("<that commit>", releases.previous)
    link = run_documented(project, command)
    assert link.returncode == 0, link.stdout + link.stderr
    assert json.loads((project / ".cruft.json").read_text())["commit"] == releases.previous
    commit_all(project, "cruft link")

    update(project)
    assert unmerged(project) == []
    assert tree(project) == tree(bakes.current)


def test_examples_no_through_cruft_gives_the_clean_bake(
    releases: Releases, bakes: Bakes, tmp_path: Path
) -> None:
    """docs/database.md, "Starting clean", with .cruft.json: its one ``cruft update`` leaves the
    files of an examples=no bake and records the answer (the database part is the plain path's:
    tests/test_no_examples.py)."""
    project = bakes.copy(bakes.current, tmp_path)
    result = run_documented(project, documented(project, "cruft update --skip-apply-ask --var"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert unmerged(project) == []
    clean = create(releases.repo, tmp_path / "clean", examples="no")
    assert tree(project) == tree(clean)


def test_the_ci_step_skips_a_template_it_cannot_reach(bakes: Bakes, tmp_path: Path) -> None:
    """A template baked from a folder that is not there (on CI: someone's machine) is a warning."""
    project = bakes.copy(bakes.current, tmp_path)
    cruft_file = project / ".cruft.json"
    recorded = json.loads(cruft_file.read_text())
    recorded["template"] = str(tmp_path / "not-here")
    cruft_file.write_text(json.dumps(recorded))

    result = ci_template_check(project)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "::warning title=cruft check skipped::" in result.stdout
    assert str(tmp_path / "not-here") in result.stdout


def test_the_release_before_the_kit_updates_to_the_kit(
    kit_arrives: Releases, tmp_path: Path
) -> None:
    """A project baked before the kit: its machinery moves from src/<pkg>/db to src/groundwork.

    What docs/database.md ("Updating from a release before the kit") tells a team: the update
    applies cleanly to an untouched project; git shows the kit's files as renames from
    ``src/<pkg>/db/``; a module of the team's own in ``db/`` stays where it was.
    """
    project = create(kit_arrives.repo, tmp_path / "project", checkout=kit_arrives.previous)
    package = package_dir(project)
    assert (package / "db" / "naming.py").is_file()
    assert not kit_dir(project).exists()
    own_model = package / "models" / "order.py"
    own_model.write_text(OWN_MODEL)
    own_module = package / "db" / "reports.py"
    own_module.write_text('"""Reports: a module of our own."""\n')
    commit_all(project, "our model and module")

    update(project)

    assert unmerged(project) == []
    status = git(project, "status", "--porcelain")
    assert f"R  src/{package.name}/db/naming.py -> src/groundwork/naming.py" in status, status
    fresh = create(kit_arrives.repo, tmp_path / "fresh")
    expected = tree(fresh)
    for own in (own_model, own_module):
        expected[str(own.relative_to(project))] = own.read_bytes()
    assert tree(project) == expected
