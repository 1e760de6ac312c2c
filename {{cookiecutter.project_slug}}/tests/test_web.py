"""The web application's probes: /health always, /ready when the database is at head."""

from __future__ import annotations

import dataclasses

from fastapi.testclient import TestClient
from groundwork import migrations

from {{ cookiecutter.package_name }}.settings import Settings
from {{ cookiecutter.package_name }}.web import create_app

SECRET = "pw_NEVER_SHOWN"


def unreachable(settings: Settings) -> Settings:
    """``settings`` on a database of the same kind that cannot be reached."""
    url = settings.database_url or ""
    gone = (
        f"postgresql://app:{SECRET}@127.0.0.1:9/nowhere"  # the discard port: nothing listens
        if url.startswith("postgresql")
        else "sqlite:////nonexistent-folder/nowhere.sqlite3"
    )
    return dataclasses.replace(settings, values={**settings.values, "DATABASE_URL": gone})


def test_health_answers_without_a_database(test_settings: Settings) -> None:
    with TestClient(create_app(unreachable(test_settings))) as client:
        assert client.get("/health").json() == {"status": "ok"}


def test_ready_when_the_database_is_at_head(test_settings: Settings) -> None:
    with TestClient(create_app(test_settings)) as client:
        response = client.get("/ready")
    assert response.status_code == 200, response.text
    assert response.json() == {"status": "ready"}


def test_not_ready_before_the_migrations_with_db_status_reason(
    scratch_settings: Settings,
) -> None:
    revisions = len(migrations.status(scratch_settings).revisions)
    with TestClient(create_app(scratch_settings)) as client:
        before = client.get("/ready")
    if revisions == 0:  # no revision yet: an empty database is at head
        assert before.status_code == 200
        return
    assert before.status_code == 503
    assert before.json() == {
        "status": "unavailable",
        "reason": f"{revisions} of {revisions} revisions pending: run `invoke db.migrate`",
    }
    migrations.upgrade(scratch_settings, "head")
    with TestClient(create_app(scratch_settings)) as client:
        assert client.get("/ready").status_code == 200


def test_not_ready_when_the_database_is_unreachable(test_settings: Settings) -> None:
    with TestClient(create_app(unreachable(test_settings))) as client:
        response = client.get("/ready")
    assert response.status_code == 503
    assert response.json()["status"] == "unavailable"
    # One line that names where it could not connect to: the server, or the SQLite file.
    assert any(part in response.json()["reason"] for part in ("port 9", "nowhere.sqlite3"))
    assert SECRET not in response.text
