"""The kit's manifest (src/groundwork/manifest.json) and what it tells: `db.kit`, `db.check`.

- The manifest in the template describes the kit file by file; after an edit of the kit, this
  test names the command that writes it again (`python3 dev.py manifest`).
- A bake holds it unchanged; `db.kit` and `db.check` name each kit file edited, deleted or
  added in the project, and `db.check` fails on them unless `kept_kit_edits` declares them.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import dev
from tests.support import REPO, Project, kit_dir, package_dir, sqlite_url

TEMPLATE_KIT = REPO / "{{cookiecutter.project_slug}}" / "src" / "groundwork"


def test_manifest_describes_the_kit_in_the_template() -> None:
    problem = dev.stale_manifest()
    assert problem is None, problem


def test_a_stale_manifest_names_the_command_to_run(tmp_path: Path) -> None:
    kit = tmp_path / "groundwork"
    shutil.copytree(TEMPLATE_KIT, kit)
    with (kit / "urls.py").open("a") as edited:
        edited.write("# an edit after the manifest was written\n")
    problem = dev.stale_manifest(kit)
    assert problem is not None
    assert "is stale" in problem
    assert "`python3 dev.py manifest`" in problem
    assert not (TEMPLATE_KIT / "__pycache__").exists()  # loading kit.py wrote no bytecode


def test_manifest_check_command_exits_0_on_the_template() -> None:
    result = subprocess.run(
        [sys.executable, "dev.py", "manifest", "--check"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "is up to date" in result.stderr


def test_manifest_holds_version_and_every_file() -> None:
    manifest = json.loads((TEMPLATE_KIT / "manifest.json").read_text())
    init = (TEMPLATE_KIT / "__init__.py").read_text()
    assert f'__version__ = "{manifest["version"]}"' in init
    files = manifest["files"]
    assert "manifest.json" not in files
    assert {"__init__.py", "kit.py", "tasks.py", "seeding/runner.py"} <= set(files)
    assert not [path for path in files if "__pycache__" in path or path.endswith(".pyc")]


def test_untouched_bake_has_no_local_edits(
    baked: dict[str, Path], project_copy: Callable[..., Project], tmp_path: Path
) -> None:
    assert (kit_dir(baked["sqlite"]) / "manifest.json").read_bytes() == (
        TEMPLATE_KIT / "manifest.json"
    ).read_bytes()
    project = project_copy("sqlite", sqlite_url(tmp_path / "db.sqlite3"))
    assert project.invoke("db.kit").stdout == "kit 1.0.0, no local edits\n"
    project.invoke("db.init")
    checked = project.invoke("db.check").stdout
    assert checked.strip().endswith("the models match the migrations; kit 1.0.0, no local edits")


def test_edited_deleted_and_added_kit_files_are_named(
    project_copy: Callable[..., Project], tmp_path: Path
) -> None:
    project = project_copy("sqlite", sqlite_url(tmp_path / "db.sqlite3"))
    project.invoke("db.init")
    kit = kit_dir(project.path)
    with (kit / "urls.py").open("a") as edited:
        edited.write("# a local fix\n")
    (kit / "local_postgresql.py").unlink()  # a SQLite project never imports it
    (kit / "mine.py").write_text("VALUE = 1\n")
    (kit / "notes.txt").write_text("not code: not an edit\n")
    errors = kit / "errors.py"  # as git's autocrlf checks it out on Windows: no edit
    errors.write_bytes(errors.read_bytes().replace(b"\n", b"\r\n"))

    listed = project.invoke("db.kit").stdout.splitlines()
    assert listed[0] == "kit 1.0.0, 3 local edits"
    assert [line.split(" (kit")[0] for line in listed[1:]] == [
        "kit: groundwork/local_postgresql.py deleted locally",
        "kit: groundwork/mine.py added locally",
        "kit: groundwork/urls.py edited locally",
    ]
    assert "upgrade with `cruft update`" in listed[3]
    assert "kept_kit_edits" in listed[3]

    checked = project.invoke("db.check", check=False)
    assert checked.returncode == 1, checked.stdout + checked.stderr
    failed = [line for line in checked.stdout.splitlines() if line.startswith("FAIL kit: ")]
    assert len(failed) == 2
    assert checked.stderr.startswith("db.check: kit: groundwork/")
    assert "(and 2 more, above)" in checked.stderr
    assert "Traceback" not in checked.stderr
    named = " ".join(failed) + checked.stderr
    for name in ("local_postgresql.py", "mine.py", "urls.py"):
        assert f"groundwork/{name}" in named


def test_kept_kit_edits_let_db_check_pass(
    project_copy: Callable[..., Project], tmp_path: Path
) -> None:
    project = project_copy("sqlite", sqlite_url(tmp_path / "db.sqlite3"))
    project.invoke("db.init")
    with (kit_dir(project.path) / "urls.py").open("a") as edited:
        edited.write("# a local fix, kept on purpose\n")
    settings = package_dir(project.path) / "settings.py"
    text = settings.read_text()
    settings.write_text(
        text.replace(
            "        role_prefix=",
            '        kept_kit_edits=("groundwork/urls.py", "groundwork/naming.py"),\n'
            "        role_prefix=",
            1,
        )
    )
    checked = project.invoke("db.check")
    lines = checked.stdout.splitlines()
    assert "kit: groundwork/urls.py edited locally (kit 1.0.0), kept on purpose" in lines[0]
    assert lines[1] == (
        "kit: groundwork/naming.py is in kept_kit_edits but as shipped: remove it from settings.py"
    )
    assert lines[-1].endswith("kit 1.0.0, 1 local edit (1 kept)")


def test_a_missing_manifest_is_one_line(
    project_copy: Callable[..., Project], tmp_path: Path
) -> None:
    project = project_copy("sqlite", sqlite_url(tmp_path / "db.sqlite3"))
    (kit_dir(project.path) / "manifest.json").unlink()
    result = project.invoke("db.kit", check=False)
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "db.kit: the kit's manifest groundwork/manifest.json is missing: restore it (from git, "
        "or the template); it tells the kit's files from local edits"
    )
