"""The example resource, /users, through HTTP on the test's event loop: each test in the
rolled-back transaction of the ``async_session`` fixture (the app's session dependency is
swapped for it). httpx2's ASGI transport calls the app in this loop, where the session's
connection lives; FastAPI's TestClient would call it from a loop of its own."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from httpx2 import ASGITransport, AsyncClient

from {{ cookiecutter.package_name }}.database import AsyncSession
from {{ cookiecutter.package_name }}.settings import Settings
from {{ cookiecutter.package_name }}.web import create_app
from {{ cookiecutter.package_name }}.web.sessions import get_session


@pytest.fixture
async def client(
    test_settings: Settings, async_session: AsyncSession
) -> AsyncIterator[AsyncClient]:
    app = create_app(test_settings)
    app.dependency_overrides[get_session] = lambda: async_session
    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://test") as client:
        yield client


async def test_a_new_user_is_created_and_read_back(client: AsyncClient) -> None:
    body = {"email": "new@example.com", "display_name": "New", "country_code": "fr"}
    created = await client.post("/users", json=body)
    assert created.status_code == 201, created.text
    user = created.json()
    assert user["country_code"] == "FR"
    assert user["is_admin"] is False  # the server's default, read back
    assert user["created_at"]
    assert (await client.get(f"/users/{user['id']}")).json() == user


async def test_a_taken_email_is_409_and_the_session_goes_on(client: AsyncClient) -> None:
    taken = {"email": "admin@example.com", "display_name": "Twin"}
    response = await client.post("/users", json=taken)
    assert response.status_code == 409
    assert "admin@example.com" in response.json()["detail"]
    other = {"email": "x@example.com", "display_name": "X"}
    assert (await client.post("/users", json=other)).is_success


async def test_bad_input_is_422(client: AsyncClient) -> None:
    bad = {"email": "not-an-email", "display_name": "X"}
    assert (await client.post("/users", json=bad)).status_code == 422
    unknown = {"email": "y@example.com", "display_name": "Y", "country_code": "ZZ"}
    response = await client.post("/users", json=unknown)
    assert response.status_code == 422
    assert "ZZ" in response.json()["detail"]


async def test_users_are_listed_a_page_at_a_time(client: AsyncClient) -> None:
    everyone = (await client.get("/users")).json()
    assert {user["email"] for user in everyone} == {"admin@example.com", "demo@example.com"}
    assert [user["id"] for user in everyone] == sorted(user["id"] for user in everyone)
    page = (await client.get("/users", params={"limit": 1, "offset": 1})).json()
    assert page == everyone[1:]
    assert (await client.get("/users/999999")).status_code == 404


async def test_each_test_starts_from_the_seeded_users(client: AsyncClient) -> None:
    """What the tests above created is gone, whatever order they ran in."""
    assert len((await client.get("/users")).json()) == 2
