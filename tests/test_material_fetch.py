"""The material cache (tests/material.py) keeps only files whose sha256 is the published one."""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path

import pytest

from tests.material import CACHE, Package, fetch


def test_a_file_with_another_digest_is_refused_and_removed(tmp_path: Path) -> None:
    source = tmp_path / f"gw-{uuid.uuid4().hex}.tar.gz"
    source.write_bytes(b"not the published bytes")
    wrong = Package(source.as_uri(), "0" * 64)
    with pytest.raises(AssertionError, match=f"{source.name}: sha256 .*expected 0{{64}}"):
        fetch(wrong)
    assert not (CACHE / source.name).exists()

    right = Package(source.as_uri(), hashlib.sha256(source.read_bytes()).hexdigest())
    try:
        assert fetch(right).read_bytes() == source.read_bytes()
        source.unlink()
        assert fetch(right) == CACHE / source.name  # from the cache now
    finally:
        (CACHE / source.name).unlink(missing_ok=True)
