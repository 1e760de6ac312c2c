"""The revision files, checked as Alembic reads them: one line naming what is wrong, and where.

Alembic itself answers a deleted ``migrations`` package with "use the 'init' command", two
files with the same revision id with a warning (and one of them silently ignored), and a
``down_revision`` that names no file with a warning, then a ``KeyError`` further on. Here each
is a :class:`TaskError` naming the files and the ids, with what to do.
"""

from __future__ import annotations

import importlib.util
import inspect
import os
import re
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from alembic.config import Config
from alembic.script import Script, ScriptDirectory
from alembic.script.revision import RevisionMap

from .errors import TaskError
from .project import current as current_project


def shown(path: Path) -> str:
    """``path`` relative to the working directory when it is below it (as an editor opens it)."""
    try:
        return os.path.relpath(path) if path.resolve().is_relative_to(Path.cwd()) else str(path)
    except ValueError:  # another drive (Windows)
        return str(path)


def script_directory(config: Config) -> ScriptDirectory:
    """Alembic's ``ScriptDirectory`` of ``config``, once its revision files make one history."""
    migrations = current_project().migrations_dir
    if not (migrations / "env.py").is_file():
        raise TaskError(
            f"the migrations package is missing ({shown(migrations / 'env.py')} not found): "
            f"restore it from version control (git checkout -- {shown(migrations)})"
        )
    scripts = ScriptDirectory.from_config(config)
    load = private_alembic(scripts, "_load_revisions", [])
    if load is None:
        # The public path: the files read once for the check, and once more by Alembic.
        check(list(_read_scripts(scripts)))
    else:

        def checked() -> Iterator[Script]:
            # Every file Alembic reads, duplicates included (its map keeps one per id), checked
            # once all are read and before Alembic links them (where a dangling id is a
            # KeyError): the files are read once.
            loaded: list[Script] = []
            for script in load():
                loaded.append(script)
                yield script
            check(loaded)

        scripts.revision_map = RevisionMap(checked)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        scripts.revision_map.heads  # noqa: B018 (reads every revision file, once)
    for warning in caught:  # none of ours (check raised): Alembic's others, as it gave them
        warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)
    return scripts


# The Alembic releases whose private methods used here (``ScriptDirectory._load_revisions``,
# ``_upgrade_revs``) are trusted to do what they did when this was written: the ones pyproject
# allows (alembic>=1.16), below 2.0. tests/test_revisions.py runs the public path and this one on
# the installed release and compares the results; outside the range, the public path until that
# test has run on the new release and the range is widened.
_TESTED_ALEMBIC = ((1, 16), (2, 0))


def private_alembic(owner: object, name: str, parameters: list[str]) -> Callable[..., Any] | None:
    """``owner.name``, a private Alembic API, when it can be trusted; None: use the public path.

    Trusted on a tested release (``_TESTED_ALEMBIC``) where it still takes ``parameters``
    (for a bound method, without ``self``). The private paths save loading every revision
    file a second time (~1 ms a file); the public ones give the same results.
    """
    import alembic

    found = re.match(r"(\d+)\.(\d+)", alembic.__version__)
    version = (int(found[1]), int(found[2])) if found else (0, 0)
    low, high = _TESTED_ALEMBIC
    method = getattr(owner, name, None)
    if not callable(method) or not low <= version < high:
        return None
    try:
        signature = list(inspect.signature(method).parameters)
    except (TypeError, ValueError):
        return None
    return method if signature == parameters else None


def _read_scripts(scripts: ScriptDirectory) -> Iterator[Script]:
    """Every revision file of ``scripts``, read with the public API (importlib, ``Script``).

    The files Alembic reads: ``*.py`` of the version locations (their subfolders when
    ``recursive_version_locations``), but ``__init__.py`` and editor lock files.
    """
    locations = scripts.version_locations or [scripts.versions]
    for number, location in enumerate(dict.fromkeys(Path(p).resolve() for p in locations)):
        if not location.is_dir():
            continue
        pattern = "**/*.py" if scripts.recursive_version_locations else "*.py"
        for index, path in enumerate(sorted(location.glob(pattern))):
            if path.name.startswith(("__init__", ".#")) or "__pycache__" in path.parts:
                continue
            spec = importlib.util.spec_from_file_location(f"_revision_{number}_{index}", path)
            if spec is None or spec.loader is None:
                continue
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            revision = getattr(module, "revision", None)
            if isinstance(revision, str):  # Alembic says what is wrong with the others
                yield Script(module, revision, str(path))


def check(scripts: list[Script]) -> None:
    """Raise on two files with one revision id, or a ``down_revision`` that names no file."""
    by_id: dict[str, Script] = {}
    for script in scripts:
        other = by_id.setdefault(script.revision, script)
        if other is not script:
            first, second = sorted([Path(other.path).name, Path(script.path).name])
            raise TaskError(
                f"two revision files have the revision id {script.revision}: {first} and "
                f"{second}; give one of them a new id (its `revision`, and the `down_revision` "
                "of any file after it), the one no shared database has applied yet"
            )
    labels = {label for script in scripts for label in script.branch_labels}
    for script in scripts:
        for down in _tuple(script.down_revision):
            if down not in by_id:
                raise TaskError(
                    f"{shown(Path(script.path))}: down_revision {down!r} names no revision "
                    "file: set it to the id of the revision this one follows, or restore the "
                    "missing file"
                )
        for needed in _tuple(script.dependencies):
            known = needed in by_id or needed in labels
            if not known and not any(rev.startswith(needed) for rev in by_id):  # a short id
                raise TaskError(
                    f"{shown(Path(script.path))}: depends_on {needed!r} names no revision "
                    "file or branch label: correct it, or restore the missing file"
                )


def _tuple(value: str | tuple[str, ...] | list[str] | None) -> tuple[str, ...]:
    if value is None:
        return ()
    return (value,) if isinstance(value, str) else tuple(value)
