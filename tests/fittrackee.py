"""FitTrackee's real Alembic history, adopted by a baked project as a team moving a service.

The history comes from the PyPI wheel ``fittrackee==1.3.6`` (GPL-3.0; fetched at test time,
never committed): ``fittrackee/migrations/versions`` holds 78 revisions. The first 58 need no
PostGIS; they hold enums, JSON/JSONB, arrays, data migrations, batch operations, a file name
with a space (``11_27425324c9e3_add _weekm_user_table.py``) and three revisions that import
Flask or the application itself.

``adopt(project)`` does what docs/database.md ("Adopting an existing Alembic history") tells a
team to do:

1. Start clean: bake with ``examples=no`` (the example ``users`` table would collide with the
   history's first revision).
2. Copy the revisions, file names unchanged, into ``migrations/versions``.
3. Make every revision importable without the old application: a revision that imports the
   app for a constant gets the constant's value written in (frozen, as it was when the revision
   was written: a migration must not change when the app later does), and a step that needs the
   running Flask app (16: renaming the upload folder on disk) reads its setting from the
   environment and is skipped without it: it is file-system work, not database work.
4. Name constraints as the history did: it was written under SQLAlchemy's default naming
   convention (indexes only), so ``Project(naming_convention=...)`` in the project's
   settings.py gets it, and unnamed constraints get PostgreSQL's names again (revision 19 drops
   ``sports_img_key``) under ``invoke db.*`` and the plain ``alembic`` command alike.
5. Make every downgrade run (``db.downgrade --to base`` found two that never could): 06 drops
   a unique constraint it created unnamed (``drop_constraint(None, ...)``), given here the name
   PostgreSQL gave it; 03 drops the ``records`` table but leaves its enum type behind, so that
   upgrading again fails ("type record_types already exists").
"""

from __future__ import annotations

import re
import zipfile
from functools import cache
from pathlib import Path

from tests.material import Package, fetch
from tests.support import Project

WHEEL = Package(
    "https://files.pythonhosted.org/packages/32/dd/"
    "1862a6810ef731a37ae1388a1cdee8769fb768478f9a7fbe4f09cbadec7d/fittrackee-1.3.6-py3-none-any.whl",
    "6aefd582e04de2ab6abb80d7910fa2260107c9f96bd67f846e1595cc2b05c28e",
)
VERSIONS = "fittrackee/migrations/versions/"
ADOPTED = 58  # 59 adds PostGIS geometry columns (geoalchemy2)
HEAD = "8221053f0e81"  # 58_..._add_original_file_index.py
IMPORTS_THE_APP = {
    "16_4e8597c50064_rename_activity_with_workout.py": "from flask import current_app",
    "42_aa7802092404_init_social_features.py": "from fittrackee.users.roles import UserRole",
    "53_1648fe51cbd1_add_preferences_for_segments_creation.py": (
        "from fittrackee.users.models import SEGMENTS_CREATION_EVENTS"
    ),
}
# The tables at revision 58 (alembic_version aside).
TABLES = {
    "app_config",
    "blacklisted_tokens",
    "blocked_users",
    "comment_likes",
    "comments",
    "equipment_types",
    "equipments",
    "follow_requests",
    "mentions",
    "notifications",
    "oauth2_client",
    "oauth2_code",
    "oauth2_token",
    "records",
    "report_action_appeals",
    "report_actions",
    "report_comments",
    "reports",
    "sports",
    "user_tasks",
    "users",
    "users_sports_preferences",
    "users_sports_preferences_equipments",
    "workout_equipments",
    "workout_likes",
    "workout_segments",
    "workouts",
}
ENUMS = {"record_types", "visibility_levels", "task_types", "segments_creation_events"}


@cache
def _wheel_files() -> dict[str, str]:
    with zipfile.ZipFile(fetch(WHEEL)) as wheel:
        return {
            name: wheel.read(name).decode()
            for name in wheel.namelist()
            if name.startswith(VERSIONS) or name.endswith(("users/roles.py", "users/models.py"))
        }


