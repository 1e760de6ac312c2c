"""``db.grant`` and ``--check`` never run a function planted in ``public`` as the admin.

On PostgreSQL 14 and older PUBLIC may create in ``public``, on databases created there (or
restored from one) too. A login plants ``public.pg_has_role(text, text, text)``,
``public.format(text, text[, text])`` and ``public.has_schema_privilege(text, text, text)``:
for string literals (and psycopg's untyped string parameters) each is a better match than the
built-in, so an admin whose search path holds ``public`` would run them with its own rights.
Here each records who called it, then answers like the built-in; the record must stay empty.
The grant to PUBLIC reproduces the PostgreSQL 14 default on the newer servers the tests use.
"""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest

from tests.grants_support import Fresh, fresh_database, login_url
from tests.support import Project, _psycopg_url, admin_sql

PLANTED = """
CREATE TABLE public.gw_calls (called_as text, function text);
GRANT INSERT, SELECT ON public.gw_calls TO PUBLIC;
CREATE FUNCTION public.pg_has_role(text, text, text) RETURNS boolean LANGUAGE sql AS $$
  INSERT INTO public.gw_calls VALUES (current_user, 'pg_has_role');
  SELECT pg_catalog.pg_has_role($1::pg_catalog.name, $2::pg_catalog.name, $3)
$$;
CREATE FUNCTION public.has_schema_privilege(text, text, text) RETURNS boolean LANGUAGE sql AS $$
  INSERT INTO public.gw_calls VALUES (current_user, 'has_schema_privilege');
  SELECT pg_catalog.has_schema_privilege($1::pg_catalog.name, $2, $3)
$$;
CREATE FUNCTION public.format(text, text) RETURNS text LANGUAGE sql AS $$
  INSERT INTO public.gw_calls VALUES (current_user, 'format');
  SELECT pg_catalog.format($1, $2)
$$;
CREATE FUNCTION public.format(text, text, text) RETURNS text LANGUAGE sql AS $$
  INSERT INTO public.gw_calls VALUES (current_user, 'format');
  SELECT pg_catalog.format($1, $2, $3)
$$;
"""


@pytest.fixture(scope="module")
def project(baked: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    project = Project.copy_of(
        baked["postgresql"], tmp_path_factory.mktemp("search_path") / "p", in_process=True
    )
    yield project
    project.invoke("db.down", check=False)  # no DATABASE_URL: db.grant started the local server


@pytest.fixture(params=["superuser", "cloud-admin"])
def planted(request: pytest.FixtureRequest, admin_url: str) -> Iterator[Fresh]:
    with _planted(admin_url, request.param) as fresh:
        yield fresh


@contextmanager
def _planted(admin_url: str, kind: str) -> Iterator[Fresh]:
    """A fresh database where a plain login planted its functions in ``public``."""
    with fresh_database(admin_url, kind) as fresh:
        planter = f"gwpl{uuid.uuid4().hex[:10]}"
        admin_sql(admin_url, f'CREATE ROLE "{planter}" LOGIN')
        try:
            fresh.sql("GRANT CREATE ON SCHEMA public TO PUBLIC")  # PostgreSQL 14's default
            with psycopg.connect(
                _psycopg_url(login_url(fresh.super_db, planter)), autocommit=True
            ) as connection:
                connection.execute(PLANTED)
            yield fresh
        finally:
            fresh.sql("DROP TABLE IF EXISTS public.gw_calls CASCADE")
            fresh.sql(f'DROP OWNED BY "{planter}"')
            admin_sql(admin_url, f'DROP ROLE "{planter}"')


def _calls(fresh: Fresh) -> list[tuple[object, ...]]:
    rows = fresh.query("SELECT called_as, function FROM public.gw_calls")
    fresh.sql("DELETE FROM public.gw_calls")
    return rows


@pytest.mark.postgresql
def test_planted_functions_never_run_as_the_admin(project: Project, planted: Fresh) -> None:
    granted = project.invoke(
        "db.grant", "--admin-url", planted.grant_admin, env=planted.env, check=False
    )
    after_grant = _calls(planted)
    checked = project.invoke(
        "db.grant", "--admin-url", planted.grant_admin, "--check", env=planted.env, check=False
    )
    after_check = _calls(planted)
    assert (after_grant, after_check) == ([], []), granted.stdout + checked.stdout
    assert granted.returncode == 0, granted.stdout + granted.stderr
    # The planted objects are reported by the check, which fails because of them alone.
    assert checked.returncode == 1, checked.stdout + checked.stderr
    fails = [line for line in checked.stdout.splitlines() if line.startswith("FAIL ")]
    assert fails, checked.stdout
    assert all("schema public holds" in line for line in fails), checked.stdout
    for what in (
        "function public.pg_has_role(text,text,text)",
        "function public.has_schema_privilege(text,text,text)",
        "function public.format(text,text)",
        "function public.format(text,text,text)",
        "table public.gw_calls",
    ):
        assert any(f"schema public holds {what} (owned by gwpl" in line for line in fails), (
            what,
            checked.stdout,
        )
    # PUBLIC's CREATE on public is gone: nobody plants anything more.
    assert planted.query("SELECT has_schema_privilege('public', 'public', 'CREATE')") == [(False,)]


@pytest.mark.postgresql
def test_the_shipped_script_through_psql_runs_no_planted_function(
    project: Project, admin_url: str
) -> None:
    """psql has no pinned connection: the script's first line pins the search path itself."""
    from tests.test_grants import _psql

    with _planted(admin_url, "superuser") as planted:
        printed = project.invoke("db.grant", "--print", env=planted.env).stdout
        assert printed.startswith("SET search_path = pg_catalog, pg_temp;\n")
        result = subprocess.run(
            [
                *(_psql(project, admin_url), "-X", "-q", "-v", "ON_ERROR_STOP=1"),
                *("-d", _psycopg_url(planted.super_db)),
            ],
            input=printed,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        assert _calls(planted) == []


@pytest.mark.postgresql
def test_the_connection_that_creates_and_drops_databases_is_pinned(
    project: Project, admin_url: str
) -> None:
    """db.init/create/drop/reset connect to a maintenance database as whoever may CREATE one."""
    shown = project.python(
        "from sqlalchemy.engine import make_url\n"
        "from groundwork.admin import maintenance\n"
        f"with maintenance(make_url({_psycopg_url(admin_url)!r})) as connection:\n"
        "    print(connection.exec_driver_sql('SHOW search_path').scalar())\n"
    )
    assert shown.stdout.strip().replace(" ", "") == "pg_catalog,pg_temp", shown.stdout
