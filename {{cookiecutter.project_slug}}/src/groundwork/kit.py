"""The kit's version, and the files of it edited, deleted or added since it was installed.

The kit ships ``manifest.json``: its version and the SHA-256 of every file, as the template
wrote it (``python3 dev.py manifest`` there). Comparing the installed folder with it names the
local edits: the ones the next ``cruft update`` would conflict with, or silently carry over.

Standard library only at module level: the template's ``dev.py`` loads this file on its own to
write the manifest, without the kit's dependencies.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

NAME = "groundwork"  # how messages name the kit's folder: its import name
MANIFEST = "manifest.json"
FOLDER = Path(__file__).resolve().parent

Change = Literal["edited", "deleted", "added"]

# What to do about each kind of edit. Keeping one (kept_kit_edits) only stops db.check failing:
# the next upgrade still merges into an edited or deleted file, often with a conflict.
_KEEP = "or keep it (kept_kit_edits in settings.py)"
_REMEDIES: dict[Change, str] = {
    "edited": f"undo it and upgrade with `cruft update`, {_KEEP} and expect a conflict on updates",
    "deleted": f"restore it from git, {_KEEP} and expect a conflict on updates",
    "added": f"move it into your own package, {_KEEP}",
}


@dataclass(frozen=True)
class Edit:
    """One kit file that is not as shipped."""

    path: str  # POSIX, relative to the kit's folder: "seeding/runner.py"
    change: Change
    kept: bool = False  # named in the project's ``kept_kit_edits``: an edit made on purpose

    @property
    def name(self) -> str:
        """The file as messages and ``kept_kit_edits`` name it: ``groundwork/seeding/runner.py``."""
        return f"{NAME}/{self.path}"

    def describe(self, version: str) -> str:
        """One line: the file, what changed, and what to do about it."""
        head = f"kit: {self.name} {self.change} locally (kit {version})"
        if self.kept:
            return f"{head}, kept on purpose (kept_kit_edits in settings.py)"
        return f"{head}: {_REMEDIES[self.change]}"


@dataclass(frozen=True)
class KitState:
    """The installed kit: the version it was shipped as, and its local edits by file."""

    version: str
    edits: tuple[Edit, ...]
    # kept_kit_edits entries that name no edited file: left over after an upgrade, or a typo.
    unused_keeps: tuple[str, ...] = ()

    @property
    def unkept(self) -> tuple[Edit, ...]:
        """The edits nobody declared: what ``db.check`` fails on."""
        return tuple(edit for edit in self.edits if not edit.kept)

    def summary(self) -> str:
        """``kit 1.0.0, no local edits`` / ``kit 1.0.0, 3 local edits (1 kept)``."""
        if not self.edits:
            return f"kit {self.version}, no local edits"
        count, kept = len(self.edits), len(self.edits) - len(self.unkept)
        plural, of_which = "s" if count > 1 else "", f" ({kept} kept)" if kept else ""
        return f"kit {self.version}, {count} local edit{plural}{of_which}"


def examine(folder: Path = FOLDER, kept: Collection[str] = ()) -> KitState:
    """Compare the kit in ``folder`` with its manifest; ``kept`` names edits made on purpose.

    Added files count when they are Python modules: other files (an editor's backup, a
    ``.DS_Store``) are no part of the code that runs.
    """
    from .errors import TaskError

    manifest_file = folder / MANIFEST
    try:
        manifest = json.loads(manifest_file.read_text(encoding="utf-8"))
        version, shipped = str(manifest["version"]), dict(manifest["files"])
    except FileNotFoundError:
        raise TaskError(
            f"the kit's manifest {NAME}/{MANIFEST} is missing: restore it (from git, or the "
            "template); it tells the kit's files from local edits"
        ) from None
    except (ValueError, KeyError, TypeError) as exc:
        raise TaskError(
            f"the kit's manifest {NAME}/{MANIFEST} is damaged ({exc}): restore it (from git, "
            "or the template)"
        ) from None
    present = set(_kit_files(folder))
    found: list[Edit] = []
    for path in sorted(present | set(shipped)):
        if path not in shipped:
            change: Change | None = "added" if path.endswith(".py") else None
        elif path not in present:
            change = "deleted"
        else:
            change = "edited" if digest(folder / path) != shipped[path] else None
        if change is not None:
            found.append(Edit(path, change, kept=f"{NAME}/{path}" in kept))
    named = {edit.name for edit in found}
    return KitState(version, tuple(found), tuple(sorted(set(kept) - named)))


def manifest_text(folder: Path) -> str:
    """The manifest of the kit in ``folder``, as ``python3 dev.py manifest`` writes it.

    Sorted keys, two-space indent, one final newline: the same bytes wherever it is written.
    """
    files = {path: digest(folder / path) for path in _kit_files(folder)}
    document = {"version": declared_version(folder), "files": files}
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def declared_version(folder: Path) -> str:
    """``__version__`` of the kit's ``__init__.py``, read without importing the kit."""
    import ast  # here: only the manifest's writer needs it, not every db.check (5 ms)

    tree = ast.parse((folder / "__init__.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if (
            isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == "__version__" for t in node.targets)
            and isinstance(node.value, ast.Constant)
        ):
            return str(node.value.value)
    raise ValueError(f"{folder / '__init__.py'} sets no __version__ = '...'")


def digest(file: Path) -> str:
    """SHA-256 of a kit file, with CRLF read as LF: git's autocrlf on Windows is no edit."""
    data = file.read_bytes()
    if b"\r\n" in data:  # a search, cheaper than the copy replace() makes of every file
        data = data.replace(b"\r\n", b"\n")
    return hashlib.sha256(data).hexdigest()


def _kit_files(folder: Path) -> Iterator[str]:
    """The kit's files, POSIX paths relative to ``folder``, sorted: no bytecode, no dot-files,
    not the manifest itself.

    ``os.scandir`` rather than ``Path.rglob``: a tenth of the time (2 ms of every ``db.check``),
    and folders that are never kit files (``__pycache__``, dot-folders) are not entered. As
    ``rglob`` did, a symbolic link to a folder is not followed, one to a file counts.
    """
    yield from sorted(_files_below(folder, ""))


def _files_below(folder: Path | str, prefix: str) -> Iterator[str]:
    with os.scandir(folder) as entries:
        for entry in entries:
            if entry.name.startswith(".") or entry.name == "__pycache__":
                continue
            path = f"{prefix}{entry.name}"
            if entry.is_dir(follow_symlinks=False):
                yield from _files_below(entry.path, f"{path}/")
            elif entry.is_file() and path != MANIFEST and not path.endswith((".pyc", ".pyo")):
                yield path
