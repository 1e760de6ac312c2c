"""Issue 12, item 6: the drift catalogue of ``db.grant --check`` on the default test server.

Every kind of tests/drift_catalogue.py is injected alone into a granted, migrated database;
``--check`` must exit 1 and name the object. The kinds marked ``new`` were OK before issue 12
while exploitable. tests/test_versions.py runs the same catalogue on PostgreSQL 13 to 18.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.attack_support import Granted, granted
from tests.drift_catalogue import kinds_for
from tests.support import Project


@pytest.fixture(scope="module")
def project(baked: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Project:
    # invoke in this process (tests/kit/cli.py): db.grant --check runs once per drift kind.
    return Project.copy_of(
        baked["postgresql"], tmp_path_factory.mktemp("catalogue") / "p", in_process=True
    )


@pytest.fixture(scope="module", params=["superuser", "cloud-admin"])
def setup(request: pytest.FixtureRequest, project: Project, admin_url: str) -> Iterator[Granted]:
    with granted(admin_url, project, request.param) as state:
        code, output = state.grant("--check", check=False)
        assert code == 0, output
        assert "OK: roles, ownership and privileges match" in output, output
        yield state


@pytest.mark.postgresql
def test_every_drift_kind_is_reported(setup: Granted) -> None:
    kinds = kinds_for(setup.major, setup.fresh.kind)
    assert len(kinds) >= 30
    failures = [failure for kind in kinds if (failure := setup.check_kind(kind))]
    assert failures == [], "\n\n".join(failures)
    code, output = setup.grant("--check", check=False)
    assert code == 0, f"a kind was not undone:\n{output}"
