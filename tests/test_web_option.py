"""web=fastapi: the image's own command serves the app, whose /ready follows the database.

The baked app's own tests (tests/test_web*.py in the bake) run in the generated suites
(tests/test_options.py); here the command of the bake's Dockerfile runs as a real server
process, reached over HTTP, with the database brought to head by the real task in between.
"""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.support import FLAVOURS, Project, bake_with, flavour_of


def image_command(project: Path) -> list[str]:
    """The CMD of the bake's Dockerfile (JSON form), as a list."""
    found = re.search(r"^CMD (\[.*\])$", (project / "Dockerfile").read_text(), re.MULTILINE)
    assert found is not None
    command: list[str] = json.loads(found[1])
    return command


def get(url: str) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as refused:
        return refused.code, json.load(refused)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def wait_for(url: str, server: subprocess.Popen[str], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert server.poll() is None, server.communicate()[1][-3000:]
        try:
            get(url)
            return
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.1)
    raise AssertionError(f"{url} never answered")


@pytest.mark.parametrize("engine", ["sync", "async"])
def test_the_image_command_serves_and_is_ready_once_migrated(
    cookies_session: Any, database: str, engine: str, tmp_path: Path
) -> None:
    flavour = flavour_of(database)
    baked = bake_with(cookies_session, web="fastapi", engine=engine, **FLAVOURS[flavour])
    command = image_command(baked)
    assert command[:3] == ["uvicorn", "--factory", "my_service.web:create_app"]
    project = Project.copy_of(baked, tmp_path / "project", database_url=database)
    port = free_port()
    server = subprocess.Popen(  # the Dockerfile's command, with this interpreter
        [sys.executable, "-m", *command[:3], "--host", "127.0.0.1", "--port", str(port)],
        cwd=project.path,
        env=project.environ(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(f"{base}/health", server)
        assert get(f"{base}/health") == (200, {"status": "ok"})
        status, body = get(f"{base}/ready")
        assert status == 503, body
        assert body["status"] == "unavailable"
        assert body["reason"]  # db.status's words: no database yet, or revisions pending
        project.invoke("db.init")
        deadline = time.monotonic() + 10  # the answer is kept for a second
        while (answer := get(f"{base}/ready"))[0] != 200:
            assert time.monotonic() < deadline, answer
            time.sleep(0.2)
        assert answer == (200, {"status": "ready"})
        status, users = get(f"{base}/users")
        assert status == 200
        assert {user["email"] for user in users} == {"admin@example.com", "demo@example.com"}
    finally:
        server.terminate()
        _, stderr = server.communicate(timeout=30)
    # A clean stop: the lifespan closed the engine and the probe's connection (uvicorn ends by
    # re-raising the SIGTERM it handled, so its status is that signal's).
    assert server.returncode in (0, -signal.SIGTERM), stderr[-3000:]
    assert "Application shutdown complete." in stderr, stderr[-3000:]
    assert "Traceback" not in stderr, stderr[-3000:]


def test_compose_waits_for_ready_and_the_image_exposes_the_port(cookies_session: Any) -> None:
    baked = bake_with(cookies_session, web="fastapi")
    compose = (baked / "compose.yaml").read_text()
    assert "http://127.0.0.1:8000/ready" in compose
    assert "EXPOSE 8000" in (baked / "Dockerfile").read_text()
    without = bake_with(cookies_session, web="none")
    assert image_command(without) == ["invoke", "db.status"]
    assert not (without / "src" / "my_service" / "web").exists()
    assert not list((without / "tests").glob("test_web*.py"))
