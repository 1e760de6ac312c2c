"""Shared fixtures: settings that point at a throw-away database, never the development one."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from {{ cookiecutter.package_name }}.settings import Settings, load_settings


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings for APP_ENV=test on a fresh SQLite file (or TEST_DATABASE_URL when set)."""
    environ = dict(os.environ)
    environ["APP_ENV"] = "test"
    environ["DATABASE_URL"] = os.environ.get(
        "TEST_DATABASE_URL", f"sqlite:///{tmp_path / 'test.sqlite3'}"
    )
    return load_settings(environ=environ)