def revisions() -> dict[str, str]:
    """The first ``ADOPTED`` revision files of the history, by file name, in order."""
    files = _wheel_files()
    numbered = sorted(
        (int(name[len(VERSIONS) :].split("_", 1)[0]), name[len(VERSIONS) :], text)
        for name, text in files.items()
        if re.match(r"\d+_", name[len(VERSIONS) :])
    )
    assert [n for n, _, _ in numbered] == list(range(1, 79)), "the wheel's history changed"
    return {name: text for number, name, text in numbered if number <= ADOPTED}


def _frozen_user_role() -> str:
    """The ``UserRole`` enum of fittrackee/users/roles.py, as a block to paste in a revision."""
    source = next(t for n, t in _wheel_files().items() if n.endswith("users/roles.py"))
    block = source[source.index("class UserRole(Enum):") : source.index("\ndef has_role_rights")]
    return (
        "from enum import Enum\n\n\n"
        "# Frozen from fittrackee.users.roles (1.3.6): a revision must not import the app.\n"
        + block.strip().replace("List[", "list[")
        + "\n"
    )


def _frozen_segments_events() -> str:
    source = next(t for n, t in _wheel_files().items() if n.endswith("users/models.py"))
    match = re.search(r"^SEGMENTS_CREATION_EVENTS = \[.*?\]\n", source, re.DOTALL | re.MULTILINE)
    assert match, "SEGMENTS_CREATION_EVENTS not found in fittrackee/users/models.py"
    return (
        "# Frozen from fittrackee.users.models (1.3.6): a revision must not import the app.\n"
        + (match.group(0))
    )


# Downgrades that cannot run as published (see the module's docstring, step 4).
DOWNGRADE_FIXES = {
    "06_5a42db64e872_add_static_map_url_to_activity_table.py": (
        "    op.drop_constraint(None, 'sports', type_='unique')\n",
        (
            "    # Created unnamed in upgrade(): PostgreSQL named it sports_img_key.\n"
            "    op.drop_constraint('sports_img_key', 'sports', type_='unique')\n"
        ),
    ),
    "03_caf0e0dc621a_create_record_table.py": (
        "    op.drop_table('records')\n",
        (
            "    op.drop_table('records')\n"
            "    # The enum type create_table made is not dropped with the table.\n"
            "    op.execute('DROP TYPE record_types')\n"
        ),
    ),
}


def as_committed(name: str, text: str) -> str:
    """The revision as the team commits it: importable without Flask and the old app, and
    with a downgrade that runs."""
    if name in DOWNGRADE_FIXES:
        old, new = DOWNGRADE_FIXES[name]
        assert text.count(old) == 1, (name, old)
        text = text.replace(old, new)
    if name not in IMPORTS_THE_APP:
        return text
    line = IMPORTS_THE_APP[name]
    assert line in text, (name, line)
    if "flask" in line:
        text = text.replace(f"{line}\n", "")
        text = text.replace(
            "    upload_folder = current_app.config['UPLOAD_FOLDER']\n",
            "    # Was the Flask app's UPLOAD_FOLDER: file-system work,\n"
            "    # done only where it is set.\n"
            "    upload_folder = os.environ.get('UPLOAD_FOLDER')\n"
            "    if not upload_folder:\n"
            "        return\n",
        )
        assert "current_app" not in text, name
        return text
    frozen = _frozen_user_role() if "UserRole" in line else _frozen_segments_events()
    return text.replace(line, frozen)


def adopt(project: Project) -> Path:
    """Copy the history into ``project``, baked with ``examples=no``; the versions folder."""
    package = project.path / "src" / project.package
    versions = package / "migrations" / "versions"
    assert not list(versions.glob("*.py")), "adopt into a project started clean"
    # The history was written under SQLAlchemy's default convention (indexes only): its
    # revisions drop constraints by the names PostgreSQL gave them (sports_img_key).
    settings = package / "settings.py"
    configured = settings.read_text()
    assert "    Project(\n" in configured
    settings.write_text(
        configured.replace(
            "    Project(\n",
            '    Project(\n        naming_convention={"ix": "ix_%(column_0_label)s"},\n',
        )
    )
    for name, source in revisions().items():
        (versions / name).write_text(as_committed(name, source))
    return versions
