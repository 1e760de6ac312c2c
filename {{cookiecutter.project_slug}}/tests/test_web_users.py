"""The example resource, /users, through HTTP: each test in the rolled-back transaction of the
``session`` fixture (the app's session dependency is swapped for it)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from {{ cookiecutter.package_name }}.settings import Settings
from {{ cookiecutter.package_name }}.web import create_app
from {{ cookiecutter.package_name }}.web.sessions import get_session


@pytest.fixture
def client(test_settings: Settings, session: Session) -> Iterator[TestClient]:
    app = create_app(test_settings)
    app.dependency_overrides[get_session] = lambda: session
    with TestClient(app) as client:
        yield client


def test_a_new_user_is_created_and_read_back(client: TestClient) -> None:
    body = {"email": "new@example.com", "display_name": "New", "country_code": "fr"}
    created = client.post("/users", json=body)
    assert created.status_code == 201, created.text
    user = created.json()
    assert user["country_code"] == "FR"
    assert user["is_admin"] is False  # the server's default, read back
    assert user["created_at"]
    assert client.get(f"/users/{user['id']}").json() == user


def test_a_taken_email_is_409_and_the_session_goes_on(client: TestClient) -> None:
    taken = {"email": "admin@example.com", "display_name": "Twin"}
    response = client.post("/users", json=taken)
    assert response.status_code == 409
    assert "admin@example.com" in response.json()["detail"]
    assert client.post("/users", json={"email": "x@example.com", "display_name": "X"}).is_success


def test_bad_input_is_422(client: TestClient) -> None:
    bad = {"email": "not-an-email", "display_name": "X"}
    assert client.post("/users", json=bad).status_code == 422
    unknown = client.post(
        "/users", json={"email": "y@example.com", "display_name": "Y", "country_code": "ZZ"}
    )
    assert unknown.status_code == 422
    assert "ZZ" in unknown.json()["detail"]


def test_users_are_listed_a_page_at_a_time(client: TestClient) -> None:
    everyone = client.get("/users").json()
    assert {user["email"] for user in everyone} == {"admin@example.com", "demo@example.com"}
    assert [user["id"] for user in everyone] == sorted(user["id"] for user in everyone)
    page = client.get("/users", params={"limit": 1, "offset": 1}).json()
    assert page == everyone[1:]
    assert client.get("/users/999999").status_code == 404


def test_each_test_starts_from_the_seeded_users(client: TestClient) -> None:
    """What the tests above created is gone, whatever order they ran in."""
    assert len(client.get("/users").json()) == 2
