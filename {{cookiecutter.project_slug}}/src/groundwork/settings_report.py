"""The effective settings and where each came from: what ``invoke db.settings`` prints.

Every setting the kit reads, set or not (unset ones show their default), and every setting the
environment files set for the project's own code. Each with its origin: a file and line, the
environment, or the default. URLs are shown without their user and password, and a setting
whose name says it is a secret (``*PASSWORD*``, ``*SECRET*``, ``*TOKEN*``, ``*KEY``) as ``***``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import mask_secrets
from .project import current as current_project
from .settings import Settings

# The kit's settings, by name: what leaving each unset means. docs/database.md ("Settings")
# explains them; the defaults are the modules' own constants where they have one.
KIT_SETTINGS: dict[str, str] = {
    "APP_ENV": "development",
    "DATABASE_URL": "the project-local database",
    "MIGRATOR_DATABASE_URL": "DATABASE_URL",
    "ADMIN_DATABASE_URL": "asked for by db.grant when needed",
    "DATABASE_CONNECT_TIMEOUT": "10 (seconds)",
    "DATABASE_WAIT": "0 (seconds): no waiting for a server that is starting",
    "MIGRATION_LOCK_WAIT": "60 (seconds)",
    "MIGRATION_LOCK_TIMEOUT": "5s",
    "MIGRATION_STATEMENT_TIMEOUT": "15min",
    "MIGRATION_LOCK_RETRIES": "5 (times a run that hit lock_timeout starts over; 0: never)",
    "MIGRATION_RETRY_TIME": "300 (seconds after the first attempt that the last retry may start)",
    "MIGRATION_RETRY_BACKOFF": "1 (seconds before the first retry, doubling, at most 30)",
    "PROTECTED_ENVIRONMENTS": "production",
    "DB_ROLE_PREFIX": "the project's role prefix",
    "DB_SCHEMA": "the role prefix",
    "DB_MIGRATION_ROLE": "the owner role of the role model, when the login is a member",
    "BACKUP_DIR": "backups/",
    "POSTGRES_BIN_DIR": "the client programs on PATH, or the embedded server's",
}

_SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|(^|_)KEY$|PASSPHRASE|CREDENTIAL", re.IGNORECASE)


@dataclass(frozen=True)
class SettingLine:
    name: str
    value: str | None  # None: unset, the default applies
    origin: str  # a file and line, "the environment", or what the default is


def effective_settings(settings: Settings) -> list[SettingLine]:
    """The kit's settings in the order above, then the project's own from its files, by name."""
    own = sorted(name for name in settings.origins if name not in KIT_SETTINGS)
    lines = []
    for name in [*KIT_SETTINGS, *own]:
        if name == "APP_ENV":
            lines.append(SettingLine(name, settings.app_env, settings.app_env_origin))
            continue
        value = settings.get(name)
        if value is None:
            lines.append(SettingLine(name, None, f"default: {_default(settings, name)}"))
        else:
            lines.append(SettingLine(name, shown(name, value), settings.origin(name)))
    return lines


def _default(settings: Settings, name: str) -> str:
    if name == "DATABASE_URL":
        return f"the project-local database {settings.database_name}"
    if name == "DB_ROLE_PREFIX":
        return f"{current_project().role_prefix}, the project's"
    return KIT_SETTINGS[name]


def shown(name: str, value: str) -> str:
    """``value`` as it may be printed: secrets masked."""
    if _SECRET_NAME.search(name):
        return "***"
    return mask_secrets(value)


def report(settings: Settings) -> list[str]:
    """The lines of ``invoke db.settings``: ``NAME = value  (origin)``."""
    rows = effective_settings(settings)
    width = max(len(row.name) for row in rows)
    return [
        f"{row.name:<{width}} = {row.value}  ({row.origin})"
        if row.value is not None
        else f"{row.name:<{width}}   unset  ({row.origin})"
        for row in rows
    ]
