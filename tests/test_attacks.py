"""Issue 12, the attack suite on the default test server: the app, reader and migrator logins
each run over 100 statements after db.grant, each blocked (its SQLSTATE) or documented as
allowed; and the escalation chains of items 7 and 8. tests/test_versions.py runs the same on
PostgreSQL 13 to 18 with password authentication.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.attack_support import (
    Granted,
    attack_figures,
    connect,
    definer_escalation,
    granted,
    self_grant_escalation,
)
from tests.support import Project


@pytest.fixture(scope="module")
def project(baked: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Project:
    return Project.copy_of(baked["postgresql"], tmp_path_factory.mktemp("attacks") / "p")


@pytest.fixture(scope="module", params=["superuser", "cloud-admin"])
def setup(request: pytest.FixtureRequest, project: Project, admin_url: str) -> Iterator[Granted]:
    with granted(admin_url, project, request.param) as state:
        yield state


@pytest.mark.postgresql
def test_each_login_is_blocked_or_documented(setup: Granted) -> None:
    counts, failures = attack_figures(setup)
    assert failures == [], "\n".join(failures)
    assert min(counts.values()) >= 100, counts
    code, output = setup.grant("--check", check=False)
    assert code == 0, f"the attacks left something behind:\n{output}"


@pytest.mark.postgresql
def test_an_unpinned_security_definer_lets_the_app_act_as_the_owner(setup: Granted) -> None:
    dropped, checked = definer_escalation(setup, pinned=False)
    assert dropped, "the escalation chain no longer works: the test proves nothing"
    assert checked.startswith("exit 1"), checked
    assert f'function "{setup.fresh.roles.schema}".record(what text) is SECURITY DEFINER' in (
        checked.replace(f"{setup.fresh.roles.schema}.", f'"{setup.fresh.roles.schema}".')
    ), checked


@pytest.mark.postgresql
def test_the_documented_pattern_closes_it(setup: Granted) -> None:
    dropped, checked = definer_escalation(setup, pinned=True)
    assert not dropped
    assert "SECURITY DEFINER" not in checked, checked


@pytest.mark.postgresql
def test_a_self_granted_membership(setup: Granted) -> None:
    happened, checked = self_grant_escalation(setup)
    if setup.major <= 14:
        assert happened == "app dropped a table as the owner", happened
        assert f"{setup.fresh.roles.app} is a member of {setup.fresh.roles.migrator}" in checked
    else:
        assert happened == "grant refused 42501", happened


@pytest.mark.postgresql
def test_the_reader_holding_the_migration_lock_is_named(setup: Granted) -> None:
    """Item 10: no privilege governs advisory locks; db.migrate gives up naming the holder."""
    r = setup.fresh.roles
    key = setup.project.python(
        "from groundwork.locking import lock_key\n"
        f"print(lock_key({setup.fresh.database!r}, {r.schema!r}))"
    ).stdout.strip()
    with connect(setup.url(r.reader), autocommit=True) as reader:
        ((pid,),) = reader.execute("SELECT pg_backend_pid()").fetchall()
        assert reader.execute("SELECT pg_try_advisory_lock(%s)", (int(key),)).fetchone() == (True,)
        env = {
            **setup.env(),
            "DATABASE_URL": setup.url(r.app),
            "MIGRATOR_DATABASE_URL": setup.url(r.migrator),
            "MIGRATION_LOCK_WAIT": "1",
        }
        result = setup.project.invoke("db.migrate", env=env, check=False)
    assert result.returncode == 1, result.stdout
    assert f"is held by server pid {pid}" in result.stderr, result.stderr
